// Package dispatch is the worker's side of the pipeline: it takes a stored
// event off the queue, finds its route, applies the route's filter, builds
// the prompt, and runs the agent loop with the route's tools, journaling
// each step. The queue (package store) decides when to run and retry it.
package dispatch

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/agenthook/agenthook/internal/agent"
	"github.com/agenthook/agenthook/internal/config"
	"github.com/agenthook/agenthook/internal/journal"
	"github.com/agenthook/agenthook/internal/metrics"
	"github.com/agenthook/agenthook/internal/policy"
	"github.com/agenthook/agenthook/internal/route"
	"github.com/agenthook/agenthook/internal/store"
	"github.com/agenthook/agenthook/internal/tool"
)

// Dispatcher implements store.Handler.
type Dispatcher struct {
	Routes   *route.Table
	Provider agent.Provider
	// Tools executes the tools that have a run: key; nil means every tool
	// only records the decision.
	Tools *tool.Set
	// Approval decides whether a call waits for an operator
	// (config.Approvals.Decide): write says whether the tool changes
	// something outside agenthook, event is the Stripe event's JSON; auto
	// names the auto_approve expression that approved the call, if one did.
	// Nil: no call waits.
	Approval func(tool string, write bool, input json.RawMessage, event []byte) (need bool, auto string)
	// Policies checks every tool call before it runs (package policy: no
	// policy, no write). Nil checks none; serve always sets it.
	Policies *policy.Set
	// Usage reports a route's spend since a time, for route budgets
	// (store.RouteUsage). Nil turns budgets off.
	Usage          func(ctx context.Context, route string, since time.Time) (store.Usage, error)
	Model          string
	System         string
	MaxSteps       int // default for routes that set none
	MaxPromptBytes int
	Log            *slog.Logger
	// Metrics counts attempts by outcome, tokens by route, tool calls and
	// model round latency; nil means none.
	Metrics *metrics.Metrics
	// MaxAttempts is the store's max_attempts (0: store.DefaultMaxAttempts),
	// used only to tell a retrying attempt from a dead one in the metrics.
	MaxAttempts int
}

// permanentError makes the queue mark the event dead at once: retrying an
// event with no route or an unreadable payload cannot help.
type permanentError struct{ err error }

func (e permanentError) Error() string   { return e.err.Error() }
func (e permanentError) Unwrap() error   { return e.err }
func (e permanentError) Permanent() bool { return true }

// Dispatch runs the agent loop for one event. An attempt after a crash or
// an error resumes from the journal: rounds the model already answered are
// not sent again, and tool calls already settled are not executed again.
func (d *Dispatcher) Dispatch(ctx context.Context, run *store.Run) error {
	start := time.Now()
	err := d.dispatch(ctx, run)
	d.Metrics.Dispatched(d.outcome(ctx, run, err), time.Since(start))
	return err
}

// outcome names what the store will make of an attempt's result, for the
// metrics. It mirrors the store's rules: done, filtered, dead (a permanent
// error or the last attempt), deferred (cut by shutdown: the attempt goes
// back to the queue), retrying otherwise.
func (d *Dispatcher) outcome(ctx context.Context, run *store.Run, err error) string {
	var p interface{ Permanent() bool }
	switch {
	case err == nil:
		return metrics.DispatchDone
	case errors.Is(err, store.ErrFiltered):
		return metrics.DispatchFiltered
	case errors.Is(err, store.ErrAwaitingApproval):
		return metrics.DispatchAwaiting
	case errors.Is(err, store.ErrNoDecision):
		return metrics.DispatchNoDecision
	case errors.As(err, new(*store.Deferred)):
		return metrics.DispatchDeferred
	case errors.Is(ctx.Err(), context.Canceled):
		return metrics.DispatchDeferred
	case errors.As(err, &p) && p.Permanent():
		return metrics.DispatchDead
	case run.Attempt >= cmp.Or(d.MaxAttempts, store.DefaultMaxAttempts):
		return metrics.DispatchDead
	}
	return metrics.DispatchRetrying
}

