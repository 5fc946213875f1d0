package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/agenthook/agenthook/internal/journal"
)

// Runner carries out tool calls.
type Runner interface {
	// Runs reports whether a tool is executed. A tool that is not (no run:
	// in its config) has its call journaled and nothing else.
	Runs(tool string) bool
	// NeedsApproval reports whether an operator must approve the call
	// before it runs. It sees the call (tool and input), so a rule such as
	// auto_approve can approve some calls of a tool and not others.
	NeedsApproval(use Block) bool
	// Writes reports whether the tool changes something outside agenthook.
	Writes(tool string) bool
	// Check is asked before a call with a valid input goes to an operator
	// or runs; a Refused stops it, and the model is told why. The model is
	// not a security boundary: this is where code bounds what it may do.
	Check(use Block) *Refused
	// Run executes one call. A failing tool is a result with IsError set;
	// an error means the call could not be settled (the context ended) and
	// must not be journaled as done.
	Run(ctx context.Context, use Block) (result Block, err error)
}

// Refused is a call that a rule in code stopped before it ran.
type Refused struct {
	Rule   string // a short name, journaled and counted
	Reason string // for the model and the operator
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
	Decisions map[string]journal.Approval
	// Corrective is the corrective message sent after this round, if one
	// was: a resumed conversation carries it again, word for word.
	Corrective string
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
	Journal  journal.Appender
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
type Outcome = journal.Outcome

// Truncated is returned when the model hit max_tokens: its answer is cut
// off, so it is journaled as a truncation and not treated as a decision.
type Truncated struct{ MaxTokens int }

func (e *Truncated) Error() string {
	return fmt.Sprintf("the model hit max_tokens (%d) before finishing (thinking counts against it): raise agent.max_tokens, or lower agent.effort, and replay", e.MaxTokens)
}

// Permanent makes the queue give up: the same request would be cut again.
func (e *Truncated) Permanent() bool { return true }

// Stopped is returned when the model's stop reason ends the event: it
// refused (refusal), or the conversation outgrew its context window
// (model_context_window_exceeded). Sending the same conversation again
// would end the same way.
type Stopped struct {
	StopReason string
	Text       string // what the model said, if anything
}

func (e *Stopped) Error() string {
	switch e.StopReason {
	case Refusal:
		msg := "the model refused to handle this event (stop_reason refusal)"
		if e.Text != "" {
			msg += ": " + e.Text
		}
		return msg + "; review the event and the route's instructions, then replay it or handle it by hand"
	case ContextWindowExceeded:
		return "the conversation exceeded the model's context window (stop_reason model_context_window_exceeded): lower agent.max_prompt_bytes, list fewer routes[].fields, or lower routes[].max_steps, then replay"
	}
	return "the model stopped with stop_reason " + e.StopReason
}

// Permanent makes the queue give up.
func (e *Stopped) Permanent() bool { return true }

// NoDecision is returned when the model called no tool, even after the
// corrective round: the event has no decision, and must not pass for done.
type NoDecision struct{ Text string }

func (e *NoDecision) Error() string {
	msg := "the model called no tool, even after a corrective round, so nothing was decided"
	if e.Text != "" {
		msg += fmt.Sprintf(" (it said: %.200q)", e.Text)
	}
	return msg + "; make the route's instructions clearer, then replay the event"
}

// Corrective is the message sent, once, after a round in which the model
// called no tool. The route's instructions and the system prompt already say
// a tool must be called; models that refuse forced tool choice need it said
// once more.
func Corrective(names []string) string {
	return fmt.Sprintf("You answered without calling a tool. This event needs a decision, and a decision is a tool call: call one of %v now, with an input that matches its schema.", names)
}

// InvalidInput is the tool result the model gets for an input that does not
// match the tool's schema. The call is not executed.
func InvalidInput(tool string, err error) string {
	return fmt.Sprintf("invalid input for %s, not executed: %v. Call it again with an input that matches its input_schema.", tool, err)
}

// Run runs the loop for req, whose Messages hold the opening user message.
// history holds the rounds an earlier attempt journaled: they are replayed
// into the conversation without calling the model again, exactly as they
// were received, and a tool call they settled is not executed again.
func (l *Loop) Run(ctx context.Context, req Request, history []Round) (*Outcome, error) {
	maxSteps := l.MaxSteps
	if maxSteps <= 0 {
		maxSteps = 4
	}
	var jmu sync.Mutex // one journal writer at a time, even with parallel tools
	record := func(ctx context.Context, s journal.Step) error {
		jmu.Lock()
		defer jmu.Unlock()
		return l.Journal.Append(ctx, s)
	}
	tools := map[string]Tool{}
	names := make([]string, len(req.Tools))
	for i, t := range req.Tools {
		tools[t.Name] = t
		names[i] = t.Name
	}
	msgs := append([]Message(nil), req.Messages...)
	out := &Outcome{}
	decided := false   // some round called a tool
	corrected := false // the corrective round was sent
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
			if round > 1 {
				r.Choice = Choice{Mode: "auto"}
			}
			var err error
			reply, err = l.send(ctx, r, round, names, record)
			if err != nil {
				return out, err
			}
			out.Usage.Add(reply.Usage)
		}
		msgs = append(msgs, Message{Role: Assistant, Content: reply.Content})
		switch reply.StopReason {
		case MaxTokens:
			return out, &Truncated{MaxTokens: req.MaxTokens}
		case Refusal, ContextWindowExceeded:
			return out, &Stopped{StopReason: reply.StopReason, Text: reply.Text()}
		case PauseTurn:
			// The API paused a long turn: the reply goes back as it is and
			// the model continues it.
			if round >= maxSteps {
				out.Stop = StopMaxSteps
				return out, nil
			}
			continue
		}
		uses := reply.ToolUses()
		if len(uses) == 0 {
			switch {
			case decided || len(req.Tools) == 0:
				out.Stop = StopEndTurn
				return out, nil
			case corrected:
				return out, &NoDecision{Text: reply.Text()}
			}
			text := past.Corrective
			if text == "" {
				text = Corrective(names)
				if err := record(ctx, &journal.Corrective{Round: round, Text: text}); err != nil {
					return out, err
				}
			}
			corrected, out.Corrective = true, true
			msgs = append(msgs, Message{Role: User, Content: []Block{{Type: TextBlock, Text: text}}})
			continue // the corrective round is one beyond max_steps
		}
		results, executed, valid, err := l.runTools(ctx, round, reply, past, tools, names, record)
		if err != nil {
			return out, err
		}
		// A decision is a call to an offered tool with a valid input: calls
		// the loop refused do not count, so a model that only ever made
		// those ends no_decision, not done.
		decided = decided || valid
		msgs = append(msgs, Message{Role: User, Content: results})
		switch {
		case !executed:
			// Nothing ran, so the model has nothing new to learn: asking it
			// again would only repeat the decision.
			out.Stop = StopRecorded
			return out, nil
		case round >= maxSteps+boolInt(corrected):
			out.Stop = StopMaxSteps
			return out, nil
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// send makes one model round and journals the request and the reply (or
// the error).
func (l *Loop) send(ctx context.Context, req Request, round int, names []string, record func(context.Context, journal.Step) error) (*Reply, error) {
	start := time.Now()
	reply, err := l.Provider.Send(ctx, req)
	latency := time.Since(start)
	step := &journal.ModelRequest{
		Round:      round,
		Provider:   l.Provider.Name(),
		Model:      req.Model,
		Tools:      names,
		ToolChoice: req.Choice.String(),
		Effort:     req.Effort,
		Thinking:   req.Thinking,
		MaxTokens:  req.MaxTokens,
		Messages:   len(req.Messages),
		LatencyMS:  latency.Milliseconds(),
	}
	if round == 1 && len(req.Messages) > 0 && len(req.Messages[0].Content) > 0 {
		// The opening message (already redacted) completes the journal:
		// every later message is a journaled reply, tool result or
		// corrective message.
		step.Prompt = req.Messages[0].Content[0].Text
	}
	if round == 1 && l.Summary != "" {
		step.Summary = l.Summary
	} else {
		step.Summary = fmt.Sprintf("round %d: %d messages, tool_choice %s", round, len(req.Messages), req.Choice)
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			step.Error = "cancelled by shutdown"
			record(context.WithoutCancel(ctx), step)
			return nil, err
		}
		record(ctx, step)
		es := &journal.Error{Round: round, Error: err.Error(), Retryable: true}
		var ae *Error
		if errors.As(err, &ae) {
			es.StatusCode = ae.StatusCode
			es.Retryable = ae.Retryable
			es.RetryAfterMS = ae.After.Milliseconds()
			es.RequestID = ae.RequestID
		}
		record(ctx, es)
		return nil, err
	}
	step.Model = reply.Model
	step.RequestID = reply.RequestID
	step.Usage = reply.Usage
	if err := record(ctx, step); err != nil {
		return nil, err
	}
	dec := &journal.Decision{
		Round:      round,
		StopReason: reply.StopReason,
		Content:    reply.Content,
		Text:       reply.Text(),
		Truncated:  reply.StopReason == MaxTokens,
		Thinking:   journal.CountThinking(reply.Content),
	}
	if uses := reply.ToolUses(); len(uses) > 0 {
		dec.Tool, dec.ToolUseID, dec.Input = uses[0].Name, uses[0].ID, uses[0].Input
		for _, u := range uses {
			dec.Calls = append(dec.Calls, u.Name)
		}
	}
	if err := record(ctx, dec); err != nil {
		return nil, err
	}
	return reply, nil
}

// runTools settles every tool_use of a round, in parallel, and returns the
// tool_result blocks in the order of the calls. executed reports whether
// the model has news: a tool ran (now or in an earlier attempt), or a call
// was refused for a reason the model can act on. valid reports whether any
// call was to an offered tool with an input its schema accepts.
func (l *Loop) runTools(ctx context.Context, round int, reply *Reply, past Round, tools map[string]Tool, names []string,
	record func(context.Context, journal.Step) error) (results []Block, executed, valid bool, err error) {
	uses := reply.ToolUses()
	results = make([]Block, len(uses))
	var pending []string
	errs := make([]error, len(uses))
	runs := func(name string) bool { return l.Runner != nil && l.Runner.Runs(name) }
	settle := func(i int, u Block, res Block, step *journal.ToolCall) {
		results[i] = res
		errs[i] = record(ctx, step)
	}
	var wg sync.WaitGroup
	for i, u := range uses {
		t, offered := tools[u.Name]
		checked := offered && (t.Check == nil || t.Check(u.Input) == nil)
		if r, ok := past.Results[u.ID]; ok {
			results[i] = r
			if runs(u.Name) {
				executed = true
			}
			valid = valid || checked
			continue
		}
		if !offered {
			res := errorResult(u, fmt.Sprintf("unknown tool %q: call one of %v", u.Name, names))
			settle(i, u, res, toolStep(round, u, res, false, 0))
			executed = true
			continue
		}
		if !checked {
			res := errorResult(u, InvalidInput(u.Name, t.Check(u.Input)))
			step := toolStep(round, u, res, false, 0)
			step.Invalid = true
			settle(i, u, res, step)
			executed = true // the model can correct it: the loop goes on
			continue
		}
		valid = true
		if l.Runner != nil {
			if no := l.Runner.Check(u); no != nil {
				res := errorResult(u, fmt.Sprintf("refused by agenthook (%s): %s", no.Rule, no.Reason))
				step := toolStep(round, u, res, false, 0)
				step.Refused, step.Write = no.Rule, l.Runner.Writes(u.Name)
				settle(i, u, res, step)
				executed = true // news for the model: the loop goes on
				continue
			}
		}
		if l.Runner != nil && l.Runner.NeedsApproval(u) {
			d, decided := past.Decisions[u.ID]
			switch {
			case !decided:
				pending = append(pending, u.ID)
				if !past.Requested[u.ID] {
					errs[i] = record(ctx, &journal.ApprovalRequested{
						Round: round, Tool: u.Name, ToolUseID: u.ID, Input: u.Input, Text: reply.Text(),
					})
				}
				continue
			case !d.Approved:
				res := errorResult(u, "denied by an operator: "+d.Reason)
				settle(i, u, res, toolStep(round, u, res, false, 0))
				executed = true // news for the model: the loop goes on
				continue
			case !runs(u.Name):
				// Approved, but a record-only tool: the approval is the decision.
				res := Block{Type: ToolResultBlock, ToolUseID: u.ID, Content: "approved by an operator; recorded"}
				settle(i, u, res, toolStep(round, u, res, false, 0))
				executed = true
				continue
			}
			// Approved: run it below.
		} else if !runs(u.Name) {
			res := Block{Type: ToolResultBlock, ToolUseID: u.ID, Content: "recorded: this tool only records the decision"}
			settle(i, u, res, toolStep(round, u, res, false, 0))
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
			step := toolStep(round, u, res, true, time.Since(start))
			step.Write = l.Runner.Writes(u.Name)
			errs[i] = record(context.WithoutCancel(ctx), step)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, executed, valid, err
	}
	if len(pending) > 0 {
		return nil, executed, valid, &AwaitingApproval{Pending: pending}
	}
	return results, executed, valid, nil
}

func errorResult(use Block, msg string) Block {
	return Block{Type: ToolResultBlock, ToolUseID: use.ID, IsError: true, Content: msg}
}

func toolStep(round int, use, res Block, executed bool, latency time.Duration) *journal.ToolCall {
	return &journal.ToolCall{
		Round:     round,
		Tool:      use.Name,
		ToolUseID: use.ID,
		Input:     use.Input,
		Executed:  executed,
		Result:    res.Content,
		IsError:   res.IsError,
		LatencyMS: latency.Milliseconds(),
	}
}

// History rebuilds the rounds an earlier attempt journaled, from the
// journal's entries since the last replay. Steps of other kinds are
// skipped; a step that cannot be read is an error, since resuming without
// it could run a settled call again.
func History(entries []journal.Entry) ([]Round, error) {
	var rounds []Round
	for _, e := range journal.SinceReplay(entries) {
		switch e.Kind {
		case journal.KindDecision, journal.KindCorrective, journal.KindApprovalRequested, journal.KindApproval, journal.KindToolCall:
		default:
			continue
		}
		step, err := journal.Decode(e)
		if err != nil {
			return nil, err
		}
		in := func(r int) *Round {
			if r < 1 || r > len(rounds) {
				return nil
			}
			return &rounds[r-1]
		}
		switch s := step.(type) {
		case *journal.Decision:
			if s.Round != len(rounds)+1 {
				// A round journaled twice (a resend after a crash between the
				// request and its decision) keeps the first.
				continue
			}
			rounds = append(rounds, Round{Reply: Reply{Content: s.Content, StopReason: s.StopReason}, Results: map[string]Block{},
				Requested: map[string]bool{}, Decisions: map[string]journal.Approval{}})
		case *journal.Corrective:
			if r := in(s.Round); r != nil && r.Corrective == "" {
				r.Corrective = s.Text
			}
		case *journal.ApprovalRequested:
			if r := in(s.Round); r != nil {
				r.Requested[s.ToolUseID] = true
			}
		case *journal.Approval:
			if r := in(s.Round); r != nil {
				r.Decisions[s.ToolUseID] = *s
			}
		case *journal.ToolCall:
			if r := in(s.Round); r != nil {
				r.Results[s.ToolUseID] = Block{Type: ToolResultBlock, ToolUseID: s.ToolUseID, Content: s.Result, IsError: s.IsError}
			}
		}
	}
	return rounds, nil
}
