package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/bits"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"modernc.org/sqlite" // the pure-Go SQLite; also registers the "sqlite" database/sql driver
)

// sqliteDSN builds the connection string for the embedded store.
//
//   - WAL lets readers (the admin API, health checks) run beside the writer.
//   - synchronous=FULL fsyncs the WAL on every commit: a 2xx to Stripe means
//     the event is on disk, not in the page cache. Group commit (see ingest.go)
//     is what keeps that affordable.
//   - temp_store=MEMORY, on the writer, keeps statement journals in memory.
//     Each multi-row INSERT of a group commit needs one (to undo the
//     statement alone), and past 64 KiB SQLite spilled it to a temporary
//     file: opened, written with a pwrite per page and closed again, for
//     every statement, 8 % of the process's CPU at full intake. It costs
//     about 7 MB of resident memory; the readers, which run the admin API's
//     sorts, keep temporary data on disk.
//   - busy_timeout makes a second connection wait instead of failing with
//     SQLITE_BUSY; _txlock=immediate takes the write lock at BEGIN, which
//     avoids the deadlock-prone read-to-write lock upgrade.
func sqliteDSN(path string, readOnly bool) string {
	v := url.Values{}
	v.Add("_pragma", "busy_timeout(10000)")
	v.Add("_pragma", "journal_mode(WAL)")
	v.Add("_pragma", "synchronous(FULL)")
	v.Add("_pragma", "foreign_keys(ON)")
	if readOnly {
		v.Add("mode", "ro")
	} else {
		v.Add("_txlock", "immediate")
		v.Add("_pragma", "temp_store(MEMORY)")
	}
	return "file:" + path + "?" + v.Encode()
}

// sqliteDriver is the embedded store: one writer connection shared by River
// and the store's own SQL, and a small read-only pool beside it.
type sqliteDriver struct {
	db     *sql.DB // read-write, one connection
	read   *sql.DB // read-only
	unlock func() error
	client *river.Client[*sql.Tx]
}

// openSQLite opens the SQLite file at path, creating its folder, and takes
// the folder lock that makes this process the store's one owner.
func openSQLite(ctx context.Context, path string) (*sqliteDriver, error) {
	if path == "" {
		return nil, errors.New("store: no location: pass --store PATH")
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("store: create folder %s: %w (check permissions or choose another --store)", dir, err)
	}
	unlock, err := lockDir(filepath.Join(dir, filepath.Base(path)+".lock"))
	if err != nil {
		return nil, err
	}
	d := &sqliteDriver{unlock: unlock}
	fail := func(err error) (*sqliteDriver, error) {
		d.close()
		return nil, err
	}
	connector, err := sqlite.NewConnector(sqliteDSN(path, false))
	if err != nil {
		return fail(fmt.Errorf("store: open %s: %w", path, err))
	}
	// The writer caches its prepared statements (stmtcache.go); the readers
	// run the admin API's ad-hoc queries and do not.
	db := sql.OpenDB(cachingConnector{connector})
	d.db = db
	// SQLite has one writer. One connection serialises River's statements and
	// ours without SQLITE_BUSY storms, as riversqlite recommends.
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	if err := db.PingContext(ctx); err != nil {
		return fail(fmt.Errorf("store: open %s: %w (is it a SQLite file?)", path, err))
	}
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || !strings.EqualFold(mode, "wal") {
		return fail(fmt.Errorf("store: %s: WAL mode not enabled (got %q, %v): the file system may not support it; use a local disk", path, mode, err))
	}
	read, err := sql.Open("sqlite", sqliteDSN(path, true))
	if err != nil {
		return fail(fmt.Errorf("store: open %s read-only: %w", path, err))
	}
	read.SetMaxOpenConns(4)
	d.read = read
	return d, nil
}

func (d *sqliteDriver) close() {
	if d.read != nil {
		d.read.Close()
	}
	if d.db != nil {
		d.db.Close()
	}
	if d.unlock != nil {
		d.unlock()
	}
}

func (d *sqliteDriver) rebind(q string) string { return q }
func (d *sqliteDriver) jsonText(col, key string) string {
	return "json_extract(" + col + ", '$." + key + "')"
}
func (d *sqliteDriver) exclusive() bool { return true }

