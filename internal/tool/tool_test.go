package tool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/agenthook/agenthook/internal/config"
)

// TestMain lets the test binary double as the program of command tools:
// run as "<binary> tool-test-helper MODE", it behaves as MODE and exits
// without running any test.
func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == "tool-test-helper" {
		os.Exit(helper(os.Args[2]))
	}
	os.Exit(m.Run())
}

func helper(mode string) int {
	switch mode {
	case "echo":
		if _, err := io.Copy(os.Stdout, os.Stdin); err != nil {
			return 1
		}
		fmt.Fprint(os.Stdout, "\n"+os.Getenv("AGENTHOOK_IDEMPOTENCY_KEY"))
		return 0
	case "fail":
		fmt.Fprint(os.Stdout, "partial output")
		fmt.Fprint(os.Stderr, strings.Repeat("x", 5000)+"\nthe real cause: database locked")
		return 3
	case "big":
		fmt.Fprint(os.Stdout, strings.Repeat("é", MaxResultBytes)) // 2 bytes each
		return 0
	case "hang":
		time.Sleep(time.Hour) // a program that never finishes; the tool must kill it
	}
	return 2
}

// helperCommand returns the argv that runs this test binary as mode.
func helperCommand(t *testing.T, mode string) []string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return []string{exe, "tool-test-helper", mode}
}

// newSet builds a Set from tools with retries sped up.
func newSet(t *testing.T, cfg *config.Config) *Set {
	t.Helper()
	s, err := NewSet(cfg, Options{RetryBase: time.Millisecond, MaxRetryWait: 20 * time.Millisecond, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("NewSet: %v", err)
	}
	return s
}

func call(tool, input string) Call {
	return Call{
		Tool: tool, Input: []byte(input), ToolUseID: "toolu_01", EventID: "evt_01", EventType: "charge.dispute.created",
		IdempotencyKey: IdempotencyKey("evt_01", tool, []byte(input)),
	}
}

func TestIdempotencyKey(t *testing.T) {
	in := json.RawMessage(`{"charge":"ch_1","amount":500}`)
	a := IdempotencyKey("evt_1", "refund", in)
	if !strings.HasPrefix(a, "agenthook-") || len(a) != len("agenthook-")+32 {
		t.Fatalf("key %q: want agenthook- and 32 hex digits", a)
	}
	// The same decision, however the model spelled it, is the same key: a
	// replay gets new tool_use ids, and must not make a second refund.
	for _, same := range []string{`{"amount":500,"charge":"ch_1"}`, "{ \"charge\" : \"ch_1\",\n \"amount\": 500 }"} {
		if k := IdempotencyKey("evt_1", "refund", json.RawMessage(same)); k != a {
			t.Errorf("input %s: key %q, want %q", same, k, a)
		}
	}
	// Anything else is another call. The separator keeps ("ab","c") and
	// ("a","bc") apart.
	for _, other := range []string{
		IdempotencyKey("evt_1", "refund", json.RawMessage(`{"charge":"ch_1","amount":501}`)),
		IdempotencyKey("evt_2", "refund", in),
		IdempotencyKey("evt_1", "refund2", in),
		IdempotencyKey("evt_1r", "efund", in),
		IdempotencyKey("evt_1", "refund", json.RawMessage(`{"charge":"ch_1","amount":500.0}`)),
	} {
		if other == a {
			t.Fatalf("different calls share key %q", a)
		}
	}
}

// A Stripe write action, and a tool marked writes: true, are writes.
func TestSetWrites(t *testing.T) {
	cfg := &config.Config{Tools: map[string]config.Tool{
		"refund": {Run: &config.Run{Stripe: "refund.create"}},
		"lookup": {Run: &config.Run{Stripe: "charge.retrieve"}},
		"ticket": {Writes: true},
		"note":   {},
	}, StripeWrites: []string{"refund.create"}, Stripe: config.Stripe{APIKey: "sk_test_x"}}
	s := newSet(t, cfg)
	for name, want := range map[string]bool{"refund": true, "lookup": false, "ticket": true, "note": false, "unknown": false} {
		if s.Writes(name) != want {
			t.Errorf("Writes(%s) = %v, want %v", name, !want, want)
		}
	}
}

func TestSetToolWithoutRun(t *testing.T) {
	cfg := &config.Config{Tools: map[string]config.Tool{
		"record": {Description: "only journaled"},
		"echo":   {Run: &config.Run{Command: helperCommand(t, "echo")}},
	}}
	s := newSet(t, cfg)
	if s.Runs("record") || !s.Runs("echo") || s.Runs("nope") {
		t.Fatalf("Runs: record=%v echo=%v nope=%v", s.Runs("record"), s.Runs("echo"), s.Runs("nope"))
	}
	_, err := s.Execute(context.Background(), call("record", `{}`))
	if !errors.Is(err, ErrNoRun) {
		t.Fatalf("Execute(record) error = %v, want ErrNoRun", err)
	}
}

func TestSetRejectsInvalidInput(t *testing.T) {
	s := newSet(t, &config.Config{Tools: map[string]config.Tool{"echo": {Run: &config.Run{Command: helperCommand(t, "echo")}}}})
	res, err := s.Execute(context.Background(), call("echo", `{"a":`))
	if err != nil || !res.IsError || !strings.Contains(res.Content, "not valid JSON") {
		t.Fatalf("got %+v, %v; want an IsError result about invalid JSON", res, err)
	}
}

func TestNewSetReportsEveryProblem(t *testing.T) {
	cfg := &config.Config{
		StripeWrites: []string{"refund.creat", "charge.retrieve"},
		Stripe:       config.Stripe{APIKey: "sk_test_123456789"},
		Tools: map[string]config.Tool{
			"two":     {Run: &config.Run{Command: []string{"cat"}, Stripe: "charge.retrieve"}},
			"badurl":  {Run: &config.Run{HTTP: &config.HTTPRun{URL: "ftp://example.com"}}},
			"missing": {Run: &config.Run{Command: []string{"/nonexistent/agenthook-tool"}}},
			"action":  {Run: &config.Run{Stripe: "charge.delete"}},
			"header":  {Run: &config.Run{HTTP: &config.HTTPRun{URL: "http://127.0.0.1:1/", Headers: map[string]string{"Idempotency-Key": "x"}}}},
		},
	}
	_, err := NewSet(cfg, Options{})
	if err == nil {
		t.Fatal("NewSet accepted a broken config")
	}
	for _, want := range []string{
		`"refund.creat" is not a Stripe write action`,
		`"charge.retrieve" only reads`,
		`tool "two": run must have exactly one of http, command or stripe (it has 2)`,
		`tool "badurl": run.http.url must be an absolute http:// or https:// URL`,
		`tool "missing": run.command program "/nonexistent/agenthook-tool" cannot be run`,
		`tool "action": run.stripe "charge.delete" is not a built-in Stripe action`,
		`tool "header": run.http.headers must not set Idempotency-Key`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
