package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" database/sql driver
)

// dialect holds what differs between the SQL databases the store runs on.
// Queries are written with ? placeholders and rebound per dialect.
type dialect struct {
	name   string
	rebind func(string) string
}

var sqliteDialect = dialect{name: "sqlite", rebind: func(q string) string { return q }}

// q rebinds a query for the store's dialect.
func (s *Store) q(query string) string { return s.d.rebind(query) }

// sqliteDSN builds the connection string for the embedded store.
//
//   - WAL lets readers (the admin API, health checks) run beside the writer.
//   - synchronous=FULL fsyncs the WAL on every commit: a 2xx to Stripe means
//     the event is on disk, not in the page cache. Group commit (see ingest.go)
//     is what keeps that affordable.
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
	}
	return "file:" + path + "?" + v.Encode()
}

func (s *Store) openSQLite(ctx context.Context) error {
	path := s.opts.Location
	if path == "" {
		return errors.New("store: no location: pass --store PATH")
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("store: create folder %s: %w (check permissions or choose another --store)", dir, err)
	}
	unlock, err := lockDir(filepath.Join(dir, filepath.Base(path)+".lock"))
	if err != nil {
		return err
	}
	s.unlock = unlock
	s.d = sqliteDialect

	db, err := sql.Open("sqlite", sqliteDSN(path, false))
	if err != nil {
		return fmt.Errorf("store: open %s: %w", path, err)
	}
	s.db = db
	// SQLite has one writer. One connection serialises River's statements and
	// ours without SQLITE_BUSY storms, as riversqlite recommends.
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: open %s: %w (is it a SQLite file?)", path, err)
	}
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("store: %s: WAL mode not enabled (got %q, %v): the file system may not support it; use a local disk", path, mode, err)
	}

	read, err := sql.Open("sqlite", sqliteDSN(path, true))
	if err != nil {
		return fmt.Errorf("store: open %s read-only: %w", path, err)
	}
	read.SetMaxOpenConns(4)
	s.read = read
	return nil
}

func itoa(n int) string { return strconv.Itoa(n) }
