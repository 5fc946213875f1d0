package limit

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/agenthook/agenthook/internal/agent"
	"github.com/agenthook/agenthook/internal/agent/anthropic"
	"github.com/agenthook/agenthook/internal/modeltest"
)

// recorder wraps the fake Messages API and records, at the server, when
// each request arrived and when its answer was written, and how many were
// in flight at once. release, if set, holds each request until it gets a
// value.
type recorder struct {
	fake    *modeltest.Fake
	release chan struct{}
	arrived chan int // index of each request as it arrives

	mu       sync.Mutex
	arrivals []time.Time
	answered []time.Time
	cur, max int
}

func newRecorder(script ...modeltest.Reply) (*recorder, *httptest.Server) {
	r := &recorder{fake: modeltest.NewFake(script...), arrived: make(chan int, 1000)}
	return r, httptest.NewServer(r)
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	i := len(r.arrivals)
	r.arrivals = append(r.arrivals, time.Now())
	r.answered = append(r.answered, time.Time{})
	r.cur++
	r.max = max(r.max, r.cur)
	r.mu.Unlock()
	r.arrived <- i
	if r.release != nil {
		select {
		case <-r.release:
		case <-req.Context().Done():
		}
	}
	r.fake.ServeHTTP(w, req)
	r.mu.Lock()
	r.cur--
	r.answered[i] = time.Now()
	r.mu.Unlock()
}

func (r *recorder) times() (arrivals, answered []time.Time, maxInFlight int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.arrivals...), append([]time.Time(nil), r.answered...), r.max
}

func request() agent.Request {
	return agent.Request{
		Model: "claude-test", MaxTokens: 256,
		Messages: []agent.Message{{Role: agent.User, Content: []agent.Block{{Type: agent.TextBlock, Text: "A dispute was opened."}}}},
		Tools:    []agent.Tool{{Name: "handle_dispute", InputSchema: map[string]any{"type": "object"}}},
		Choice:   agent.Choice{Mode: "any"},
	}
}

func provider(srv *httptest.Server) agent.Provider {
	return anthropic.New(anthropic.Options{APIKey: "sk-test", BaseURL: srv.URL})
}

// sendAll sends n requests at once and returns their errors.
func sendAll(ctx context.Context, p agent.Provider, n int) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = p.Send(ctx, request()) })
	}
	wg.Wait()
	return errs
}

func TestConcurrencyCap(t *testing.T) {
	rec, srv := newRecorder()
	defer srv.Close()
	rec.release = make(chan struct{})
	l := New(provider(srv), Options{Concurrency: 3})

	done := make(chan []error)
	go func() { done <- sendAll(context.Background(), l, 10) }()
	// Three arrive; from then on each answer lets exactly one more in.
	for range 3 {
		<-rec.arrived
	}
	for range 7 {
		rec.release <- struct{}{}
		<-rec.arrived
	}
	close(rec.release)
	for i, err := range <-done {
		if err != nil {
			t.Errorf("send %d: %v", i, err)
		}
	}
	arrivals, _, maxInFlight := rec.times()
	if len(arrivals) != 10 {
		t.Errorf("the fake got %d requests, want 10", len(arrivals))
	}
	if maxInFlight != 3 {
		t.Errorf("at most %d requests were in flight at the fake, want 3 (the cap)", maxInFlight)
	}
	if s := l.Stats(); s.Sends != 10 || s.MaxInFlight != 3 {
		t.Errorf("stats %+v, want 10 sends and 3 in flight at most", s)
	}
}

