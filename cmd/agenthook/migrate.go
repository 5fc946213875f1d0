package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/agenthook/agenthook/internal/config"
	"github.com/agenthook/agenthook/internal/store"
)

// migrate brings the store's schema (River's tables and agenthook's) up to
// date and exits. serve does the same at start, under a lock so replicas
// starting together are safe; this runs it on its own, e.g. from a deploy
// step before the new version starts.
func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("migrate", stderr)
	configPath := fs.String("config", "", "YAML config file (for its store:)")
	storeLoc := fs.String("store", "", "SQLite file or postgres:// URL (default agenthook-data/agenthook.db)")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*configPath, getenv)
	if err != nil {
		return err
	}
	if setFlags(fs)["store"] {
		cfg.Store = *storeLoc
	}
	st, err := store.Open(ctx, store.Options{Location: cfg.Store})
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := st.Close(cctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "store %s is up to date\n", redactStore(cfg.Store))
	return nil
}

// redactStore hides a password in a postgres:// URL.
func redactStore(loc string) string {
	return (&config.Config{Store: loc}).Redacted().Store
}