// rowsPerInsert is the largest power of two up to 64 rows: the writer
// caches its statements by SQL text, so a batch's events go in through at
// most seven statement shapes, each parsed once, instead of one new shape
// per batch size.
func (d *sqliteDriver) rowsPerInsert(n int) int {
	return 1 << (bits.Len(uint(min(n, 64))) - 1)
}

// commitContext has no deadline. A context that can end makes database/sql
// and the SQLite driver start a watcher goroutine for every statement, and
// the group commit runs a few statements per batch on the one writer every
// acknowledgement waits for. A deadline would buy nothing here: lock waits
// are bounded by busy_timeout, and a hung fsync cannot be interrupted.
func (d *sqliteDriver) commitContext() (context.Context, context.CancelFunc) {
	return context.Background(), func() {}
}
func (d *sqliteDriver) reader() querier { return sqlQuerier{d.read} }

func (d *sqliteDriver) exec(ctx context.Context, q string, args ...any) (int64, error) {
	return sqlQuerier{d.db}.exec(ctx, q, args...)
}
func (d *sqliteDriver) queryRow(ctx context.Context, q string, args ...any) row {
	return d.db.QueryRowContext(ctx, q, args...)
}
func (d *sqliteDriver) query(ctx context.Context, q string, args ...any) (rows, error) {
	return sqlQuerier{d.db}.query(ctx, q, args...)
}

func (d *sqliteDriver) begin(ctx context.Context) (tx, error) {
	t, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &sqlTx{t}, nil
}

func (d *sqliteDriver) migrate(ctx context.Context, own []string) error {
	m, err := rivermigrate.New(riversqlite.New(d.db), nil)
	if err != nil {
		return fmt.Errorf("store: queue migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("store: migrate queue tables: %w", err)
	}
	return migrateOwn(ctx, d, own)
}

func (d *sqliteDriver) newClient(cfg *river.Config) error {
	c, err := river.NewClient(riversqlite.New(d.db), cfg)
	if err != nil {
		return err
	}
	d.client = c
	return nil
}

func (d *sqliteDriver) start(ctx context.Context) error         { return d.client.Start(ctx) }
func (d *sqliteDriver) stop(ctx context.Context) error          { return d.client.Stop(ctx) }
func (d *sqliteDriver) stopAndCancel(ctx context.Context) error { return d.client.StopAndCancel(ctx) }
func (d *sqliteDriver) jobGet(ctx context.Context, id int64) (*rivertype.JobRow, error) {
	return d.client.JobGet(ctx, id)
}
func (d *sqliteDriver) insertJobs(ctx context.Context, t tx, jobs []river.InsertManyParams) (int, error) {
	return d.client.InsertManyFastTx(ctx, t.(*sqlTx).tx, jobs)
}
func (d *sqliteDriver) insertJob(ctx context.Context, t tx, args river.JobArgs, opts *river.InsertOpts) error {
	_, err := d.client.InsertTx(ctx, t.(*sqlTx).tx, args, opts)
	return err
}
func (d *sqliteDriver) completeJob(ctx context.Context, t tx, job *river.Job[DispatchArgs]) error {
	_, err := river.JobCompleteTx[*riversqlite.Driver](ctx, t.(*sqlTx).tx, job)
	return err
}

// sqlQuerier adapts a *sql.DB or *sql.Tx.
type sqlQuerier struct {
	q interface {
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	}
}

func (q sqlQuerier) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := q.q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
func (q sqlQuerier) queryRow(ctx context.Context, query string, args ...any) row {
	return q.q.QueryRowContext(ctx, query, args...)
}
func (q sqlQuerier) query(ctx context.Context, query string, args ...any) (rows, error) {
	r, err := q.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{r}, nil
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }

type sqlTx struct{ tx *sql.Tx }

func (t *sqlTx) exec(ctx context.Context, q string, args ...any) (int64, error) {
	return sqlQuerier{t.tx}.exec(ctx, q, args...)
}
func (t *sqlTx) queryRow(ctx context.Context, q string, args ...any) row {
	return t.tx.QueryRowContext(ctx, q, args...)
}
func (t *sqlTx) query(ctx context.Context, q string, args ...any) (rows, error) {
	return sqlQuerier{t.tx}.query(ctx, q, args...)
}
func (t *sqlTx) commit(context.Context) error { return t.tx.Commit() }

func (t *sqlTx) rollback(context.Context) { t.tx.Rollback() }

func itoa(n int) string { return strconv.Itoa(n) }
