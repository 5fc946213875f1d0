// Package metrics exposes agenthook's Prometheus metrics: what intake
// received and rejected, how dispatches ended, which tools ran, what the
// model cost and how long it took, and (queried at scrape time) how many
// jobs and events the store holds in each state.
//
// Every method is safe on a nil *Metrics, so code paths and tests that run
// without metrics need no checks. Label values are bounded: reasons and
// outcomes are fixed sets, route, tool and provider names come from the
// config, and event types that do not look like Stripe's (or exceed a cap on
// distinct types) are counted as "other".
package metrics

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/agenthook/agenthook/internal/agent"
)

// Reasons a webhook delivery is rejected (agenthook_webhook_rejected_total).
const (
	ReasonBadSignature   = "bad_signature"   // missing, malformed or non-matching Stripe-Signature
	ReasonStaleTimestamp = "stale_timestamp" // signed timestamp outside the tolerance (past or future)
	ReasonMalformed      = "malformed"       // unreadable body, bad JSON, missing id or type
	ReasonTooLarge       = "too_large"       // body over max_body_bytes
	ReasonMethod         = "method"          // not a POST
)

// Outcomes of one webhook delivery that passed verification
// (agenthook_webhook_events_total); the first three are store.Outcome values.
const (
	ReceivedQueued    = "queued"
	ReceivedDuplicate = "duplicate"
	ReceivedIgnored   = "ignored"
	ReceivedError     = "error" // the store could not commit (503)
)

// Outcomes of one dispatch attempt (agenthook_dispatch_total).
const (
	DispatchDone     = "done"
	DispatchRetrying = "retrying"
	DispatchDead     = "dead"
	DispatchFiltered = "filtered"
	DispatchDeferred = "deferred" // cut by shutdown; back in the queue without losing the attempt
	DispatchAwaiting = "awaiting_approval"
	// DispatchNoDecision: the model called no tool, even after the
	// corrective round.
	DispatchNoDecision = "no_decision"
)

// Outcomes of one tool call (agenthook_tool_calls_total).
const (
	ToolOK       = "ok"
	ToolError    = "error"    // the tool ran and failed, or the model named a tool it was not offered
	ToolRecorded = "recorded" // a record-only tool (no run:)
	ToolInvalid  = "invalid"  // the input did not match the tool's schema; not executed
	ToolRefused  = "refused"  // a rule in code stopped it before it ran (e.g. a write this event already made)
)

// OtherType is the type label of event types that are not counted by name.
const OtherType = "other"

const (
	maxTypeLen   = 64
	maxTypes     = 500 // Stripe has about 250 event types
	storeTimeout = 2 * time.Second
)

// Source is what the scrape-time gauges query: job counts by River state
// and event counts by status. *store.Store implements it.
type Source interface {
	Counts(ctx context.Context) (jobs, events map[string]int64, err error)
}

// Metrics holds agenthook's metrics in their own registry.
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler

	received    *prometheus.CounterVec
	rejected    *prometheus.CounterVec
	intake      prometheus.Histogram
	dispatched  *prometheus.CounterVec
	dispatchDur *prometheus.HistogramVec
	tools       *prometheus.CounterVec
	tokens      *prometheus.CounterVec
	modelRound  *prometheus.HistogramVec
	corrective  prometheus.Counter

	typesMu sync.Mutex
	types   map[string]struct{}
}

// New creates the metrics in a dedicated registry, with the Go runtime and
// process collectors and, when src is not nil, the store gauges.
func New(src Source) *Metrics {
	m := &Metrics{
		reg:   prometheus.NewRegistry(),
		types: map[string]struct{}{},
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agenthook_webhook_events_total",
			Help: "Webhook deliveries that passed verification, by event type and outcome (queued, duplicate, ignored, error).",
		}, []string{"type", "outcome"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agenthook_webhook_rejected_total",
			Help: "Webhook deliveries rejected before storing, by reason (bad_signature, stale_timestamp, malformed, too_large, method).",
		}, []string{"reason"}),
		intake: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "agenthook_webhook_duration_seconds",
			Help:    "Time the webhook handler took to answer a POST, durable commit included.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		dispatched: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agenthook_dispatch_total",
			Help: "Dispatch attempts by outcome (done, retrying, dead, filtered, deferred, awaiting_approval, no_decision).",
		}, []string{"outcome"}),
		dispatchDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "agenthook_dispatch_duration_seconds",
			Help:    "Duration of one dispatch attempt (route, prompt, agent loop, tools), by outcome.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600},
		}, []string{"outcome"}),
		tools: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agenthook_tool_calls_total",
			Help: "Tool calls settled by the agent loop, by tool and outcome (ok, error, recorded, invalid, refused).",
		}, []string{"tool", "outcome"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agenthook_model_tokens_total",
			Help: "Model tokens by route and kind (input, output, cache_read, cache_write; thinking is the part of output spent thinking).",
		}, []string{"route", "kind"}),
		modelRound: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "agenthook_model_round_duration_seconds",
			Help:    "Duration of one model round (one request to the provider), by provider.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 20, 30, 60, 120},
		}, []string{"provider"}),
		corrective: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "agenthook_corrective_rounds_total",
			Help: "Corrective rounds sent: the model answered without calling a tool and was asked once more.",
		}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.received, m.rejected, m.intake, m.dispatched, m.dispatchDur, m.tools, m.tokens, m.modelRound, m.corrective,
	)
	if src != nil {
		m.reg.MustRegister(newStoreCollector(src, storeTimeout))
	}
	// The fixed label sets start at zero, so rate() and absent() work from
	// the first scrape.
	for _, r := range []string{ReasonBadSignature, ReasonStaleTimestamp, ReasonMalformed, ReasonTooLarge, ReasonMethod} {
		m.rejected.WithLabelValues(r)
	}
	for _, o := range []string{DispatchDone, DispatchRetrying, DispatchDead, DispatchFiltered, DispatchDeferred, DispatchAwaiting, DispatchNoDecision} {
		m.dispatched.WithLabelValues(o)
	}
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry:      m.reg,
		ErrorHandling: promhttp.ContinueOnError,
	})
	return m
}