func (d *Dispatcher) dispatch(ctx context.Context, run *store.Run) error {
	ev := run.Event
	fail := func(err error) error {
		run.Append(ctx, &journal.Error{Error: err.Error()})
		return permanentError{err}
	}
	r, ok := d.Routes.Match(ev.Type)
	if !ok {
		return fail(fmt.Errorf("no route matches %s any more: add one to the config and replay the event", ev.Type))
	}
	allowed, err := r.Allows(ev.Payload)
	if !allowed {
		step := &journal.Filtered{Route: r.Name, When: r.When}
		if err != nil {
			step.Error = err.Error()
		}
		if err := run.Append(ctx, step); err != nil {
			return err
		}
		return store.ErrFiltered
	}
	if err := d.checkBudget(ctx, r); err != nil {
		return err
	}
	built, err := route.Prompt(r, ev.Payload, d.MaxPromptBytes)
	if err != nil {
		return fail(fmt.Errorf("build prompt: %w", err))
	}
	entries := ev.Entries()
	history, err := agent.History(entries)
	if err != nil {
		return fail(err)
	}
	prompt := built.Text
	if len(history) > 0 {
		// A resumed conversation opens with the message its journaled rounds
		// answered, even if the config changed since: the model's thinking
		// is bound to it.
		if p := openingPrompt(entries); p != "" {
			prompt = p
		}
	}
	s := r.Settings
	req := agent.Request{
		Model:     d.Model,
		System:    d.System,
		MaxTokens: s.MaxTokens,
		Effort:    s.Effort,
		Thinking:  s.Thinking,
		Messages:  []agent.Message{{Role: agent.User, Content: []agent.Block{{Type: agent.TextBlock, Text: prompt}}}},
		Event:     agent.Event{ID: ev.ID, Type: ev.Type, Payload: built.Event},
	}
	names := make([]string, len(r.Tools))
	for i, t := range r.Tools {
		req.Tools = append(req.Tools, agent.Tool{Name: t.Name, Description: t.Description, InputSchema: t.InputSchema,
			InputFrom: t.InputFrom, Strict: t.Strict, Check: t.Check})
		names[i] = t.Name
	}
	req.Choice = s.Choice(req.Tools)
	maxSteps := d.MaxSteps
	if r.MaxSteps > 0 {
		maxSteps = r.MaxSteps
	}
	summary := fmt.Sprintf("%s %s → route %q, tools %v, prompt %d bytes", ev.Type, ev.ID, r.Name, names, len(built.Text))
	if built.Truncated {
		summary += " (truncated)"
	}
	if len(history) > 0 {
		summary += fmt.Sprintf(", resumed after %d journaled round(s)", len(history))
	}
	var jr journal.Appender = run
	if d.Metrics != nil {
		jr = &countingJournal{Appender: run, m: d.Metrics, tools: names}
	}
	aj := newApprovalJournal(jr, entries)
	jr = aj
	facts := d.Policies.Facts(ev.Payload, entries)
	loop := &agent.Loop{
		Provider: d.Metrics.Provider(d.Provider),
		Runner: &runner{set: d.Tools, approval: d.approvalFor(ctx, ev, aj), eventID: ev.ID, eventType: ev.Type, written: writtenKeys(ev),
			policies: d.Policies, route: r.Name, facts: facts},
		Journal:  facts.Observe(jr), // tool calls settled in this attempt update the facts
		MaxSteps: maxSteps,
		Summary:  summary,
	}
	out, err := loop.Run(ctx, req, history)
	if out != nil {
		d.Metrics.Tokens(r.Name, out.Usage)
	}
	if err != nil {
		var tr *agent.Truncated
		var stopped *agent.Stopped
		var none *agent.NoDecision
		var wait *agent.AwaitingApproval
		switch {
		case errors.As(err, &tr):
			run.Append(ctx, &journal.Error{Error: err.Error(), Truncated: true, StopReason: agent.MaxTokens})
		case errors.As(err, &stopped):
			run.Append(ctx, &journal.Error{Error: err.Error(), StopReason: stopped.StopReason})
		case errors.As(err, &none):
			out.Stop = "no_decision"
			if err := run.Append(ctx, out); err != nil {
				return err
			}
			d.Metrics.Tokens(r.Name, out.Usage)
			return fmt.Errorf("%w: %v", store.ErrNoDecision, none)
		case errors.As(err, &wait):
			return fmt.Errorf("%w: %v", store.ErrAwaitingApproval, wait.Pending)
		}
		return err
	}
	if err := run.Append(ctx, out); err != nil {
		return err
	}
	if d.Log != nil {
		d.Log.Debug("agent loop", "id", ev.ID, "route", r.Name, "stop", out.Stop, "rounds", out.Rounds,
			"input_tokens", out.Usage.InputTokens, "output_tokens", out.Usage.OutputTokens)
	}
	return nil
}

