package server_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/agenthook/agenthook/internal/metrics"
	"github.com/agenthook/agenthook/internal/server"
	"github.com/agenthook/agenthook/internal/stripeevent"
)

const adminToken = "test-admin-token"

// newMetricsHandler is the server with metrics, a small body limit and,
// unless token is empty, an admin token.
func newMetricsHandler(t *testing.T, token string, withMetrics bool) http.Handler {
	t.Helper()
	d := testDeps(t)
	d.MaxBodyBytes, d.AdminToken = 16<<10, token
	if withMetrics {
		d.Metrics = metrics.New(d.Store)
	}
	return server.New(d)
}

func post(t *testing.T, h http.Handler, body []byte, sig string) int {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/stripe/webhook", bytes.NewReader(body))
	if sig != "" {
		req.Header.Set(stripeevent.SignatureHeader, sig)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

func newEvent(t *testing.T, typ string) []byte {
	t.Helper()
	body, _, err := stripeevent.NewEvent(typ, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// scrape GETs /metrics as a loopback client with the admin token and
// parses the answer.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return mfs
}

// value returns the value of the series of family name whose labels
// include labels (name=value pairs); for a histogram, its sample count.
func value(t *testing.T, mfs map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	mf, ok := mfs[name]
	if !ok {
		t.Fatalf("no metric %s", name)
	}
next:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}

// A known sequence of deliveries through the real handler shows up in
// /metrics: each outcome and each rejection reason once more, the intake
// histogram once per POST, and the store's counts at scrape time.
func TestMetricsAfterDeliveries(t *testing.T) {
	h := newMetricsHandler(t, adminToken, true)
	now := time.Now()

	dispute1, dispute2 := newEvent(t, "charge.dispute.created"), newEvent(t, "charge.dispute.created")
	for _, tc := range []struct {
		name string
		body []byte
		sig  string
		want int
	}{
		{"queued", dispute1, stripeevent.Sign(dispute1, secret, now), 200},
		{"queued again", dispute2, stripeevent.Sign(dispute2, secret, now), 200},
		{"duplicate", dispute1, stripeevent.Sign(dispute1, secret, now), 200},
		{"ignored", newEvent(t, "customer.created"), "", 200},
		{"wrong secret", dispute1, stripeevent.Sign(dispute1, "whsec_other", now), 400},
		{"no signature", dispute1, "", 400},
		{"stale", dispute1, stripeevent.Sign(dispute1, secret, now.Add(-time.Hour)), 400},
		{"future", dispute1, stripeevent.Sign(dispute1, secret, now.Add(time.Hour)), 400},
		{"malformed", []byte(`{"id":`), "", 400},
		{"too large", bytes.Repeat([]byte("x"), 17<<10), "", 413},
	} {
		sig := tc.sig
		if sig == "" && tc.name != "no signature" {
			sig = stripeevent.Sign(tc.body, secret, now)
		}
		if got := post(t, h, tc.body, sig); got != tc.want {
			t.Fatalf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	for _, method := range []string{http.MethodGet, http.MethodPut} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, "/stripe/webhook", nil))
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != http.MethodPost {
			t.Fatalf("%s /stripe/webhook: %d, Allow %q", method, rec.Code, rec.Header().Get("Allow"))
		}
	}

	// The two queued events' jobs reach River from SQLite's outbox
	// (store/feed.go) a moment after their acknowledgement.
	mfs := scrape(t, h)
	for deadline := time.Now().Add(15 * time.Second); value(t, mfs, "agenthook_queue_jobs", "state", "available") < 2; mfs = scrape(t, h) {
		if time.Now().After(deadline) {
			t.Fatal("the queued events' jobs never reached the queue")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"agenthook_webhook_events_total", []string{"type", "charge.dispute.created", "outcome", "queued"}, 2},
		{"agenthook_webhook_events_total", []string{"type", "charge.dispute.created", "outcome", "duplicate"}, 1},
		{"agenthook_webhook_events_total", []string{"type", "customer.created", "outcome", "ignored"}, 1},
		{"agenthook_webhook_rejected_total", []string{"reason", "bad_signature"}, 2},
		{"agenthook_webhook_rejected_total", []string{"reason", "stale_timestamp"}, 2},
		{"agenthook_webhook_rejected_total", []string{"reason", "malformed"}, 1},
		{"agenthook_webhook_rejected_total", []string{"reason", "too_large"}, 1},
		{"agenthook_webhook_rejected_total", []string{"reason", "method"}, 2},
		{"agenthook_webhook_duration_seconds", nil, 10}, // one per POST
		{"agenthook_events", []string{"status", "queued"}, 2},
		{"agenthook_events", []string{"status", "ignored"}, 1},
		{"agenthook_events", []string{"status", "done"}, 0},
		{"agenthook_queue_jobs", []string{"state", "available"}, 2},
		{"agenthook_awaiting_approvals", nil, 0},
		{"agenthook_store_up", nil, 1},
		{"agenthook_dispatch_total", []string{"outcome", "done"}, 0},
	} {
		if got := value(t, mfs, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if n := len(mfs["agenthook_webhook_events_total"].GetMetric()); n != 3 {
		t.Errorf("%d webhook_events series, want 3: rejected deliveries must not create type series", n)
	}
	collectors := []string{"go_goroutines"}
	if runtime.GOOS == "linux" {
		collectors = append(collectors, "process_cpu_seconds_total")
	}
	for _, name := range collectors {
		if _, ok := mfs[name]; !ok {
			t.Errorf("no %s: the Go and process collectors are missing", name)
		}
	}
}

// /metrics is guarded exactly like /api/: the bearer token when one is set,
// loopback clients only otherwise.
func TestMetricsAuth(t *testing.T) {
	get := func(h http.Handler, remote, auth string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.RemoteAddr = remote
		req.Host = "127.0.0.1:8000" // a loopback name: the API refuses other Host headers without a token
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	withToken := newMetricsHandler(t, adminToken, true)
	for _, tc := range []struct {
		remote, auth string
		want         int
	}{
		{"127.0.0.1:1", "", http.StatusUnauthorized},
		{"127.0.0.1:1", "Bearer wrong", http.StatusUnauthorized},
		{"127.0.0.1:1", adminToken, http.StatusUnauthorized},
		{"192.0.2.10:1", "Bearer " + adminToken, http.StatusOK},
		{"127.0.0.1:1", "Bearer " + adminToken, http.StatusOK},
	} {
		rec := get(withToken, tc.remote, tc.auth)
		if rec.Code != tc.want {
			t.Errorf("token set, from %s with %q: %d, want %d", tc.remote, tc.auth, rec.Code, tc.want)
		}
		if rec.Code == http.StatusOK && !strings.Contains(rec.Body.String(), "agenthook_webhook_rejected_total") {
			t.Errorf("200 without the metrics: %.200s", rec.Body)
		}
	}
	noToken := newMetricsHandler(t, "", true)
	for _, tc := range []struct {
		remote string
		want   int
	}{
		{"127.0.0.1:1", http.StatusOK},
		{"[::1]:1", http.StatusOK},
		{"192.0.2.10:1", http.StatusForbidden},
	} {
		if rec := get(noToken, tc.remote, ""); rec.Code != tc.want {
			t.Errorf("no token, from %s: %d, want %d", tc.remote, rec.Code, tc.want)
		}
	}
	// Without metrics the route exists but has nothing to serve; it is
	// still guarded.
	none := newMetricsHandler(t, "", false)
	if rec := get(none, "127.0.0.1:1", ""); rec.Code != http.StatusNotFound {
		t.Errorf("no metrics, loopback: %d, want 404", rec.Code)
	}
	if rec := get(none, "192.0.2.10:1", ""); rec.Code != http.StatusForbidden {
		t.Errorf("no metrics, remote: %d, want 403", rec.Code)
	}
}
