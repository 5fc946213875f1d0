// Package limit makes a model provider rate-limit aware for the whole
// process: it caps the sends in flight, paces sends by the rate-limit
// headers the provider reports (anthropic-ratelimit-*, x-ratelimit-*) so
// that the API does not have to refuse them, and after a 429 or 529 pauses
// every send of the process, not just the refused job, until retry-after
// or a backoff has passed. A burst of events then reaches the API as a
// steady stream at the rate it allows instead of a storm of retries.
//
// The refused send still fails with the provider's retryable *agent.Error,
// so the queue journals it and retries the job later.
package limit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/agenthook/agenthook/internal/agent"
)

// Options configure a Limiter. The zero value is usable.
type Options struct {
	// Concurrency caps the sends in flight; 0 means no cap beyond the
	// queue's workers.
	Concurrency int
	// ReserveRequests is how many requests of the reported limit are
	// left unused: a send waits while the estimated remaining requests,
	// after it, would fall under this. Default 1.
	ReserveRequests int64
	// BackoffBase is the pause after a 429 or 529 without retry-after; it
	// doubles with each refusal in a row, up to BackoffMax, with jitter.
	// A retry-after longer than the backoff wins. Defaults 1s and 1m.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// MaxHold bounds one pre-emptive hold computed from the headers, in
	// case the provider's clock and ours disagree. Default 2m.
	MaxHold time.Duration
	Log     *slog.Logger
}

// Stats counts what a Limiter did.
type Stats struct {
	Sends       int64         // requests passed to the provider
	Refused     int64         // of which answered 429 or 529
	Waits       int64         // sends that waited for a pause or for pacing
	Waited      time.Duration // total time those sends waited
	Waiting     int           // sends waiting right now
	MaxInFlight int           // most sends in flight at once
}

// Limiter wraps a Provider. It is safe for concurrent use.
type Limiter struct {
	p   agent.Provider
	o   Options
	sem chan struct{}

	mu      sync.Mutex
	changed chan struct{} // closed and replaced whenever the state changes
	// pauseUntil holds every send after a refusal.
	pauseUntil  time.Time
	refusals    int       // refusals in a row, counting one per wave
	lastRefusal time.Time // when the last refusal arrived
	// window caps the sends in flight after a refusal: 1 at first, one
	// more with each success (slow start), 0 (no cap) once back at
	// maxWindow. The first answers after a pause teach the pacing the
	// limit before the other workers follow.
	window    int
	maxWindow int
	inflight  int
	buckets   [nBuckets]bucket
	cost      [nBuckets]float64 // what one send uses of each bucket
	stats     Stats

	onWait func() // test hook: a send starts waiting
}

// The buckets a provider may report, in agent.RateLimit's order.
const (
	requests = iota
	tokens
	inputTokens
	outputTokens
	nBuckets
)

var bucketNames = [nBuckets]string{"requests", "tokens", "input tokens", "output tokens"}

// New wraps p.
func New(p agent.Provider, o Options) *Limiter {
	if o.ReserveRequests <= 0 {
		o.ReserveRequests = 1
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = time.Second
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = time.Minute
	}
	if o.BackoffMax < o.BackoffBase {
		o.BackoffMax = o.BackoffBase
	}
	if o.MaxHold <= 0 {
		o.MaxHold = 2 * time.Minute
	}
	l := &Limiter{p: p, o: o, changed: make(chan struct{}), maxWindow: 1000}
	if o.Concurrency > 0 {
		l.sem = make(chan struct{}, o.Concurrency)
		l.maxWindow = o.Concurrency
	}
	l.cost[requests] = 1
	return l
}

// Name implements agent.Provider: the wrapped provider's name.
func (l *Limiter) Name() string { return l.p.Name() }

// Unwrap returns the wrapped provider.
func (l *Limiter) Unwrap() agent.Provider { return l.p }

// Stats returns the counters so far.
func (l *Limiter) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats
}

