package store

import (
	"context"
	"database/sql"
	"fmt"
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
	Route   string
	Payload []byte
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
	for {
		var first *ingestRequest
		select {
		case first = <-s.ingest:
		case <-s.stopIngest:
			// Drain what was accepted before the stop.
			for {
				select {
				case r := <-s.ingest:
					s.commit([]*ingestRequest{r})
				default:
					return
				}
			}
		}
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
		s.commit(batch)
	}
}

// commit writes a batch in one transaction. If the batch fails, each request
// is retried alone so one bad event cannot fail its neighbours.
func (s *Store) commit(batch []*ingestRequest) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	outcomes, err := s.commitTx(ctx, batch)
	if err == nil {
		for i, r := range batch {
			r.done <- ingestResult{outcome: outcomes[i]}
		}
		return
	}
	if len(batch) == 1 {
		batch[0].done <- ingestResult{err: err}
		return
	}
	s.log.Warn("store: group commit failed; committing one by one", "batch", len(batch), "err", err)
	for _, r := range batch {
		s.commit([]*ingestRequest{r})
	}
}

func (s *Store) commitTx(ctx context.Context, batch []*ingestRequest) ([]Outcome, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store: begin: %w", err)
	}
	defer tx.Rollback()

	insert, err := tx.PrepareContext(ctx, s.q(`INSERT INTO agenthook_event
		(id, type, created, livemode, received_at, route, status, updated_at, payload)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`))
	if err != nil {
		return nil, fmt.Errorf("store: prepare insert: %w", err)
	}
	defer insert.Close()

	outcomes := make([]Outcome, len(batch))
	var jobs []river.InsertManyParams
	for i, r := range batch {
		in := r.in
		status := StatusQueued
		if in.Route == "" {
			status = StatusIgnored
		}
		res, err := insert.ExecContext(ctx, in.ID, in.Type, in.Created, in.Livemode, r.at, in.Route, string(status), r.at, in.Payload)
		if err != nil {
			return nil, fmt.Errorf("store: insert event %s: %w", in.ID, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, fmt.Errorf("store: insert event %s: %w", in.ID, err)
		}
		switch {
		case n == 0:
			outcomes[i] = Duplicate
		case in.Route == "":
			outcomes[i] = Ignored
		default:
			outcomes[i] = Queued
			jobs = append(jobs, river.InsertManyParams{Args: DispatchArgs{EventID: in.ID}, InsertOpts: s.insertOpts()})
		}
	}
	if len(jobs) > 0 {
		if err := s.insertJobs(ctx, tx, jobs); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("store: commit: %w", err)
	}
	return outcomes, nil
}

// insertJobs inserts the dispatch jobs of a batch in tx. It uses River's
// fast path, which does not read the jobs back: the worker finds its event
// through the job's args, so nothing links the event row to the job id, and
// a batch costs one statement instead of one per event.
func (s *Store) insertJobs(ctx context.Context, tx *sql.Tx, jobs []river.InsertManyParams) error {
	n, err := s.river.InsertManyFastTx(ctx, tx, jobs)
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
