package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"
)

// Incoming is a verified event on its way in.
type Incoming struct {
	ID       string
	Type     string
	Created  int64 // Stripe's created, unix seconds
	Livemode bool
	// Route is the name of the route that matched, or "" when none did: the
	// event is then stored as ignored, with no job.
	Route string
	// OrderKey groups events about one object (by default its id): they
	// never run concurrently, and the oldest-created pending one runs first.
	// "" means no ordering.
	OrderKey string
	Payload  []byte
}

type ingestRequest struct {
	in   Incoming
	at   int64
	done chan ingestResult
}

type ingestResult struct {
	outcome Outcome
	err     error
}

// maxBatch bounds one group commit. Larger batches amortise the fsync further
// but hold the single SQLite writer longer, which the workers feel.
const maxBatch = 256

// Ingest stores an event and, when it has a route, its dispatch job, in one
// commit, and returns once that commit is durable. An id seen before returns
// Duplicate and writes nothing.
//
// Concurrent calls are grouped into one transaction (group commit): the
// committer takes whatever is waiting, writes it all, and fsyncs once. Under
// load that turns thousands of fsyncs per second into a few hundred, without
// delaying a lone request, which commits as soon as it arrives.
func (s *Store) Ingest(ctx context.Context, in Incoming) (Outcome, error) {
	req := &ingestRequest{in: in, at: nowMicro(), done: make(chan ingestResult, 1)}
	select {
	case s.ingest <- req:
	case <-s.stopIngest:
		return "", ErrClosed
	case <-ctx.Done():
		return "", ctx.Err()
	}
	// Once queued the request is committed or failed as a whole; waiting for
	// the answer even if ctx ends keeps the reply honest.
	res := <-req.done
	return res.outcome, res.err
}

