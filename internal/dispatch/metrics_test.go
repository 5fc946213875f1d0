package dispatch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/agenthook/agenthook/internal/agent"
	"github.com/agenthook/agenthook/internal/dispatch"
	"github.com/agenthook/agenthook/internal/metrics"
	"github.com/agenthook/agenthook/internal/route"
	"github.com/agenthook/agenthook/internal/store"
	"github.com/agenthook/agenthook/internal/tool"
)

// scripted answers by event type and by how often that type was sent.
type scripted struct {
	mu    sync.Mutex
	calls map[string]int
}

func (*scripted) Name() string { return "scripted" }

var roundUsage = agent.Usage{InputTokens: 100, OutputTokens: 10, CacheReadInputTokens: 5, CacheCreationInputTokens: 3}

func (p *scripted) Send(_ context.Context, req agent.Request) (*agent.Reply, error) {
	p.mu.Lock()
	p.calls[req.Event.Type]++
	n := p.calls[req.Event.Type]
	p.mu.Unlock()
	uses := func(names ...string) *agent.Reply {
		r := &agent.Reply{StopReason: agent.ToolUse, Model: "scripted-1", Usage: roundUsage}
		for i, name := range names {
			r.Content = append(r.Content, agent.Block{Type: agent.ToolUseBlock, ID: fmt.Sprintf("toolu_%d_%d", n, i), Name: name, Input: json.RawMessage(validInput(name))})
		}
		return r
	}
	overloaded := &agent.Error{Provider: "scripted", StatusCode: 529, Retryable: true, Message: "overloaded"}
	switch req.Event.Type {
	case "charge.dispute.created":
		if n == 1 {
			return uses("lookup", "rm_rf"), nil // rm_rf was not offered
		}
		return uses("handle_dispute"), nil
	case "invoice.payment_failed":
		if n == 1 {
			return nil, overloaded
		}
		return uses("retry_failed_payment"), nil
	case "customer.subscription.deleted":
		return nil, overloaded
	case "customer.subscription.updated":
		return nil, &agent.Error{Provider: "scripted", StatusCode: 401, Message: "bad key"}
	}
	return nil, fmt.Errorf("unexpected event type %s", req.Event.Type)
}

const metricsConfig = `
routes:
  - name: disputes
    events: [charge.dispute.created]
    tools: [lookup, handle_dispute]
  - events: [invoice.payment_failed]
    tools: [retry_failed_payment]
  - events: ["customer.subscription.*"]
    name: subscriptions
    tools: [churn_outreach]
  - events: [charge.refunded]
    when: data.object.amount_refunded >= 100000
    tools: [log_refund]
tools:
  lookup:
    description: Look something up.
    input_schema: {type: object, properties: {q: {type: string}}}
    run: {http: {url: "${TOOLS}/lookup"}}
`

