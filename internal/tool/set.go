package tool

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agenthook/agenthook/internal/config"
)

// Defaults used when the config or Options leave a value unset.
const (
	// DefaultTimeout bounds one http attempt, one command run and one
	// Stripe action.
	DefaultTimeout = 30 * time.Second
	// DefaultAttempts is how many times an http tool call is tried when
	// it times out, cannot connect or gets a 408, 429 or 5xx.
	DefaultAttempts = 3
	// DefaultRetryBase is the first backoff between http attempts; it
	// doubles each time, with jitter.
	DefaultRetryBase = 500 * time.Millisecond
	// DefaultMaxRetryWait caps one backoff, including a Retry-After the
	// service asks for: a worker is held while it waits.
	DefaultMaxRetryWait = 30 * time.Second
	// MaxResultBytes caps the Content of a Result. A tool result goes into
	// every later model request of the event, so an oversized answer would
	// cost tokens on each round; what is cut is marked.
	MaxResultBytes = 16 << 10

	// errTailBytes is how much of a failing command's stderr or an error
	// response body reaches the model: the end is where the cause usually is.
	errTailBytes = 2 << 10
)

// SignatureHeader carries the HMAC of a tool request, in the same
// "t=<unix>,v1=<hex>" form as Stripe-Signature, so a receiver can reuse
// Stripe's verification code with AGENTHOOK_TOOL_SECRET.
const SignatureHeader = "Agenthook-Signature"

// ErrNoRun is returned by (*Set).Execute for a tool without a run: key (or
// not configured at all). Such a call is a decision to journal, not
// something to carry out; callers check Runs first, so seeing ErrNoRun
// means a wiring mistake, not a tool failure.
var ErrNoRun = errors.New("tool has no run: key, so agenthook does not execute it")

