package store

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"modernc.org/sqlite"
)

// openCached opens a SQLite file through the statement cache, on one
// connection as the writer does, and returns the connection's cache too.
func openCached(t *testing.T) (*sql.DB, func() *cachedConn) {
	t.Helper()
	connector, err := sqlite.NewConnector("file:" + filepath.Join(t.TempDir(), "cache.db"))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(cachingConnector{connector})
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE t (n INTEGER PRIMARY KEY); INSERT INTO t VALUES (1), (2), (3)`); err != nil {
		t.Fatal(err)
	}
	cache := func() *cachedConn {
		conn, err := db.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var c *cachedConn
		conn.Raw(func(dc any) error { c = dc.(*cachedConn); return nil })
		return c
	}
	return db, cache
}

func TestStmtCacheReusesStatements(t *testing.T) {
	db, cache := openCached(t)
	for i := range 5 {
		var sum int
		if err := db.QueryRow(`SELECT sum(n) + ? FROM t`, i).Scan(&sum); err != nil {
			t.Fatal(err)
		}
		if sum != 6+i {
			t.Fatalf("round %d: sum %d, want %d", i, sum, 6+i)
		}
		if _, err := db.Exec(`UPDATE t SET n = n WHERE n = ?`, i); err != nil {
			t.Fatal(err)
		}
	}
	// The CREATE/INSERT script, the SELECT and the UPDATE: three entries,
	// however often each ran.
	if n := cache().lru.Len(); n != 3 {
		t.Fatalf("%d cached statements, want 3", n)
	}
}

// TestStmtCacheNestedSameQuery: the same SQL run while its own rows are
// still open must not reset them.
func TestStmtCacheNestedSameQuery(t *testing.T) {
	db, _ := openCached(t)
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	const q = `SELECT n FROM t WHERE n >= ? ORDER BY n`
	rows, err := tx.Query(q, 1)
	if err != nil {
		t.Fatal(err)
	}
	var outer, inner []int
	for rows.Next() {
		var n int
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		outer = append(outer, n)
		var first int
		if err := tx.QueryRow(q, n).Scan(&first); err != nil {
			t.Fatal(err)
		}
		inner = append(inner, first)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if fmt.Sprint(outer) != "[1 2 3]" || fmt.Sprint(inner) != "[1 2 3]" {
		t.Fatalf("outer %v inner %v, want [1 2 3] twice", outer, inner)
	}
}

// TestStmtCacheEvictsBusyStatementSafely: a statement pushed out of the
// cache while its rows are open is closed only once they are.
func TestStmtCacheEvictsBusyStatementSafely(t *testing.T) {
	db, cache := openCached(t)
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	rows, err := tx.Query(`SELECT n FROM t ORDER BY n`)
	if err != nil {
		t.Fatal(err)
	}
	for i := range stmtCacheSize + 10 {
		var n int
		if err := tx.QueryRow(fmt.Sprintf(`SELECT %d`, i)).Scan(&n); err != nil || n != i {
			t.Fatalf("SELECT %d: %d, %v", i, n, err)
		}
	}
	var got []int
	for rows.Next() {
		var n int
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		got = append(got, n)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[1 2 3]" {
		t.Fatalf("rows of the evicted statement: %v, want [1 2 3]", got)
	}
	tx.Rollback()
	if n := cache().lru.Len(); n != stmtCacheSize {
		t.Fatalf("%d cached statements, want the bound %d", n, stmtCacheSize)
	}
}

// TestStmtCacheSeesSchemaChanges: a cached statement is prepared again by
// SQLite when the schema it was compiled against changes (migrations).
func TestStmtCacheSeesSchemaChanges(t *testing.T) {
	db, _ := openCached(t)
	columns := func() int {
		rows, err := db.Query(`SELECT * FROM t`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		cols, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		return len(cols)
	}
	if n := columns(); n != 1 {
		t.Fatalf("%d columns, want 1", n)
	}
	if _, err := db.Exec(`ALTER TABLE t ADD COLUMN label TEXT`); err != nil {
		t.Fatal(err)
	}
	if n := columns(); n != 2 {
		t.Fatalf("after ALTER TABLE: %d columns, want 2", n)
	}
}