// After one 429 with retry-after, no send of any worker reaches the API
// before retry-after has passed, and then one probe goes first.
func TestRefusalPausesEveryWorker(t *testing.T) {
	const retryAfter = 400 * time.Millisecond
	rec, srv := newRecorder(modeltest.Reply{Status: 429, Headers: map[string]string{"retry-after-ms": "400"}})
	defer srv.Close()
	rec.fake.Then = modeltest.Reply{Delay: 100 * time.Millisecond}
	l := New(provider(srv), Options{BackoffBase: 50 * time.Millisecond})
	ctx := context.Background()

	_, err := l.Send(ctx, request())
	var ae *agent.Error
	if !errors.As(err, &ae) || ae.StatusCode != 429 || !ae.Retryable || ae.After != retryAfter {
		t.Fatalf("the refused send: %#v, want a retryable 429 with After %s", err, retryAfter)
	}
	if ae.RateLimit == nil || ae.RateLimit.RetryAfter != retryAfter {
		t.Errorf("the error's rate limit snapshot is %+v, want RetryAfter %s", ae.RateLimit, retryAfter)
	}
	for i, err := range sendAll(ctx, l, 5) {
		if err != nil {
			t.Errorf("send %d after the pause: %v", i, err)
		}
	}
	arrivals, answered, _ := rec.times()
	if len(arrivals) != 6 {
		t.Fatalf("the fake got %d requests, want 6", len(arrivals))
	}
	refusedAt := answered[0]
	for i, at := range arrivals[1:] {
		if gap := at.Sub(refusedAt); gap < retryAfter {
			t.Errorf("request %d reached the API %s after the 429, before retry-after (%s)", i+2, gap, retryAfter)
		}
	}
	// The first request after the pause is a probe: the others wait for
	// its answer instead of all hitting the API at once.
	for i := 2; i < len(arrivals); i++ {
		if arrivals[i].Before(answered[1]) {
			t.Errorf("request %d arrived %s before the probe was answered", i+1, answered[1].Sub(arrivals[i]))
		}
	}
	if s := l.Stats(); s.Refused != 1 || s.Sends != 6 || s.Waits != 5 {
		t.Errorf("stats %+v, want 1 refused, 6 sends, 5 waits", s)
	}
}

// A 529 without retry-after pauses for the backoff, which grows with each
// refusal in a row.
func TestOverloadBacksOff(t *testing.T) {
	const base = 200 * time.Millisecond
	rec, srv := newRecorder(modeltest.Reply{Status: 529}, modeltest.Reply{Status: 529})
	defer srv.Close()
	l := New(provider(srv), Options{BackoffBase: base, BackoffMax: 10 * time.Second})
	ctx := context.Background()
	for i := range 2 {
		var ae *agent.Error
		if _, err := l.Send(ctx, request()); !errors.As(err, &ae) || ae.StatusCode != 529 || !ae.Retryable {
			t.Fatalf("send %d: %v, want a retryable 529", i+1, err)
		}
	}
	if _, err := l.Send(ctx, request()); err != nil {
		t.Fatal(err)
	}
	arrivals, answered, _ := rec.times()
	// Jitter keeps at least half: base/2 after the first, base after the
	// second.
	if gap := arrivals[1].Sub(answered[0]); gap < base/2 {
		t.Errorf("second request %s after the first 529, want at least %s", gap, base/2)
	}
	if gap := arrivals[2].Sub(answered[1]); gap < base {
		t.Errorf("third request %s after the second 529, want at least %s", gap, base)
	}
}

// When the headers say no request is left, sends are held until the reset.
func TestPacingHoldsUntilReset(t *testing.T) {
	reset := time.Now().Add(500 * time.Millisecond)
	rec, srv := newRecorder(modeltest.Reply{Headers: map[string]string{
		"anthropic-ratelimit-requests-remaining": "0",
		"anthropic-ratelimit-requests-reset":     reset.UTC().Format(time.RFC3339Nano),
	}})
	defer srv.Close()
	l := New(provider(srv), Options{})
	ctx := context.Background()
	r, err := l.Send(ctx, request())
	if err != nil {
		t.Fatal(err)
	}
	if r.RateLimit == nil || !r.RateLimit.Requests.Known || r.RateLimit.Requests.Remaining != 0 || !r.RateLimit.Requests.Reset.Equal(reset.UTC()) {
		t.Fatalf("reply rate limit %+v, want requests remaining 0 until %s", r.RateLimit, reset)
	}
	if _, err := l.Send(ctx, request()); err != nil {
		t.Fatal(err)
	}
	arrivals, _, _ := rec.times()
	if arrivals[1].Before(reset) {
		t.Errorf("second request arrived %s before the reset", reset.Sub(arrivals[1]))
	}
	if s := l.Stats(); s.Waits != 1 || s.Refused != 0 {
		t.Errorf("stats %+v, want 1 wait and no refusal", s)
	}
}

