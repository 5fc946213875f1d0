package store

import (
	"context"
	"fmt"
)

// sqliteMigrations and postgresMigrations are agenthook's own schema
// changes, applied in order once each, after River's own tables. The two
// lists say the same thing in each database's types; keep them in step.
// The one exception is SQLite's outbox (feed.go), which PostgreSQL does not
// use.
var sqliteMigrations = []string{
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
	// 2: per-object order: the key events are serialised by, and who holds it.
	`ALTER TABLE agenthook_event ADD COLUMN order_key TEXT NOT NULL DEFAULT '';
	CREATE INDEX agenthook_event_order ON agenthook_event (order_key, status, created);
	CREATE TABLE agenthook_object_lock (
		order_key TEXT PRIMARY KEY,
		event_id  TEXT NOT NULL,
		taken_at  BIGINT NOT NULL
	);`,
	// 3: the outbox: events stored and acknowledged whose dispatch job River
	// does not hold yet (feed.go). due is when the job may first run.
	`CREATE TABLE agenthook_outbox (
		seq      INTEGER PRIMARY KEY,
		event_id TEXT NOT NULL,
		due      INTEGER NOT NULL
	);`,
}

var postgresMigrations = []string{
	`CREATE TABLE agenthook_event (
		id          TEXT PRIMARY KEY,
		type        TEXT NOT NULL,
		created     BIGINT NOT NULL,
		livemode    BOOLEAN NOT NULL DEFAULT false,
		received_at BIGINT NOT NULL,
		route       TEXT NOT NULL DEFAULT '',
		status      TEXT NOT NULL,
		attempts    INTEGER NOT NULL DEFAULT 0,
		last_error  TEXT NOT NULL DEFAULT '',
		updated_at  BIGINT NOT NULL,
		payload     BYTEA NOT NULL
	);
	CREATE INDEX agenthook_event_received_at ON agenthook_event (received_at);
	CREATE INDEX agenthook_event_status ON agenthook_event (status, received_at);
	CREATE TABLE agenthook_step (
		event_id TEXT NOT NULL,
		seq      INTEGER NOT NULL,
		attempt  INTEGER NOT NULL,
		kind     TEXT NOT NULL,
		at       BIGINT NOT NULL,
		data     TEXT NOT NULL,
		PRIMARY KEY (event_id, seq)
	);`,
	`ALTER TABLE agenthook_event ADD COLUMN order_key TEXT NOT NULL DEFAULT '';
	CREATE INDEX agenthook_event_order ON agenthook_event (order_key, status, created);
	CREATE TABLE agenthook_object_lock (
		order_key TEXT PRIMARY KEY,
		event_id  TEXT NOT NULL,
		taken_at  BIGINT NOT NULL
	);`,
}

// migrateOwn applies agenthook's migrations in one transaction. The caller
// makes sure no other process migrates at the same time.
func migrateOwn(ctx context.Context, d driver, migrations []string) error {
	t, err := d.begin(ctx)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	defer t.rollback(ctx)
	if _, err := t.exec(ctx, `CREATE TABLE IF NOT EXISTS agenthook_migration (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	var have int
	if err := t.queryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM agenthook_migration`).Scan(&have); err != nil {
		return fmt.Errorf("store: migrate: read version: %w", err)
	}
	if have > len(migrations) {
		return fmt.Errorf("store: the database is at schema version %d, newer than this binary knows (%d): run a newer agenthook", have, len(migrations))
	}
	for v := have + 1; v <= len(migrations); v++ {
		if _, err := t.exec(ctx, migrations[v-1]); err != nil {
			return fmt.Errorf("store: migrate to version %d: %w", v, err)
		}
		if _, err := t.exec(ctx, d.rebind(`INSERT INTO agenthook_migration (version, applied_at) VALUES (?, ?)`), v, nowMicro()); err != nil {
			return fmt.Errorf("store: migrate to version %d: %w", v, err)
		}
	}
	return t.commit(ctx)
}