// A known set of events through the real store and dispatcher gives known
// dispatch outcomes, tool outcomes, tokens and model rounds, and the
// outcomes agree with the statuses the store settles on.
func TestDispatchMetrics(t *testing.T) {
	tools := newToolServer(t, func(string) (int, string) { return 200, `{"found":true}` })
	cfg := loadConfig(t, metricsConfig, tools.URL)
	routes, err := route.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	set, err := tool.NewSet(cfg, tool.Options{RetryBase: time.Millisecond, Attempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	const maxAttempts = 2
	d := &dispatch.Dispatcher{
		Routes:      routes,
		Provider:    &scripted{calls: map[string]int{}},
		Tools:       set,
		Model:       "scripted-1",
		MaxSteps:    4,
		MaxAttempts: maxAttempts,
	}
	// Each finished attempt is reported here, after Dispatch (and so the
	// metrics) returned: the test waits on it instead of polling.
	attempts := make(chan string, 32)
	s, err := store.Open(context.Background(), store.Options{
		Location:     filepath.Join(t.TempDir(), "agenthook.db"),
		MaxAttempts:  maxAttempts,
		RetryBase:    time.Millisecond,
		RetryMax:     5 * time.Millisecond,
		PollInterval: 20 * time.Millisecond,
		Handler: store.HandlerFunc(func(ctx context.Context, run *store.Run) error {
			err := d.Dispatch(ctx, run)
			attempts <- run.Event.Type
			return err
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Close(ctx)
	})
	m := metrics.New(s)
	d.Metrics = m
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"charge.dispute.created", "invoice.payment_failed", "customer.subscription.deleted", "customer.subscription.updated", "charge.refunded"} {
		ingestFixture(t, s, typ)
	}
	// dispute 1, invoice 2 (retry, done), subscription.deleted 2 (retry,
	// dead at the last attempt), subscription.updated 1 (dead), refund 1
	// (filtered).
	const total = 7
	timeout := time.After(30 * time.Second)
	for i := range total {
		select {
		case <-attempts:
		case <-timeout:
			t.Fatalf("%d of %d attempts finished", i, total)
		}
	}
	// Stop waits for the store's bookkeeping of the last attempts, so the
	// gauges below see the final statuses.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case typ := <-attempts:
		t.Fatalf("an attempt beyond the expected %d: %s", total, typ)
	default:
	}

	want := `
# HELP agenthook_dispatch_total Dispatch attempts by outcome (done, retrying, dead, filtered, deferred, awaiting_approval, no_decision).
# TYPE agenthook_dispatch_total counter
agenthook_dispatch_total{outcome="awaiting_approval"} 0
agenthook_dispatch_total{outcome="dead"} 2
agenthook_dispatch_total{outcome="deferred"} 0
agenthook_dispatch_total{outcome="done"} 2
agenthook_dispatch_total{outcome="filtered"} 1
agenthook_dispatch_total{outcome="no_decision"} 0
agenthook_dispatch_total{outcome="retrying"} 2
# HELP agenthook_events Stored events by status, at scrape time.
# TYPE agenthook_events gauge
agenthook_events{status="awaiting_approval"} 0
agenthook_events{status="dead"} 2
agenthook_events{status="deferred"} 0
agenthook_events{status="done"} 2
agenthook_events{status="filtered"} 1
agenthook_events{status="ignored"} 0
agenthook_events{status="no_decision"} 0
agenthook_events{status="queued"} 0
agenthook_events{status="retrying"} 0
agenthook_events{status="running"} 0
# HELP agenthook_tool_calls_total Tool calls settled by the agent loop, by tool and outcome (ok, error, recorded, invalid, refused).
# TYPE agenthook_tool_calls_total counter
agenthook_tool_calls_total{outcome="error",tool="other"} 1
agenthook_tool_calls_total{outcome="ok",tool="lookup"} 1
agenthook_tool_calls_total{outcome="recorded",tool="handle_dispute"} 1
agenthook_tool_calls_total{outcome="recorded",tool="retry_failed_payment"} 1
# HELP agenthook_model_tokens_total Model tokens by route and kind (input, output, cache_read, cache_write; thinking is the part of output spent thinking).
# TYPE agenthook_model_tokens_total counter
agenthook_model_tokens_total{kind="cache_read",route="disputes"} 10
agenthook_model_tokens_total{kind="cache_read",route="invoice.payment_failed"} 5
agenthook_model_tokens_total{kind="cache_write",route="disputes"} 6
agenthook_model_tokens_total{kind="cache_write",route="invoice.payment_failed"} 3
agenthook_model_tokens_total{kind="input",route="disputes"} 200
agenthook_model_tokens_total{kind="input",route="invoice.payment_failed"} 100
agenthook_model_tokens_total{kind="output",route="disputes"} 20
agenthook_model_tokens_total{kind="output",route="invoice.payment_failed"} 10
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"agenthook_dispatch_total", "agenthook_events", "agenthook_tool_calls_total", "agenthook_model_tokens_total"); err != nil {
		t.Error(err)
	}
	if tools.count("lookup") != 1 {
		t.Errorf("lookup ran %d times, want 1", tools.count("lookup"))
	}
	// Every model round is timed, failed ones too: dispute 2, invoice 2,
	// subscription.deleted 2, subscription.updated 1.
	if n := histogramCount(t, m, "agenthook_model_round_duration_seconds", "provider", "scripted"); n != 7 {
		t.Errorf("model rounds observed: %d, want 7", n)
	}
	if n := histogramCount(t, m, "agenthook_dispatch_duration_seconds", "outcome", "retrying"); n != 2 {
		t.Errorf("retrying attempts timed: %d, want 2", n)
	}
}

func histogramCount(t *testing.T, m *metrics.Metrics, name, label, value string) uint64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, s := range mf.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return s.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return 0
}
