package server_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agenthook/agenthook/internal/journal"
	"github.com/agenthook/agenthook/internal/server"
	"github.com/agenthook/agenthook/internal/store"
	"github.com/agenthook/agenthook/internal/store/storetest"
)

// writesHandler is a server whose store's worker journals, for each event,
// the tool calls named by its id: evt_write… made a refund (a write that
// ran), evt_failed… a write that failed, evt_read… a read.
func writesHandler(t *testing.T) (http.Handler, *store.Store) {
	t.Helper()
	h := store.HandlerFunc(func(ctx context.Context, run *store.Run) error {
		if len(run.Event.Steps) > 0 {
			return nil // a replay: nothing more to journal
		}
		id := run.Event.ID
		call := &journal.ToolCall{Round: 1, Tool: "refund", ToolUseID: "toolu_" + id, Input: []byte(`{"charge":"ch_1"}`), Executed: true, Write: true, Result: "{}"}
		switch {
		case strings.HasPrefix(id, "evt_write2"):
			if err := run.Append(ctx, call); err != nil {
				return err
			}
			call = &journal.ToolCall{Round: 1, Tool: "cancel", ToolUseID: "toolu_2" + id, Executed: true, Write: true, Result: "{}"}
		case strings.HasPrefix(id, "evt_write"):
		case strings.HasPrefix(id, "evt_failed"):
			call.IsError = true
		case strings.HasPrefix(id, "evt_refused"):
			call.Executed, call.IsError, call.Refused = false, true, "one_write_per_event"
		default:
			call.Tool, call.Write = "lookup", false
		}
		return run.Append(ctx, call)
	})
	d := testDeps(t)
	st, err := store.Open(context.Background(), store.Options{Location: filepath.Join(t.TempDir(), "agenthook.db"), Handler: h,
		OrderWindow: time.Nanosecond, PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.Background()) })
	if err := st.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	d.Store = st
	return server.New(d), st
}

func waitDone(t *testing.T, st *store.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		storetest.Eventually(t, 10*time.Second, func() (bool, string) {
			ev, err := st.Event(context.Background(), id)
			return err == nil && ev.Status == store.StatusDone, fmt.Sprintf("%s did not finish: %+v %v", id, ev, err)
		})
	}
}

// Replaying an event that made writes needs allow_writes: the journal
// refuses an identical write, but a fresh conversation may decide another.
func TestReplayOfAnEventThatWroteNeedsAllowWrites(t *testing.T) {
	h, st := writesHandler(t)
	ingest(t, st,
		[3]string{"evt_write2", "charge.refunded", "charge.refunded"},
		[3]string{"evt_failed", "charge.refunded", "charge.refunded"},
		[3]string{"evt_refused", "charge.refunded", "charge.refunded"},
		[3]string{"evt_read", "charge.refunded", "charge.refunded"},
	)
	waitDone(t, st, "evt_write2", "evt_failed", "evt_refused", "evt_read")

	code, m := do(t, h, call{method: http.MethodPost, target: "/api/events/evt_write2/replay"})
	want := `it made 2 write(s) (cancel, refund); a replay may make different ones: pass --allow-writes to replay it`
	if code != http.StatusConflict || !strings.Contains(m["error"].(string), want) {
		t.Fatalf("replay without allow_writes: %d %v", code, m)
	}
	if ev, _ := st.Event(context.Background(), "evt_write2"); ev.Status != store.StatusDone {
		t.Fatalf("refused replay changed the status to %s", ev.Status)
	}
	code, m = do(t, h, call{method: http.MethodPost, target: "/api/events/evt_write2/replay", body: `{"allow_writes":false}`})
	if code != http.StatusConflict {
		t.Fatalf("allow_writes false: %d %v", code, m)
	}
	code, m = do(t, h, call{method: http.MethodPost, target: "/api/events/evt_write2/replay", body: `{"allow_writs":true}`})
	if code != http.StatusBadRequest {
		t.Fatalf("a misspelt key: %d %v", code, m)
	}
	code, m = do(t, h, call{method: http.MethodPost, target: "/api/events/evt_write2/replay", body: `{"allow_writes":true}`})
	if code != http.StatusAccepted || m["writes"] != 2.0 || m["status"] != "queued" {
		t.Fatalf("replay with allow_writes: %d %v", code, m)
	}
	// A write that failed or was refused is no write made; a read neither.
	for _, id := range []string{"evt_failed", "evt_refused", "evt_read"} {
		code, m = do(t, h, call{method: http.MethodPost, target: "/api/events/" + id + "/replay"})
		if code != http.StatusAccepted || m["writes"] != 0.0 {
			t.Fatalf("%s: %d %v", id, code, m)
		}
	}
}

// replay --status done in bulk skips the events that made writes, saying
// why, unless allow_writes; the answer counts the writes of those replayed.
func TestReplayManySkipsEventsThatWrote(t *testing.T) {
	h, st := writesHandler(t)
	ingest(t, st,
		[3]string{"evt_write1", "charge.refunded", "charge.refunded"},
		[3]string{"evt_read1", "charge.refunded", "charge.refunded"},
	)
	waitDone(t, st, "evt_write1", "evt_read1")

	code, m := do(t, h, call{method: http.MethodPost, target: "/api/replay", body: `{"status":"done"}`})
	if code != 200 || len(m["replayed"].([]any)) != 1 || m["replayed"].([]any)[0] != "evt_read1" || m["writes"] != 0.0 {
		t.Fatalf("bulk without allow_writes: %d %v", code, m)
	}
	skipped := m["skipped"].([]any)
	if len(skipped) != 1 || skipped[0].(map[string]any)["id"] != "evt_write1" ||
		!strings.Contains(skipped[0].(map[string]any)["reason"].(string), "it made 1 write(s) (refund); a replay may make different ones: pass --allow-writes") {
		t.Fatalf("skipped %v", skipped)
	}
	waitDone(t, st, "evt_read1")
	code, m = do(t, h, call{method: http.MethodPost, target: "/api/replay", body: `{"status":"done","allow_writes":true}`})
	if code != 200 || len(m["replayed"].([]any)) != 2 || len(m["skipped"].([]any)) != 0 || m["writes"] != 1.0 {
		t.Fatalf("bulk with allow_writes: %d %v", code, m)
	}
}
