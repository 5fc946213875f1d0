// Command fakemodel serves a fake Anthropic Messages API for load runs and
// local experiments: every request is answered, after --delay, with a call to
// the first tool offered, or with end_turn when it feeds tool results back.
// Point agenthook at it with ANTHROPIC_BASE_URL.
//
// It keeps the Messages API's documented contract for the Claude models it
// knows (internal/modeltest): a request the real API refuses (forced tool
// choice on a 5.5-class model, a thinking type or effort the model does not
// take, a strict schema outside the supported subset, a thinking block
// dropped, edited or replayed under another conversation) is answered at
// once with the documented 400, printed to stderr (the first 20) and
// counted. Thinking blocks are signed with a fixed key, so a conversation
// stays valid across restarts of the fake.
//
//	go run ./cmd/fakemodel --addr 127.0.0.1:9100 --delay 800ms
//
// With --rpm N it enforces a rate limit the way the Messages API does: a
// token bucket of --burst requests (default N) refilled continuously at N
// per minute. A request that finds the bucket empty is answered at once
// with 429, retry-after and a rate_limit_error; every answer carries
// anthropic-ratelimit-requests-limit, -remaining and -reset (RFC 3339, when
// the bucket is full again), so a client can learn the limit.
//
// GET /stats answers the counters as JSON ({"requests", "ok", "refused",
// "invalid", "first", "last"}: refused counts rate-limited requests, invalid
// the requests refused as the real API would); they are also printed when
// the process stops.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/agenthook/agenthook/internal/modeltest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "fakemodel:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:9100", "listen address")
	delay := flag.Duration("delay", 800*time.Millisecond, "latency of every answer")
	rpm := flag.Int("rpm", 0, "requests per minute allowed (token bucket); 0 means no limit")
	burst := flag.Int("burst", 0, "bucket size for --rpm (default: the --rpm value, as the Messages API does)")
	flag.Parse()
	f := modeltest.NewFake()
	f.KeepRequests = false
	f.Then = modeltest.Reply{Delay: *delay}
	var logged atomic.Int64
	f.OnRefusal = func(r modeltest.Refusal) {
		if logged.Add(1) <= 20 {
			fmt.Fprintf(os.Stderr, "fakemodel: refused %s (%s): %d %s: %s\n", r.RequestID, r.Model, r.Status, r.Type, r.Message)
		}
	}
	h := newLimited(f, *rpm, *burst)
	h.invalid = f.RefusalCount
	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	limitNote := "no rate limit"
	if *rpm > 0 {
		limitNote = fmt.Sprintf("%d requests/min, burst %d", *rpm, h.burst)
	}
	fmt.Fprintf(os.Stderr, "fake Messages API on http://%s (delay %s, %s)\n", *addr, *delay, limitNote)
	err := srv.ListenAndServe()
	b, _ := json.Marshal(h.snapshot())
	fmt.Fprintf(os.Stderr, "fakemodel stats: %s\n", b)
	if !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// limited counts requests and, with a rate, refuses those over it.
type limited struct {
	next  http.Handler
	rate  float64 // requests per second; 0 means no limit
	burst int
	// invalid counts the requests next refused as the real API would.
	invalid func() int

	mu      sync.Mutex
	level   float64 // requests available
	updated time.Time
	stats   stats
}

type stats struct {
	Requests int64     `json:"requests"`
	OK       int64     `json:"ok"`
	Refused  int64     `json:"refused"`
	Invalid  int64     `json:"invalid"`
	First    time.Time `json:"first"`
	Last     time.Time `json:"last"`
}

func newLimited(next http.Handler, rpm, burst int) *limited {
	l := &limited{next: next}
	if rpm > 0 {
		l.rate = float64(rpm) / 60
		l.burst = burst
		if l.burst <= 0 {
			l.burst = rpm
		}
		l.level = float64(l.burst)
		l.updated = time.Now()
	}
	return l
}

func (l *limited) snapshot() stats {
	l.mu.Lock()
	st := l.stats
	l.mu.Unlock()
	if l.invalid != nil {
		st.Invalid = int64(l.invalid())
	}
	return st
}

func (l *limited) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/stats" {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(l.snapshot())
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v1/messages" {
		l.next.ServeHTTP(w, r)
		return
	}
	now := time.Now()
	l.mu.Lock()
	l.stats.Requests++
	if l.stats.First.IsZero() {
		l.stats.First = now
	}
	l.stats.Last = now
	allowed := true
	var remaining int64
	var reset time.Time
	var retry time.Duration
	if l.rate > 0 {
		l.level = math.Min(float64(l.burst), l.level+l.rate*now.Sub(l.updated).Seconds())
		l.updated = now
		if l.level >= 1 {
			l.level--
		} else {
			allowed = false
			retry = time.Duration((1 - l.level) / l.rate * float64(time.Second))
		}
		remaining = int64(l.level)
		reset = now.Add(time.Duration((float64(l.burst) - l.level) / l.rate * float64(time.Second)))
	}
	if allowed {
		l.stats.OK++
	} else {
		l.stats.Refused++
	}
	n := l.stats.Refused
	l.mu.Unlock()

	if l.rate > 0 {
		h := w.Header()
		h.Set("anthropic-ratelimit-requests-limit", strconv.Itoa(l.burst))
		h.Set("anthropic-ratelimit-requests-remaining", strconv.FormatInt(remaining, 10))
		h.Set("anthropic-ratelimit-requests-reset", reset.UTC().Format(time.RFC3339Nano))
	}
	if !allowed {
		// The API answers whole seconds, rounded up.
		h := w.Header()
		h.Set("retry-after", strconv.Itoa(int(math.Ceil(retry.Seconds()))))
		h.Set("Content-Type", "application/json")
		// The documented error shape, with a request_id as every error has.
		// https://platform.claude.com/docs/en/api/errors#error-shapes
		id := fmt.Sprintf("req_fake_limited_%d", n)
		h.Set("request-id", id)
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"type":"error","error":{"type":"rate_limit_error","message":"fake: number of requests has exceeded your per-minute rate limit"},"request_id":"`+id+`"}`)
		return
	}
	l.next.ServeHTTP(w, r)
}