// writtenKeys returns the idempotency keys of the writes ev's journal says
// ran without error, in any attempt or replay, with when each ran.
func writtenKeys(ev *store.Event) map[string]string {
	out := map[string]string{}
	for i, e := range ev.Entries() {
		if e.Kind != journal.KindToolCall {
			continue
		}
		step, err := journal.Decode(e)
		if err != nil {
			continue
		}
		if c := step.(*journal.ToolCall); c.Write && c.Executed && !c.IsError {
			out[tool.IdempotencyKey(ev.ID, c.Tool, c.Input)] = ev.Steps[i].At.UTC().Format(time.RFC3339)
		}
	}
	return out
}

// openingPrompt returns the opening message journaled by the first round
// since the last replay, or "".
func openingPrompt(entries []journal.Entry) string {
	for _, e := range journal.SinceReplay(entries) {
		if e.Kind != journal.KindModelRequest {
			continue
		}
		if step, err := journal.Decode(e); err == nil {
			if m := step.(*journal.ModelRequest); m.Round == 1 && m.Prompt != "" {
				return m.Prompt
			}
		}
	}
	return ""
}

// runner adapts the tool set to the loop, adding what a call needs to know
// about its event: ids and the idempotency key.
type runner struct {
	set *tool.Set
	// approval reports whether the call waits for an operator.
	approval           func(use agent.Block) bool
	eventID, eventType string
	// written maps the idempotency keys of the writes this event made
	// (journal, every attempt and replay) to when.
	written map[string]string
	// policies, with the event's facts, decide whether a call may run;
	// route is the name of the event's route, whose allow: applies.
	policies *policy.Set
	route    string
	facts    *policy.Facts
}

func (r *runner) Runs(name string) bool { return r.set != nil && r.set.Runs(name) }

func (r *runner) NeedsApproval(use agent.Block) bool { return r.approval != nil && r.approval(use) }

// approvalFor is the runner's approval rule for ev: d.Approval, with each
// call an auto_approve expression approved journaled as an approval step
// by "auto_approve", the expression as its reason, so the journal, the API
// and the console show who let it run.
func (d *Dispatcher) approvalFor(ctx context.Context, ev *store.Event, j *approvalJournal) func(agent.Block) bool {
	if d.Approval == nil {
		return nil
	}
	return func(use agent.Block) bool {
		need, auto := d.Approval(use.Name, d.Tools.Writes(use.Name), use.Input, ev.Payload)
		if need || auto == "" {
			return need
		}
		err := j.Append(ctx, &journal.Approval{Round: j.round(use.ID), Tool: use.Name, ToolUseID: use.ID, Approved: true,
			Reason: "auto_approve: " + auto, By: config.AutoApproveBy})
		// A call whose approval could not be journaled waits for a person:
		// nothing runs unrecorded.
		return err != nil
	}
}

// approvalJournal is the loop's journal, shared with the runner's
// auto-approvals: one writer at a time, and it knows the round of each
// tool call from the decisions journaled (earlier attempts' included).
type approvalJournal struct {
	journal.Appender
	mu     sync.Mutex
	rounds map[string]int // tool_use id → round
}

func newApprovalJournal(next journal.Appender, entries []journal.Entry) *approvalJournal {
	j := &approvalJournal{Appender: next, rounds: map[string]int{}}
	for _, e := range journal.SinceReplay(entries) {
		if e.Kind != journal.KindDecision {
			continue
		}
		if step, err := journal.Decode(e); err == nil {
			j.note(step)
		}
	}
	return j
}

func (j *approvalJournal) note(s journal.Step) {
	if d, ok := s.(*journal.Decision); ok {
		for _, b := range d.Content {
			if b.ID != "" {
				j.rounds[b.ID] = d.Round
			}
		}
	}
}

