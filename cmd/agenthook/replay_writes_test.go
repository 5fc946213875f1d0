package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agenthook/agenthook/internal/config"
	"github.com/agenthook/agenthook/internal/journal"
	"github.com/agenthook/agenthook/internal/route"
	"github.com/agenthook/agenthook/internal/server"
	"github.com/agenthook/agenthook/internal/store"
	"github.com/agenthook/agenthook/internal/stripeevent"
)

// writesAPI is the admin API over a store whose worker journals a refund
// that ran for each event whose id starts with evt_write, and a read for
// the others. It returns the API's URL once the given events are done.
func writesAPI(t *testing.T, ids ...string) (string, *store.Store) {
	t.Helper()
	h := store.HandlerFunc(func(ctx context.Context, run *store.Run) error {
		if len(run.Event.Steps) > 0 {
			return nil
		}
		c := &journal.ToolCall{Round: 1, Tool: "lookup", ToolUseID: "toolu_" + run.Event.ID, Executed: true, Result: "{}"}
		if strings.HasPrefix(run.Event.ID, "evt_write") {
			c.Tool, c.Write = "refund", true
		}
		return run.Append(ctx, c)
	})
	st, err := store.Open(context.Background(), store.Options{Location: filepath.Join(t.TempDir(), "agenthook.db"), Handler: h,
		OrderWindow: time.Nanosecond, PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.Background()) })
	if err := st.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	routes, err := route.New(config.Default(func(string) string { return "" }))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(server.Deps{Store: st, Routes: routes, MaxBodyBytes: 2 << 20,
		Verifier: &stripeevent.Verifier{Secrets: []string{"whsec_test_writes"}}}))
	t.Cleanup(srv.Close)
	for _, id := range ids {
		in := store.Incoming{ID: id, Type: "charge.refunded", Route: "charge.refunded", Created: 1786000000, Payload: []byte(`{"id":"` + id + `","type":"charge.refunded"}`)}
		if _, err := st.Ingest(context.Background(), in); err != nil {
			t.Fatal(err)
		}
	}
	waitReplayDone(t, st, ids...)
	return srv.URL, st
}

// waitReplayDone waits until every event is done.
func waitReplayDone(t *testing.T, st *store.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		waitUntil(t, id+" done", func() bool {
			ev, err := st.Event(context.Background(), id)
			return err == nil && ev.Status == store.StatusDone
		})
	}
}

// agenthook replay refuses, by id or by filter, to replay an event that
// made writes unless --allow-writes, and says how many writes the replay
// may repeat.
func TestReplayNeedsAllowWritesForEventsThatWrote(t *testing.T) {
	base, st := writesAPI(t, "evt_write_a", "evt_read_a")
	ctx := context.Background()
	noEnv := func(string) string { return "" }
	var out, errOut bytes.Buffer

	err := run(ctx, []string{"agenthook", "replay", "--server", base, "evt_write_a"}, noEnv, &out, &errOut)
	if err == nil || !strings.Contains(errOut.String(), "evt_write_a: 409 it made 1 write(s) (refund); a replay may make different ones: pass --allow-writes to replay it") {
		t.Fatalf("replay by id without --allow-writes: err %v\nstdout %s\nstderr %s", err, out.String(), errOut.String())
	}

	out.Reset()
	errOut.Reset()
	if err := run(ctx, []string{"agenthook", "replay", "--server", base, "--status", "done", "--json"}, noEnv, &out, &errOut); err != nil {
		t.Fatalf("replay --status done: %v %s", err, errOut.String())
	}
	var res replayResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Replayed) != 1 || res.Replayed[0] != "evt_read_a" || len(res.Skipped) != 1 || res.Skipped[0].ID != "evt_write_a" ||
		!strings.Contains(res.Skipped[0].Reason, "pass --allow-writes") || res.Writes != 0 {
		t.Fatalf("replay --status done: %+v", res)
	}
	if ev, _ := st.Event(ctx, "evt_write_a"); ev.Status != store.StatusDone {
		t.Fatalf("the write-making event was replayed: %s", ev.Status)
	}

	waitReplayDone(t, st, "evt_read_a")
	out.Reset()
	errOut.Reset()
	if err := run(ctx, []string{"agenthook", "replay", "--server", base, "--status", "done", "--allow-writes", "--json"}, noEnv, &out, &errOut); err != nil {
		t.Fatalf("replay --status done --allow-writes: %v %s", err, errOut.String())
	}
	res = replayResult{}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Replayed) != 2 || len(res.Skipped) != 0 || res.Writes != 1 {
		t.Fatalf("replay --status done --allow-writes: %+v", res)
	}

	waitReplayDone(t, st, "evt_read_a", "evt_write_a")
	out.Reset()
	errOut.Reset()
	if err := run(ctx, []string{"agenthook", "replay", "--server", base, "--allow-writes", "evt_write_a"}, noEnv, &out, &errOut); err != nil {
		t.Fatalf("replay --allow-writes: %v %s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "evt_write_a: queued (made 1 write(s) before: the replay may repeat up to 1") {
		t.Fatalf("replay --allow-writes said %q", out.String())
	}
}

// agenthook approve marks the model's reasoning as written after reading
// customer-controlled text.
func TestApproveListMarksTheReasoning(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"approvals": []store.Pending{{EventID: "evt_1", EventType: "charge.dispute.created", Tool: "refund",
			ToolUseID: "toolu_1", Input: json.RawMessage(`{"amount":500}`), Text: "The evidence says to refund.", TextLabel: store.ReasoningLabel}}})
	}))
	defer api.Close()
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"agenthook", "approve", "--server", api.URL}, func(string) string { return "" }, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "evt_1 toolu_1 — model's reasoning — written after reading customer-controlled text; verify against the event:\n  The evidence says to refund.") {
		t.Fatalf("approve listing:\n%s", out.String())
	}
}
