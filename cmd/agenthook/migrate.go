package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/agenthook/agenthook/internal/config"
	"github.com/agenthook/agenthook/internal/secret"
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
		return storeError(err, cfg.Store)
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := st.Close(cctx); err != nil {
		return storeError(err, cfg.Store)
	}
	fmt.Fprintf(stdout, "store %s is up to date\n", redactStore(cfg.Store))
	return nil
}

// redactStore hides the password of a postgres:// URL, in its user info
// and in its query (password=, sslpassword=): what serve, check and
// migrate print or log names the store by this.
func redactStore(loc string) string {
	return secret.RedactURL(loc)
}

// storeError keeps the store URL's password out of an error about it: the
// URL as written becomes its redacted form, and the password itself is
// scrubbed wherever a driver may have quoted it.
func storeError(err error, loc string) error {
	if err == nil || !strings.Contains(loc, "://") {
		return err
	}
	msg := strings.ReplaceAll(err.Error(), loc, redactStore(loc))
	var known []string
	if u, perr := url.Parse(loc); perr == nil {
		if pw, ok := u.User.Password(); ok {
			known = append(known, pw, url.QueryEscape(pw))
		}
		for k, vs := range u.Query() {
			if strings.Contains(strings.ToLower(k), "password") {
				known = append(known, vs...)
			}
		}
	}
	for _, k := range known {
		if len(k) >= 4 { // shorter ones would shred the message; the URL patterns still catch them
			msg = strings.ReplaceAll(msg, k, "xxxxx")
		}
	}
	if clean := secret.Scrub(msg); clean != err.Error() {
		return errors.New(clean)
	}
	return err
}
