package openai

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/agenthook/agenthook/internal/agent"
	"github.com/agenthook/agenthook/internal/modeltest"
)

func TestRateLimitHeaders(t *testing.T) {
	srv := modeltest.NewOpenAI(
		modeltest.Reply{Headers: map[string]string{
			"x-ratelimit-limit-requests":     "500",
			"x-ratelimit-remaining-requests": "499",
			"x-ratelimit-reset-requests":     "120ms",
			"x-ratelimit-limit-tokens":       "30000",
			"x-ratelimit-remaining-tokens":   "29000",
			"x-ratelimit-reset-tokens":       "6m0s",
		}},
		modeltest.Reply{Status: 429, Headers: map[string]string{
			"retry-after": "2", "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1.5",
		}},
	)
	defer srv.Close()
	p := New(Options{APIKey: "sk-test", BaseURL: srv.BaseURL()})
	before := time.Now()
	r, err := p.Send(context.Background(), request(agent.Choice{Mode: "any"}, opening()))
	if err != nil {
		t.Fatal(err)
	}
	rl := r.RateLimit
	if rl == nil {
		t.Fatal("no rate limit snapshot")
	}
	if rl.Requests.Limit != 500 || rl.Requests.Remaining != 499 || !rl.Requests.Known || rl.Requests.Reset.Sub(rl.At) != 120*time.Millisecond {
		t.Errorf("requests %+v at %v", rl.Requests, rl.At)
	}
	if rl.Tokens.Limit != 30000 || rl.Tokens.Remaining != 29000 || rl.Tokens.Reset.Sub(rl.At) != 6*time.Minute {
		t.Errorf("tokens %+v at %v", rl.Tokens, rl.At)
	}
	if rl.At.Before(before) || rl.InputTokens.Known || rl.OutputTokens.Known {
		t.Errorf("snapshot %+v", rl)
	}

	_, err = p.Send(context.Background(), request(agent.Choice{Mode: "any"}, opening()))
	var ae *agent.Error
	if !errors.As(err, &ae) || ae.StatusCode != 429 || ae.RateLimit == nil {
		t.Fatalf("429: %#v", err)
	}
	if ae.RateLimit.RetryAfter != 2*time.Second || ae.RateLimit.Requests.Remaining != 0 || ae.RateLimit.Requests.Reset.Sub(ae.RateLimit.At) != 1500*time.Millisecond {
		t.Errorf("429 snapshot %+v", ae.RateLimit)
	}
}