// Registry returns the registry the metrics live in.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// Handler serves the metrics in the Prometheus text format. On a nil
// *Metrics it answers 404.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return m.handler
}

// Received counts a verified delivery of an event type with its outcome.
func (m *Metrics) Received(eventType, outcome string) {
	if m == nil {
		return
	}
	m.received.WithLabelValues(m.typeLabel(eventType), outcome).Inc()
}

// Rejected counts a delivery refused before storing.
func (m *Metrics) Rejected(reason string) {
	if m == nil {
		return
	}
	m.rejected.WithLabelValues(reason).Inc()
}

// Intake observes how long the webhook handler took.
func (m *Metrics) Intake(d time.Duration) {
	if m == nil {
		return
	}
	m.intake.Observe(d.Seconds())
}

// Dispatched counts one dispatch attempt and observes its duration.
func (m *Metrics) Dispatched(outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.dispatched.WithLabelValues(outcome).Inc()
	m.dispatchDur.WithLabelValues(outcome).Observe(d.Seconds())
}

// Tool counts one settled tool call. The caller passes only tool names the
// config defines.
func (m *Metrics) Tool(name, outcome string) {
	if m == nil {
		return
	}
	m.tools.WithLabelValues(name, outcome).Inc()
}

// Tokens adds what the model rounds of one attempt cost on a route.
func (m *Metrics) Tokens(route string, u agent.Usage) {
	if m == nil {
		return
	}
	for _, k := range []struct {
		kind string
		n    int64
	}{
		{"input", u.InputTokens},
		{"output", u.OutputTokens},
		{"cache_read", u.CacheReadInputTokens},
		{"cache_write", u.CacheCreationInputTokens},
		{"thinking", u.ThinkingTokens},
	} {
		if k.n > 0 {
			m.tokens.WithLabelValues(route, k.kind).Add(float64(k.n))
		}
	}
}

// Corrective counts one corrective round.
func (m *Metrics) Corrective() {
	if m == nil {
		return
	}
	m.corrective.Inc()
}

// ModelRound observes the duration of one model round.
func (m *Metrics) ModelRound(provider string, d time.Duration) {
	if m == nil {
		return
	}
	m.modelRound.WithLabelValues(provider).Observe(d.Seconds())
}

// Provider wraps p so that every round is timed. On a nil *Metrics it
// returns p itself.
func (m *Metrics) Provider(p agent.Provider) agent.Provider {
	if m == nil || p == nil {
		return p
	}
	return timedProvider{p, m}
}

type timedProvider struct {
	agent.Provider
	m *Metrics
}

func (t timedProvider) Send(ctx context.Context, req agent.Request) (*agent.Reply, error) {
	start := time.Now()
	reply, err := t.Provider.Send(ctx, req)
	t.m.ModelRound(t.Provider.Name(), time.Since(start))
	return reply, err
}

// typeLabel bounds the type label: a type that does not look like a Stripe
// event type, or one beyond the first maxTypes distinct types, is "other".
// Only verified deliveries reach it, so in practice only Stripe's types do.
func (m *Metrics) typeLabel(t string) string {
	if !stripeLike(t) {
		return OtherType
	}
	m.typesMu.Lock()
	defer m.typesMu.Unlock()
	if _, ok := m.types[t]; ok {
		return t
	}
	if len(m.types) >= maxTypes {
		return OtherType
	}
	m.types[t] = struct{}{}
	return t
}

// stripeLike reports whether t is shaped like a Stripe event type:
// lowercase dotted words of letters, digits and underscores.
func stripeLike(t string) bool {
	if t == "" || len(t) > maxTypeLen || t == OtherType {
		return false
	}
	prevDot := true
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c == '.':
			if prevDot {
				return false
			}
			prevDot = true
			continue
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
		default:
			return false
		}
		prevDot = false
	}
	return !prevDot
}