func (s *Store) commitLoop() {
	defer close(s.ingestDone)
	batch := make([]*ingestRequest, 0, maxBatch)
	// The outbox may hold what a previous run left (SQLite; see feed.go).
	feed := &feeder{s: s, pending: s.drv.exclusive()}
	var lastIntake time.Time
	quiet := time.NewTimer(feedIdle)
	defer quiet.Stop()
	for {
		var first *ingestRequest
		var idle <-chan time.Time
		if feed.pending {
			quiet.Reset(feed.wait(lastIntake))
			idle = quiet.C
		}
		select {
		case first = <-s.ingest:
		case <-idle:
			feed.idle()
			continue
		case <-s.stopIngest:
			// Drain what was accepted before the stop. The outbox keeps
			// the rest for the next start.
			for {
				select {
				case r := <-s.ingest:
					s.commit([]*ingestRequest{r})
				default:
					return
				}
			}
		}
		lastIntake = time.Now()
		batch = append(batch[:0], first)
	fill:
		for len(batch) < maxBatch {
			select {
			case r := <-s.ingest:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		if s.commit(batch) && s.drv.exclusive() {
			feed.pending = true
		}
		feed.busy()
	}
}

// commit writes a batch in one transaction and reports whether it queued an
// event. If the batch fails, each request is retried alone so one bad event
// cannot fail its neighbours.
func (s *Store) commit(batch []*ingestRequest) (queued bool) {
	ctx, cancel := s.drv.commitContext()
	defer cancel()
	outcomes, err := s.commitTx(ctx, batch)
	if err == nil {
		for i, r := range batch {
			r.done <- ingestResult{outcome: outcomes[i]}
			queued = queued || outcomes[i] == Queued
		}
		return queued
	}
	if len(batch) == 1 {
		batch[0].done <- ingestResult{err: err}
		return false
	}
	s.log.Warn("store: group commit failed; committing one by one", "batch", len(batch), "err", err)
	for _, r := range batch {
		if s.commit([]*ingestRequest{r}) {
			queued = true
		}
	}
	return queued
}

func (s *Store) commitTx(ctx context.Context, batch []*ingestRequest) ([]Outcome, error) {
	t, err := s.drv.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: begin: %w", err)
	}
	defer t.rollback(ctx)

	inserted, err := s.insertEvents(ctx, t, batch)
	if err != nil {
		return nil, err
	}
	outcomes := make([]Outcome, len(batch))
	var queued []*ingestRequest
	for i, r := range batch {
		in := r.in
		switch {
		case !inserted[in.ID]:
			outcomes[i] = Duplicate
		case in.Route == "":
			outcomes[i] = Ignored
		default:
			outcomes[i] = Queued
			queued = append(queued, r)
		}
		// The same id twice in one batch: the first delivery wins.
		delete(inserted, in.ID)
	}
	if len(queued) > 0 {
		// With one process owning the database, the jobs go through the
		// outbox (feed.go) and the acknowledgement waits for no River work.
		// Replicas sharing PostgreSQL insert them here, in the same commit.
		if s.drv.exclusive() {
			err = s.insertOutbox(ctx, t, queued)
		} else {
			jobs := make([]river.InsertManyParams, len(queued))
			for i, r := range queued {
				jobs[i] = s.dispatchJob(r.in.ID, s.due(r.at))
			}
			err = s.insertJobs(ctx, t, jobs)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := t.commit(ctx); err != nil {
		return nil, fmt.Errorf("store: commit: %w", err)
	}
	return outcomes, nil
}

// insertEvents writes the batch's event rows with multi-row INSERTs (one
// round trip to PostgreSQL; a few cached statements on SQLite, see
// rowsPerInsert) and returns the ids it inserted; an id already stored, or
// repeated in the batch, is inserted once.
func (s *Store) insertEvents(ctx context.Context, t tx, batch []*ingestRequest) (map[string]bool, error) {
	inserted := make(map[string]bool, len(batch))
	err := s.inParts(batch, func(part []*ingestRequest) error { return s.insertEventRows(ctx, t, part, inserted) })
	if err != nil {
		return nil, err
	}
	return inserted, nil
}

func (s *Store) insertEventRows(ctx context.Context, t tx, batch []*ingestRequest, inserted map[string]bool) error {
	const cols = 10
	args := make([]any, 0, len(batch)*cols)
	for _, r := range batch {
		in := r.in
		status := StatusQueued
		if in.Route == "" {
			status = StatusIgnored
		}
		args = append(args, in.ID, in.Type, in.Created, in.Livemode, r.at, in.Route, string(status), r.at, in.Payload, in.OrderKey)
	}
	q := multiInsert(`agenthook_event (id, type, created, livemode, received_at, route, status, updated_at, payload, order_key)`, len(batch), cols) +
		` ON CONFLICT (id) DO NOTHING RETURNING id`
	rows, err := t.query(ctx, s.q(q), args...)
	if err != nil {
		return fmt.Errorf("store: insert events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return fmt.Errorf("store: insert events: %w", err)
		}
		inserted[id] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: insert events: %w", err)
	}
	return nil
}

// inParts calls insert with the batch in parts of the driver's
// rowsPerInsert rows.
func (s *Store) inParts(batch []*ingestRequest, insert func(part []*ingestRequest) error) error {
	for rest := batch; len(rest) > 0; {
		n := s.drv.rowsPerInsert(len(rest))
		if err := insert(rest[:n]); err != nil {
			return err
		}
		rest = rest[n:]
	}
	return nil
}

// multiInsert is "INSERT INTO into VALUES (?, …), (?, …)": rows rows of
// cols placeholders each.
func multiInsert(into string, rows, cols int) string {
	row := "(" + strings.Repeat("?, ", cols-1) + "?)"
	var q strings.Builder
	q.Grow(len(into) + 20 + rows*(len(row)+2))
	q.WriteString("INSERT INTO " + into + " VALUES ")
	for i := range rows {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(row)
	}
	return q.String()
}

// insertJobs inserts the dispatch jobs of a batch in tx. It uses River's
// fast path, which does not read the jobs back: the worker finds its event
// through the job's args, so nothing links the event row to the job id, and
// a batch costs one statement instead of one per event.
func (s *Store) insertJobs(ctx context.Context, t tx, jobs []river.InsertManyParams) error {
	n, err := s.drv.insertJobs(ctx, t, jobs)
	if err != nil {
		return fmt.Errorf("store: insert jobs: %w", err)
	}
	if n != len(jobs) {
		return fmt.Errorf("store: insert jobs: %d of %d inserted", n, len(jobs))
	}
	return nil
}

func (s *Store) insertOpts() *river.InsertOpts {
	return &river.InsertOpts{MaxAttempts: s.opts.MaxAttempts}
}

// due is when an event received at receivedAt (unix microseconds) may first
// run: once its order window has passed (see claimObject).
func (s *Store) due(receivedAt int64) time.Time {
	return time.UnixMicro(receivedAt).Add(s.opts.OrderWindow)
}

// dispatchJob is the job that dispatches an event, not before due: fetched
// earlier, it would only be snoozed.
func (s *Store) dispatchJob(eventID string, due time.Time) river.InsertManyParams {
	opts := s.insertOpts()
	opts.ScheduledAt = due
	return river.InsertManyParams{Args: DispatchArgs{EventID: eventID}, InsertOpts: opts}
}
