package store

import (
	"container/list"
	"context"
	sqldriver "database/sql/driver"
	"errors"
)

// The SQLite writer's statement cache.
//
// database/sql prepares a statement for every Exec and Query that is not
// run through an explicit *sql.Stmt, and modernc's driver keeps no cache of
// its own, so each of River's statements (its job insert, fetch and
// completion queries are several hundred bytes of SQL) and each of ours was
// parsed again every time it ran: 14 % of the process's CPU under load,
// most of it on the one writer connection every acknowledgement waits for.
// cachedConn keeps the prepared statements of its connection by SQL text
// and runs them again, as pgx does for PostgreSQL.
//
// database/sql hands a driver connection to one goroutine at a time, so
// the cache needs no lock. A statement whose rows are still open is busy:
// the same SQL run again meanwhile (a query inside the loop over its own
// rows) gets a statement of its own, as it would without the cache.

// stmtCacheSize bounds the statements kept per connection: River's and the
// store's fixed set is a few dozen.
const stmtCacheSize = 128

// cachingConnector wraps a driver.Connector so that its connections cache
// their prepared statements.
type cachingConnector struct {
	sqldriver.Connector
}

// driverConn is what database/sql uses of a connection, all of which
// modernc's connection implements and cachedConn passes on.
type driverConn interface {
	sqldriver.Conn
	sqldriver.ConnBeginTx
	sqldriver.ConnPrepareContext
	sqldriver.ExecerContext
	sqldriver.QueryerContext
	sqldriver.Pinger
	sqldriver.SessionResetter
	sqldriver.Validator
}

func (c cachingConnector) Connect(ctx context.Context) (sqldriver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	dc, ok := conn.(driverConn)
	if !ok {
		conn.Close()
		return nil, errors.New("store: the SQLite driver lacks a database/sql interface the statement cache needs")
	}
	return &cachedConn{driverConn: dc, lru: list.New(), byQuery: make(map[string]*list.Element)}, nil
}

type cachedConn struct {
	driverConn
	lru     *list.List // of *cachedStmt, most recently used first
	byQuery map[string]*list.Element
}

type cachedStmt struct {
	query string
	stmt  sqldriver.Stmt
	busy  bool // its rows are open
	// evicted: left the cache while busy; closed when its rows close.
	evicted bool
}

// take returns the cached statement for query, preparing and caching it if
// needed, and marks it busy; nil if it is busy already.
func (c *cachedConn) take(ctx context.Context, query string) (*cachedStmt, error) {
	if e, ok := c.byQuery[query]; ok {
		cs := e.Value.(*cachedStmt)
		if cs.busy {
			return nil, nil
		}
		c.lru.MoveToFront(e)
		cs.busy = true
		return cs, nil
	}
	st, err := c.driverConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	cs := &cachedStmt{query: query, stmt: st, busy: true}
	c.byQuery[query] = c.lru.PushFront(cs)
	if c.lru.Len() > stmtCacheSize {
		c.evict(c.lru.Back())
	}
	return cs, nil
}

func (c *cachedConn) evict(e *list.Element) {
	cs := c.lru.Remove(e).(*cachedStmt)
	delete(c.byQuery, cs.query)
	if cs.busy {
		cs.evicted = true
		return
	}
	cs.stmt.Close()
}

// release hands cs back after use, closing it if it left the cache meanwhile.
func (cs *cachedStmt) release() {
	cs.busy = false
	if cs.evicted {
		cs.stmt.Close()
	}
}

func (c *cachedConn) ExecContext(ctx context.Context, query string, args []sqldriver.NamedValue) (sqldriver.Result, error) {
	cs, err := c.take(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.driverConn.ExecContext(ctx, query, args)
	}
	defer cs.release()
	return cs.stmt.(sqldriver.StmtExecContext).ExecContext(ctx, args)
}

func (c *cachedConn) QueryContext(ctx context.Context, query string, args []sqldriver.NamedValue) (sqldriver.Rows, error) {
	cs, err := c.take(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.driverConn.QueryContext(ctx, query, args)
	}
	rows, err := cs.stmt.(sqldriver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		cs.release()
		return nil, err
	}
	return &cachedRows{Rows: rows, stmt: cs}, nil
}

func (c *cachedConn) Close() error {
	for e := c.lru.Front(); e != nil; e = e.Next() {
		e.Value.(*cachedStmt).stmt.Close()
	}
	c.lru.Init()
	clear(c.byQuery)
	return c.driverConn.Close()
}

// cachedRows hands its statement back to the cache when closed.
type cachedRows struct {
	sqldriver.Rows
	stmt *cachedStmt // nil once closed
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	if r.stmt != nil {
		r.stmt.release()
		r.stmt = nil
	}
	return err
}
