// Package agent runs the agent loop: a model round, the tool calls it asks
// for, their results back to the model, until it is done. A Provider sends
// one round (the conversation so far and the tools the route allows) and
// returns the model's reply in a provider-neutral form.
//
// Providers report failures as *Error so that the queue can tell a retryable
// failure (rate limit, overload, 5xx, network) from a permanent one (bad
// request, bad key) and honour the API's retry-after.
package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/agenthook/agenthook/internal/journal"
)

// Tool is a tool the model may call.
type Tool struct {
	Name        string
	Description string
	InputSchema map[string]any
	// InputFrom maps input fields to CEL expressions over the event; only
	// the offline provider uses it.
	InputFrom map[string]string
	// Strict asks the provider to make the model's input match InputSchema
	// exactly (Anthropic's and OpenAI's strict tool use). Set only where the
	// schema is one strict mode accepts.
	Strict bool
	// Check validates an input against InputSchema before anything runs;
	// nil checks nothing. Its error names the field and goes to the model.
	Check func(input json.RawMessage) error `json:"-"`
}

// The conversation's types live in package journal, which stores them:
// every reader of the journal decodes the one shape the loop writes.
type (
	Role    = journal.Role
	Block   = journal.Block
	Message = journal.Message
	Usage   = journal.Usage
)

const (
	User      = journal.User
	Assistant = journal.Assistant

	TextBlock             = journal.TextBlock
	ToolUseBlock          = journal.ToolUseBlock
	ToolResultBlock       = journal.ToolResultBlock
	ThinkingBlock         = journal.ThinkingBlock
	RedactedThinkingBlock = journal.RedactedThinkingBlock
)

// Choice says whether and which tool the model must call.
type Choice struct {
	Mode string // "auto", "any" or "tool"
	Name string // for "tool"
}

func (c Choice) String() string {
	if c.Mode == "tool" {
		return "tool:" + c.Name
	}
	return c.Mode
}

// Event is the event a request is about, already redacted. Providers that
// do not call a model (offline, http) work from it.
type Event struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

// Request is one model round: the whole conversation so far. Choice is the
// tool choice of the first round; later rounds are auto.
type Request struct {
	Model     string
	System    string
	Messages  []Message
	Tools     []Tool
	Choice    Choice
	MaxTokens int
	// Effort is the reasoning effort to ask for ("low" … "max"); empty sends
	// none and leaves the API's default.
	Effort string
	// Thinking is the thinking mode to ask for ("adaptive", "between_tools",
	// "disabled", "enabled"); empty sends none and leaves the API's default.
	Thinking string
	Event    Event
}

// Stop reasons, normalised across providers: Anthropic's names, which the
// other providers map theirs onto.
// https://platform.claude.com/docs/en/api/messages (stop_reason)
const (
	EndTurn      = "end_turn"
	ToolUse      = "tool_use"
	MaxTokens    = "max_tokens"
	StopSequence = "stop_sequence"
	// PauseTurn: the API paused a long turn; sending the reply back as it is
	// lets the model continue.
	PauseTurn = "pause_turn"
	// Refusal: the model declined for safety reasons.
	Refusal = "refusal"
	// ContextWindowExceeded: the conversation filled the context window.
	ContextWindowExceeded = "model_context_window_exceeded"
)

// Reply is the model's answer to one round.
type Reply struct {
	Content    []Block `json:"content"` // text and tool_use blocks
	StopReason string  `json:"stop_reason"`
	Model      string  `json:"model"`
	RequestID  string  `json:"request_id,omitempty"`
	Usage      Usage   `json:"usage"`
	// RateLimit is what the response's headers said about the provider's
	// rate limits; nil when they said nothing.
	RateLimit *RateLimit `json:"-"`
}

// ToolUses returns the reply's tool_use blocks in order.
func (r *Reply) ToolUses() []Block { return journal.ToolUses(r.Content) }

// Text returns the reply's text blocks joined by newlines.
func (r *Reply) Text() string { return journal.Text(r.Content) }

// Provider sends one round to a model.
type Provider interface {
	// Name identifies the provider in the journal ("anthropic").
	Name() string
	Send(ctx context.Context, req Request) (*Reply, error)
}

// Error is a failed model request.
type Error struct {
	Provider   string
	StatusCode int           // 0 for network errors and timeouts
	Retryable  bool          // worth another attempt later
	After      time.Duration // the API's retry-after, 0 if none
	RequestID  string
	Message    string // the API's message or the transport error
	// RateLimit is what the error response's headers said about the
	// provider's rate limits; nil when there was no response or no header.
	RateLimit *RateLimit
}

// RateLimit is a provider-neutral snapshot of a response's rate-limit
// headers (anthropic-ratelimit-*, OpenAI's x-ratelimit-*, retry-after). The
// limit package paces sends by it.
type RateLimit struct {
	At           time.Time // when the response arrived
	Requests     LimitBucket
	Tokens       LimitBucket // input and output together
	InputTokens  LimitBucket
	OutputTokens LimitBucket
	RetryAfter   time.Duration // 0 if not sent
}

// LimitBucket is one rate limit as a response reported it.
type LimitBucket struct {
	Known     bool  // the headers reported this limit's remaining count
	Limit     int64 // 0 if not sent
	Remaining int64
	// Reset is when the limit is fully replenished; zero if not sent.
	Reset time.Time
}

func (e *Error) Error() string {
	if e.StatusCode == 0 {
		return fmt.Sprintf("%s: %s", e.Provider, e.Message)
	}
	return fmt.Sprintf("%s: HTTP %d: %s", e.Provider, e.StatusCode, e.Message)
}

// RetryAfter is the earliest the request may be tried again.
func (e *Error) RetryAfter() time.Duration { return e.After }

// Permanent reports that retrying cannot help: the queue marks the event dead.
func (e *Error) Permanent() bool { return !e.Retryable }

// Retryable reports whether an HTTP status is worth retrying: rate limits
// (429), overload (529), timeouts (408) and server errors. 400, 401, 403 and
// 404 describe the request or the key, and retrying would only repeat them.
func RetryableStatus(code int) bool {
	switch {
	case code == 408, code == 409, code == 429, code >= 500:
		return true
	default:
		return false
	}
}

// ParseRetryAfter reads retry-after-ms or retry-after (seconds or an HTTP
// date) from response headers. It returns 0 when absent or unreadable.
func ParseRetryAfter(get func(string) string, now time.Time) time.Duration {
	if v := get("retry-after-ms"); v != "" {
		var ms float64
		if _, err := fmt.Sscanf(v, "%g", &ms); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := get("retry-after")
	if v == "" {
		return 0
	}
	var secs float64
	if _, err := fmt.Sscanf(v, "%g", &secs); err == nil && secs > 0 {
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := time.Parse(time.RFC1123, v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
