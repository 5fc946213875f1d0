package anthropic

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/agenthook/agenthook/internal/agent"
)

// rateLimit reads the anthropic-ratelimit-* and retry-after headers of a
// response: for requests, tokens, input-tokens and output-tokens, the
// -limit, -remaining and -reset (RFC 3339) values. It returns nil when the
// response carries none of them.
func rateLimit(h http.Header, now time.Time) *agent.RateLimit {
	if h == nil {
		return nil
	}
	rl := &agent.RateLimit{
		At:           now,
		Requests:     bucket(h, "requests"),
		Tokens:       bucket(h, "tokens"),
		InputTokens:  bucket(h, "input-tokens"),
		OutputTokens: bucket(h, "output-tokens"),
		RetryAfter:   agent.ParseRetryAfter(h.Get, now),
	}
	if !rl.Requests.Known && !rl.Tokens.Known && !rl.InputTokens.Known && !rl.OutputTokens.Known && rl.RetryAfter == 0 {
		return nil
	}
	return rl
}

func bucket(h http.Header, name string) agent.LimitBucket {
	prefix := "anthropic-ratelimit-" + name + "-"
	var b agent.LimitBucket
	if v, err := strconv.ParseInt(strings.TrimSpace(h.Get(prefix+"remaining")), 10, 64); err == nil && v >= 0 {
		b.Known, b.Remaining = true, v
	}
	if v, err := strconv.ParseInt(strings.TrimSpace(h.Get(prefix+"limit")), 10, 64); err == nil && v > 0 {
		b.Limit = v
	}
	if v := strings.TrimSpace(h.Get(prefix + "reset")); v != "" {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			b.Reset = t
		}
	}
	return b
}
