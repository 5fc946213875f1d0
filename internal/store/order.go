package store

import (
	"context"
	"fmt"
	"time"
)

// Per-object order. Stripe does not deliver in order, and two events about
// one dispute or one subscription must not be worked on at the same time:
// the agent would act on a stale picture, or twice. So events carry an
// order key (by default their object's id), and before an event runs:
//
//  1. if an older-created event with the same key is still queued, this one
//     waits (is snoozed) so the older one goes first, even if it arrived
//     later;
//  2. it takes the key's row in agenthook_object_lock, which a primary key
//     makes exclusive across every replica; if another event holds it, this
//     one waits.
//
// The lock is released in the same transaction that completes the event,
// or when the attempt fails. A rescued attempt (its replica died) finds the
// lock still held by its own event and carries on.

// orderPoll is how long an event waits before looking again.
const orderPoll = 200 * time.Millisecond

// claimObject returns 0 once ev may run (holding its object's lock), or how
// long to wait before trying again.
func (s *Store) claimObject(ctx context.Context, ev *Event) (time.Duration, error) {
	// The order window: wait until the event has been here that long, so
	// an older event about the same object that arrives a little later can
	// still go first. (A snooze, not a job scheduled at insert: River makes
	// a short snooze available at once, while a scheduled job waits for its
	// scheduler, which runs every few seconds.)
	if wait := time.Until(ev.ReceivedAt.Add(s.opts.OrderWindow)); wait > 0 {
		return wait, nil
	}
	if ev.OrderKey == "" {
		return 0, nil
	}
	// An attempt of ours that died (its replica was killed) left the lock
	// held by this event: carry on, whatever arrived since. Checking this
	// first matters: an older event that arrived meanwhile waits for the
	// lock, so waiting for it here would deadlock.
	var holder string
	err := s.drv.queryRow(ctx, s.q(`SELECT event_id FROM agenthook_object_lock WHERE order_key = ?`), ev.OrderKey).Scan(&holder)
	switch {
	case err == nil && holder == ev.ID:
		return 0, nil
	case err != nil && !isNoRows(err):
		return 0, fmt.Errorf("store: lock object of %s: %w", ev.ID, err)
	}

	var olderID string
	var olderReceived int64
	err = s.drv.queryRow(ctx, s.q(`SELECT id, received_at FROM agenthook_event
		WHERE order_key = ? AND status = 'queued' AND id <> ? AND (created < ? OR (created = ? AND id < ?))
		ORDER BY created, id LIMIT 1`), ev.OrderKey, ev.ID, ev.Created, ev.Created, ev.ID).Scan(&olderID, &olderReceived)
	switch {
	case err == nil:
		// Wait at least for the older one's own order window, and longer
		// the more are ahead: a burst of thousands about one object must
		// not keep every worker fetching and snoozing in a loop.
		var ahead int
		if err := s.drv.queryRow(ctx, s.q(`SELECT COUNT(*) FROM (SELECT 1 FROM agenthook_event
			WHERE order_key = ? AND status = 'queued' AND (created < ? OR (created = ? AND id < ?)) LIMIT 100) a`),
			ev.OrderKey, ev.Created, ev.Created, ev.ID).Scan(&ahead); err != nil {
			return 0, fmt.Errorf("store: order of %s: %w", ev.ID, err)
		}
		wait := time.Until(time.UnixMicro(olderReceived).Add(s.opts.OrderWindow))
		return max(wait, orderPoll*time.Duration(max(ahead, 1))), nil
	case !isNoRows(err):
		return 0, fmt.Errorf("store: order of %s: %w", ev.ID, err)
	}

	now := nowMicro()
	n, err := s.drv.exec(ctx, s.q(`INSERT INTO agenthook_object_lock (order_key, event_id, taken_at) VALUES (?, ?, ?)
		ON CONFLICT (order_key) DO NOTHING`), ev.OrderKey, ev.ID, now)
	if err != nil {
		return 0, fmt.Errorf("store: lock object of %s: %w", ev.ID, err)
	}
	if n == 1 {
		return 0, nil
	}
	var holderStatus string
	err = s.drv.queryRow(ctx, s.q(`SELECT l.event_id, COALESCE(e.status, '') FROM agenthook_object_lock l
		LEFT JOIN agenthook_event e ON e.id = l.event_id WHERE l.order_key = ?`), ev.OrderKey).Scan(&holder, &holderStatus)
	if isNoRows(err) {
		return orderPoll / 4, nil // released meanwhile: try again soon
	}
	if err != nil {
		return 0, fmt.Errorf("store: lock object of %s: %w", ev.ID, err)
	}
	if holderStatus == string(StatusRunning) {
		return orderPoll, nil
	}
	// The holder is not running (its release was lost to a crash between
	// two statements): take the lock over, if nobody else did first.
	n, err = s.drv.exec(ctx, s.q(`UPDATE agenthook_object_lock SET event_id = ?, taken_at = ? WHERE order_key = ? AND event_id = ?`),
		ev.ID, now, ev.OrderKey, holder)
	if err != nil {
		return 0, fmt.Errorf("store: lock object of %s: %w", ev.ID, err)
	}
	if n == 1 {
		return 0, nil
	}
	return orderPoll, nil
}

// releaseObject gives up ev's object lock, if it holds it.
func (s *Store) releaseObject(ctx context.Context, q querier, ev *Event) error {
	if ev.OrderKey == "" {
		return nil
	}
	if _, err := q.exec(ctx, s.q(`DELETE FROM agenthook_object_lock WHERE order_key = ? AND event_id = ?`), ev.OrderKey, ev.ID); err != nil {
		return fmt.Errorf("store: release object of %s: %w", ev.ID, err)
	}
	return nil
}
