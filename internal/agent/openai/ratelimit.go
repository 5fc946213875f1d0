package openai

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/agenthook/agenthook/internal/agent"
)

// rateLimit reads OpenAI's x-ratelimit-* and retry-after headers:
// x-ratelimit-{limit,remaining,reset}-{requests,tokens}, where reset is a
// duration from now ("1s", "6m0s", "20ms"; a bare number is seconds). It
// returns nil when the response carries none of them, which is usual for
// OpenAI-compatible local servers.
func rateLimit(h http.Header, now time.Time) *agent.RateLimit {
	if h == nil {
		return nil
	}
	rl := &agent.RateLimit{
		At:         now,
		Requests:   bucket(h, "requests", now),
		Tokens:     bucket(h, "tokens", now),
		RetryAfter: agent.ParseRetryAfter(h.Get, now),
	}
	if !rl.Requests.Known && !rl.Tokens.Known && rl.RetryAfter == 0 {
		return nil
	}
	return rl
}

func bucket(h http.Header, name string, now time.Time) agent.LimitBucket {
	var b agent.LimitBucket
	if v, err := strconv.ParseInt(strings.TrimSpace(h.Get("x-ratelimit-remaining-"+name)), 10, 64); err == nil && v >= 0 {
		b.Known, b.Remaining = true, v
	}
	if v, err := strconv.ParseInt(strings.TrimSpace(h.Get("x-ratelimit-limit-"+name)), 10, 64); err == nil && v > 0 {
		b.Limit = v
	}
	if d, ok := resetIn(h.Get("x-ratelimit-reset-" + name)); ok {
		b.Reset = now.Add(d)
	}
	return b
}

// resetIn reads a reset duration: Go-style ("6m0s", "1.5s", "20ms") or a
// number of seconds.
func resetIn(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return d, true
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second)), true
	}
	return 0, false
}
