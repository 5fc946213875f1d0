package main

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agenthook/agenthook/internal/modeltest"
	"github.com/agenthook/agenthook/internal/stripeevent"
)

// cli runs one agenthook command against env and returns its output.
func cli(env map[string]string, args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), append([]string{"agenthook"}, args...), func(k string) string { return env[k] }, &out, &errOut)
	return out.String(), errOut.String(), err
}

// sendEvent posts a fresh, correctly signed event of a fixture type.
func sendEvent(t *testing.T, base, typ string) string {
	t.Helper()
	now := time.Now()
	body, id, err := stripeevent.NewEvent(typ, now)
	if err != nil {
		t.Fatal(err)
	}
	if code, m := post(t, base+"/stripe/webhook", body, stripeevent.Sign(body, testSecret, now)); code != 200 {
		t.Fatalf("send %s: %d %v", typ, code, m)
	}
	return id
}

func waitStatus(t *testing.T, inst *instance, token, id, status string) {
	t.Helper()
	waitUntil(t, id+" "+status, func() bool { _, ev := getEvent(t, inst.base, id, token); return ev["status"] == status })
}

func TestEventsCommands(t *testing.T) {
	fake := modeltest.NewAnthropic()
	defer fake.Close()
	env := baseEnv(fake)
	const token = "events-admin-token"
	env["AGENTHOOK_ADMIN_TOKEN"] = token
	inst := startServe(t, env)
	dispute := sendEvent(t, inst.base, "charge.dispute.created")
	ignored := sendEvent(t, inst.base, "customer.created")
	waitStatus(t, inst, token, dispute, "done")

	// The table: newest first, with the dispute's tokens (on the default
	// model the fake answers 812 in, 2112 out: 2048 thinking at effort
	// medium plus 64 for the tool call; the record-only seed tool ends the
	// loop).
	out, _, err := cli(env, "events", "list", "--server", inst.base)
	if err != nil {
		t.Fatalf("events list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "RECEIVED") || !strings.Contains(lines[1], ignored) || !strings.Contains(lines[2], dispute) {
		t.Fatalf("events list:\n%s", out)
	}
	if f := strings.Fields(lines[2]); !slices.Contains(f, "done") || !slices.Contains(f, "812/2112") || !slices.Contains(f, "charge.dispute.created") {
		t.Fatalf("dispute row %q", lines[2])
	}
	if f := strings.Fields(lines[1]); !slices.Contains(f, "ignored") || !slices.Contains(f, "0/0") {
		t.Fatalf("ignored row %q", lines[1])
	}

	// Filters and --json.
	out, _, err = cli(env, "events", "list", "--status", "ignored", "--since", "1h", "--json", "--server", inst.base)
	if err != nil {
		t.Fatalf("events list --json: %v", err)
	}
	var page struct {
		Events []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"events"`
		NextCursor *string `json:"next_cursor"`
	}
	if err := json.Unmarshal([]byte(out), &page); err != nil || len(page.Events) != 1 || page.Events[0].ID != ignored || page.NextCursor == nil || *page.NextCursor != "" {
		t.Fatalf("events list --status ignored --json: %v\n%s", err, out)
	}

	// A page of one says how to get the next, and the cursor gets it.
	out, errOut, err := cli(env, "events", "list", "--limit", "1", "--server", inst.base)
	if err != nil || strings.Count(strings.TrimSpace(out), "\n") != 1 || !strings.Contains(out, ignored) {
		t.Fatalf("events list --limit 1: %v\n%s", err, out)
	}
	_, cursor, ok := strings.Cut(strings.TrimSpace(errOut), "--cursor ")
	if !ok {
		t.Fatalf("no cursor hint on stderr: %q", errOut)
	}
	cursor, _, _ = strings.Cut(cursor, " ")
	out, errOut, err = cli(env, "events", "list", "--limit", "1", "--cursor", cursor, "--server", inst.base)
	if err != nil || !strings.Contains(out, dispute) || strings.Contains(out, ignored) || strings.Contains(errOut, "--cursor") {
		t.Fatalf("second page: %v\n%s\n%s", err, out, errOut)
	}

	// The timeline of one event.
	out, _, err = cli(env, "events", "show", dispute, "--server", inst.base)
	if err != nil {
		t.Fatalf("events show: %v", err)
	}
	for _, want := range []string{dispute, "status", "done after 1 attempt", "1 request: 812 tokens in, 2112 out (thinking 2048)",
		"thinking 2048 of the 2112 out", "thought (1 block, not shown)",
		"model", "round 1, claude-sonnet-5-5: 812 in, 2112 out", "decision", "handle_dispute {", "(stop tool_use)",
		"tool", "recorded only", "outcome", "recorded after 1 round"} {
		if !strings.Contains(out, want) {
			t.Errorf("events show lacks %q:\n%s", want, out)
		}
	}
	out, _, err = cli(env, "events", "show", "--json", dispute, "--server", inst.base)
	var ev struct {
		Steps  []json.RawMessage `json:"steps"`
		Totals struct {
			TokensIn  int `json:"tokens_in"`
			TokensOut int `json:"tokens_out"`
		} `json:"totals"`
	}
	if err != nil || json.Unmarshal([]byte(out), &ev) != nil || ev.Totals.TokensIn != 812 || ev.Totals.TokensOut != 2112 || len(ev.Steps) != 4 {
		t.Fatalf("events show --json: %v\n%s", err, out)
	}

	// Errors say what went wrong and come from the server.
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"AGENTHOOK_ADMIN_TOKEN": "wrong"}, []string{"events", "list"}, "401"},
		{map[string]string{}, []string{"events", "show", dispute}, "AGENTHOOK_ADMIN_TOKEN"},
		{env, []string{"events", "show", "evt_missing"}, "404"},
		{env, []string{"events", "list", "--status", "finished"}, "unknown status"},
		{env, []string{"events", "list", "--since", "yesterday"}, "RFC3339"},
		{env, []string{"events", "show"}, "one event id"},
		{env, []string{"events", "purge"}, "use list or show"},
		{env, []string{"events"}, "subcommand"},
	} {
		_, _, err := cli(tc.env, append(tc.args, "--server", inst.base)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error with %q", tc.args, err, tc.want)
		}
	}
}

func TestReplayByFilter(t *testing.T) {
	// Three refunds die (400), then the model answers.
	fake := modeltest.NewAnthropic(modeltest.Reply{Status: 400}, modeltest.Reply{Status: 400}, modeltest.Reply{Status: 400})
	defer fake.Close()
	env := baseEnv(fake)
	inst := startServe(t, env)
	var dead []string
	for range 3 {
		id := sendEvent(t, inst.base, "charge.refunded")
		waitStatus(t, inst, "", id, "dead")
		dead = append(dead, id)
	}
	ignored := sendEvent(t, inst.base, "customer.created")

	// Filter flags and ids do not mix; a filter is required.
	if _, _, err := cli(env, "replay", dead[0], "--status", "dead", "--server", inst.base); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Fatalf("ids and a filter: %v", err)
	}
	if _, _, err := cli(env, "replay", "--server", inst.base); err == nil || !strings.Contains(err.Error(), "--status dead") {
		t.Fatalf("no ids, no filter: %v", err)
	}

	// Nothing matches: said, and not an error.
	out, errOut, err := cli(env, "replay", "--type", "invoice.paid", "--server", inst.base)
	if err != nil || out != "" || !strings.Contains(errOut, "no events match") {
		t.Fatalf("replay of nothing: %v %q %q", err, out, errOut)
	}

	// Batches of one walk all three dead events, and only them.
	out, errOut, err = cli(env, "replay", "--status", "dead,ignored", "--since", "1h", "--batch", "1", "--server", inst.base)
	if err != nil {
		t.Fatalf("replay by filter: %v\n%s", err, errOut)
	}
	for _, id := range dead {
		if !strings.Contains(out, id+": queued") {
			t.Errorf("replay output lacks %s: queued:\n%s", id, out)
		}
	}
	if !strings.Contains(out, ignored+": skipped: no route") || !strings.Contains(errOut, "replayed 3, skipped 1") {
		t.Fatalf("replay output:\n%s\n%s", out, errOut)
	}
	for _, id := range dead {
		waitStatus(t, inst, "", id, "done")
	}

	// Done now: --json gives the same shape as in id mode.
	out, _, err = cli(env, "replay", "--status", "dead", "--json", "--server", inst.base)
	var res struct {
		Replayed []string `json:"replayed"`
		Skipped  []any    `json:"skipped"`
	}
	if err != nil || json.Unmarshal([]byte(out), &res) != nil || res.Replayed == nil || len(res.Replayed) != 0 || res.Skipped == nil {
		t.Fatalf("replay --status dead --json after recovery: %v %q", err, out)
	}
	out, _, err = cli(env, "replay", dead[0], "evt_missing", "--json", "--server", inst.base)
	if json.Unmarshal([]byte(out), &res) != nil || !slices.Equal(res.Replayed, []string{dead[0]}) || len(res.Skipped) != 1 ||
		err == nil || !strings.Contains(err.Error(), "1 of 2") {
		t.Fatalf("replay ids --json: %v %q", err, out)
	}
	if !strings.Contains(string(mustJSON(res.Skipped[0])), "404") {
		t.Fatalf("skip of an unknown id: %v", res.Skipped[0])
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
