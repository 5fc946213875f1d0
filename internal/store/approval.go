package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/agenthook/agenthook/internal/journal"
)

// Human approval. A write (a Stripe write action, or writes: true) that
// no auto_approve approves, or a tool with approval: required, pauses its
// event: the dispatcher journals an approval_requested step and returns
// ErrAwaitingApproval, and the event rests as awaiting_approval with no job.
// An operator's decision is journaled as an approval step and queues the
// event again; the agent loop resumes from the journal and runs the call
// (approved) or tells the model it was denied. Everything is in the
// database, so pending approvals survive restarts.

// ErrAwaitingApproval is what a Handler returns when the event waits for an
// operator.
var ErrAwaitingApproval = errors.New("waiting for an operator's approval")

// ErrNotPending is returned for a decision on a call that is not waiting.
var ErrNotPending = errors.New("no pending approval")

// Pending is a tool call waiting for an operator.
type Pending struct {
	EventID   string          `json:"event_id"`
	EventType string          `json:"event_type"`
	Round     int             `json:"round"`
	Tool      string          `json:"tool"`
	ToolUseID string          `json:"tool_use_id"`
	Input     json.RawMessage `json:"input"`
	Text      string          `json:"text,omitempty"` // the model's reasoning beside the call
	// TextLabel, set with Text, says how to read it: the model wrote it
	// after reading text a customer or cardholder controls, so it may
	// argue for what that text planted. Show it with the reasoning.
	TextLabel   string    `json:"text_label,omitempty"`
	RequestedAt time.Time `json:"requested_at"`
}

// ReasoningLabel is the label of the model's reasoning wherever an
// operator decides on a call (Pending.TextLabel).
const ReasoningLabel = "model's reasoning — written after reading customer-controlled text; verify against the event"

// Approvals returns every pending tool call, oldest first.
func (s *Store) Approvals(ctx context.Context) ([]Pending, error) {
	rows, err := s.drv.reader().query(ctx, s.q(`SELECT id FROM agenthook_event WHERE status = ? ORDER BY updated_at, id LIMIT 1000`),
		string(StatusAwaitingApproval))
	if err != nil {
		return nil, fmt.Errorf("store: approvals: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: approvals: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: approvals: %w", err)
	}
	out := []Pending{}
	for _, id := range ids {
		ev, err := s.Event(ctx, id)
		if err != nil {
			continue // deleted meanwhile
		}
		out = append(out, pendingOf(ev)...)
	}
	return out, nil
}

// Pending returns the event's tool calls waiting for an operator: the
// approvals requested since its last replay that have no decision. This is
// the one rule for "pending"; the API, the console and Decide all use it.
func (ev *Event) Pending() []Pending { return pendingOf(ev) }

// pendingOf returns ev's requested approvals that have no decision, since
// its last replay.
func pendingOf(ev *Event) []Pending {
	var out []Pending
	decided := map[string]bool{}
	for i, e := range ev.Entries() {
		if e.Kind != journal.KindApproval && e.Kind != journal.KindApprovalRequested && e.Kind != journal.KindReplay {
			continue
		}
		step, err := journal.Decode(e)
		if err != nil {
			continue // unreadable: nothing to offer an operator
		}
		switch s := step.(type) {
		case *journal.Replay:
			out, decided = nil, map[string]bool{}
		case *journal.Approval:
			decided[s.ToolUseID] = true
		case *journal.ApprovalRequested:
			out = append(out, Pending{EventID: ev.ID, EventType: ev.Type, Round: s.Round, Tool: s.Tool, ToolUseID: s.ToolUseID,
				Input: s.Input, Text: s.Text, TextLabel: reasoningLabel(s.Text), RequestedAt: ev.Steps[i].At})
		}
	}
	kept := out[:0]
	for _, p := range out {
		if !decided[p.ToolUseID] {
			kept = append(kept, p)
		}
	}
	return kept
}

func reasoningLabel(text string) string {
	if text == "" {
		return ""
	}
	return ReasoningLabel
}

// Decide records an operator's decision on a pending tool call of event id
// (toolUseID may be empty when exactly one call is pending) and queues the
// event again so its loop resumes.
func (s *Store) Decide(ctx context.Context, id, toolUseID string, approved bool, reason, by string) error {
	ev, err := s.Event(ctx, id)
	if err != nil {
		return err
	}
	if ev.Status != StatusAwaitingApproval {
		return fmt.Errorf("%w: %s is %s, not awaiting_approval", ErrNotPending, id, ev.Status)
	}
	pending := pendingOf(ev)
	var p *Pending
	for i := range pending {
		if pending[i].ToolUseID == toolUseID || (toolUseID == "" && len(pending) == 1) {
			p = &pending[i]
		}
	}
	if p == nil {
		ids := make([]string, len(pending))
		for i, q := range pending {
			ids[i] = q.ToolUseID
		}
		if toolUseID == "" {
			return fmt.Errorf("%w: %s has %d pending calls (%v): name one with its tool_use_id", ErrNotPending, id, len(pending), ids)
		}
		return fmt.Errorf("%w: %s has no pending call %s (pending: %v)", ErrNotPending, id, toolUseID, ids)
	}
	t, err := s.drv.begin(ctx)
	if err != nil {
		return fmt.Errorf("store: decide %s: %w", id, err)
	}
	defer t.rollback(ctx)
	// Only one decision wins when two operators click at once.
	n, err := t.exec(ctx, s.q(`UPDATE agenthook_event SET status = ?, updated_at = ? WHERE id = ? AND status = ?`),
		string(StatusQueued), nowMicro(), id, string(StatusAwaitingApproval))
	if err != nil {
		return fmt.Errorf("store: decide %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: %s was decided meanwhile", ErrNotPending, id)
	}
	if err := s.record(ctx, t, id, ev.Attempts, &journal.Approval{
		Round: p.Round, ToolUseID: p.ToolUseID, Tool: p.Tool, Approved: approved, Reason: reason, By: by,
	}); err != nil {
		return err
	}
	if err := s.drv.insertJob(ctx, t, DispatchArgs{EventID: id}, s.insertOpts()); err != nil {
		return fmt.Errorf("store: decide %s: queue: %w", id, err)
	}
	if err := t.commit(ctx); err != nil {
		return fmt.Errorf("store: decide %s: %w", id, err)
	}
	verb := "denied"
	if approved {
		verb = "approved"
	}
	s.log.Info("approval", "id", id, "tool", p.Tool, "tool_use_id", p.ToolUseID, "decision", verb, "by", by)
	return nil
}

// approvalTimeoutArgs denies whatever an event still has pending when the
// approval timeout ends.
type approvalTimeoutArgs struct {
	EventID string `json:"event_id"`
}

func (approvalTimeoutArgs) Kind() string { return "agenthook.approval_timeout" }

type approvalTimeoutWorker struct {
	river.WorkerDefaults[approvalTimeoutArgs]
	s *Store
}

func (w *approvalTimeoutWorker) Work(ctx context.Context, job *river.Job[approvalTimeoutArgs]) error {
	ev, err := w.s.Event(ctx, job.Args.EventID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, p := range pendingOf(ev) {
		err := w.s.Decide(ctx, ev.ID, p.ToolUseID, false,
			fmt.Sprintf("no operator decided within the approval timeout (%s)", w.s.opts.ApprovalTimeout), "approval_timeout")
		if err != nil && !errors.Is(err, ErrNotPending) {
			return err
		}
	}
	return nil
}
