package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/agenthook/agenthook/internal/modeltest"
)

// A tool with approval: required pauses its event; the pending call survives
// a restart; approve (through the CLI) runs it once, and deny tells the model.
func TestApprovalAcrossRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	var toolCalls atomic.Int32
	tools := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		toolCalls.Add(1)
		io.WriteString(w, `{"refunded":true}`)
	}))
	defer tools.Close()
	fake := modeltest.NewAnthropic()
	defer fake.Close()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "agenthook.yaml")
	writeFile(t, cfgPath, "order_window: 0s\ntools:\n  log_refund:\n    approval: required\n    run: {http: {url: \""+tools.URL+"/refund\"}}\n")
	env := baseEnv(fake)
	storePath := filepath.Join(dir, "agenthook.db")
	p1 := startProc(t, env, storePath, "--config", cfgPath)

	approveID, denyID := deliver(t, p1.base, "charge.refunded"), deliver(t, p1.base, "charge.refunded")
	for _, id := range []string{approveID, denyID} {
		waitUntil(t, "awaiting approval", func() bool {
			_, ev := getEvent(t, p1.base, id, "")
			return ev["status"] == "awaiting_approval"
		})
	}
	if n := toolCalls.Load(); n != 0 {
		t.Fatalf("the tool ran %d times before any approval", n)
	}

	// Restart: the pending calls are in the database.
	p1.cmd.Process.Signal(syscall.SIGTERM)
	<-p1.done
	p1.done <- nil
	p2 := startProc(t, env, storePath, "--config", cfgPath)
	resp, err := http.Get(p2.base + "/api/approvals")
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Approvals []struct {
			EventID, Tool, ToolUseID, Text string
			Input                          map[string]any
		} `json:"approvals"`
	}
	json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if len(list.Approvals) != 2 || list.Approvals[0].Tool != "log_refund" || list.Approvals[0].Input["stripe_id"] == nil {
		t.Fatalf("approvals after restart: %+v", list)
	}

	ctx := context.Background()
	var out, errOut bytes.Buffer
	// approve without an id lists what waits, a row per tool call.
	if err := run(ctx, []string{"agenthook", "approve", "--server", p2.base}, func(string) string { return "" }, &out, &errOut); err != nil {
		t.Fatalf("approve (list): %v %s", err, errOut.String())
	}
	for _, id := range []string{approveID, denyID} {
		if !strings.Contains(out.String(), id+"  charge.refunded  log_refund") {
			t.Fatalf("approve (list) lacks a row for %s:\n%s", id, out.String())
		}
	}
	out.Reset()
	if err := run(ctx, []string{"agenthook", "approve", approveID, "--server", p2.base}, func(string) string { return "" }, &out, &errOut); err != nil {
		t.Fatalf("approve: %v %s", err, errOut.String())
	}
	if err := run(ctx, []string{"agenthook", "deny", denyID, "--reason", "amount looks wrong", "--server", p2.base}, func(string) string { return "" }, &out, &errOut); err != nil {
		t.Fatalf("deny: %v %s", err, errOut.String())
	}
	for _, id := range []string{approveID, denyID} {
		waitUntil(t, "done after the decision", func() bool {
			_, ev := getEvent(t, p2.base, id, "")
			return ev["status"] == "done"
		})
	}
	if n := toolCalls.Load(); n != 1 {
		t.Fatalf("the tool ran %d times, want once (approved only)", n)
	}
	denied := false
	for _, r := range fake.Requests() {
		if strings.Contains(string(r.Raw), "denied by an operator: amount looks wrong") && strings.Contains(string(r.Raw), `"is_error":true`) {
			denied = true
		}
	}
	if !denied {
		for _, r := range fake.Requests() {
			t.Logf("%s", r.Raw[len(r.Raw)-min(len(r.Raw), 600):])
		}
		t.Fatal("the model was not told about the denial")
	}
	// A second decision on a decided call is refused.
	if err := run(ctx, []string{"agenthook", "approve", approveID, "--server", p2.base}, func(string) string { return "" }, &out, &errOut); err == nil || !strings.Contains(err.Error(), "409") {
		t.Fatalf("approving twice: %v", err)
	}
}
