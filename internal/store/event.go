package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/agenthook/agenthook/internal/journal"
)

// Record is an event's row without its payload and order key: what List
// shows of every event (Summary) and Event of one.
type Record struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	Created    int64     `json:"created"`
	Livemode   bool      `json:"livemode"`
	ReceivedAt time.Time `json:"received_at"`
	Route      string    `json:"route"`
	Status     Status    `json:"status"`
	Attempts   int       `json:"attempts"`
	LastError  string    `json:"last_error"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// recordColumns are Record's columns, in the order Record.scan reads them.
const recordColumns = `id, type, created, livemode, received_at, route, status, attempts, last_error, updated_at`

// scan reads recordColumns, and then the columns of more, from r.
func (rec *Record) scan(r row, more ...any) error {
	var received, updated int64
	dest := append([]any{&rec.ID, &rec.Type, &rec.Created, &rec.Livemode, &received, &rec.Route, &rec.Status, &rec.Attempts, &rec.LastError, &updated}, more...)
	if err := r.Scan(dest...); err != nil {
		return err
	}
	rec.ReceivedAt = time.UnixMicro(received).UTC()
	rec.UpdatedAt = time.UnixMicro(updated).UTC()
	return nil
}

// Event is a stored event with its journal.
type Event struct {
	Record
	OrderKey string `json:"order_key,omitempty"`
	Steps    []Step `json:"steps"`
	// Payload is the exact body Stripe sent. It is not part of the API's
	// JSON: it holds customer data.
	Payload []byte `json:"-"`
}

// Step is one journal entry: something that happened while dispatching.
type Step struct {
	Seq     int             `json:"seq"`
	Attempt int             `json:"attempt"`
	Kind    string          `json:"kind"`
	At      time.Time       `json:"at"`
	Data    json.RawMessage `json:"data"`
}

// Run is one attempt at dispatching one event; the handler journals through it.
type Run struct {
	Event   *Event
	Attempt int
	store   *Store
}

// Append appends a step to the event's journal (journal.Appender).
func (r *Run) Append(ctx context.Context, step journal.Step) error {
	return r.store.record(ctx, r.store.drv, r.Event.ID, r.Attempt, step)
}

// Entries returns the event's journal as the journal package reads it.
func (e *Event) Entries() []journal.Entry {
	out := make([]journal.Entry, len(e.Steps))
	for i, st := range e.Steps {
		out[i] = journal.Entry{Kind: st.Kind, Data: st.Data}
	}
	return out
}

// record is the one place a step is written: its kind and its JSON.
func (s *Store) record(ctx context.Context, q querier, eventID string, attempt int, step journal.Step) error {
	kind := step.Kind()
	b, err := json.Marshal(step)
	if err != nil {
		return fmt.Errorf("store: journal %s for %s: %w", kind, eventID, err)
	}
	// The sequence is taken inside the insert so concurrent writers on one
	// event (there are none today, by design) still could not collide silently.
	_, err = q.exec(ctx, s.q(`INSERT INTO agenthook_step (event_id, seq, attempt, kind, at, data)
		VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM agenthook_step WHERE event_id = ?), ?, ?, ?, ?)`),
		eventID, eventID, attempt, kind, nowMicro(), string(b))
	if err != nil {
		return fmt.Errorf("store: journal %s for %s: %w", kind, eventID, err)
	}
	return nil
}

// Event returns one event with its journal.
func (s *Store) Event(ctx context.Context, id string) (*Event, error) {
	ev := &Event{}
	err := ev.scan(s.drv.reader().queryRow(ctx, s.q(`SELECT `+recordColumns+`, payload, order_key
		FROM agenthook_event WHERE id = ?`), id), &ev.Payload, &ev.OrderKey)
	if isNoRows(err) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: read event %s: %w", id, err)
	}
	rows, err := s.drv.reader().query(ctx, s.q(`SELECT seq, attempt, kind, at, data FROM agenthook_step WHERE event_id = ? ORDER BY seq`), id)
	if err != nil {
		return nil, fmt.Errorf("store: read journal %s: %w", id, err)
	}
	defer rows.Close()
	ev.Steps = []Step{}
	for rows.Next() {
		var st Step
		var at int64
		var data string
		if err := rows.Scan(&st.Seq, &st.Attempt, &st.Kind, &at, &data); err != nil {
			return nil, fmt.Errorf("store: read journal %s: %w", id, err)
		}
		st.At = time.UnixMicro(at).UTC()
		st.Data = json.RawMessage(data)
		ev.Steps = append(ev.Steps, st)
	}
	return ev, rows.Err()
}

// ErrNotReplayable is returned by Replay for an event that is still in flight.
var ErrNotReplayable = errors.New("event is still queued or running")

// Replay queues an event again: a dead or done one, or an ignored one whose
// route is given (a route added since it arrived). The journal is kept and
// the new attempts append to it.
func (s *Store) Replay(ctx context.Context, id, route string) error {
	ev, err := s.Event(ctx, id)
	if err != nil {
		return err
	}
	switch ev.Status {
	case StatusQueued, StatusRunning, StatusRetrying:
		return fmt.Errorf("%w: %s is %s; wait for it to finish", ErrNotReplayable, id, ev.Status)
	}
	if route == "" {
		route = ev.Route
	}
	if route == "" {
		return fmt.Errorf("store: replay %s: no route matches its type %s: add a route for it first", id, ev.Type)
	}
	t, err := s.drv.begin(ctx)
	if err != nil {
		return fmt.Errorf("store: replay %s: %w", id, err)
	}
	defer t.rollback(ctx)
	// Only a finished event may be replayed; the condition makes two
	// concurrent replays queue one job, not two.
	n, err := t.exec(ctx, s.q(`UPDATE agenthook_event SET status = ?, route = ?, last_error = '', updated_at = ?
		WHERE id = ? AND status IN ('done', 'dead', 'ignored', 'filtered', 'no_decision')`), string(StatusQueued), route, nowMicro(), id)
	if err != nil {
		return fmt.Errorf("store: replay %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: %s changed state meanwhile", ErrNotReplayable, id)
	}
	if err := s.drv.insertJob(ctx, t, DispatchArgs{EventID: id}, s.insertOpts()); err != nil {
		return fmt.Errorf("store: replay %s: insert job: %w", id, err)
	}
	if err := s.record(ctx, t, id, ev.Attempts, &journal.Replay{PreviousStatus: string(ev.Status), Route: route}); err != nil {
		return err
	}
	return t.commit(ctx)
}

// Job returns the event's current dispatch job, or nil if it has none. It
// is for tests and diagnostics.
func (s *Store) Job(ctx context.Context, id string) (*rivertype.JobRow, error) {
	var jobID int64
	err := s.drv.reader().queryRow(ctx, s.q(`SELECT id FROM river_job WHERE kind = ? AND `+s.drv.jsonText("args", "event_id")+` = ?
		ORDER BY id DESC LIMIT 1`), DispatchArgs{}.Kind(), id).Scan(&jobID)
	if isNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: job for %s: %w", id, err)
	}
	job, err := s.drv.jobGet(ctx, jobID)
	if err != nil {
		return nil, fmt.Errorf("store: job for %s: %w", id, err)
	}
	return job, nil
}

// CountJobs returns how many dispatch jobs exist for an event id, whatever
// their state. The dedupe invariant says at most one per delivery.
func (s *Store) CountJobs(ctx context.Context, id string) (int, error) {
	var n int
	err := s.drv.reader().queryRow(ctx, s.q(`SELECT COUNT(*) FROM river_job WHERE kind = ? AND `+s.drv.jsonText("args", "event_id")+` = ?`),
		DispatchArgs{}.Kind(), id).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: count jobs for %s: %w", id, err)
	}
	return n, nil
}
