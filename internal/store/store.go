// Package store is agenthook's durable memory: the events Stripe sent, the
// journal of what happened to each, and the queue that dispatches them.
//
// Everything lives in one database so that the promises agenthook makes can be
// kept with ordinary transactions:
//
//   - an event row and its queue job are written in the same commit, so a 2xx
//     to Stripe means both are on disk;
//   - the event id is the primary key, so a redelivery finds the row and
//     becomes a "duplicate" instead of a second job;
//   - a dispatch is marked done in the same transaction that completes its job.
//
// The queue is River (riverqueue/river). River owns fetching, retries and
// rescue; this package owns the event rows and the journal and keeps the two in
// step. The embedded default is SQLite (modernc.org/sqlite, no cgo) in WAL
// mode with synchronous=FULL; the SQL is written against database/sql and a
// small dialect so that PostgreSQL can share it.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Status is where an event stands. The values are part of the API.
type Status string

const (
	StatusIgnored  Status = "ignored"  // no route matched; kept for later routes and replay
	StatusQueued   Status = "queued"   // waiting for a worker
	StatusRunning  Status = "running"  // a worker is dispatching it
	StatusRetrying Status = "retrying" // the last attempt failed and another is scheduled
	StatusDone     Status = "done"     // dispatched; the decision is in the journal
	StatusDead     Status = "dead"     // gave up: a permanent error or too many attempts
	StatusFiltered Status = "filtered" // the route's when: filter left it out; no model call
	// StatusAwaitingApproval: a tool call waits for an operator's approve or
	// deny; the decision queues the event again.
	StatusAwaitingApproval Status = "awaiting_approval"
	// StatusDeferred: the event waits, e.g. for its route's budget to have
	// room; last_error says why.
	StatusDeferred Status = "deferred"
	// StatusNoDecision: the model called no tool, even after a corrective
	// round; last_error says what it answered. Never a silent done.
	StatusNoDecision Status = "no_decision"
)

// Statuses lists every status an event can have.
var Statuses = []Status{StatusIgnored, StatusQueued, StatusRunning, StatusRetrying, StatusDone, StatusDead,
	StatusFiltered, StatusAwaitingApproval, StatusDeferred, StatusNoDecision}

// Outcome is what Ingest did with an event.
type Outcome string

const (
	Queued    Outcome = "queued"
	Duplicate Outcome = "duplicate"
	Ignored   Outcome = "ignored"
)

// Defaults for Options fields left zero.
const (
	DefaultMaxAttempts = 8
	DefaultWorkers     = 8
	DefaultRetryBase   = 2 * time.Second
	DefaultRetryMax    = 10 * time.Minute
	DefaultRetention   = 30 * 24 * time.Hour
	DefaultJobTimeout  = 10 * time.Minute
	DefaultRescueAfter = 5 * time.Minute
)

// ErrClosed is returned by Ingest after Close.
var ErrClosed = errors.New("store is closed")

// ErrNotFound is returned for an unknown event id.
var ErrNotFound = errors.New("event not found")

// Options configure Open.
type Options struct {
	// Location is a SQLite file path or a postgres:// URL.
	Location string

	// RescueAfter is how long a job may stay running before another
	// replica takes it over (PostgreSQL; default 5 minutes). It bounds how
	// long a dead replica's events wait, and must exceed the longest real
	// dispatch, or a slow one would run twice.
	RescueAfter time.Duration

	// OrderWindow delays each event's first dispatch by this long after it
	// is received (0: no delay). Stripe does not deliver in order; the
	// window lets an older event that arrives a little later run first.
	OrderWindow time.Duration

	// ApprovalTimeout denies a pending tool call automatically after this
	// long (0: wait for an operator however long it takes).
	ApprovalTimeout time.Duration

	MaxAttempts int           // attempts before an event is dead
	Workers     int           // concurrent dispatches in this process
	RetryBase   time.Duration // first retry delay; doubles per attempt, with jitter
	RetryMax    time.Duration // cap on the retry delay (a longer retry-after still wins)
	Retention   time.Duration // how long events, journals and jobs are kept
	JobTimeout  time.Duration // one dispatch attempt's deadline

	// PollInterval is how often idle workers look for jobs that have become
	// due. On PostgreSQL, River's LISTEN/NOTIFY also wakes them on insert;
	// on SQLite, polling is how they find work (see newRiver).
	PollInterval time.Duration

	// Handler dispatches events. Nil opens the store for intake and reading
	// only: Start then refuses to run.
	Handler Handler

	Logger *slog.Logger
}

