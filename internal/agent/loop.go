package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Journal records what the loop does. Every round and every tool call is
// recorded before the loop moves on, so an attempt cut off by a crash can
// be resumed from the journal instead of being repeated.
type Journal interface {
	Record(ctx context.Context, kind string, data any) error
}

// Runner carries out tool calls.
type Runner interface {
	// Runs reports whether a tool is executed. A tool that is not (no run:
	// in its config) has its call journaled and nothing else.
	Runs(tool string) bool
	// NeedsApproval reports whether an operator must approve a call to the
	// tool before it runs.
	NeedsApproval(tool string) bool
	// Run executes one call. A failing tool is a result with IsError set;
	// an error means the call could not be settled (the context ended) and
	// must not be journaled as done.
	Run(ctx context.Context, use Block) (result Block, err error)
}

// Round is one model round as an earlier attempt journaled it.
type Round struct {
	Reply Reply
	// Results holds the tool results journaled for the reply's tool_use
	// blocks, by tool_use id. A call missing here was never settled.
	Results map[string]Block
	// Requested and Decisions are the approvals asked for and given, by
	// tool_use id.
	Requested map[string]bool
	Decisions map[string]Approval
}

// Approval is an operator's decision on a pending tool call.
type Approval struct {
	Approved bool   `json:"approved"`
	Reason   string `json:"reason,omitempty"`
	By       string `json:"by,omitempty"`
}

// AwaitingApproval is returned when the loop stops for an operator: a call
// to a tool with approval: required has no decision yet. The journal holds
// the request; once an operator decides, the event runs again and the loop
// resumes from the journal.
type AwaitingApproval struct{ Pending []string }

func (e *AwaitingApproval) Error() string {
	return fmt.Sprintf("waiting for an operator to approve or deny %d tool call(s)", len(e.Pending))
}

// Loop runs the conversation of one event with a model.
type Loop struct {
	Provider Provider
	Runner   Runner
	Journal  Journal
	MaxSteps int // model rounds at most; default 4
	// Summary describes the first request in the journal.
	Summary string
}

// Stop reasons of a whole loop.
const (
	StopEndTurn  = "end_turn"  // the model finished
	StopRecorded = "recorded"  // every call was to a record-only tool
	StopMaxSteps = "max_steps" // the step limit ended it
)

// Outcome is how a loop ended.
type Outcome struct {
	Stop   string `json:"stop"`
	Rounds int    `json:"rounds"`
	Usage  Usage  `json:"usage"` // of the rounds this attempt sent
}

// Truncated is returned when the model hit max_tokens: its answer is cut
// off, so it is journaled as a truncation and not treated as a decision.
type Truncated struct{ MaxTokens int }

func (e *Truncated) Error() string {
	return fmt.Sprintf("the model hit max_tokens (%d) before finishing: raise agent.max_tokens", e.MaxTokens)
}

// Permanent makes the queue give up: the same request would be cut again.
func (e *Truncated) Permanent() bool { return true }

// Run runs the loop for req, whose Messages hold the opening user message.
// history holds the rounds an earlier attempt journaled: they are replayed
// into the conversation without calling the model again, and a tool call
// they settled is not executed again.
func (l *Loop) Run(ctx context.Context, req Request, history []Round) (*Outcome, error) {
	maxSteps := l.MaxSteps
	if maxSteps <= 0 {
		maxSteps = 4
	}
	var jmu sync.Mutex // one journal writer at a time, even with parallel tools
	record := func(ctx context.Context, kind string, data any) error {
		jmu.Lock()
		defer jmu.Unlock()
		return l.Journal.Record(ctx, kind, data)
	}
	offered := map[string]bool{}
	names := make([]string, len(req.Tools))
	for i, t := range req.Tools {
		offered[t.Name] = true
		names[i] = t.Name
	}
	msgs := append([]Message(nil), req.Messages...)
	out := &Outcome{}
	for round := 1; ; round++ {
		out.Rounds = round
		var reply *Reply
		var past Round
		if round <= len(history) {
			past = history[round-1]
			reply = &past.Reply
		} else {
			r := req
			r.Messages = msgs
			r.Choice = Choice{Mode: "auto"}
			if round == 1 {
				r.Choice = firstChoice(req.Tools)
			}
			var err error
			reply, err = l.send(ctx, r, round, names, record)
			if err != nil {
				return out, err
			}
			out.Usage.add(reply.Usage)
		}
		msgs = append(msgs, Message{Role: Assistant, Content: reply.Content})
		if reply.StopReason == MaxTokens {
			return out, &Truncated{MaxTokens: req.MaxTokens}
		}
		uses := reply.ToolUses()
		if len(uses) == 0 {
			out.Stop = StopEndTurn
			return out, nil
		}
		results, executed, err := l.runTools(ctx, round, reply, past, offered, names, record)
		if err != nil {
			return out, err
		}
		msgs = append(msgs, Message{Role: User, Content: results})
		switch {
		case !executed:
			// Nothing ran, so the model has nothing new to learn: asking it
			// again would only repeat the decision.
			out.Stop = StopRecorded
			return out, nil
		case round >= maxSteps:
			out.Stop = StopMaxSteps
			return out, nil
		}
	}
}

