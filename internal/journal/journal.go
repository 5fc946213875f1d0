// Package journal defines what the journal of an event holds: one Go type
// per kind of step, the conversation with the model as one typed value, and
// the one place where steps are appended and decoded.
//
// It is a leaf package, like rivertype is for River: the store, the agent
// loop, the dispatcher, the admin API and the CLI all read and write steps
// through these types, so they cannot disagree about what a step says.
//
// A step is stored as its kind and its JSON. Fields are only ever added; a
// reader meets steps written by older versions, so every field's zero value
// must read as "not said".
package journal

import (
	"context"
	"encoding/json"
	"fmt"
)

// Kinds of step, as stored.
const (
	KindModelRequest      = "model_request"
	KindDecision          = "decision"
	KindCorrective        = "corrective"
	KindToolCall          = "tool_call"
	KindApprovalRequested = "approval_requested"
	KindApproval          = "approval"
	KindError             = "error"
	KindOutcome           = "outcome"
	KindFiltered          = "filtered"
	KindReplay            = "replay"
	KindInterrupted       = "interrupted"
)

// Step is a value that can be journaled.
type Step interface {
	Kind() string
}

// Appender appends steps to one event's journal (store.Run).
type Appender interface {
	Append(ctx context.Context, s Step) error
}

// Entry is a stored step: its kind and its JSON, in journal order.
type Entry struct {
	Kind string
	Data json.RawMessage
}

// Decode decodes one stored step into its type (a pointer to ModelRequest,
// Decision, …). A kind this version does not know decodes to *Unknown, so a
// journal written by a newer version still reads.
func Decode(e Entry) (Step, error) {
	var s Step
	switch e.Kind {
	case KindModelRequest:
		s = new(ModelRequest)
	case KindDecision:
		s = new(Decision)
	case KindCorrective:
		s = new(Corrective)
	case KindToolCall:
		s = new(ToolCall)
	case KindApprovalRequested:
		s = new(ApprovalRequested)
	case KindApproval:
		s = new(Approval)
	case KindError:
		s = new(Error)
	case KindOutcome:
		s = new(Outcome)
	case KindFiltered:
		s = new(Filtered)
	case KindReplay:
		s = new(Replay)
	case KindInterrupted:
		s = new(Interrupted)
	default:
		return &Unknown{Name: e.Kind, Data: e.Data}, nil
	}
	if len(e.Data) == 0 {
		return s, nil
	}
	if err := json.Unmarshal(e.Data, s); err != nil {
		return nil, fmt.Errorf("journal: %s step: %w", e.Kind, err)
	}
	return s, nil
}

// SinceReplay returns the entries after the last replay step: a replay
// starts the conversation afresh (the config may have changed since), while
// a retry or a resume continues it.
func SinceReplay(entries []Entry) []Entry {
	start := 0
	for i, e := range entries {
		if e.Kind == KindReplay {
			start = i + 1
		}
	}
	return entries[start:]
}

// Usage is what one model request cost, in tokens, as the provider reported
// it. InputTokens excludes cached input, which is counted apart.
// ThinkingTokens is the part of OutputTokens spent thinking, when the
// provider says so; it is never added to OutputTokens again.
type Usage struct {
	InputTokens              int64 `json:"input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
	ThinkingTokens           int64 `json:"thinking_tokens,omitempty"`
}

// Add adds o to u.
func (u *Usage) Add(o Usage) {
	u.InputTokens += o.InputTokens
	u.OutputTokens += o.OutputTokens
	u.CacheReadInputTokens += o.CacheReadInputTokens
	u.CacheCreationInputTokens += o.CacheCreationInputTokens
	u.ThinkingTokens += o.ThinkingTokens
}

// ModelRequest is one model round as sent: what was asked, of which model,
// with which settings, and what it cost.
type ModelRequest struct {
	Round      int      `json:"round"`
	Provider   string   `json:"provider"`
	Model      string   `json:"model"`
	Tools      []string `json:"tools"`
	ToolChoice string   `json:"tool_choice"`
	Effort     string   `json:"effort,omitempty"`
	Thinking   string   `json:"thinking,omitempty"`
	MaxTokens  int      `json:"max_tokens,omitempty"`
	Messages   int      `json:"messages"`
	LatencyMS  int64    `json:"latency_ms"`
	// Prompt is the opening user message (already redacted), on round 1:
	// with it, every message of the conversation is in the journal.
	Prompt    string `json:"prompt,omitempty"`
	Summary   string `json:"summary,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	// Error is set when the request was cut (shutdown); the error itself
	// is an Error step.
	Error string `json:"error,omitempty"`
	Usage
}

func (*ModelRequest) Kind() string { return KindModelRequest }

