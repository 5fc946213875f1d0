// Package dispatch is the worker's side of the pipeline: it takes a stored
// event off the queue, finds its route, asks the agent, and journals each
// step. The queue (package store) decides when to run and retry it.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/agenthook/agenthook/internal/agent"
	"github.com/agenthook/agenthook/internal/route"
	"github.com/agenthook/agenthook/internal/store"
)

// Dispatcher implements store.Handler.
type Dispatcher struct {
	Routes    *route.Table
	Provider  agent.Provider
	Model     string
	System    string
	MaxTokens int
	Log       *slog.Logger
}

// permanentError makes the queue mark the event dead at once: retrying an
// event with no route or an unreadable payload cannot help.
type permanentError struct{ err error }

func (e permanentError) Error() string   { return e.err.Error() }
func (e permanentError) Unwrap() error   { return e.err }
func (e permanentError) Permanent() bool { return true }

// Dispatch sends one event to the model and journals the request and the
// decision (or the error).
func (d *Dispatcher) Dispatch(ctx context.Context, run *store.Run) error {
	ev := run.Event
	r, ok := d.Routes.Match(ev.Type)
	if !ok {
		err := fmt.Errorf("no route matches %s any more: add one to the config and replay the event", ev.Type)
		run.Record(ctx, "error", map[string]any{"error": err.Error(), "retryable": false})
		return permanentError{err}
	}
	prompt, err := route.Prompt(r, ev.Payload)
	if err != nil {
		err = fmt.Errorf("build prompt: %w", err)
		run.Record(ctx, "error", map[string]any{"error": err.Error(), "retryable": false})
		return permanentError{err}
	}
	req := agent.Request{Model: d.Model, System: d.System, Prompt: prompt, MaxTokens: d.MaxTokens}
	names := make([]string, len(r.Tools))
	for i, t := range r.Tools {
		req.Tools = append(req.Tools, agent.Tool{Name: t.Name, Description: t.Description, InputSchema: t.InputSchema})
		names[i] = t.Name
	}
	choice := "any"
	if len(names) == 1 {
		choice = "tool:" + names[0]
	}
	summary := fmt.Sprintf("%s %s → route %q, tools %v (tool_choice %s), prompt %d bytes", ev.Type, ev.ID, r.Name, names, choice, len(prompt))

	start := time.Now()
	dec, err := d.Provider.Decide(ctx, req)
	latency := time.Since(start)
	reqStep := map[string]any{
		"summary":      summary,
		"provider":     d.Provider.Name(),
		"model":        d.Model,
		"route":        r.Name,
		"tools":        names,
		"tool_choice":  choice,
		"prompt_bytes": len(prompt),
		"latency_ms":   latency.Milliseconds(),
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			reqStep["error"] = "cancelled by shutdown"
			run.Record(context.WithoutCancel(ctx), "model_request", reqStep)
			return err
		}
		run.Record(ctx, "model_request", reqStep)
		errStep := map[string]any{"error": err.Error(), "retryable": true}
		var ae *agent.Error
		if errors.As(err, &ae) {
			errStep["status_code"] = ae.StatusCode
			errStep["retryable"] = ae.Retryable
			if ae.After > 0 {
				errStep["retry_after_ms"] = ae.After.Milliseconds()
			}
			if ae.RequestID != "" {
				errStep["request_id"] = ae.RequestID
			}
		}
		run.Record(ctx, "error", errStep)
		return err
	}
	reqStep["model"] = dec.Model
	reqStep["request_id"] = dec.RequestID
	reqStep["input_tokens"] = dec.Usage.InputTokens
	reqStep["output_tokens"] = dec.Usage.OutputTokens
	reqStep["cache_read_input_tokens"] = dec.Usage.CacheReadInputTokens
	reqStep["cache_creation_input_tokens"] = dec.Usage.CacheCreationInputTokens
	if err := run.Record(ctx, "model_request", reqStep); err != nil {
		return err
	}
	decStep := map[string]any{
		"tool":        dec.Tool,
		"tool_use_id": dec.ToolUseID,
		"input":       dec.Input,
		"stop_reason": dec.StopReason,
	}
	if dec.Text != "" {
		decStep["text"] = dec.Text
	}
	if dec.StopReason == "max_tokens" {
		decStep["truncated"] = true
	}
	if err := run.Record(ctx, "decision", decStep); err != nil {
		return err
	}
	switch {
	case dec.StopReason == "max_tokens":
		err := fmt.Errorf("the model hit max_tokens (%d) before finishing: raise agent.max_tokens", d.MaxTokens)
		run.Record(ctx, "error", map[string]any{"error": err.Error(), "retryable": false})
		return permanentError{err}
	case dec.Tool == "":
		err := fmt.Errorf("the model answered without calling a tool (stop_reason %s)", dec.StopReason)
		run.Record(ctx, "error", map[string]any{"error": err.Error(), "retryable": true})
		return err
	}
	if d.Log != nil {
		d.Log.Debug("decision", "id", ev.ID, "tool", dec.Tool, "stop_reason", dec.StopReason,
			"input_tokens", dec.Usage.InputTokens, "output_tokens", dec.Usage.OutputTokens)
	}
	return nil
}
