package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/agenthook/agenthook/internal/modeltest"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds cmd/agenthook once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "agenthook-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "agenthook")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

type proc struct {
	cmd    *exec.Cmd
	base   string
	stderr *syncBuffer
	done   chan error
}

func startProc(t *testing.T, env map[string]string, storePath string, extra ...string) *proc {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(binary(t), append([]string{"serve", "--addr", addr, "--store", storePath}, extra...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &proc{cmd: cmd, base: "http://" + addr, stderr: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	waitUntil(t, "process ready", func() bool {
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("serve exited: %v\n%s", err, p.stderr.String())
		default:
		}
		code, _ := httpGet(p.base + "/readyz")
		return code == 200
	})
	return p
}

// TestKillDuringModelCallThenRestart kills serve with SIGKILL while the model
// call is in flight, restarts it on the same store, and sees the event
// dispatched, with the cut attempt journaled.
func TestKillDuringModelCallThenRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	block := make(chan struct{})
	defer close(block)
	fake := modeltest.NewAnthropic(modeltest.Reply{Block: block})
	defer fake.Close()
	env := baseEnv(fake)
	storePath := filepath.Join(t.TempDir(), "data", "agenthook.db")

	p1 := startProc(t, env, storePath)
	id := deliver(t, p1.base, "charge.dispute.created")
	select {
	case <-fake.Started():
	case <-time.After(30 * time.Second):
		t.Fatal("the model was never called")
	}
	if err := p1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p1.done
	p1.done <- nil

	p2 := startProc(t, env, storePath)
	var ev map[string]any
	waitUntil(t, "dispatched after restart", func() bool {
		_, ev = getEvent(t, p2.base, id, "")
		return ev["status"] == "done"
	})
	if n := len(fake.Requests()); n != 2 {
		t.Fatalf("model requests = %d, want 2 (cut one + retry)", n)
	}
	if ev["attempts"] != 2.0 {
		t.Fatalf("attempts = %v, want 2", ev["attempts"])
	}
	var kinds []string
	for _, s := range ev["steps"].([]any) {
		kinds = append(kinds, s.(map[string]any)["kind"].(string))
	}
	if fmt.Sprint(kinds) != "[interrupted model_request decision tool_call outcome]" {
		t.Fatalf("journal %v, want the interruption then the dispatch", kinds)
	}
}

// TestSIGTERMLetsInFlightFinish sends SIGTERM during a model call: the call
// finishes, the process exits cleanly, and a restart does not dispatch again.
func TestSIGTERMLetsInFlightFinish(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	fake := modeltest.NewAnthropic(modeltest.Reply{Delay: 700 * time.Millisecond})
	defer fake.Close()
	env := baseEnv(fake)
	storePath := filepath.Join(t.TempDir(), "agenthook.db")
	p1 := startProc(t, env, storePath)
	id := deliver(t, p1.base, "charge.refunded")
	select {
	case <-fake.Started():
	case <-time.After(30 * time.Second):
		t.Fatal("the model was never called")
	}
	p1.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p1.done:
		p1.done <- err
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p1.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not exit after SIGTERM")
	}
	p2 := startProc(t, env, storePath)
	_, ev := getEvent(t, p2.base, id, "")
	if ev["status"] != "done" || len(fake.Requests()) != 1 {
		t.Fatalf("after SIGTERM: status %v, model requests %d; want done and 1\n%s", ev["status"], len(fake.Requests()), p1.stderr.String())
	}
	if !bytes.Contains([]byte(p1.stderr.String()), []byte("shutting down")) {
		t.Fatalf("no shutdown log line:\n%s", p1.stderr.String())
	}
}

// TestKillAfterToolRanDoesNotRunItAgain kills serve with SIGKILL in round 2,
// after the tool of round 1 ran and was journaled. The restarted process
// resumes from the journal: it sends round 2 again but neither asks round 1
// again nor runs the tool a second time.
func TestKillAfterToolRanDoesNotRunItAgain(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	var toolCalls atomic.Int32
	tools := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		toolCalls.Add(1)
		io.WriteString(w, `{"refund":"re_123"}`)
	}))
	defer tools.Close()
	block := make(chan struct{})
	defer close(block)
	fake := modeltest.NewAnthropic(modeltest.Reply{}, modeltest.Reply{Block: block})
	defer fake.Close()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "agenthook.yaml")
	writeFile(t, cfgPath, "tools:\n  log_refund:\n    run: {http: {url: \""+tools.URL+"/log\"}}\n")
	env := baseEnv(fake)
	storePath := filepath.Join(dir, "agenthook.db")

	p1 := startProc(t, env, storePath, "--config", cfgPath)
	id := deliver(t, p1.base, "charge.refunded")
	for range 2 { // round 1, then round 2, which blocks
		select {
		case <-fake.Started():
		case <-time.After(30 * time.Second):
			t.Fatalf("the model was not called twice; tool calls %d\n%s", toolCalls.Load(), p1.stderr.String())
		}
	}
	if n := toolCalls.Load(); n != 1 {
		t.Fatalf("tool calls before the kill = %d, want 1", n)
	}
	p1.cmd.Process.Signal(syscall.SIGKILL)
	<-p1.done
	p1.done <- nil

	p2 := startProc(t, env, storePath, "--config", cfgPath)
	var ev map[string]any
	waitUntil(t, "done after restart", func() bool {
		_, ev = getEvent(t, p2.base, id, "")
		return ev["status"] == "done"
	})
	if n := toolCalls.Load(); n != 1 {
		t.Fatalf("the tool ran %d times, want once across the crash", n)
	}
	reqs := fake.Requests()
	if len(reqs) != 3 {
		t.Fatalf("model requests = %d, want 3: round 1, the cut round 2, round 2 again", len(reqs))
	}
	if !strings.Contains(string(reqs[2].Raw), "re_123") {
		t.Fatalf("the resumed round 2 lacks the journaled tool result")
	}
	if n := fake.RefusalCount(); n != 0 || reqs[2].Status != 200 {
		t.Fatalf("the resumed round 2 was answered %d; the fake refused %d request(s): %+v", reqs[2].Status, n, fake.Refusals())
	}
	var executed int
	for _, s := range ev["steps"].([]any) {
		st := s.(map[string]any)
		if st["kind"] == "tool_call" && st["data"].(map[string]any)["executed"] == true {
			executed++
		}
	}
	if executed != 1 {
		t.Fatalf("%d executed tool_call steps, want 1", executed)
	}
}
