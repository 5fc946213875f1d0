package tool

import (
	"context"
	"encoding/json"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/agenthook/agenthook/internal/config"
)

func commandSet(t *testing.T, argv []string, timeout time.Duration) *Set {
	t.Helper()
	return newSet(t, &config.Config{Tools: map[string]config.Tool{
		"cmd": {Run: &config.Run{Command: argv, Timeout: config.Duration(timeout)}},
	}})
}

func TestCommandGetsCallOnStdin(t *testing.T) {
	res, err := commandSet(t, helperCommand(t, "echo"), 0).Execute(context.Background(), call("cmd", `{"invoice":"in_1"}`))
	if err != nil || res.IsError {
		t.Fatalf("got %+v, %v", res, err)
	}
	stdin, env, _ := strings.Cut(res.Content, "\n")
	var got wireCall
	if err := json.Unmarshal([]byte(stdin), &got); err != nil {
		t.Fatalf("stdin %q: %v", stdin, err)
	}
	key := IdempotencyKey("evt_01", "cmd", json.RawMessage(`{"invoice":"in_1"}`))
	if got.Tool != "cmd" || string(got.Input) != `{"invoice":"in_1"}` || got.EventID != "evt_01" ||
		got.EventType != "charge.dispute.created" || got.ToolUseID != "toolu_01" || got.IdempotencyKey != key {
		t.Fatalf("stdin %s", stdin)
	}
	if env != key {
		t.Fatalf("AGENTHOOK_IDEMPOTENCY_KEY = %q, want %q", env, key)
	}
}

func TestCommandNonZeroExit(t *testing.T) {
	res, err := commandSet(t, helperCommand(t, "fail"), 0).Execute(context.Background(), call("cmd", `{}`))
	if err != nil {
		t.Fatal(err)
	}
	if !res.IsError || !strings.Contains(res.Content, "exited with status 3") ||
		!strings.Contains(res.Content, "the real cause: database locked") {
		t.Fatalf("result %+v", res)
	}
	if len(res.Content) > errTailBytes+200 {
		t.Fatalf("result is %d bytes; stderr should be cut to its last %d", len(res.Content), errTailBytes)
	}
}

func TestCommandTimeout(t *testing.T) {
	res, err := commandSet(t, helperCommand(t, "hang"), 200*time.Millisecond).Execute(context.Background(), call("cmd", `{}`))
	if err != nil {
		t.Fatal(err)
	}
	if !res.IsError || !strings.Contains(res.Content, "timed out after 200ms") {
		t.Fatalf("result %+v", res)
	}
}

// TestCommandTimeoutKillsGroup: the shell's background child holds stdout
// open; only killing the whole process group lets Execute return before
// waitDelay.
func TestCommandTimeoutKillsGroup(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("process groups are unix-only")
	}
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	s := commandSet(t, []string{"sh", "-c", "sleep 30 & wait"}, 200*time.Millisecond)
	start := time.Now()
	res, err := s.Execute(context.Background(), call("cmd", `{}`))
	if err != nil || !res.IsError || !strings.Contains(res.Content, "timed out") {
		t.Fatalf("got %+v, %v", res, err)
	}
	if d := time.Since(start); d >= waitDelay {
		t.Fatalf("Execute took %s: the grandchild was not killed with the group", d)
	}
}

func TestCommandOutputCapped(t *testing.T) {
	res, err := commandSet(t, helperCommand(t, "big"), 0).Execute(context.Background(), call("cmd", `{}`))
	if err != nil || res.IsError {
		t.Fatalf("got %+v, %v", res, err)
	}
	body, marker, ok := strings.Cut(res.Content, "\n[truncated")
	if !ok || marker == "" {
		t.Fatalf("no truncation marker in %d bytes", len(res.Content))
	}
	if len(body) > MaxResultBytes || strings.Trim(body, "é") != "" {
		t.Fatalf("kept %d bytes, want at most %d whole runes", len(body), MaxResultBytes)
	}
}

func TestCommandShutdown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := commandSet(t, helperCommand(t, "echo"), 0).Execute(ctx, call("cmd", `{}`))
	if err != context.Canceled {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
