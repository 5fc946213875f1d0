package store

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"
)

// The outbox (SQLite only).
//
// On SQLite every write goes through one connection, and the group commit
// that acknowledges Stripe is most of what it does. River's job insert was
// a third of each commit's work. Yet in a burst the workers can start only
// a few dispatches per second, so a job inserted at intake waits in River's
// table for minutes. So an acknowledged event gets a row in
// agenthook_outbox, in the same commit as the event (the smallest write that
// keeps it durable), and the committer moves outbox rows into River, oldest
// first, in transactions of its own:
//
//   - whenever intake has been quiet for feedIdle, as fast as it can;
//   - while intake is busy, only to keep River stocked: when fewer than
//     half of stockTarget jobs are running or due, it tops them up. The
//     events behind wait in the outbox, with status queued.
//
// A row leaves the outbox in the transaction that inserts its job, so each
// event gets exactly one job, and what a crash leaves behind is fed after
// the restart. Replay inserts its job directly: it only takes finished
// events, which are never in the outbox.
//
// PostgreSQL's replicas would have to agree on who feeds; there the ingest
// commit inserts the jobs itself, as it always did.

const (
	// feedChunk bounds one feeding transaction, so intake never waits long
	// behind one.
	feedChunk = 256
	// feedIdle is how long intake must be quiet before the outbox is fed
	// freely.
	feedIdle = 20 * time.Millisecond
	// feedCheck is how often, while intake is busy, River's stock is looked
	// at.
	feedCheck = 50 * time.Millisecond
)

// stockTarget is how many jobs River should hold running or due while
// intake is busy: enough for every worker, and the next round.
func (s *Store) stockTarget() int { return max(64, 4*s.opts.Workers) }

// insertOutbox writes the batch's outbox rows, in the group commit's
// transaction.
func (s *Store) insertOutbox(ctx context.Context, t tx, queued []*ingestRequest) error {
	return s.inParts(queued, func(part []*ingestRequest) error {
		args := make([]any, 0, 2*len(part))
		for _, r := range part {
			args = append(args, r.in.ID, s.due(r.at).UnixMicro())
		}
		if _, err := t.exec(ctx, s.q(multiInsert(`agenthook_outbox (event_id, due)`, len(part), 2)), args...); err != nil {
			return fmt.Errorf("store: insert outbox: %w", err)
		}
		return nil
	})
}

// feed moves up to n events, oldest first, from the outbox into River, in
// one transaction, and returns how many it moved.
func (s *Store) feed(ctx context.Context, n int) (int, error) {
	t, err := s.drv.begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: feed: %w", err)
	}
	defer t.rollback(ctx)
	rows, err := t.query(ctx, s.q(`SELECT seq, event_id, due FROM agenthook_outbox ORDER BY seq LIMIT ?`), n)
	if err != nil {
		return 0, fmt.Errorf("store: feed: %w", err)
	}
	var jobs []river.InsertManyParams
	var last int64
	for rows.Next() {
		var id string
		var due int64
		if err := rows.Scan(&last, &id, &due); err != nil {
			rows.Close()
			return 0, fmt.Errorf("store: feed: %w", err)
		}
		jobs = append(jobs, s.dispatchJob(id, time.UnixMicro(due)))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("store: feed: %w", err)
	}
	if len(jobs) == 0 {
		return 0, nil
	}
	if err := s.insertJobs(ctx, t, jobs); err != nil {
		return 0, err
	}
	if _, err := t.exec(ctx, s.q(`DELETE FROM agenthook_outbox WHERE seq <= ?`), last); err != nil {
		return 0, fmt.Errorf("store: feed: %w", err)
	}
	if err := t.commit(ctx); err != nil {
		return 0, fmt.Errorf("store: feed: commit: %w", err)
	}
	return len(jobs), nil
}

// stock counts River's jobs that are running or due to run now, up to limit
// for each (so the count costs little however long the queue). A job still
// inside its order window, or snoozed behind an older event about its
// object, does not count: a burst about one object must not fill the stock
// and hold every other object's events in the outbox.
//
// The SQL is SQLite's (the outbox is SQLite's): River keeps scheduled_at
// as text in datetime('now', 'subsec')'s format, and the query follows its
// fetching index (state, queue, priority, scheduled_at).
func (s *Store) stock(ctx context.Context, limit int) (int, error) {
	var running, due int
	err := s.drv.reader().queryRow(ctx, `SELECT
		(SELECT COUNT(*) FROM (SELECT 1 FROM river_job WHERE state = 'running' LIMIT ?)),
		(SELECT COUNT(*) FROM (SELECT 1 FROM river_job WHERE state = 'available' AND queue = ? AND priority = ?
			AND scheduled_at <= datetime('now', 'subsec') LIMIT ?))`,
		limit, river.QueueDefault, river.PriorityDefault, limit).Scan(&running, &due)
	if err != nil {
		return 0, fmt.Errorf("store: count queued jobs: %w", err)
	}
	return running + due, nil
}

// Outbox returns how many acknowledged events wait in the outbox for their
// dispatch job (always 0 on PostgreSQL). It is for tests and diagnostics.
func (s *Store) Outbox(ctx context.Context) (int, error) {
	if !s.drv.exclusive() {
		return 0, nil
	}
	var n int
	if err := s.drv.reader().queryRow(ctx, `SELECT COUNT(*) FROM agenthook_outbox`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count outbox: %w", err)
	}
	return n, nil
}

// feeder is the committer's bookkeeping for the outbox.
type feeder struct {
	s *Store
	// pending says the outbox may hold rows: set by every commit that
	// queued an event, and at start for what a previous run left.
	pending   bool
	lastCheck time.Time
	// retryAt holds feeding back for a while after an error, so a failing
	// database is not asked again in a tight loop.
	retryAt time.Time
}

// wait is how long the committer waits, with intake last seen at
// lastIntake, before it feeds the outbox while quiet.
func (f *feeder) wait(lastIntake time.Time) time.Duration {
	return time.Until(maxTime(lastIntake.Add(feedIdle), f.retryAt))
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// busy is called after each group commit: while intake is busy, it keeps
// River stocked.
func (f *feeder) busy() {
	if !f.pending || time.Since(f.lastCheck) < feedCheck || time.Now().Before(f.retryAt) {
		return
	}
	f.lastCheck = time.Now()
	target := f.s.stockTarget()
	have, err := f.s.stock(context.Background(), target)
	if err != nil {
		f.failed(err)
		return
	}
	if have >= target/2 {
		return
	}
	f.run(min(target-have, feedChunk))
}

// idle is called when intake has been quiet for feedIdle: it feeds one
// chunk.
func (f *feeder) idle() { f.run(feedChunk) }

func (f *feeder) run(n int) {
	ctx, cancel := f.s.drv.commitContext()
	defer cancel()
	moved, err := f.s.feed(ctx, n)
	if err != nil {
		f.failed(err)
		return
	}
	if moved < n {
		f.pending = false
	}
}

// failed logs err and holds feeding back for a second. The rows stay in the
// outbox, with their events queued; nothing is lost.
func (f *feeder) failed(err error) {
	f.s.log.Warn("store: outbox: moving events into the queue failed; retrying in 1s", "err", err)
	f.retryAt = time.Now().Add(time.Second)
}
