package dispatch_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agenthook/agenthook/internal/agent/anthropic"
	"github.com/agenthook/agenthook/internal/agent/limit"
	"github.com/agenthook/agenthook/internal/config"
	"github.com/agenthook/agenthook/internal/dispatch"
	"github.com/agenthook/agenthook/internal/journal"
	"github.com/agenthook/agenthook/internal/modeltest"
	"github.com/agenthook/agenthook/internal/route"
	"github.com/agenthook/agenthook/internal/store"
	"github.com/agenthook/agenthook/internal/stripeevent"
	"github.com/agenthook/agenthook/internal/tool"
)

// BenchmarkTokensPerEvent measures, for each effort, the tokens and model
// requests one event costs when the 14 fixture events run through the real
// pipeline (SQLite store, route table, dispatcher, tool set, the anthropic
// provider behind the limiter, as serve builds them) against the fake
// Messages API, model claude-sonnet-5-5. The figures are simulated: the
// fake answers with fixed input counts and spends a fixed number of
// thinking tokens per effort (internal/modeltest), so they show how
// agenthook's settings move the bill, not what Claude spends.
//
//	go test -run=NONE -bench=TokensPerEvent -benchtime=1x ./internal/dispatch/
//
// Costs are at the list prices in tokensPrices, passed as agent.prices and
// computed with config.Prices.Cost as the admin API does.
func BenchmarkTokensPerEvent(b *testing.B) {
	for _, effort := range []string{"low", "medium", "high", "xhigh", "max"} {
		b.Run("effort="+effort, func(b *testing.B) { benchTokens(b, effort) })
	}
}

// tokensPrices are Claude Sonnet 5.5's list prices in USD per million
// tokens: input, output, 5-minute cache write, cache read, from
// https://platform.claude.com/docs/zh-CN/models/sonnet-5-5/overview (see
// BENCHMARKS.md for the cache-read caveat).
const tokensPrices = `{input: 2, output: 10, cache_write: 2.50, cache_read: 0.20}`

// tokensConfig routes every fixture type, demo's routes first (without its
// amount filter, so every event reaches the model), the informational
// types to a record-only tool. Seven events get a tool that runs (a round
// for the call, one after its result), seven one that records (one round).
const tokensConfig = `
agent:
  provider: anthropic
  model: claude-sonnet-5-5
  effort: %s
  prices: %s
order_window: 0s
routes:
  - events: [charge.dispute.created]
    tools: [handle_dispute]
  - events: [invoice.payment_failed]
    tools: [retry_failed_payment]
  - events: [customer.subscription.deleted]
    tools: [churn_outreach]
  - events: [charge.refunded]
    tools: [log_refund]
  - name: payment-failures
    events: [payment_intent.payment_failed]
    tools: [flag_payment]
  - name: other-disputes
    events: ["charge.dispute.*"]
    tools: [flag_payment]
  - name: record
    events: [checkout.session.completed, customer.created, customer.subscription.trial_will_end,
      customer.subscription.updated, invoice.paid, payment_intent.succeeded, refund.created]
    tools: [note_event]
tools:
  flag_payment:
    description: Flag a payment or dispute for a person to look at, with a one-line reason.
    input_schema:
      type: object
      properties:
        stripe_id: {type: string}
        amount: {type: integer}
        reason: {type: string}
      required: [stripe_id, reason]
    run: {http: {url: "%[3]s/flag_payment", timeout: 5s}}
  note_event:
    description: Record what the event means for the business, in one line.
    input_schema:
      type: object
      properties:
        stripe_id: {type: string}
        note: {type: string}
      required: [stripe_id, note]
  handle_dispute:
    run: {http: {url: "%[3]s/handle_dispute", timeout: 5s}}
  retry_failed_payment:
    run: {http: {url: "%[3]s/retry_failed_payment", timeout: 5s}}
  churn_outreach:
    run: {http: {url: "%[3]s/churn_outreach", timeout: 5s}}
  log_refund:
    run: {http: {url: "%[3]s/log_refund", timeout: 5s}}
`

// tokensFinished are the statuses an event no longer leaves by itself.
var tokensFinished = []store.Status{store.StatusDone, store.StatusDead, store.StatusNoDecision,
	store.StatusFiltered, store.StatusIgnored, store.StatusAwaitingApproval}

