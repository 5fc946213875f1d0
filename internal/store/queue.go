package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/agenthook/agenthook/internal/journal"
)

// DispatchArgs is the queue job for one event. It carries only the id: the
// payload lives in the event row, written in the same commit.
type DispatchArgs struct {
	EventID string `json:"event_id"`
}

// Kind names the job for River.
func (DispatchArgs) Kind() string { return "agenthook.dispatch" }

// cleanupArgs is the periodic retention job.
type cleanupArgs struct{}

func (cleanupArgs) Kind() string { return "agenthook.cleanup" }

func (s *Store) newRiver() error {
	workers := river.NewWorkers()
	river.AddWorker(workers, &dispatchWorker{s: s})
	river.AddWorker(workers, &cleanupWorker{s: s})
	river.AddWorker(workers, &approvalTimeoutWorker{s: s})
	cfg := &river.Config{
		Logger:                      slog.New(minLevel{slog.LevelWarn, s.log.Handler()}).With("component", "queue"),
		MaxAttempts:                 s.opts.MaxAttempts,
		Workers:                     workers,
		FetchPollInterval:           s.opts.PollInterval,
		FetchCooldown:               10 * time.Millisecond,
		JobTimeout:                  s.opts.JobTimeout,
		RescueStuckJobsAfter:        s.opts.RescueAfter,
		CompletedJobRetentionPeriod: s.opts.Retention,
		CancelledJobRetentionPeriod: s.opts.Retention,
		DiscardedJobRetentionPeriod: s.opts.Retention,
		PeriodicJobs: []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
				func() (river.JobArgs, *river.InsertOpts) { return cleanupArgs{}, nil },
				&river.PeriodicJobOpts{ID: "agenthook.cleanup", RunOnStart: true}),
		},
		Hooks: []rivertype.Hook{river.HookInsertBeginFunc(availableWhenDueSoon)},
		// With one process owning the database, River's notifications (a
		// table on SQLite, polled every 50 ms on the one writer connection)
		// would only carry this process's messages to itself. Polling for
		// jobs every PollInterval is all the workers need, and the writer
		// is left to the group commit.
		PollOnly: s.drv.exclusive(),
	}
	if s.opts.Handler != nil {
		cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: s.opts.Workers}}
	}
	if err := s.drv.newClient(cfg); err != nil {
		return fmt.Errorf("store: queue client: %w", err)
	}
	return nil
}

// riverSchedulerInterval is how often River's scheduler makes scheduled jobs
// available (its JobSchedulerIntervalDefault, which River does not export).
const riverSchedulerInterval = 5 * time.Second

// availableWhenDueSoon inserts a job due within the scheduler's interval as
// available, with its future scheduled_at, instead of scheduled. Workers
// fetch only jobs whose time has come, so the job runs when due rather than
// when the scheduler next passes, up to 5 s later. River does the same
// for its own short snoozes.
//
// It matters for the order window: each event's job is due a couple of
// seconds after it arrives. Inserted available at once, it was fetched at
// once and snoozed, so a burst made every worker fetch and snooze in a loop,
// thousands of writes on the connection the group commit needs.
func availableWhenDueSoon(_ context.Context, p *rivertype.JobInsertParams) error {
	if p.State == rivertype.JobStateScheduled && p.ScheduledAt != nil && time.Until(*p.ScheduledAt) <= riverSchedulerInterval {
		p.State = rivertype.JobStateAvailable
	}
	return nil
}

// Start recovers jobs a killed process left running and starts the workers.
func (s *Store) Start(ctx context.Context) error {
	if s.opts.Handler == nil {
		return errors.New("store: Start needs a Handler")
	}
	if s.drv.exclusive() {
		if err := s.recoverRunning(ctx); err != nil {
			return err
		}
	}
	// River treats the end of Start's context as a hard stop that cancels
	// running jobs. Shutdown is Stop's business (soft first, then hard), so
	// the caller's cancellation must not reach River directly.
	if err := s.drv.start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("store: start workers: %w", err)
	}
	s.started.Store(true)
	return nil
}

// Stop lets in-flight dispatches finish until ctx is done, then cancels the
// rest, which go back to the queue without losing an attempt.
func (s *Store) Stop(ctx context.Context) error {
	if !s.started.Load() {
		return nil
	}
	s.stopping.Store(true)
	err := s.drv.stop(ctx)
	if err == nil {
		return nil
	}
	s.log.Warn("store: dispatches still running at the shutdown deadline; cancelling them (they stay queued)")
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.drv.stopAndCancel(cctx); err != nil {
		return fmt.Errorf("store: stop workers: %w", err)
	}
	return nil
}