func firstChoice(tools []Tool) Choice {
	if len(tools) == 1 {
		return Choice{Mode: "tool", Name: tools[0].Name}
	}
	return Choice{Mode: "any"}
}

// send makes one model round and journals the request and the reply (or
// the error).
func (l *Loop) send(ctx context.Context, req Request, round int, names []string, record func(context.Context, string, any) error) (*Reply, error) {
	start := time.Now()
	reply, err := l.Provider.Send(ctx, req)
	latency := time.Since(start)
	step := map[string]any{
		"round":       round,
		"provider":    l.Provider.Name(),
		"model":       req.Model,
		"tools":       names,
		"tool_choice": req.Choice.String(),
		"messages":    len(req.Messages),
		"latency_ms":  latency.Milliseconds(),
	}
	if round == 1 {
		// The opening message (already redacted) completes the journal:
		// every later message is a journaled reply or tool result.
		if len(req.Messages) > 0 && len(req.Messages[0].Content) > 0 {
			step["prompt"] = req.Messages[0].Content[0].Text
		}
	}
	if round == 1 && l.Summary != "" {
		step["summary"] = l.Summary
	} else {
		step["summary"] = fmt.Sprintf("round %d: %d messages, tool_choice %s", round, len(req.Messages), req.Choice)
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			step["error"] = "cancelled by shutdown"
			record(context.WithoutCancel(ctx), "model_request", step)
			return nil, err
		}
		record(ctx, "model_request", step)
		es := map[string]any{"round": round, "error": err.Error(), "retryable": true}
		var ae *Error
		if errors.As(err, &ae) {
			es["status_code"] = ae.StatusCode
			es["retryable"] = ae.Retryable
			if ae.After > 0 {
				es["retry_after_ms"] = ae.After.Milliseconds()
			}
			if ae.RequestID != "" {
				es["request_id"] = ae.RequestID
			}
		}
		record(ctx, "error", es)
		return nil, err
	}
	step["model"] = reply.Model
	if reply.RequestID != "" {
		step["request_id"] = reply.RequestID
	}
	step["input_tokens"] = reply.Usage.InputTokens
	step["output_tokens"] = reply.Usage.OutputTokens
	step["cache_read_input_tokens"] = reply.Usage.CacheReadInputTokens
	step["cache_creation_input_tokens"] = reply.Usage.CacheCreationInputTokens
	if err := record(ctx, "model_request", step); err != nil {
		return nil, err
	}
	dec := map[string]any{
		"round":       round,
		"stop_reason": reply.StopReason,
		"content":     reply.Content,
	}
	if uses := reply.ToolUses(); len(uses) > 0 {
		// The first call, flat, for readers of a one-tool route.
		dec["tool"], dec["tool_use_id"], dec["input"] = uses[0].Name, uses[0].ID, uses[0].Input
		calls := make([]string, len(uses))
		for i, u := range uses {
			calls[i] = u.Name
		}
		dec["calls"] = calls
	}
	if t := reply.Text(); t != "" {
		dec["text"] = t
	}
	if reply.StopReason == MaxTokens {
		dec["truncated"] = true
	}
	if err := record(ctx, "decision", dec); err != nil {
		return nil, err
	}
	return reply, nil
}