// Send waits for a slot, for the end of a pause and for the pacing, then
// sends req. Waiting ends early with ctx's error when ctx ends, and with a
// retryable *agent.Error when the wait would outlast ctx's deadline.
func (l *Limiter) Send(ctx context.Context, req agent.Request) (*agent.Reply, error) {
	if l.sem != nil {
		select {
		case l.sem <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		defer func() { <-l.sem }()
	}
	s, err := l.admit(ctx)
	if err != nil {
		return nil, err
	}
	reply, err := l.p.Send(ctx, req)
	l.settle(s, reply, err)
	return reply, err
}

// sent identifies an admitted send: its number and when it went.
type sent struct {
	seq int64
	at  time.Time
}

// admit waits until a send may go and counts it in flight.
func (l *Limiter) admit(ctx context.Context) (sent, error) {
	var start time.Time
	waiting := false
	defer func() {
		if waiting {
			l.mu.Lock()
			l.stats.Waiting--
			l.mu.Unlock()
		}
	}()
	for {
		l.mu.Lock()
		now := time.Now()
		until, why := l.holdUntil(now)
		gated := l.window > 0 && l.inflight >= l.window
		if until.IsZero() && !gated {
			l.inflight++
			l.stats.MaxInFlight = max(l.stats.MaxInFlight, l.inflight)
			l.stats.Sends++
			for i := range l.buckets {
				l.buckets[i].spent += l.cost[i]
			}
			if waiting {
				l.stats.Waits++
				l.stats.Waited += now.Sub(start)
			}
			s := sent{seq: l.stats.Sends, at: now}
			l.mu.Unlock()
			return s, nil
		}
		changed := l.changed
		if !waiting {
			waiting, start = true, now
			l.stats.Waiting++
		}
		l.mu.Unlock()
		if dl, ok := ctx.Deadline(); ok && !until.IsZero() && until.After(dl) {
			return sent{}, &agent.Error{Provider: l.p.Name(), Retryable: true, After: until.Sub(now),
				Message: fmt.Sprintf("not sent: %s until %s, after this attempt's deadline", why, until.Format(time.RFC3339))}
		}
		if l.onWait != nil {
			l.onWait()
		}
		var timer *time.Timer
		var fire <-chan time.Time
		if !until.IsZero() {
			timer = time.NewTimer(until.Sub(now))
			fire = timer.C
		}
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return sent{}, ctx.Err()
		case <-fire:
		case <-changed:
			if timer != nil {
				timer.Stop()
			}
		}
	}
}

// holdUntil returns when the next send may go (zero: now) and why not
// earlier. l.mu is held.
func (l *Limiter) holdUntil(now time.Time) (time.Time, string) {
	var until time.Time
	why := ""
	if now.Before(l.pauseUntil) {
		until, why = l.pauseUntil, "the provider refused a request (429/529); every send is paused"
	}
	for i := range l.buckets {
		reserve := 0.0
		if i == requests {
			reserve = float64(l.o.ReserveRequests)
		}
		t := l.buckets[i].ready(now, l.cost[i], reserve)
		if t.IsZero() {
			continue
		}
		if hold := now.Add(l.o.MaxHold); t.After(hold) {
			t = hold
		}
		if t.After(until) {
			until, why = t, "the provider's "+bucketNames[i]+" limit is nearly used up; sends are paced"
		}
	}
	return until, why
}

