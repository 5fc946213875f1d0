package tool

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v86/webhook"

	"github.com/agenthook/agenthook/internal/config"
)

const testSecret = "tool-secret-for-tests-0123456789"

// verify is a receiver's check of Agenthook-Signature, written from the
// documented scheme rather than with the package's own code, and kept
// identical to the README's snippet: HMAC-SHA256 keyed with the tool
// secret over "<t>.<raw body>", hex in v1, t within five minutes.
func verify(header string, body []byte, secret string) error {
	var ts string
	var sigs []string
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("no timestamp")
	}
	if time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return errors.New("timestamp outside the 5-minute tolerance")
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, s := range sigs {
		if got, err := hex.DecodeString(s); err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no matching v1 signature")
}

func httpConfig(url string, timeout time.Duration) *config.Config {
	return &config.Config{
		ToolSecret: testSecret,
		Tools: map[string]config.Tool{"notify": {Run: &config.Run{HTTP: &config.HTTPRun{
			URL: url, Timeout: config.Duration(timeout), Headers: map[string]string{"X-Api-Key": "k-123"},
		}}}},
	}
}

func TestHTTPSignedCall(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		if err := verify(r.Header.Get("Agenthook-Signature"), body, testSecret); err != nil {
			http.Error(w, "bad signature: "+err.Error(), http.StatusUnauthorized)
			return
		}
		// Same scheme as Stripe's, so stripe-go's validator accepts it too.
		if err := webhook.ValidatePayload(body, r.Header.Get("Agenthook-Signature"), testSecret); err != nil {
			http.Error(w, "stripe-go rejects the signature: "+err.Error(), http.StatusUnauthorized)
			return
		}
		if err := verify(r.Header.Get("Agenthook-Signature"), body, "another secret"); err == nil {
			http.Error(w, "verifier accepts any secret", http.StatusTeapot)
			return
		}
		var got wireCall
		if err := json.Unmarshal(body, &got); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		want := wireCall{Tool: "notify", Input: json.RawMessage(`{"dispute":"dp_1"}`), EventID: "evt_01",
			EventType: "charge.dispute.created", ToolUseID: "toolu_01", IdempotencyKey: IdempotencyKey("evt_01", "notify", json.RawMessage(`{"dispute":"dp_1"}`))}
		if got.Tool != want.Tool || string(got.Input) != string(want.Input) || got.EventID != want.EventID ||
			got.EventType != want.EventType || got.ToolUseID != want.ToolUseID || got.IdempotencyKey != want.IdempotencyKey {
			http.Error(w, "body "+string(body), http.StatusBadRequest)
			return
		}
		for h, v := range map[string]string{"Idempotency-Key": want.IdempotencyKey, "Content-Type": "application/json", "X-Api-Key": "k-123"} {
			if r.Header.Get(h) != v {
				http.Error(w, h+" is "+r.Header.Get(h), http.StatusBadRequest)
				return
			}
		}
		io.WriteString(w, `{"ticket":"T-1"}`)
	}))
	defer srv.Close()

	s := newSet(t, httpConfig(srv.URL, time.Second))
	res, err := s.Execute(context.Background(), call("notify", `{"dispute":"dp_1"}`))
	if err != nil {
		t.Fatal(err)
	}
	if res.IsError || res.Content != `{"ticket":"T-1"}` {
		t.Fatalf("result %+v, want the 2xx body", res)
	}
	if hits.Load() != 1 {
		t.Fatalf("%d requests, want 1", hits.Load())
	}
}

// TestHTTPUnsignedLoopbackOnly: without a secret only a loopback URL is
// accepted, and its requests carry no signature.
func TestHTTPUnsignedLoopbackOnly(t *testing.T) {
	cfg := httpConfig("https://tools.example.com/hook", 0)
	cfg.ToolSecret = ""
	if _, err := NewSet(cfg, Options{}); err == nil || !strings.Contains(err.Error(), "AGENTHOOK_TOOL_SECRET") {
		t.Fatalf("NewSet with a remote URL and no secret: %v, want an error naming AGENTHOOK_TOOL_SECRET", err)
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "sig="+r.Header.Get("Agenthook-Signature"))
	}))
	defer srv.Close()
	cfg = httpConfig(srv.URL, 0)
	cfg.ToolSecret = ""
	res, err := newSet(t, cfg).Execute(context.Background(), call("notify", `{}`))
	if err != nil || res.IsError || res.Content != "sig=" {
		t.Fatalf("got %+v, %v; want an unsigned request", res, err)
	}
}

