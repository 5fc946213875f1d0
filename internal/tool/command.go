package tool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// waitDelay bounds how long Wait waits for a killed command's output pipes
// to close: a grandchild that escaped the process group could otherwise
// hold them, and the worker, forever.
const waitDelay = 2 * time.Second

// commandTool runs a program (argv, no shell) with the call JSON on stdin
// and takes its stdout as the result.
type commandTool struct {
	name    string
	path    string // resolved at start, so a missing program fails early
	args    []string
	timeout time.Duration
}

func (*commandTool) kind() string { return "command" }

func newCommandTool(name string, argv []string, timeout time.Duration) (*commandTool, error) {
	if len(argv) == 0 || strings.TrimSpace(argv[0]) == "" {
		return nil, errors.New("run.command is empty or starts with an empty program name: give the program's path first, then its arguments")
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return nil, fmt.Errorf("run.command program %q cannot be run (%v): give an absolute path or install it on PATH", argv[0], errors.Unwrap(err))
	}
	if timeout < 0 {
		return nil, errors.New("run.timeout is negative: use a duration such as 30s")
	}
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	return &commandTool{name: name, path: path, args: argv[1:], timeout: timeout}, nil
}

// Execute runs the command once. It is not retried: unlike an http tool,
// a command has no agreed way to say "try again", and a program that
// failed half-way may not be safe to rerun; the model decides. The
// command inherits agenthook's environment, plus AGENTHOOK_TOOL,
// AGENTHOOK_EVENT_ID and AGENTHOOK_IDEMPOTENCY_KEY.
func (c *commandTool) Execute(ctx context.Context, call Call) (Result, error) {
	body, err := encodeCall(call)
	if err != nil {
		return Result{IsError: true, Content: "the tool input could not be encoded: " + err.Error()}, nil
	}
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	cmd := exec.CommandContext(cctx, c.path, c.args...)
	cmd.Env = append(cmd.Environ(),
		"AGENTHOOK_TOOL="+call.Tool,
		"AGENTHOOK_EVENT_ID="+call.EventID,
		"AGENTHOOK_IDEMPOTENCY_KEY="+call.IdempotencyKey,
	)
	cmd.Stdin = bytes.NewReader(body)
	stdout := &headBuffer{max: MaxResultBytes}
	stderr := &tailBuffer{max: errTailBytes}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = waitDelay
	killGroupOnCancel(cmd)

	err = cmd.Run()
	if ctx.Err() != nil {
		return Result{}, ctx.Err()
	}
	if errors.Is(cctx.Err(), context.DeadlineExceeded) {
		return Result{IsError: true, Content: fmt.Sprintf("the command timed out after %s and was killed%s", c.timeout, stderrNote(stderr))}, nil
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState != nil && cmd.ProcessState.Success():
		// The program exited 0 but left a background child holding its
		// output open; what it printed is complete.
	case errors.As(err, &ee):
		how := ee.ProcessState.String() // "exit status 3", "signal: killed"
		if code := ee.ExitCode(); code >= 0 {
			how = fmt.Sprintf("exited with status %d", code)
		}
		return Result{IsError: true, Content: fmt.Sprintf("the command %s%s", how, stderrNote(stderr))}, nil
	default:
		return Result{IsError: true, Content: fmt.Sprintf("the command could not be run: %v", err)}, nil
	}
	if len(bytes.TrimSpace(stdout.buf)) == 0 && !stdout.truncated {
		return Result{Content: "done (the command succeeded with no output)"}, nil
	}
	return Result{Content: clip(stdout.buf, MaxResultBytes, stdout.truncated)}, nil
}

func stderrNote(t *tailBuffer) string {
	if s := tail(t.buf, errTailBytes); s != "" {
		return "; stderr: " + s
	}
	return "; no stderr output"
}