// recoverRunning puts back jobs that a killed process left running. The
// embedded store has one owner (the lock), so at start nothing can really be
// running: each such job was cut off mid-flight. The attempt it used stays
// counted, and the cut is journaled.
func (s *Store) recoverRunning(ctx context.Context) error {
	t, err := s.drv.begin(ctx)
	if err != nil {
		return fmt.Errorf("store: recover: %w", err)
	}
	defer t.rollback(ctx)
	rows, err := t.query(ctx, s.q(`SELECT id, attempts FROM agenthook_event WHERE status = ?`), string(StatusRunning))
	if err != nil {
		return fmt.Errorf("store: recover: %w", err)
	}
	type cut struct {
		id      string
		attempt int
	}
	var cuts []cut
	for rows.Next() {
		var c cut
		if err := rows.Scan(&c.id, &c.attempt); err != nil {
			rows.Close()
			return fmt.Errorf("store: recover: %w", err)
		}
		cuts = append(cuts, c)
	}
	rows.Close()
	// One owner: every object lock belonged to the process that died.
	if _, err := t.exec(ctx, `DELETE FROM agenthook_object_lock`); err != nil {
		return fmt.Errorf("store: recover: %w", err)
	}
	if _, err := t.exec(ctx, s.q(`UPDATE river_job SET state = 'available', scheduled_at = ? WHERE state = 'running' AND kind = ?`),
		time.Now().UTC(), DispatchArgs{}.Kind()); err != nil {
		return fmt.Errorf("store: recover jobs: %w", err)
	}
	for _, c := range cuts {
		if _, err := t.exec(ctx, s.q(`UPDATE agenthook_event SET status = ?, updated_at = ? WHERE id = ?`), string(StatusQueued), nowMicro(), c.id); err != nil {
			return fmt.Errorf("store: recover event %s: %w", c.id, err)
		}
		if err := s.record(ctx, t, c.id, c.attempt, &journal.Interrupted{
			Error: "the process stopped during this attempt (crash or kill); the event was re-queued at start",
		}); err != nil {
			return err
		}
	}
	if err := t.commit(ctx); err != nil {
		return fmt.Errorf("store: recover: %w", err)
	}
	if len(cuts) > 0 {
		s.log.Info("store: re-queued events left running by a previous process", "count", len(cuts))
	}
	return nil
}

type dispatchWorker struct {
	river.WorkerDefaults[DispatchArgs]
	s *Store
}

func (w *dispatchWorker) Work(ctx context.Context, job *river.Job[DispatchArgs]) error {
	return w.s.work(ctx, job)
}

// NextRetry applies the delay the failed attempt chose (backoff or the API's
// retry-after, whichever is later). River asks right after Work returns.
func (w *dispatchWorker) NextRetry(job *river.Job[DispatchArgs]) time.Time {
	w.s.retryMu.Lock()
	defer w.s.retryMu.Unlock()
	at, ok := w.s.retryAt[job.ID]
	delete(w.s.retryAt, job.ID)
	if !ok {
		return time.Time{}
	}
	// River replaces a time already past with its default policy (attempt⁴
	// seconds), which would turn a short backoff into a long one when the
	// bookkeeping after the attempt took longer than the delay itself.
	if soon := time.Now().Add(time.Millisecond); at.Before(soon) {
		return soon
	}
	return at
}

// retryDelay is exponential backoff with jitter, floored by the API's
// retry-after: attempt 1 waits about base, each further attempt doubles it,
// capped at max. Jitter spreads a burst of failures so they do not return
// together.
func (s *Store) retryDelay(attempt int, retryAfter time.Duration) time.Duration {
	d := s.opts.RetryBase
	for i := 1; i < attempt && d < s.opts.RetryMax; i++ {
		d *= 2
	}
	d = min(d, s.opts.RetryMax)
	d = d/2 + rand.N(d/2+1) // jitter in [d/2, d]
	return max(d, retryAfter)
}

