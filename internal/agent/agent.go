// Package agent asks a model what to do about an event. A Provider sends one
// request (instructions, the event, the tools the route allows) and returns
// the model's decision: the tool it chose and the input it gave.
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
)

// Tool is a tool the model may call.
type Tool struct {
	Name        string
	Description string
	InputSchema map[string]any
}

// Request is one model request.
type Request struct {
	Model     string
	System    string
	Prompt    string
	Tools     []Tool
	MaxTokens int
}

// Usage is what a request cost, in tokens.
type Usage struct {
	InputTokens              int64 `json:"input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
}

// Decision is the model's answer.
type Decision struct {
	Tool       string          `json:"tool,omitempty"`
	ToolUseID  string          `json:"tool_use_id,omitempty"`
	Input      json.RawMessage `json:"input,omitempty"`
	Text       string          `json:"text,omitempty"` // any text the model wrote beside the call
	StopReason string          `json:"stop_reason"`
	Model      string          `json:"model"`
	RequestID  string          `json:"request_id,omitempty"`
	Usage      Usage           `json:"usage"`
}

// Provider sends a request to a model.
type Provider interface {
	// Name identifies the provider in the journal ("anthropic").
	Name() string
	Decide(ctx context.Context, req Request) (*Decision, error)
}

// Error is a failed model request.
type Error struct {
	Provider   string
	StatusCode int           // 0 for network errors and timeouts
	Retryable  bool          // worth another attempt later
	After      time.Duration // the API's retry-after, 0 if none
	RequestID  string
	Message    string // the API's message or the transport error
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
