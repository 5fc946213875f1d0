package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/agenthook/agenthook/internal/store/storetest"
)

// The stock that paces feeding during a burst counts jobs due now, not
// those still inside their order window: a burst about one object, whose
// events wait for each other, must not keep every other event in the
// outbox.
func TestStockCountsOnlyDueJobs(t *testing.T) {
	for _, c := range []struct {
		window time.Duration
		want   int
	}{{4 * time.Second, 0}, {0, 1}} {
		s, err := Open(context.Background(), Options{Location: filepath.Join(t.TempDir(), "agenthook.db"), OrderWindow: c.window})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(context.Background())
		in := Incoming{ID: "evt_stock", Type: "charge.refunded", Created: 1, Route: "r", Payload: []byte(`{}`)}
		if _, err := s.Ingest(context.Background(), in); err != nil {
			t.Fatal(err)
		}
		storetest.WaitFed(t, s)
		job, err := s.Job(context.Background(), "evt_stock")
		if err != nil || job == nil || job.State != "available" {
			t.Fatalf("window %s: job %+v, %v; want one available", c.window, job, err)
		}
		got, err := s.stock(context.Background(), 10)
		if err != nil {
			t.Fatal(err)
		}
		if c.window > 0 && !time.Now().Before(job.ScheduledAt) {
			t.Fatalf("the test took longer than the %s window; it cannot tell a due job from one that is not", c.window)
		}
		if got != c.want {
			t.Fatalf("window %s: stock %d, want %d", c.window, got, c.want)
		}
	}
}
