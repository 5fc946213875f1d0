package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/agenthook/agenthook/internal/store"
	"github.com/agenthook/agenthook/internal/store/storetest"
)

// Every acknowledged event gets exactly one dispatch job from the outbox,
// however the deliveries interleave: more events than one feeding moves,
// each delivered twice at once.
func TestOutboxFeedsEachEventOnce(t *testing.T) {
	s := open(t, store.Options{})
	ctx := context.Background()
	const n = 600
	var wg sync.WaitGroup
	for i := range n {
		for range 2 {
			wg.Go(func() {
				if _, err := s.Ingest(ctx, incoming(fmt.Sprintf("evt_fed%d", i))); err != nil {
					t.Errorf("ingest: %v", err)
				}
			})
		}
	}
	wg.Wait()
	storetest.WaitFed(t, s)
	for i := range n {
		id := fmt.Sprintf("evt_fed%d", i)
		if jobs, err := s.CountJobs(ctx, id); err != nil || jobs != 1 {
			t.Fatalf("%s has %d jobs (%v), want exactly 1", id, jobs, err)
		}
	}
}

// What the outbox holds when the process stops (here written as a crash
// would leave it: the event committed, its job not yet in River) is fed
// after the restart, and runs.
func TestOutboxIsFedAfterRestart(t *testing.T) {
	loc := filepath.Join(t.TempDir(), "agenthook.db")
	s, err := store.Open(context.Background(), store.Options{Location: loc})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	db, err := sql.Open("sqlite", "file:"+loc)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMicro()
	if _, err := db.Exec(`INSERT INTO agenthook_event (id, type, created, livemode, received_at, route, status, updated_at, payload, order_key)
		VALUES ('evt_left', 'charge.dispute.created', 1786000000, 0, ?, 'charge.dispute.created', 'queued', ?, '{"id":"evt_left"}', '');
		INSERT INTO agenthook_outbox (event_id, due) VALUES ('evt_left', ?)`, now, now, now); err != nil {
		t.Fatal(err)
	}
	db.Close()

	ran := make(chan string, 1)
	h := store.HandlerFunc(func(ctx context.Context, run *store.Run) error {
		ran <- run.Event.ID
		return nil
	})
	s2 := open(t, store.Options{Location: loc, Handler: h, PollInterval: 20 * time.Millisecond})
	if err := s2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-ran:
		if id != "evt_left" {
			t.Fatalf("ran %s, want evt_left", id)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the event left in the outbox never ran")
	}
	storetest.WaitFed(t, s2)
	waitFor(t, "evt_left done", func() bool { return status(t, s2, "evt_left") == store.StatusDone })
}
