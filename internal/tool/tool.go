// Package tool carries out the tool calls a model makes: a signed HTTP POST
// to the user's service, a local command, or a built-in Stripe action.
// A tool without a run: key is not executed; its call is only journaled.
package tool

import (
	"context"
	"encoding/json"
)

// Call is one tool_use to carry out.
type Call struct {
	Tool      string          `json:"tool"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	EventID   string          `json:"event_id"`
	EventType string          `json:"event_type"`
	// IdempotencyKey is derived from the event id and the tool_use id, so a
	// retried event carries the same key for the same call.
	IdempotencyKey string `json:"idempotency_key"`
}

// Result is what goes back to the model as the tool_result.
type Result struct {
	Content string `json:"content"`
	IsError bool   `json:"is_error,omitempty"`
}

// Executor runs a tool call. A failure of the tool itself (a 4xx, a
// non-zero exit, a refused Stripe write) is a Result with IsError set,
// telling the model what failed. An error return means the call could not
// be settled and must not be journaled as done: only the context ending
// (shutdown) does that.
type Executor interface {
	Execute(ctx context.Context, call Call) (Result, error)
}