// Options tunes a Set beyond what the config file says. The zero value is
// production-ready.
type Options struct {
	// HTTPClient sends the requests of http tools and of the built-in
	// Stripe actions. Nil means a default client. The Set uses a copy that
	// does not follow redirects: a redirected POST would lose its body or
	// carry the signature to another host.
	HTTPClient *http.Client
	// Attempts bounds the tries of one http tool call (default 3).
	Attempts int
	// RetryBase is the first backoff between http attempts (default
	// 500ms). Tests set it to a millisecond.
	RetryBase time.Duration
	// MaxRetryWait caps any single backoff, Retry-After included
	// (default 30s).
	MaxRetryWait time.Duration
	// Log receives one line per call (tool, kind, ids, outcome, duration;
	// never inputs, outputs or secrets). Nil means slog.Default().
	Log *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Attempts <= 0 {
		o.Attempts = DefaultAttempts
	}
	if o.RetryBase <= 0 {
		o.RetryBase = DefaultRetryBase
	}
	if o.MaxRetryWait <= 0 {
		o.MaxRetryWait = DefaultMaxRetryWait
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return o
}

// Set holds an Executor for each configured tool that has a run: key. It
// is itself an Executor and is safe for concurrent use.
type Set struct {
	tools  map[string]runner
	writes map[string]bool // tools that change something outside agenthook
	log    *slog.Logger
}

// runner is an Executor that also names its kind for logs.
type runner interface {
	Executor
	kind() string
}

// NewSet builds the executors for every tool in cfg.Tools with a Run.
// Everything that can be checked before the first event is checked here
// (one kind per run, URLs, header names, programs on PATH, Stripe action
// names, stripe_writes entries, required secrets), and all problems are
// returned together, each saying what to fix.
func NewSet(cfg *config.Config, opts Options) (*Set, error) {
	opts = opts.withDefaults()
	s := &Set{tools: map[string]runner{}, writes: map[string]bool{}, log: opts.Log}
	for name, t := range cfg.Tools {
		if t.Writes || (t.Run != nil && IsStripeWrite(t.Run.Stripe)) {
			s.writes[name] = true
		}
	}

	var errs []error
	writes, err := stripeWrites(cfg.StripeWrites)
	if err != nil {
		errs = append(errs, err)
	}

	client := noRedirectClient(opts.HTTPClient)
	var sc *stripeConn
	for _, name := range slices.Sorted(maps.Keys(cfg.Tools)) {
		run := cfg.Tools[name].Run
		if run == nil {
			continue
		}
		var r runner
		var err error
		switch kinds := countKinds(run); {
		case kinds != 1:
			err = fmt.Errorf("run must have exactly one of http, command or stripe (it has %d)", kinds)
		case run.HTTP != nil:
			r, err = newHTTPTool(name, run.HTTP, cfg.ToolSecret, client, opts)
		case len(run.Command) > 0:
			r, err = newCommandTool(name, run.Command, run.Timeout.D())
		default:
			var st *stripeTool
			st, err = newStripeTool(run.Stripe, run.Timeout.D(), writes)
			if err == nil && sc == nil {
				sc, err = newStripeConn(cfg.Stripe, opts.HTTPClient)
			}
			if err == nil {
				st.conn = sc
				if !st.allowed {
					opts.Log.Warn("stripe write tool is not allowed by stripe_writes; every call will be refused",
						"tool", name, "action", run.Stripe)
				}
			}
			r = st
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("tool %q: %w", name, err))
			continue
		}
		s.tools[name] = r
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

func countKinds(r *config.Run) int {
	n := 0
	if r.HTTP != nil {
		n++
	}
	if len(r.Command) > 0 {
		n++
	}
	if r.Stripe != "" {
		n++
	}
	return n
}

// Writes reports whether a call to the tool changes something outside
// agenthook: a Stripe write action, or a tool the config marks writes: true.
func (s *Set) Writes(name string) bool { return s != nil && s.writes[name] }

// Runs reports whether the tool name is carried out by this Set (it has a
// run: key). A tool for which Runs is false is only journaled.
func (s *Set) Runs(name string) bool {
	_, ok := s.tools[name]
	return ok
}

// Execute carries out call with the tool's executor.
//
// The error return is reserved for calls that were not settled: ctx ended
// (shutdown; the caller must not journal the call as done and retries the
// event later), or the tool has no run: key (ErrNoRun). Every failure of
// the tool itself is a Result with IsError set, which goes to the model.
// An empty call.IdempotencyKey is filled in from the event, the tool and
// the input.
func (s *Set) Execute(ctx context.Context, call Call) (Result, error) {
	r, ok := s.tools[call.Tool]
	if !ok {
		return Result{}, fmt.Errorf("%w: %q", ErrNoRun, call.Tool)
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	if call.IdempotencyKey == "" {
		call.IdempotencyKey = IdempotencyKey(call.EventID, call.Tool, call.Input)
	}
	log := s.log.With("tool", call.Tool, "kind", r.kind(), "event_id", call.EventID, "tool_use_id", call.ToolUseID)
	if len(bytes.TrimSpace(call.Input)) == 0 {
		call.Input = json.RawMessage("{}")
	}
	if !json.Valid(call.Input) {
		log.Warn("tool call has invalid JSON input")
		return Result{IsError: true, Content: "the tool input is not valid JSON: send a JSON object that matches the tool's input_schema"}, nil
	}

	start := time.Now()
	res, err := r.Execute(ctx, call)
	elapsed := time.Since(start).Round(time.Millisecond)
	if err != nil {
		log.Info("tool call interrupted", "err", err, "duration", elapsed)
		return Result{}, err
	}
	if res.Content == "" {
		res.Content = "(empty result)"
	}
	log.Info("tool call done", "is_error", res.IsError, "result_bytes", len(res.Content), "duration", elapsed)
	return res, nil
}

// IdempotencyKey derives the key for one tool call from the event id, the
// tool and the canonical form of its input, never from the tool_use id: a
// retry, a resume after a crash and a replay that decide the same call
// present the same key to the receiver or to Stripe, which then apply it
// once. (A replayed conversation gets new tool_use ids, so a key from them
// refunded twice.) Hashing keeps the key short and free of characters a
// header could not carry.
func IdempotencyKey(eventID, tool string, input json.RawMessage) string {
	sum := sha256.Sum256([]byte(eventID + "\x00" + tool + "\x00" + string(Canonical(input))))
	return "agenthook-" + hex.EncodeToString(sum[:])[:32]
}

// Canonical is input in one canonical JSON form: object keys sorted,
// insignificant space dropped, numbers as written. Inputs that differ only
// in key order or spacing are the same call. Input that is not JSON is
// returned as it is.
func Canonical(input json.RawMessage) []byte {
	dec := json.NewDecoder(bytes.NewReader(input))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return input
	}
	out, err := json.Marshal(v) // map keys are sorted
	if err != nil {
		return input
	}
	return out
}

// wireCall is the JSON body an http tool receives and a command reads on
// stdin. It is its own type so that fields added to Call do not silently
// change what users' services receive.
type wireCall struct {
	Tool           string          `json:"tool"`
	Input          json.RawMessage `json:"input"`
	EventID        string          `json:"event_id"`
	EventType      string          `json:"event_type"`
	ToolUseID      string          `json:"tool_use_id"`
	IdempotencyKey string          `json:"idempotency_key"`
}

func encodeCall(c Call) ([]byte, error) {
	return json.Marshal(wireCall{
		Tool:           c.Tool,
		Input:          c.Input,
		EventID:        c.EventID,
		EventType:      c.EventType,
		ToolUseID:      c.ToolUseID,
		IdempotencyKey: c.IdempotencyKey,
	})
}

// clip turns tool output into result text: valid UTF-8 (the model API
// rejects anything else), at most limit bytes, cut on a rune boundary with
// a visible marker so the model knows it saw only the beginning.
// truncated reports that the caller already dropped bytes past b.
func clip(b []byte, limit int, truncated bool) string {
	if len(b) > limit {
		b, truncated = b[:limit], true
	}
	if truncated {
		// Drop a rune cut in half by the limit rather than show U+FFFD.
		i := len(b) - 1
		for i > 0 && i > len(b)-utf8.UTFMax && !utf8.RuneStart(b[i]) {
			i--
		}
		if i >= 0 && i < len(b) && !utf8.FullRune(b[i:]) {
			b = b[:i]
		}
	}
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	if truncated {
		s += fmt.Sprintf("\n[truncated: the output was longer than %d bytes]", limit)
	}
	return s
}

// tail returns the last n bytes of b as valid UTF-8, prefixed with "…"
// when something was cut.
func tail(b []byte, n int) string {
	b = bytes.TrimSpace(b)
	cut := false
	if len(b) > n {
		i := len(b) - n
		for i < len(b) && !utf8.RuneStart(b[i]) {
			i++
		}
		b, cut = b[i:], true
	}
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	if cut {
		s = "…" + s
	}
	return s
}

// headBuffer keeps the first max bytes written to it and discards (but
// accepts) the rest, so a chatty process never blocks on a full pipe.
type headBuffer struct {
	max       int
	buf       []byte
	truncated bool
}

func (h *headBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if room := max(h.max-len(h.buf), 0); n > room {
		h.truncated = true
		p = p[:room]
	}
	h.buf = append(h.buf, p...)
	return n, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}
