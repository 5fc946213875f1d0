package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/agenthook/agenthook/internal/agent"
	"github.com/agenthook/agenthook/internal/store"
	"github.com/agenthook/agenthook/internal/store/storetest"
)

// Every method works on a nil *Metrics, so code without metrics needs no
// checks.
func TestNilMetrics(t *testing.T) {
	var m *Metrics
	m.Received("invoice.paid", ReceivedQueued)
	m.Rejected(ReasonMethod)
	m.Intake(time.Millisecond)
	m.Dispatched(DispatchDone, time.Second)
	m.Tool("x", ToolOK)
	m.Tokens("r", agent.Usage{InputTokens: 1})
	m.ModelRound("p", time.Second)
	if m.Registry() != nil {
		t.Error("nil Metrics has a registry")
	}
	p := fakeProvider{}
	if got := m.Provider(p); got != agent.Provider(p) {
		t.Errorf("nil Metrics wrapped the provider: %T", got)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("nil Metrics handler answered %d, want 404", rec.Code)
	}
}

func TestTypeLabelIsBounded(t *testing.T) {
	m := New(nil)
	m.Received("charge.dispute.created", ReceivedQueued)
	m.Received("charge.dispute.created", ReceivedQueued)
	for _, bad := range []string{"", "Charge.Created", "a..b", ".a", "a.", "evt type", strings.Repeat("a", maxTypeLen+1), "x\"}"} {
		m.Received(bad, ReceivedQueued)
	}
	if v := testutil.ToFloat64(m.received.WithLabelValues("charge.dispute.created", ReceivedQueued)); v != 2 {
		t.Errorf("dispute queued = %v, want 2", v)
	}
	if v := testutil.ToFloat64(m.received.WithLabelValues(OtherType, ReceivedQueued)); v != 8 {
		t.Errorf("other queued = %v, want 8", v)
	}
	// Past the cap on distinct types, new ones are "other"; known ones keep
	// their name.
	for i := range maxTypes {
		m.Received(fmt.Sprintf("t%d.created", i), ReceivedIgnored)
	}
	m.Received("one.more", ReceivedIgnored)
	m.Received("charge.dispute.created", ReceivedDuplicate)
	if v := testutil.ToFloat64(m.received.WithLabelValues(OtherType, ReceivedIgnored)); v != 2 {
		t.Errorf("other ignored = %v, want 2 (the type past the cap and the last numbered one)", v)
	}
	if v := testutil.ToFloat64(m.received.WithLabelValues("charge.dispute.created", ReceivedDuplicate)); v != 1 {
		t.Errorf("dispute duplicate = %v, want 1", v)
	}
	if n := testutil.CollectAndCount(m.received); n > maxTypes+3 {
		t.Errorf("%d series, want at most %d", n, maxTypes+3)
	}
}