func (j *approvalJournal) Append(ctx context.Context, s journal.Step) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.note(s)
	return j.Appender.Append(ctx, s)
}

func (j *approvalJournal) round(toolUseID string) int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.rounds[toolUseID]
}

func (r *runner) Writes(name string) bool { return r.set.Writes(name) }

// Check refuses a write this event already made: the same tool with the
// same canonical input, executed without error in any earlier attempt or
// replay. Stripe keeps an idempotency key for 24 hours; the journal keeps
// the write for the event's whole retention. Then the policies decide
// (package policy): no policy, no write; a Stripe write touches only the
// event's objects, within their amounts; the allow: expressions hold.
func (r *runner) Check(use agent.Block) *agent.Refused {
	if r.Writes(use.Name) {
		key := tool.IdempotencyKey(r.eventID, use.Name, use.Input)
		if at, done := r.written[key]; done {
			return &agent.Refused{Rule: "one_write_per_event", Reason: fmt.Sprintf(
				"this event already made this exact %s call (%s); a write runs once per event, so it was not repeated", use.Name, at)}
		}
	}
	return r.policies.Check(r.route, use, r.facts)
}

func (r *runner) Run(ctx context.Context, use agent.Block) (agent.Block, error) {
	res, err := r.set.Execute(ctx, tool.Call{
		Tool:           use.Name,
		Input:          use.Input,
		ToolUseID:      use.ID,
		EventID:        r.eventID,
		EventType:      r.eventType,
		IdempotencyKey: tool.IdempotencyKey(r.eventID, use.Name, use.Input),
	})
	if err != nil {
		return agent.Block{}, err
	}
	// What a tool returns (a Stripe object, a service's body, a command's
	// output, an error) reaches the model only redacted, like the event.
	// The journal records this block, so it keeps what the model saw: a
	// resumed conversation must send the model the same bytes, and the
	// journal is shown by the API and the console.
	content := route.RedactResult(res.Content)
	return agent.Block{Type: agent.ToolResultBlock, ToolUseID: use.ID, Content: content, IsError: res.IsError}, nil
}

// countingJournal counts the tool calls the loop settles as it journals
// them, so a call an earlier attempt settled (and this one reuses) is not
// counted twice.
type countingJournal struct {
	journal.Appender
	m     *metrics.Metrics
	tools []string // the route's tools; any other name the model gives is "other"
}

func (j *countingJournal) Append(ctx context.Context, s journal.Step) error {
	err := j.Appender.Append(ctx, s)
	switch step := s.(type) {
	case *journal.ToolCall:
		if err != nil {
			return err
		}
		name := "other"
		if slices.Contains(j.tools, step.Tool) {
			name = step.Tool
		}
		outcome := metrics.ToolOK
		switch {
		case step.Refused != "":
			outcome = metrics.ToolRefused
		case step.Invalid:
			outcome = metrics.ToolInvalid
		case step.IsError:
			outcome = metrics.ToolError
		case !step.Executed:
			outcome = metrics.ToolRecorded
		}
		j.m.Tool(name, outcome)
	case *journal.Corrective:
		if err == nil {
			j.m.Corrective()
		}
	}
	return err
}

// checkBudget defers the event while its route has spent its budget for the
// current window; it runs again once the oldest counted request leaves the
// window.
func (d *Dispatcher) checkBudget(ctx context.Context, r route.Route) error {
	b := r.Budget
	if b == nil || d.Usage == nil {
		return nil
	}
	window := b.Window()
	u, err := d.Usage(ctx, r.Name, time.Now().Add(-window))
	if err != nil {
		return err
	}
	var over string
	switch {
	case b.Events > 0 && u.Events >= b.Events:
		over = fmt.Sprintf("%d of %d events", u.Events, b.Events)
	case b.Tokens > 0 && u.Tokens >= b.Tokens:
		over = fmt.Sprintf("%d of %d tokens", u.Tokens, b.Tokens)
	default:
		return nil
	}
	until := u.Oldest.Add(window)
	return &store.Deferred{Until: until, Reason: fmt.Sprintf("route %s has spent its budget for this %s (%s); it runs at %s, or raise routes[].budget",
		r.Name, b.Per, over, until.UTC().Format(time.RFC3339))}
}
