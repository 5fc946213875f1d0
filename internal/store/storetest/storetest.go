// Package storetest gives tests a fresh PostgreSQL database of their own.
//
// PostgreSQL tests run when AGENTHOOK_TEST_POSTGRES holds a server URL
// (for example postgres://root@127.0.0.1:5432/test?sslmode=disable; CI sets
// it) and skip, saying so, when it does not. Each test gets a database with
// a unique name, created from that server and dropped when the test ends.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvVar names the variable that enables PostgreSQL tests.
const EnvVar = "AGENTHOOK_TEST_POSTGRES"

// Postgres creates an empty database for t and returns its URL. It skips t
// when EnvVar is unset.
func Postgres(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvVar)
	if base == "" {
		t.Skipf("PostgreSQL tests are off: set %s to a server URL, e.g. postgres://root@127.0.0.1:5432/test?sslmode=disable", EnvVar)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", EnvVar, err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "agenthook_test_" + hex.EncodeToString(b)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s (from %s): %v", u.Redacted(), EnvVar, err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// Outboxer is the part of *store.Store WaitFed needs.
type Outboxer interface {
	Outbox(ctx context.Context) (int, error)
}

// WaitFed waits until every acknowledged event has its dispatch job: on
// SQLite the jobs reach River from the outbox a moment after the
// acknowledgement (see store/feed.go).
func WaitFed(t testing.TB, st Outboxer) {
	t.Helper()
	Eventually(t, 15*time.Second, func() (bool, string) {
		n, err := st.Outbox(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return n == 0, fmt.Sprintf("%d events still wait in the outbox for their jobs", n)
	})
}

// Eventually polls cond until it holds, and fails t with cond's last
// message once within has passed. It is how tests wait for the store's
// workers, which have no completion hook: on a condition, with a deadline.
func Eventually(t testing.TB, within time.Duration, cond func() (ok bool, why string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", within, why)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
