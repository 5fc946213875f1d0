package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// migrations are agenthook's own schema changes, applied in order once each.
// River's tables are migrated by rivermigrate first.
var migrations = []string{
	// 1: events and their journal.
	`CREATE TABLE agenthook_event (
		id          TEXT PRIMARY KEY,
		type        TEXT NOT NULL,
		created     INTEGER NOT NULL,
		livemode    INTEGER NOT NULL DEFAULT 0,
		received_at INTEGER NOT NULL,
		route       TEXT NOT NULL DEFAULT '',
		status      TEXT NOT NULL,
		attempts    INTEGER NOT NULL DEFAULT 0,
		last_error  TEXT NOT NULL DEFAULT '',
		updated_at  INTEGER NOT NULL,
		payload     BLOB NOT NULL
	);
	CREATE INDEX agenthook_event_received_at ON agenthook_event (received_at);
	CREATE INDEX agenthook_event_status ON agenthook_event (status, received_at);
	CREATE TABLE agenthook_step (
		event_id TEXT NOT NULL,
		seq      INTEGER NOT NULL,
		attempt  INTEGER NOT NULL,
		kind     TEXT NOT NULL,
		at       INTEGER NOT NULL,
		data     TEXT NOT NULL,
		PRIMARY KEY (event_id, seq)
	);`,
}

func (s *Store) migrate(ctx context.Context) error {
	m, err := rivermigrate.New(riversqlite.New(s.db), nil)
	if err != nil {
		return fmt.Errorf("store: queue migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("store: migrate queue tables: %w", err)
	}

	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS agenthook_migration (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	var have int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM agenthook_migration`).Scan(&have); err != nil {
		return fmt.Errorf("store: migrate: read version: %w", err)
	}
	if have > len(migrations) {
		return fmt.Errorf("store: the database is at schema version %d, newer than this binary knows (%d): run a newer agenthook", have, len(migrations))
	}
	for v := have + 1; v <= len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
			return fmt.Errorf("store: migrate to version %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO agenthook_migration (version, applied_at) VALUES (?, ?)`), v, nowMicro()); err != nil {
			return fmt.Errorf("store: migrate to version %d: %w", v, err)
		}
	}
	return tx.Commit()
}

// execer is what both *sql.DB and *sql.Tx offer.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}