// settle records the outcome of a send: the rate-limit headers it
// reported, and a refusal's pause.
func (l *Limiter) settle(s sent, reply *agent.Reply, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	l.inflight--
	var rl *agent.RateLimit
	var ae *agent.Error
	switch {
	case err == nil && reply != nil:
		rl = reply.RateLimit
		l.refusals = 0
		if l.window > 0 {
			if l.window++; l.window >= l.maxWindow {
				l.window = 0
			}
		}
		l.learnCost(reply.Usage)
	case errors.As(err, &ae):
		rl = ae.RateLimit
		if ae.StatusCode == http.StatusTooManyRequests || ae.StatusCode == 529 {
			// Sends already in flight when the last refusal came are
			// refused by the same wave: only a send made after it
			// makes the backoff longer.
			if s.at.After(l.lastRefusal) || l.refusals == 0 {
				l.refusals++
			}
			l.lastRefusal = now
			l.window = 1
			l.stats.Refused++
			wait := l.backoff(l.refusals)
			after := ae.After
			if rl != nil {
				after = max(after, rl.RetryAfter)
			}
			wait = max(wait, after)
			if until := now.Add(wait); until.After(l.pauseUntil) {
				l.pauseUntil = until
			}
			if l.o.Log != nil {
				l.o.Log.Warn("model provider refused a request: pausing every send", "provider", l.p.Name(),
					"status", ae.StatusCode, "retry_after", after.String(), "pause", wait.String(), "in_a_row", l.refusals)
			}
		}
	}
	if rl != nil {
		l.observe(rl, s)
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// backoff is the pause after n refusals in a row when the provider did
// not say how long: BackoffBase doubled n-1 times, at most BackoffMax,
// between half and all of that.
func (l *Limiter) backoff(n int) time.Duration {
	d := l.o.BackoffBase
	for i := 1; i < n && d < l.o.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, l.o.BackoffMax)
	return d/2 + rand.N(d/2+1)
}

// learnCost keeps a moving average of the tokens one send uses. Input
// tokens are those the input limit counts (cache reads usually are not).
func (l *Limiter) learnCost(u agent.Usage) {
	in := float64(u.InputTokens + u.CacheCreationInputTokens)
	out := float64(u.OutputTokens)
	all := in + out + float64(u.CacheReadInputTokens)
	used := [nBuckets]float64{tokens: all, inputTokens: in, outputTokens: out}
	for i := tokens; i < nBuckets; i++ {
		v := used[i]
		if l.cost[i] == 0 {
			l.cost[i] = v
		} else {
			l.cost[i] = 0.8*l.cost[i] + 0.2*v
		}
	}
}

// observe takes a response's headers as the new state of each bucket they
// report, unless a later send already reported. The provider counted
// that send and those before it, so the sends made since are taken off
// what it reported, and the replenishment is reckoned from when it went.
func (l *Limiter) observe(rl *agent.RateLimit, s sent) {
	since := float64(l.stats.Sends - s.seq)
	for i, src := range [nBuckets]agent.LimitBucket{rl.Requests, rl.Tokens, rl.InputTokens, rl.OutputTokens} {
		if !src.Known || (l.buckets[i].known && l.buckets[i].seq > s.seq) {
			continue
		}
		b := bucket{known: true, seq: s.seq, limit: float64(src.Limit), t0: s.at, reset: src.Reset,
			level: float64(src.Remaining), spent: since * l.cost[i]}
		if src.Limit > src.Remaining && src.Reset.After(s.at) {
			// Both providers replenish continuously: what is missing comes
			// back by the reset time.
			b.rate = float64(src.Limit-src.Remaining) / src.Reset.Sub(s.at).Seconds()
		}
		l.buckets[i] = b
	}
}

// bucket mirrors one of the provider's limits from its last report.
type bucket struct {
	known bool
	seq   int64   // the send that reported it
	limit float64 // 0 if not reported
	level float64 // remaining when that send went
	t0    time.Time
	rate  float64 // replenishment per second; 0 if unknown
	reset time.Time
	spent float64 // used by sends since t0
}

// left is the estimated remaining at now.
func (b *bucket) left(now time.Time) float64 {
	v := b.level + b.rate*now.Sub(b.t0).Seconds()
	if b.limit > 0 && v > b.limit {
		v = b.limit
	}
	return v - b.spent
}

// ready returns zero if a send using cost may go at now, keeping reserve
// unused, or else the time it may.
func (b *bucket) ready(now time.Time, cost, reserve float64) time.Time {
	if !b.known || cost <= 0 {
		return time.Time{}
	}
	if b.rate == 0 && !b.reset.IsZero() && !now.Before(b.reset) {
		// Fully replenished since the report, to a limit not reported.
		b.known = false
		return time.Time{}
	}
	left := b.left(now)
	if left-cost >= reserve {
		return time.Time{}
	}
	if b.rate > 0 {
		need := reserve + cost - left
		t := now.Add(time.Duration(need / b.rate * float64(time.Second)))
		if !b.reset.IsZero() && t.After(b.reset) {
			t = b.reset
		}
		return t
	}
	// No rate: wait for the reset, if the provider said when.
	return b.reset
}