func (s *Store) work(ctx context.Context, job *river.Job[DispatchArgs]) error {
	id := job.Args.EventID
	attempt := job.Attempt
	ev, err := s.Event(ctx, id)
	if errors.Is(err, ErrNotFound) {
		// Deleted by retention while queued: nothing to do.
		return river.JobCancel(fmt.Errorf("event %s no longer stored", id))
	}
	if err != nil {
		return err
	}
	wait, err := s.claimObject(ctx, ev)
	if err != nil {
		return err
	}
	if wait > 0 {
		// Not this event's turn for its object: wait without using an attempt.
		return river.JobSnooze(wait)
	}
	if ev.Status == StatusRunning {
		// The previous attempt never reported back: its process died
		// mid-flight and River rescued the job (several replicas), so
		// whatever it sent may have reached the model. Journal the cut.
		s.record(ctx, s.drv, id, ev.Attempts, &journal.Interrupted{
			Error: "the attempt stopped mid-flight (its process died); the job was rescued and runs again",
		})
	}
	if _, err := s.drv.exec(ctx, s.q(`UPDATE agenthook_event SET status = ?, attempts = ?, updated_at = ? WHERE id = ?`),
		string(StatusRunning), attempt, nowMicro(), id); err != nil {
		return fmt.Errorf("store: mark %s running: %w", id, err)
	}

	run := &Run{Event: ev, Attempt: attempt, store: s}
	start := time.Now()
	herr := s.opts.Handler.Dispatch(ctx, run)
	latency := time.Since(start)

	if herr == nil {
		return s.complete(ctx, job, run, StatusDone, "", latency)
	}
	if errors.Is(herr, ErrFiltered) {
		return s.complete(ctx, job, run, StatusFiltered, "", latency)
	}
	if errors.Is(herr, ErrAwaitingApproval) {
		return s.complete(ctx, job, run, StatusAwaitingApproval, "", latency)
	}
	if errors.Is(herr, ErrNoDecision) {
		return s.complete(ctx, job, run, StatusNoDecision, herr.Error(), latency)
	}
	if d, ok := isDeferred(herr); ok {
		wctx := context.WithoutCancel(ctx)
		s.setStatus(wctx, id, StatusDeferred, d.Reason)
		if err := s.releaseObject(wctx, s.drv, ev); err != nil {
			s.log.Error("store: release object", "id", id, "err", err)
		}
		s.log.Info("dispatch", "id", id, "type", ev.Type, "status", StatusDeferred, "until", d.Until.UTC().Format(time.RFC3339), "reason", d.Reason)
		return river.JobSnooze(max(time.Until(d.Until), time.Second))
	}
	return s.fail(ctx, job, run, herr, latency)
}

// ErrFiltered is what a Handler returns for an event its route's filter
// leaves out: the job completes and the event is marked filtered.
var ErrFiltered = errors.New("filtered out by the route's when: expression")

// ErrNoDecision is what a Handler returns (wrapped, with the reason) when
// the model called no tool: the job completes and the event is marked
// no_decision, with the reason in last_error, for an operator to replay.
var ErrNoDecision = errors.New("no decision")

// complete marks the event finished (done, filtered, no_decision, …) and
// the job completed in one transaction, so a crash cannot leave a finished
// dispatch to be run again. lastError is the reason an operator should
// read, or "".
func (s *Store) complete(ctx context.Context, job *river.Job[DispatchArgs], run *Run, status Status, lastError string, latency time.Duration) error {
	t, err := s.drv.begin(ctx)
	if err != nil {
		return fmt.Errorf("store: complete %s: %w", run.Event.ID, err)
	}
	defer t.rollback(ctx)
	if _, err := t.exec(ctx, s.q(`UPDATE agenthook_event SET status = ?, last_error = ?, updated_at = ? WHERE id = ?`),
		string(status), lastError, nowMicro(), run.Event.ID); err != nil {
		return fmt.Errorf("store: complete %s: %w", run.Event.ID, err)
	}
	if err := s.releaseObject(ctx, t, run.Event); err != nil {
		return err
	}
	if status == StatusAwaitingApproval && s.opts.ApprovalTimeout > 0 {
		err := s.drv.insertJob(ctx, t, approvalTimeoutArgs{EventID: run.Event.ID},
			&river.InsertOpts{ScheduledAt: time.Now().Add(s.opts.ApprovalTimeout), MaxAttempts: 5})
		if err != nil {
			return fmt.Errorf("store: schedule the approval timeout of %s: %w", run.Event.ID, err)
		}
	}
	if err := s.drv.completeJob(ctx, t, job); err != nil {
		return fmt.Errorf("store: complete job for %s: %w", run.Event.ID, err)
	}
	if err := t.commit(ctx); err != nil {
		return fmt.Errorf("store: complete %s: %w", run.Event.ID, err)
	}
	s.log.Info("dispatch", "id", run.Event.ID, "type", run.Event.Type, "status", status, "attempt", run.Attempt, "latency_ms", latency.Milliseconds())
	return nil
}

