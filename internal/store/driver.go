package store

import (
	"context"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// driver is everything that differs between the databases the store runs
// on: how SQL is sent, how a transaction is shared with River, and the few
// words of dialect. The store's logic (ingest, the journal, dispatch
// bookkeeping, replay, retention) is written once above it.
//
// SQLite goes through database/sql and River's riversqlite driver;
// PostgreSQL through pgx and River's riverpgxv5 driver. River's client is
// generic over the transaction type (*sql.Tx or pgx.Tx), so each driver
// keeps its own client and hands River the raw transaction inside a tx.
type driver interface {
	querier
	// reader is for queries that may run beside the writer (the admin API,
	// health checks). It may be the writer itself.
	reader() querier
	begin(ctx context.Context) (tx, error)
	// rebind turns the ? placeholders the store writes into the driver's.
	rebind(query string) string
	// jsonText is the SQL for the text value of key in the JSON column col.
	jsonText(col, key string) string
	// exclusive reports whether one process owns the database (SQLite with
	// its lock file). Then any job found running at start was cut off by a
	// crash (with several replicas it may be another replica's), River needs
	// no notifications between processes, and the process can feed River
	// from the outbox itself (feed.go).
	exclusive() bool
	// rowsPerInsert is how many of n rows one multi-row INSERT of a group
	// commit carries (the rest go in further statements).
	rowsPerInsert(n int) int
	// commitContext is the context a group commit runs in.
	commitContext() (context.Context, context.CancelFunc)

	migrate(ctx context.Context, own []string) error
	newClient(cfg *river.Config) error
	queue
	close()
}

// queue is the part of River's client the store uses, bound to a driver's
// transaction type.
type queue interface {
	start(ctx context.Context) error
	stop(ctx context.Context) error
	stopAndCancel(ctx context.Context) error
	insertJobs(ctx context.Context, tx tx, jobs []river.InsertManyParams) (int, error)
	insertJob(ctx context.Context, tx tx, args river.JobArgs, opts *river.InsertOpts) error
	completeJob(ctx context.Context, tx tx, job *river.Job[DispatchArgs]) error
	jobGet(ctx context.Context, id int64) (*rivertype.JobRow, error)
}

// querier runs SQL written with the driver's placeholders.
type querier interface {
	exec(ctx context.Context, query string, args ...any) (rowsAffected int64, err error)
	queryRow(ctx context.Context, query string, args ...any) row
	query(ctx context.Context, query string, args ...any) (rows, error)
}

type tx interface {
	querier
	commit(ctx context.Context) error
	// rollback is a no-op after commit, so it can be deferred.
	rollback(ctx context.Context)
}

type row interface {
	Scan(dest ...any) error
}

type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// rebindDollar turns ? placeholders into PostgreSQL's $1, $2, …. The
// store's queries never contain a literal question mark.
func rebindDollar(q string) string {
	out := make([]byte, 0, len(q)+16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			out = append(out, '$')
			out = append(out, itoa(n)...)
			continue
		}
		out = append(out, q[i])
	}
	return string(out)
}
