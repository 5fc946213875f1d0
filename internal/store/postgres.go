package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
)

// postgresDriver runs the store on PostgreSQL through a pgx pool, shared by
// any number of replicas. River's pgx driver does the queue: jobs are taken
// with FOR UPDATE SKIP LOCKED, so each job runs on one replica, and a
// replica that dies mid-job has its jobs rescued by the others after
// RescueAfter.
type postgresDriver struct {
	pool   *pgxpool.Pool
	client *river.Client[pgx.Tx]
}

func openPostgres(ctx context.Context, url string, maxConns int) (*postgresDriver, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store: parse the PostgreSQL URL: %w (use postgres://user:pass@host:5432/db)", redactURLError(err))
	}
	if maxConns > 0 {
		cfg.MaxConns = int32(maxConns)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: connect to PostgreSQL: %w", redactURLError(err))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: connect to PostgreSQL at %s:%d/%s: %w (is the server up, and the database created?)",
			cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, redactURLError(err))
	}
	return &postgresDriver{pool: pool}, nil
}

// redactURLError keeps a password that pgx may quote out of messages.
func redactURLError(err error) error {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		return errors.New("invalid connection string")
	}
	return err
}

func (d *postgresDriver) close() {
	if d.pool != nil {
		d.pool.Close()
	}
}

func (d *postgresDriver) rebind(q string) string          { return rebindDollar(q) }
func (d *postgresDriver) jsonText(col, key string) string { return "(" + col + "->>'" + key + "')" }
func (d *postgresDriver) exclusive() bool                 { return false }

// rowsPerInsert is the whole batch: one round trip.
func (d *postgresDriver) rowsPerInsert(n int) int { return n }

// commitContext bounds a group commit: a server that stops answering must
// fail the batch (Stripe retries it), not hold every webhook forever.
func (d *postgresDriver) commitContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}
func (d *postgresDriver) reader() querier { return pgxQuerier{d.pool} }

func (d *postgresDriver) exec(ctx context.Context, q string, args ...any) (int64, error) {
	return pgxQuerier{d.pool}.exec(ctx, q, args...)
}
func (d *postgresDriver) queryRow(ctx context.Context, q string, args ...any) row {
	return d.pool.QueryRow(ctx, q, args...)
}
func (d *postgresDriver) query(ctx context.Context, q string, args ...any) (rows, error) {
	return pgxQuerier{d.pool}.query(ctx, q, args...)
}

func (d *postgresDriver) begin(ctx context.Context) (tx, error) {
	t, err := d.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &pgxTx{t}, nil
}

// migrateLock is the advisory lock key that serialises migrations, so
// replicas that start together do not race to create the same tables.
const migrateLock = 0x61676e74686f6f6b // "agnthook"

func (d *postgresDriver) migrate(ctx context.Context, own []string) error {
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrateLock)); err != nil {
		return fmt.Errorf("store: migrate: take the migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrateLock))
	m, err := rivermigrate.New(riverpgxv5.New(d.pool), nil)
	if err != nil {
		return fmt.Errorf("store: queue migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("store: migrate queue tables: %w", err)
	}
	return migrateOwn(ctx, d, own)
}

func (d *postgresDriver) newClient(cfg *river.Config) error {
	c, err := river.NewClient(riverpgxv5.New(d.pool), cfg)
	if err != nil {
		return err
	}
	d.client = c
	return nil
}

func (d *postgresDriver) start(ctx context.Context) error         { return d.client.Start(ctx) }
func (d *postgresDriver) stop(ctx context.Context) error          { return d.client.Stop(ctx) }
func (d *postgresDriver) stopAndCancel(ctx context.Context) error { return d.client.StopAndCancel(ctx) }
func (d *postgresDriver) jobGet(ctx context.Context, id int64) (*rivertype.JobRow, error) {
	return d.client.JobGet(ctx, id)
}
func (d *postgresDriver) insertJobs(ctx context.Context, t tx, jobs []river.InsertManyParams) (int, error) {
	return d.client.InsertManyFastTx(ctx, t.(*pgxTx).tx, jobs)
}
func (d *postgresDriver) insertJob(ctx context.Context, t tx, args river.JobArgs, opts *river.InsertOpts) error {
	_, err := d.client.InsertTx(ctx, t.(*pgxTx).tx, args, opts)
	return err
}
func (d *postgresDriver) completeJob(ctx context.Context, t tx, job *river.Job[DispatchArgs]) error {
	_, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, t.(*pgxTx).tx, job)
	return err
}

// pgxQuerier adapts a pool or a transaction.
type pgxQuerier struct {
	q interface {
		Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	}
}

func (q pgxQuerier) exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := q.q.Exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}
func (q pgxQuerier) queryRow(ctx context.Context, query string, args ...any) row {
	return q.q.QueryRow(ctx, query, args...)
}
func (q pgxQuerier) query(ctx context.Context, query string, args ...any) (rows, error) {
	r, err := q.q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return r, nil
}

type pgxTx struct{ tx pgx.Tx }

func (t *pgxTx) exec(ctx context.Context, q string, args ...any) (int64, error) {
	return pgxQuerier{t.tx}.exec(ctx, q, args...)
}
func (t *pgxTx) queryRow(ctx context.Context, q string, args ...any) row {
	return t.tx.QueryRow(ctx, q, args...)
}
func (t *pgxTx) query(ctx context.Context, q string, args ...any) (rows, error) {
	return pgxQuerier{t.tx}.query(ctx, q, args...)
}

func (t *pgxTx) commit(ctx context.Context) error { return t.tx.Commit(ctx) }

func (t *pgxTx) rollback(ctx context.Context) { t.tx.Rollback(context.WithoutCancel(ctx)) }