// Decision is the model's answer to one round: the assistant turn exactly
// as received (Content, with every block's Raw form), and what it decided.
type Decision struct {
	Round      int     `json:"round"`
	StopReason string  `json:"stop_reason"`
	Content    []Block `json:"content"`
	// Tool, ToolUseID and Input repeat the first call, flat, for readers of
	// a one-tool route; Calls names every call.
	Tool      string          `json:"tool,omitempty"`
	ToolUseID string          `json:"tool_use_id,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
	Calls     []string        `json:"calls,omitempty"`
	Text      string          `json:"text,omitempty"`
	Truncated bool            `json:"truncated,omitempty"`
	// Thinking counts the thinking and redacted_thinking blocks of the
	// turn; their content is never shown.
	Thinking int `json:"thinking,omitempty"`
}

func (*Decision) Kind() string { return KindDecision }

// Corrective is the message sent after a round that called no tool, asking
// the model once more to decide by calling one. It is part of the
// conversation: a resumed attempt sends it again, as it was.
type Corrective struct {
	Round int    `json:"round"` // the round it follows
	Text  string `json:"text"`
}

func (*Corrective) Kind() string { return KindCorrective }

// ToolCall is one tool call settled: run, recorded, refused or denied.
type ToolCall struct {
	Round     int             `json:"round"`
	Tool      string          `json:"tool"`
	ToolUseID string          `json:"tool_use_id"`
	Input     json.RawMessage `json:"input,omitempty"`
	// Executed reports that the tool ran (a record-only tool, an unknown
	// tool, an invalid input or a denied call did not).
	Executed  bool   `json:"executed"`
	Result    string `json:"result"`
	IsError   bool   `json:"is_error"`
	LatencyMS int64  `json:"latency_ms"`
	// Invalid is set when the input did not match the tool's schema: the
	// call was not executed and the model was told which field.
	Invalid bool `json:"invalid,omitempty"`
	// Write marks a tool that changes something outside agenthook.
	Write bool `json:"write,omitempty"`
	// Refused names the rule that stopped the call before it ran; the
	// model was told why.
	Refused string `json:"refused,omitempty"`
}

func (*ToolCall) Kind() string { return KindToolCall }

// ApprovalRequested is a tool call waiting for an operator.
type ApprovalRequested struct {
	Round     int             `json:"round"`
	Tool      string          `json:"tool"`
	ToolUseID string          `json:"tool_use_id"`
	Input     json.RawMessage `json:"input,omitempty"`
	// Text is the model's visible reasoning beside the call.
	Text string `json:"text,omitempty"`
}

func (*ApprovalRequested) Kind() string { return KindApprovalRequested }

// Approval is an operator's decision on a pending call.
type Approval struct {
	Round     int    `json:"round,omitempty"`
	Tool      string `json:"tool,omitempty"`
	ToolUseID string `json:"tool_use_id"`
	Approved  bool   `json:"approved"`
	Reason    string `json:"reason,omitempty"`
	By        string `json:"by,omitempty"`
}

func (*Approval) Kind() string { return KindApproval }

// Error is a failed attempt or round.
type Error struct {
	Round        int    `json:"round,omitempty"`
	Error        string `json:"error"`
	Retryable    bool   `json:"retryable"`
	StatusCode   int    `json:"status_code,omitempty"`
	RetryAfterMS int64  `json:"retry_after_ms,omitempty"`
	RequestID    string `json:"request_id,omitempty"`
	Truncated    bool   `json:"truncated,omitempty"`
	// StopReason is set when the model's stop reason ended the attempt
	// (refusal, model_context_window_exceeded, max_tokens).
	StopReason string `json:"stop_reason,omitempty"`
}

func (*Error) Kind() string { return KindError }

// Outcome is how an attempt's loop ended.
type Outcome struct {
	Stop   string `json:"stop"`
	Rounds int    `json:"rounds"`
	Usage  Usage  `json:"usage"` // of the rounds this attempt sent
	// Corrective reports that a corrective round was needed.
	Corrective bool `json:"corrective,omitempty"`
}

func (*Outcome) Kind() string { return KindOutcome }

// Filtered is an event the route's when: filter left out.
type Filtered struct {
	Route string `json:"route"`
	When  string `json:"when"`
	Error string `json:"error,omitempty"`
}

func (*Filtered) Kind() string { return KindFiltered }

// Replay starts the conversation afresh.
type Replay struct {
	PreviousStatus string `json:"previous_status"`
	Route          string `json:"route"`
}

func (*Replay) Kind() string { return KindReplay }

// Interrupted is an attempt cut by a crash or a lost lease.
type Interrupted struct {
	Error string `json:"error,omitempty"`
}

func (*Interrupted) Kind() string { return KindInterrupted }

// Unknown is a step of a kind this version does not know.
type Unknown struct {
	Name string
	Data json.RawMessage
}

func (u *Unknown) Kind() string { return u.Name }

// MarshalJSON keeps an unknown step as it was.
func (u *Unknown) MarshalJSON() ([]byte, error) {
	if len(u.Data) == 0 {
		return []byte("null"), nil
	}
	return u.Data, nil
}

// Public returns a step's JSON as it may be shown to a person (the admin
// API, the console, the CLI): a decision's blocks lose their Raw form and
// thinking its text, so no signature, redacted thinking or thought reaches
// a screen. Other steps are returned as they are.
func Public(e Entry) json.RawMessage {
	if e.Kind != KindDecision {
		return e.Data
	}
	step, err := Decode(e)
	if err != nil {
		return json.RawMessage(`{"error":"unreadable decision step"}`)
	}
	d := step.(*Decision)
	for i, b := range d.Content {
		d.Content[i] = b.Public()
	}
	out, err := json.Marshal(d)
	if err != nil {
		return json.RawMessage(`{"error":"unreadable decision step"}`)
	}
	return out
}