func TestTokensAndRejectedStartAtZero(t *testing.T) {
	m := New(nil)
	m.Tokens("disputes", agent.Usage{InputTokens: 812, OutputTokens: 64, CacheReadInputTokens: 700})
	m.Tokens("disputes", agent.Usage{InputTokens: 8, OutputTokens: 6, CacheCreationInputTokens: 3})
	want := `
# HELP agenthook_model_tokens_total Model tokens by route and kind (input, output, cache_read, cache_write; thinking is the part of output spent thinking).
# TYPE agenthook_model_tokens_total counter
agenthook_model_tokens_total{kind="cache_read",route="disputes"} 700
agenthook_model_tokens_total{kind="cache_write",route="disputes"} 3
agenthook_model_tokens_total{kind="input",route="disputes"} 820
agenthook_model_tokens_total{kind="output",route="disputes"} 70
`
	if err := testutil.CollectAndCompare(m.tokens, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	m.Rejected(ReasonStaleTimestamp)
	want = `
# HELP agenthook_webhook_rejected_total Webhook deliveries rejected before storing, by reason (bad_signature, stale_timestamp, malformed, too_large, method).
# TYPE agenthook_webhook_rejected_total counter
agenthook_webhook_rejected_total{reason="bad_signature"} 0
agenthook_webhook_rejected_total{reason="malformed"} 0
agenthook_webhook_rejected_total{reason="method"} 0
agenthook_webhook_rejected_total{reason="stale_timestamp"} 1
agenthook_webhook_rejected_total{reason="too_large"} 0
`
	if err := testutil.CollectAndCompare(m.rejected, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

type fakeProvider struct{ err error }

func (fakeProvider) Name() string { return "fake" }
func (p fakeProvider) Send(context.Context, agent.Request) (*agent.Reply, error) {
	if p.err != nil {
		return nil, p.err
	}
	return &agent.Reply{StopReason: agent.EndTurn}, nil
}

func TestProviderTimesEveryRound(t *testing.T) {
	m := New(nil)
	boom := errors.New("boom")
	ok, failing := m.Provider(fakeProvider{}), m.Provider(fakeProvider{err: boom})
	if ok.Name() != "fake" {
		t.Errorf("Name() = %q", ok.Name())
	}
	if r, err := ok.Send(context.Background(), agent.Request{}); err != nil || r.StopReason != agent.EndTurn {
		t.Fatalf("Send = %v, %v", r, err)
	}
	if _, err := failing.Send(context.Background(), agent.Request{}); !errors.Is(err, boom) {
		t.Fatalf("error not passed through: %v", err)
	}
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var count uint64
	for _, mf := range mfs {
		if mf.GetName() == "agenthook_model_round_duration_seconds" {
			for _, s := range mf.GetMetric() {
				if s.GetLabel()[0].GetValue() == "fake" {
					count = s.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	if count != 2 {
		t.Errorf("model rounds observed for fake: %d, want 2", count)
	}
}

// The gauges query a real store at scrape time.
func TestStoreGauges(t *testing.T) {
	st, err := store.Open(context.Background(), store.Options{Location: filepath.Join(t.TempDir(), "agenthook.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.Background()) })
	for i, route := range []string{"r", "r", ""} {
		out, err := st.Ingest(context.Background(), store.Incoming{
			ID: fmt.Sprintf("evt_gauge_%d", i), Type: "charge.refunded", Created: 1, Route: route, Payload: []byte(`{}`),
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]store.Outcome{true: store.Queued, false: store.Ignored}[route != ""]; out != want {
			t.Fatalf("ingest %d: %s, want %s", i, out, want)
		}
	}
	storetest.WaitFed(t, st)
	m := New(st)
	want := `
# HELP agenthook_awaiting_approvals Events waiting for a person's approval, at scrape time.
# TYPE agenthook_awaiting_approvals gauge
agenthook_awaiting_approvals 0
# HELP agenthook_events Stored events by status, at scrape time.
# TYPE agenthook_events gauge
agenthook_events{status="awaiting_approval"} 0
agenthook_events{status="dead"} 0
agenthook_events{status="deferred"} 0
agenthook_events{status="done"} 0
agenthook_events{status="filtered"} 0
agenthook_events{status="ignored"} 1
agenthook_events{status="no_decision"} 0
agenthook_events{status="queued"} 2
agenthook_events{status="retrying"} 0
agenthook_events{status="running"} 0
# HELP agenthook_outbox_events Acknowledged events waiting in the SQLite outbox for their queue job, at scrape time.
# TYPE agenthook_outbox_events gauge
agenthook_outbox_events 0
# HELP agenthook_queue_jobs Queue (River) jobs by state, at scrape time.
# TYPE agenthook_queue_jobs gauge
agenthook_queue_jobs{state="available"} 2
agenthook_queue_jobs{state="cancelled"} 0
agenthook_queue_jobs{state="completed"} 0
agenthook_queue_jobs{state="discarded"} 0
agenthook_queue_jobs{state="pending"} 0
agenthook_queue_jobs{state="retryable"} 0
agenthook_queue_jobs{state="running"} 0
agenthook_queue_jobs{state="scheduled"} 0
# HELP agenthook_store_up 1 if the scrape-time store query succeeded, 0 if it failed or timed out.
# TYPE agenthook_store_up gauge
agenthook_store_up 1
`
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(want),
		"agenthook_awaiting_approvals", "agenthook_events", "agenthook_outbox_events", "agenthook_queue_jobs", "agenthook_store_up"); err != nil {
		t.Error(err)
	}
}

type sourceFunc func(ctx context.Context) (map[string]int64, map[string]int64, error)

func (f sourceFunc) Counts(ctx context.Context) (map[string]int64, map[string]int64, error) {
	return f(ctx)
}

// A slow or failing store makes agenthook_store_up 0 and does not fail the
// scrape; states the code does not know are still exported.
func TestStoreGaugesOnErrorAndUnknownStates(t *testing.T) {
	slow := sourceFunc(func(ctx context.Context) (map[string]int64, map[string]int64, error) {
		<-ctx.Done() // released by the collector's timeout
		return nil, nil, ctx.Err()
	})
	c := newStoreCollector(slow, 10*time.Millisecond)
	if err := testutil.CollectAndCompare(c, strings.NewReader(`
# HELP agenthook_store_up 1 if the scrape-time store query succeeded, 0 if it failed or timed out.
# TYPE agenthook_store_up gauge
agenthook_store_up 0
`)); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(c); n != 1 {
		t.Errorf("%d metrics from a failed query, want only agenthook_store_up", n)
	}
	odd := sourceFunc(func(context.Context) (map[string]int64, map[string]int64, error) {
		return map[string]int64{"new_state": 4}, map[string]int64{StatusAwaitingApproval: 3}, nil
	})
	c = newStoreCollector(odd, time.Second)
	if err := testutil.CollectAndCompare(c, strings.NewReader(`
# HELP agenthook_awaiting_approvals Events waiting for a person's approval, at scrape time.
# TYPE agenthook_awaiting_approvals gauge
agenthook_awaiting_approvals 3
`), "agenthook_awaiting_approvals"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(c, "agenthook_queue_jobs"); n != len(jobStates)+1 {
		t.Errorf("%d job series, want %d (the known states and new_state)", n, len(jobStates)+1)
	}
}