type retryAfterer interface{ RetryAfter() time.Duration }
type permanenter interface{ Permanent() bool }

// fail records a failed attempt and tells River what to do next.
func (s *Store) fail(ctx context.Context, job *river.Job[DispatchArgs], run *Run, herr error, latency time.Duration) error {
	id := run.Event.ID
	// A dispatch cut by shutdown goes back to the queue; River does not
	// count the attempt.
	defer func() {
		if err := s.releaseObject(context.WithoutCancel(ctx), s.drv, run.Event); err != nil {
			s.log.Error("store: release object", "id", id, "err", err)
		}
	}()
	if s.stopping.Load() && ctx.Err() != nil {
		s.setStatus(context.WithoutCancel(ctx), id, StatusQueued, "")
		s.log.Info("dispatch", "id", id, "type", run.Event.Type, "status", StatusQueued, "reason", "shutdown")
		return herr
	}
	var p permanenter
	permanent := errors.As(herr, &p) && p.Permanent()
	status := StatusRetrying
	if permanent || job.Attempt >= job.MaxAttempts {
		status = StatusDead
	}
	var retryAfter time.Duration
	var ra retryAfterer
	if errors.As(herr, &ra) {
		retryAfter = ra.RetryAfter()
	}
	var next time.Time
	if status == StatusRetrying {
		next = time.Now().Add(s.retryDelay(job.Attempt, retryAfter))
		s.retryMu.Lock()
		s.retryAt[job.ID] = next
		s.retryMu.Unlock()
	}
	wctx := context.WithoutCancel(ctx)
	s.setStatus(wctx, id, status, herr.Error())
	attrs := []any{"id", id, "type", run.Event.Type, "status", status, "attempt", job.Attempt, "latency_ms", latency.Milliseconds(), "err", herr.Error()}
	if !next.IsZero() {
		attrs = append(attrs, "retry_in", time.Until(next).Round(time.Millisecond).String())
	}
	s.log.Warn("dispatch", attrs...)
	if permanent {
		return river.JobCancel(herr)
	}
	return herr
}

func (s *Store) setStatus(ctx context.Context, id string, status Status, lastErr string) {
	if _, err := s.drv.exec(ctx, s.q(`UPDATE agenthook_event SET status = ?, last_error = ?, updated_at = ? WHERE id = ?`),
		string(status), lastErr, nowMicro(), id); err != nil {
		s.log.Error("store: set status", "id", id, "status", status, "err", err)
	}
}

type cleanupWorker struct {
	river.WorkerDefaults[cleanupArgs]
	s *Store
}

// Work deletes events and journals older than the retention period. River's
// own cleaner removes finished jobs after the same period.
func (w *cleanupWorker) Work(ctx context.Context, _ *river.Job[cleanupArgs]) error {
	n, err := w.s.Cleanup(ctx, time.Now().Add(-w.s.opts.Retention))
	if err != nil {
		return err
	}
	if n > 0 {
		w.s.log.Info("store: retention cleanup", "deleted_events", n)
	}
	return nil
}

// Cleanup deletes events received before cutoff, with their journals, and
// returns how many went. Events still queued or running are kept.
func (s *Store) Cleanup(ctx context.Context, cutoff time.Time) (int64, error) {
	t, err := s.drv.begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: cleanup: %w", err)
	}
	defer t.rollback(ctx)
	const keep = `status NOT IN ('queued', 'running', 'retrying', 'awaiting_approval', 'deferred')`
	if _, err := t.exec(ctx, s.q(`DELETE FROM agenthook_step WHERE event_id IN (SELECT id FROM agenthook_event WHERE received_at < ? AND `+keep+`)`), cutoff.UnixMicro()); err != nil {
		return 0, fmt.Errorf("store: cleanup journal: %w", err)
	}
	n, err := t.exec(ctx, s.q(`DELETE FROM agenthook_event WHERE received_at < ? AND `+keep), cutoff.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("store: cleanup events: %w", err)
	}
	return n, t.commit(ctx)
}

// minLevel drops records below a level: River narrates its life at info
// level, which would drown agenthook's one line per event.
type minLevel struct {
	min slog.Level
	slog.Handler
}

func (m minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.min && m.Handler.Enabled(ctx, l)
}

func (m minLevel) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevel{m.min, m.Handler.WithAttrs(attrs)}
}

func (m minLevel) WithGroup(name string) slog.Handler {
	return minLevel{m.min, m.Handler.WithGroup(name)}
}
