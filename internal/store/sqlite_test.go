package store

import (
	"context"
	"path/filepath"
	"testing"
)

// The writer's settings are promises: synchronous=FULL is what makes a 2xx
// mean the event is on disk, WAL lets readers run beside the writer, and
// temp_store=MEMORY keeps each multi-row INSERT's statement journal off the
// disk (it was a temporary file, opened, written and closed per statement).
func TestSQLiteSettings(t *testing.T) {
	s, err := Open(context.Background(), Options{Location: filepath.Join(t.TempDir(), "agenthook.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	for _, c := range []struct {
		pragma, want string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"temp_store", "2"},  // MEMORY
		{"foreign_keys", "1"},
	} {
		var got string
		if err := s.drv.queryRow(context.Background(), "PRAGMA "+c.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", c.pragma, err)
		}
		if got != c.want {
			t.Errorf("PRAGMA %s = %s, want %s", c.pragma, got, c.want)
		}
	}
}