// runTools settles every tool_use of a round, in parallel, and returns the
// tool_result blocks in the order of the calls. executed reports whether
// any tool actually ran (now or in an earlier attempt).
func (l *Loop) runTools(ctx context.Context, round int, reply *Reply, past Round, offered map[string]bool, names []string,
	record func(context.Context, string, any) error) ([]Block, bool, error) {
	uses := reply.ToolUses()
	known := past.Results
	results := make([]Block, len(uses))
	var pending []string
	errs := make([]error, len(uses))
	executed := false
	var wg sync.WaitGroup
	for i, u := range uses {
		if r, ok := known[u.ID]; ok {
			results[i] = r
			if l.Runner != nil && l.Runner.Runs(u.Name) {
				executed = true
			}
			continue
		}
		switch {
		case !offered[u.Name]:
			results[i] = Block{Type: ToolResultBlock, ToolUseID: u.ID, IsError: true,
				Content: fmt.Sprintf("unknown tool %q: call one of %v", u.Name, names)}
			errs[i] = record(ctx, "tool_call", toolStep(round, u, results[i], false, 0))
			continue
		case l.Runner != nil && l.Runner.NeedsApproval(u.Name):
			d, decided := past.Decisions[u.ID]
			switch {
			case !decided:
				pending = append(pending, u.ID)
				if !past.Requested[u.ID] {
					errs[i] = record(ctx, "approval_requested", map[string]any{
						"round": round, "tool": u.Name, "tool_use_id": u.ID, "input": u.Input, "text": reply.Text(),
					})
				}
				continue
			case !d.Approved:
				results[i] = Block{Type: ToolResultBlock, ToolUseID: u.ID, IsError: true,
					Content: "denied by an operator: " + d.Reason}
				errs[i] = record(ctx, "tool_call", toolStep(round, u, results[i], false, 0))
				executed = true // news for the model: the loop goes on
				continue
			}
			// Approved: run it below.
		case l.Runner == nil || !l.Runner.Runs(u.Name):
			results[i] = Block{Type: ToolResultBlock, ToolUseID: u.ID, Content: "recorded: this tool only records the decision"}
			errs[i] = record(ctx, "tool_call", toolStep(round, u, results[i], false, 0))
			continue
		}
		if !l.Runner.Runs(u.Name) {
			// Approved, but a record-only tool: the approval is the decision.
			results[i] = Block{Type: ToolResultBlock, ToolUseID: u.ID, Content: "approved by an operator; recorded"}
			errs[i] = record(ctx, "tool_call", toolStep(round, u, results[i], false, 0))
			executed = true
			continue
		}
		executed = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			res, err := l.Runner.Run(ctx, u)
			if err != nil {
				errs[i] = fmt.Errorf("tool %s (%s): %w", u.Name, u.ID, err)
				return
			}
			res.Type, res.ToolUseID = ToolResultBlock, u.ID
			results[i] = res
			errs[i] = record(context.WithoutCancel(ctx), "tool_call", toolStep(round, u, res, true, time.Since(start)))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, executed, err
	}
	if len(pending) > 0 {
		return nil, executed, &AwaitingApproval{Pending: pending}
	}
	return results, executed, nil
}

func toolStep(round int, use, res Block, executed bool, latency time.Duration) map[string]any {
	return map[string]any{
		"round":       round,
		"tool":        use.Name,
		"tool_use_id": use.ID,
		"input":       use.Input,
		"executed":    executed,
		"result":      res.Content,
		"is_error":    res.IsError,
		"latency_ms":  latency.Milliseconds(),
	}
}

func (u *Usage) add(o Usage) {
	u.InputTokens += o.InputTokens
	u.OutputTokens += o.OutputTokens
	u.CacheReadInputTokens += o.CacheReadInputTokens
	u.CacheCreationInputTokens += o.CacheCreationInputTokens
}

// History rebuilds the rounds an earlier attempt journaled from its
// "decision" and "tool_call" steps, given as (kind, data) pairs in journal
// order. Steps of other kinds are skipped.
func History(steps []JournalStep) ([]Round, error) {
	var rounds []Round
	for _, s := range steps {
		switch s.Kind {
		case "decision":
			var d struct {
				Round      int     `json:"round"`
				StopReason string  `json:"stop_reason"`
				Content    []Block `json:"content"`
			}
			if err := json.Unmarshal(s.Data, &d); err != nil {
				return nil, fmt.Errorf("journal: decision: %w", err)
			}
			if d.Round != len(rounds)+1 {
				// A round journaled twice (a resend after a crash between the
				// request and its decision) keeps the first.
				continue
			}
			rounds = append(rounds, Round{Reply: Reply{Content: d.Content, StopReason: d.StopReason}, Results: map[string]Block{},
				Requested: map[string]bool{}, Decisions: map[string]Approval{}})
		case "approval_requested", "approval":
			var a struct {
				Round     int    `json:"round"`
				ToolUseID string `json:"tool_use_id"`
				Approval
			}
			if err := json.Unmarshal(s.Data, &a); err != nil {
				return nil, fmt.Errorf("journal: %s: %w", s.Kind, err)
			}
			if a.Round < 1 || a.Round > len(rounds) {
				continue
			}
			if s.Kind == "approval_requested" {
				rounds[a.Round-1].Requested[a.ToolUseID] = true
			} else {
				rounds[a.Round-1].Decisions[a.ToolUseID] = a.Approval
			}
		case "tool_call":
			var t struct {
				Round     int    `json:"round"`
				ToolUseID string `json:"tool_use_id"`
				Result    string `json:"result"`
				IsError   bool   `json:"is_error"`
			}
			if err := json.Unmarshal(s.Data, &t); err != nil {
				return nil, fmt.Errorf("journal: tool_call: %w", err)
			}
			if t.Round < 1 || t.Round > len(rounds) {
				continue
			}
			rounds[t.Round-1].Results[t.ToolUseID] = Block{Type: ToolResultBlock, ToolUseID: t.ToolUseID, Content: t.Result, IsError: t.IsError}
		}
	}
	return rounds, nil
}

// JournalStep is one journal entry as History reads it.
type JournalStep struct {
	Kind string
	Data json.RawMessage
}