func benchTokens(b *testing.B, effort string) {
	var toolCalls atomic.Int64
	tools := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		n := toolCalls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"ok":true,"ticket":"BENCH-%d"}`, n)
	}))
	b.Cleanup(tools.Close)
	fake := modeltest.NewAnthropic()
	b.Cleanup(fake.Close)

	cfg := tokensLoadConfig(b, fmt.Sprintf(tokensConfig, effort, tokensPrices, tools.URL))
	s, routes := tokensPipeline(b, cfg, fake.URL)
	types := stripeevent.FixtureTypes()

	var sum store.Totals
	var events, corrective int
	for b.Loop() {
		ids := make([]string, len(types))
		for i, typ := range types {
			ids[i] = tokensIngest(b, s, routes, typ)
		}
		for _, id := range ids {
			ev := tokensWait(b, s, id, 30*time.Second)
			if ev.Status != store.StatusDone {
				b.Fatalf("%s (%s) ended %s: %s", ev.ID, ev.Type, ev.Status, ev.LastError)
			}
			t := ev.Totals()
			sum.ModelRequests += t.ModelRequests
			sum.TokensIn += t.TokensIn
			sum.TokensOut += t.TokensOut
			sum.ThinkingTokens += t.ThinkingTokens
			sum.CacheRead += t.CacheRead
			sum.CacheWrite += t.CacheWrite
			for _, st := range ev.Steps {
				if st.Kind == journal.KindCorrective {
					corrective++
				}
			}
			events++
		}
	}

	// What was measured is what was meant: no request refused, and every
	// request carried the effort under test with adaptive thinking.
	if n := fake.RefusalCount(); n != 0 {
		b.Fatalf("the fake refused %d request(s): %v", n, fake.Refusals())
	}
	for _, req := range fake.Requests() {
		oc, _ := req.Body["output_config"].(map[string]any)
		th, _ := req.Body["thinking"].(map[string]any)
		if oc["effort"] != effort || th["type"] != "adaptive" {
			b.Fatalf("request sent effort %v, thinking %v; want %s, adaptive", oc["effort"], th["type"], effort)
		}
	}

	per := func(n int64) float64 { return float64(n) / float64(events) }
	cost := cfg.Agent.Prices.Cost(sum.TokensIn, sum.TokensOut, sum.CacheRead, sum.CacheWrite) / float64(events)
	b.ReportMetric(0, "ns/op") // wall time here is polling, not a figure
	b.ReportMetric(per(sum.TokensIn), "tokens_in/event")
	b.ReportMetric(per(sum.CacheRead), "cache_read/event")
	b.ReportMetric(per(sum.CacheWrite), "cache_write/event")
	b.ReportMetric(per(sum.TokensOut), "tokens_out/event")
	b.ReportMetric(per(sum.ThinkingTokens), "thinking/event")
	b.ReportMetric(per(int64(sum.ModelRequests)), "requests/event")
	b.ReportMetric(per(int64(corrective)), "corrective/event")
	b.ReportMetric(cost, "usd/event")
	b.ReportMetric(cost*1000, "usd/1k_events")
	b.Logf("effort %s: %d events, %d model requests, %d corrective rounds, %d tool calls executed",
		effort, events, sum.ModelRequests, corrective, toolCalls.Load())
}

// tokensLoadConfig reads a YAML config the way serve does.
func tokensLoadConfig(b *testing.B, yaml string) *config.Config {
	b.Helper()
	path := filepath.Join(b.TempDir(), "agenthook.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Load(path, func(string) string { return "" })
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

// tokensPipeline opens a real store whose workers run the dispatcher as
// serve builds it, with the anthropic provider pointed at baseURL.
func tokensPipeline(b *testing.B, cfg *config.Config, baseURL string) (*store.Store, *route.Table) {
	b.Helper()
	quiet := slog.New(slog.DiscardHandler)
	routes, err := route.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	tools, err := tool.NewSet(cfg, tool.Options{RetryBase: time.Millisecond, Log: quiet})
	if err != nil {
		b.Fatal(err)
	}
	approvals, err := cfg.Approvals()
	if err != nil {
		b.Fatal(err)
	}
	provider := limit.New(anthropic.New(anthropic.Options{APIKey: "sk-ant-bench", BaseURL: baseURL, Timeout: 10 * time.Second}),
		limit.Options{Concurrency: cfg.Agent.Concurrency, Log: quiet})
	d := &dispatch.Dispatcher{
		Routes:         routes,
		Provider:       provider,
		Tools:          tools,
		Approval:       approvals.Decide,
		Model:          cfg.Agent.Model,
		System:         cfg.Agent.System,
		MaxSteps:       cfg.Agent.MaxSteps,
		MaxPromptBytes: cfg.Agent.MaxPromptBytes,
		MaxAttempts:    cfg.MaxAttempts,
		Log:            quiet,
	}
	s, err := store.Open(context.Background(), store.Options{
		Location:     filepath.Join(b.TempDir(), "agenthook.db"),
		MaxAttempts:  cfg.MaxAttempts,
		Workers:      cfg.Workers,
		OrderWindow:  cfg.OrderWindow.D(),
		RetryBase:    5 * time.Millisecond,
		RetryMax:     50 * time.Millisecond,
		PollInterval: 20 * time.Millisecond,
		Handler:      d,
		Logger:       quiet,
	})
	if err != nil {
		b.Fatal(err)
	}
	d.Usage = s.RouteUsage
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Close(ctx)
	})
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	return s, routes
}

// tokensIngest stores a fresh copy of a fixture as the webhook handler
// does: routed, with the route's order key.
func tokensIngest(b *testing.B, s *store.Store, routes *route.Table, typ string) string {
	b.Helper()
	body, id, err := stripeevent.NewEvent(typ, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	ev, err := stripeevent.Parse(body)
	if err != nil {
		b.Fatal(err)
	}
	in := store.Incoming{ID: ev.ID, Type: ev.Type, Created: ev.Created, Livemode: ev.Livemode, Payload: body}
	rt, ok := routes.Match(ev.Type)
	if !ok {
		b.Fatalf("no route for %s: the benchmark routes every fixture", typ)
	}
	in.Route, in.OrderKey = rt.Name, rt.Key(body)
	out, err := s.Ingest(context.Background(), in)
	if err != nil || out != store.Queued {
		b.Fatalf("ingest %s: %q %v", typ, out, err)
	}
	return id
}

// tokensWait polls the store until the event is finished or the deadline
// passes.
func tokensWait(b *testing.B, s *store.Store, id string, within time.Duration) *store.Event {
	b.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		ev, err := s.Event(context.Background(), id)
		if err != nil {
			b.Fatal(err)
		}
		if slices.Contains(tokensFinished, ev.Status) {
			return ev
		}
		if time.Now().After(deadline) {
			b.Fatalf("event %s (%s): still %s after %s; last_error %q", id, ev.Type, ev.Status, within, ev.LastError)
		}
		<-tick.C
	}
}