// Handler dispatches one event. Returning an error that implements
// RetryAfter() time.Duration delays the next attempt at least that long; one
// that implements Permanent() bool returning true makes the event dead at once.
type Handler interface {
	Dispatch(ctx context.Context, run *Run) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, run *Run) error

// Dispatch calls f.
func (f HandlerFunc) Dispatch(ctx context.Context, run *Run) error { return f(ctx, run) }

// Store is an open agenthook database.
type Store struct {
	opts Options
	log  *slog.Logger
	drv  driver

	ingest     chan *ingestRequest
	stopIngest chan struct{}
	ingestDone chan struct{}
	closeOnce  sync.Once

	started  atomic.Bool
	stopping atomic.Bool

	retryMu sync.Mutex
	retryAt map[int64]time.Time // job id → next retry chosen by the last failed attempt
}

// Open opens (creating if needed) the store at opts.Location, takes its
// ownership lock, and migrates its schema. Call Close when done.
func Open(ctx context.Context, opts Options) (*Store, error) {
	opts = withDefaults(opts)
	s := &Store{
		opts:       opts,
		log:        opts.Logger,
		ingest:     make(chan *ingestRequest, 4096),
		stopIngest: make(chan struct{}),
		ingestDone: make(chan struct{}),
		retryAt:    make(map[int64]time.Time),
	}
	migrations := sqliteMigrations
	if IsPostgres(opts.Location) {
		d, err := openPostgres(ctx, opts.Location, opts.Workers+8)
		if err != nil {
			return nil, err
		}
		s.drv, migrations = d, postgresMigrations
	} else {
		d, err := openSQLite(ctx, opts.Location)
		if err != nil {
			return nil, err
		}
		s.drv = d
	}
	if err := s.drv.migrate(ctx, migrations); err != nil {
		s.closeDB()
		return nil, err
	}
	if err := s.newRiver(); err != nil {
		s.closeDB()
		return nil, err
	}
	go s.commitLoop()
	return s, nil
}

func withDefaults(o Options) Options {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.RetryBase <= 0 {
		o.RetryBase = DefaultRetryBase
	}
	if o.RetryMax <= 0 {
		o.RetryMax = DefaultRetryMax
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.RescueAfter <= 0 {
		o.RescueAfter = DefaultRescueAfter
	}
	if o.JobTimeout <= 0 {
		o.JobTimeout = DefaultJobTimeout
	}
	// An attempt must end (time out) before it can be rescued, or a slow
	// dispatch would be taken over while it still runs.
	o.JobTimeout = min(o.JobTimeout, o.RescueAfter)
	if o.PollInterval <= 0 {
		o.PollInterval = 200 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Ping reports whether the database answers a query.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.drv.reader().queryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// Close stops intake, stops the workers if they run (waiting for in-flight
// dispatches until ctx is done) and releases the database and its lock.
func (s *Store) Close(ctx context.Context) error {
	var err error
	s.closeOnce.Do(func() {
		close(s.stopIngest)
		<-s.ingestDone
		if s.started.Load() {
			err = s.Stop(ctx)
		}
		s.closeDB()
	})
	return err
}

func (s *Store) closeDB() { s.drv.close() }

// IsPostgres reports whether a --store location is a PostgreSQL URL rather
// than a SQLite file path.
func IsPostgres(location string) bool {
	return strings.HasPrefix(location, "postgres://") || strings.HasPrefix(location, "postgresql://")
}

// q rebinds a query written with ? placeholders for the store's database.
func (s *Store) q(query string) string { return s.drv.rebind(query) }

// isNoRows reports whether err says a single-row query found nothing, in
// either driver's words.
func isNoRows(err error) bool {
	return errors.Is(err, sql.ErrNoRows) || errors.Is(err, pgx.ErrNoRows)
}

func nowMicro() int64 { return time.Now().UnixMicro() }