// With the limit known, the replenishment rate is (limit-remaining) over
// the time to reset: sends are spaced by it rather than held to the reset.
func TestPacingByRate(t *testing.T) {
	// 20 missing, full again in 2 s: 10 requests/s. With one request kept
	// in reserve the next send needs two: 200 ms.
	reset := time.Now().Add(2 * time.Second)
	rec, srv := newRecorder(modeltest.Reply{Headers: map[string]string{
		"anthropic-ratelimit-requests-limit":     "20",
		"anthropic-ratelimit-requests-remaining": "0",
		"anthropic-ratelimit-requests-reset":     reset.UTC().Format(time.RFC3339Nano),
	}})
	defer srv.Close()
	l := New(provider(srv), Options{})
	ctx := context.Background()
	for range 2 {
		if _, err := l.Send(ctx, request()); err != nil {
			t.Fatal(err)
		}
	}
	arrivals, _, _ := rec.times()
	// Reckoned from when the first request went, so a little less than
	// 200 ms after it reached the fake.
	if gap := arrivals[1].Sub(arrivals[0]); gap < 150*time.Millisecond {
		t.Errorf("second request %s after the first, want about 200ms", gap)
	}
	if !arrivals[1].Before(reset) {
		t.Errorf("second request held to the reset: paced sends should follow the replenishment")
	}
}

// A send waiting for a pause returns as soon as its context ends, and one
// whose deadline falls inside the pause returns at once, retryable.
func TestWaitRespectsContext(t *testing.T) {
	rec, srv := newRecorder(modeltest.Reply{Status: 429, Headers: map[string]string{"retry-after": "30"}})
	defer srv.Close()
	l := New(provider(srv), Options{})
	waiting := make(chan struct{}, 10)
	l.onWait = func() { waiting <- struct{}{} }
	if _, err := l.Send(context.Background(), request()); err == nil {
		t.Fatal("want the 429")
	}

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := l.Send(ctx, request())
		errc <- err
	}()
	var err error
	select {
	case <-waiting:
	case err = <-errc:
		t.Fatalf("the send after a 429 with retry-after 30 did not wait: %v", err)
	}
	start := time.Now()
	cancel()
	err = <-errc
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled send: %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("cancelled send returned after %s", d)
	}

	dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer dcancel()
	_, err = l.Send(dctx, request())
	var ae *agent.Error
	if !errors.As(err, &ae) || !ae.Retryable || ae.After < 20*time.Second {
		t.Errorf("send with a deadline inside the pause: %v, want a retryable error with After about 30s", err)
	}
	if arrivals, _, _ := rec.times(); len(arrivals) != 1 {
		t.Errorf("the fake got %d requests during the pause, want only the refused one", len(arrivals))
	}
	if s := l.Stats(); s.Waiting != 0 {
		t.Errorf("stats %+v: no send should be left waiting", s)
	}
}

// A send waiting for a slot under the cap also gives up with its context.
func TestSlotWaitRespectsContext(t *testing.T) {
	rec, srv := newRecorder()
	defer srv.Close()
	rec.release = make(chan struct{})
	l := New(provider(srv), Options{Concurrency: 1})
	first := make(chan error, 1)
	go func() {
		_, err := l.Send(context.Background(), request())
		first <- err
	}()
	<-rec.arrived
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Send(ctx, request()); !errors.Is(err, context.Canceled) {
		t.Errorf("send without a slot: %v, want context.Canceled", err)
	}
	close(rec.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if arrivals, _, _ := rec.times(); len(arrivals) != 1 {
		t.Errorf("the fake got %d requests, want 1", len(arrivals))
	}
}

// Sends that were in flight together are refused by one wave: the pause
// covers them all, but the backoff does not grow once per refusal.
func TestRefusalWaveCountsOnce(t *testing.T) {
	refuse := modeltest.Reply{Status: 429, Headers: map[string]string{"retry-after-ms": "100"}}
	rec, srv := newRecorder(refuse, refuse, refuse, refuse)
	defer srv.Close()
	rec.release = make(chan struct{})
	l := New(provider(srv), Options{BackoffBase: time.Second})
	done := make(chan []error)
	go func() { done <- sendAll(context.Background(), l, 4) }()
	for range 4 {
		<-rec.arrived
	}
	close(rec.release)
	for i, err := range <-done {
		var ae *agent.Error
		if !errors.As(err, &ae) || ae.StatusCode != 429 {
			t.Errorf("send %d: %v, want 429", i, err)
		}
	}
	l.mu.Lock()
	refusals, window := l.refusals, l.window
	l.mu.Unlock()
	if refusals != 1 || window != 1 {
		t.Errorf("after one wave of 4 refusals: %d in a row, window %d; want 1 and 1", refusals, window)
	}
	if s := l.Stats(); s.Refused != 4 {
		t.Errorf("stats %+v, want 4 refused", s)
	}
}