func TestHTTPRetries5xxThenSucceeds(t *testing.T) {
	var mu sync.Mutex
	var keys, sigs []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		sigs = append(sigs, r.Header.Get("Agenthook-Signature"))
		n := len(keys)
		mu.Unlock()
		if n < 3 {
			http.Error(w, "upstream busy", http.StatusBadGateway)
			return
		}
		io.WriteString(w, "created")
	}))
	defer srv.Close()

	res, err := newSet(t, httpConfig(srv.URL, time.Second)).Execute(context.Background(), call("notify", `{}`))
	if err != nil || res.IsError || res.Content != "created" {
		t.Fatalf("got %+v, %v; want the third attempt's body", res, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(keys) != 3 {
		t.Fatalf("%d requests, want 3", len(keys))
	}
	for i, k := range keys {
		if k != IdempotencyKey("evt_01", "notify", json.RawMessage(`{}`)) {
			t.Errorf("attempt %d Idempotency-Key %q", i+1, k)
		}
		if sigs[i] == "" {
			t.Errorf("attempt %d unsigned", i+1)
		}
	}
}

func TestHTTPPersistent5xx(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "database is down", http.StatusInternalServerError)
	}))
	defer srv.Close()

	res, err := newSet(t, httpConfig(srv.URL, time.Second)).Execute(context.Background(), call("notify", `{}`))
	if err != nil {
		t.Fatal(err)
	}
	if !res.IsError || !strings.Contains(res.Content, "HTTP 500") || !strings.Contains(res.Content, "database is down") ||
		!strings.Contains(res.Content, "gave up after 3 attempts") {
		t.Fatalf("result %+v", res)
	}
	if hits.Load() != DefaultAttempts {
		t.Fatalf("%d requests, want %d", hits.Load(), DefaultAttempts)
	}
}

func TestHTTP4xxNotRetried(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusUnprocessableEntity)
		io.WriteString(w, strings.Repeat("-", 10000)+`{"error":"amount exceeds the order total"}`)
	}))
	defer srv.Close()

	res, err := newSet(t, httpConfig(srv.URL, time.Second)).Execute(context.Background(), call("notify", `{}`))
	if err != nil {
		t.Fatal(err)
	}
	if !res.IsError || !strings.Contains(res.Content, "HTTP 422") || !strings.Contains(res.Content, "amount exceeds the order total") {
		t.Fatalf("result %+v", res)
	}
	if len(res.Content) > errTailBytes+200 {
		t.Fatalf("error result is %d bytes; the body should be cut to its tail", len(res.Content))
	}
	if hits.Load() != 1 {
		t.Fatalf("%d requests, want 1 (a 4xx is final)", hits.Load())
	}
}

// TestHTTPRetryAfter: a 429's Retry-After replaces the backoff, which here
// is set to an hour, so a test that ends at all shows it was honoured.
func TestHTTPRetryAfter(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.Header().Set("Retry-After", "0")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()

	s, err := NewSet(httpConfig(srv.URL, time.Second), Options{RetryBase: time.Hour, MaxRetryWait: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := s.Execute(ctx, call("notify", `{}`))
	if err != nil || res.IsError || res.Content != "ok" || hits.Load() != 2 {
		t.Fatalf("got %+v, %v after %d requests", res, err, hits.Load())
	}
}

func TestHTTPTimeout(t *testing.T) {
	var hits atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		// Never answers; the client gives up. Reading the body first lets
		// the server notice the client hanging up.
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)

	res, err := newSet(t, httpConfig(srv.URL, 100*time.Millisecond)).Execute(context.Background(), call("notify", `{}`))
	if err != nil {
		t.Fatal(err)
	}
	if !res.IsError || !strings.Contains(res.Content, "timed out after 100ms") {
		t.Fatalf("result %+v", res)
	}
	if hits.Load() != DefaultAttempts {
		t.Fatalf("%d requests, want %d (timeouts are retried)", hits.Load(), DefaultAttempts)
	}
}

// TestHTTPShutdown: when the caller's context ends, Execute returns its
// error, not a Result, so the call is not journaled as done.
func TestHTTPShutdown(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		close(arrived)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	res, err := newSet(t, httpConfig(srv.URL, time.Minute)).Execute(ctx, call("notify", `{}`))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %+v, %v; want context.Canceled", res, err)
	}
}

func TestHTTPRedirectNotFollowed(t *testing.T) {
	var followed atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/elsewhere" {
			followed.Store(true)
			return
		}
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	defer srv.Close()

	res, err := newSet(t, httpConfig(srv.URL+"/hook", time.Second)).Execute(context.Background(), call("notify", `{}`))
	if err != nil || !res.IsError || !strings.Contains(res.Content, "HTTP 302") || followed.Load() {
		t.Fatalf("got %+v, %v, followed=%v", res, err, followed.Load())
	}
}
