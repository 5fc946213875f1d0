package anthropic

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/agenthook/agenthook/internal/agent"
	"github.com/agenthook/agenthook/internal/modeltest"
)

func req() agent.Request {
	return agent.Request{
		Model: "claude-test", MaxTokens: 256,
		Messages: []agent.Message{{Role: agent.User, Content: []agent.Block{{Type: agent.TextBlock, Text: "hi"}}}},
		Tools:    []agent.Tool{{Name: "t", InputSchema: map[string]any{"type": "object"}}},
		Choice:   agent.Choice{Mode: "any"},
	}
}

func TestRateLimitHeaders(t *testing.T) {
	reset := time.Date(2026, 11, 24, 10, 0, 30, 0, time.UTC)
	headers := map[string]string{
		"anthropic-ratelimit-requests-limit":          "50",
		"anthropic-ratelimit-requests-remaining":      "49",
		"anthropic-ratelimit-requests-reset":          "2026-11-24T10:00:30Z",
		"anthropic-ratelimit-tokens-limit":            "40000",
		"anthropic-ratelimit-tokens-remaining":        "39000",
		"anthropic-ratelimit-input-tokens-limit":      "30000",
		"anthropic-ratelimit-input-tokens-remaining":  "29000",
		"anthropic-ratelimit-input-tokens-reset":      "2026-11-24T10:00:01Z",
		"anthropic-ratelimit-output-tokens-remaining": "0",
		"anthropic-ratelimit-output-tokens-reset":     "2026-11-24T10:00:02Z",
	}
	srv := modeltest.NewAnthropic(modeltest.Reply{Headers: headers},
		modeltest.Reply{Status: 429, Headers: map[string]string{"retry-after": "7", "anthropic-ratelimit-requests-remaining": "0",
			"anthropic-ratelimit-requests-reset": "2026-11-24T10:00:30Z"}},
		modeltest.Reply{})
	defer srv.Close()
	p := New(Options{APIKey: "sk-test", BaseURL: srv.URL})

	r, err := p.Send(context.Background(), req())
	if err != nil {
		t.Fatal(err)
	}
	rl := r.RateLimit
	if rl == nil {
		t.Fatal("no rate limit snapshot")
	}
	if want := (agent.LimitBucket{Known: true, Limit: 50, Remaining: 49, Reset: reset}); rl.Requests != want {
		t.Errorf("requests %+v, want %+v", rl.Requests, want)
	}
	if rl.Tokens.Limit != 40000 || rl.Tokens.Remaining != 39000 || !rl.Tokens.Reset.IsZero() {
		t.Errorf("tokens %+v", rl.Tokens)
	}
	if rl.InputTokens.Remaining != 29000 || !rl.InputTokens.Reset.Equal(reset.Add(-29*time.Second)) {
		t.Errorf("input tokens %+v", rl.InputTokens)
	}
	if !rl.OutputTokens.Known || rl.OutputTokens.Remaining != 0 || rl.OutputTokens.Limit != 0 {
		t.Errorf("output tokens %+v", rl.OutputTokens)
	}
	if rl.At.IsZero() || rl.RetryAfter != 0 {
		t.Errorf("at %v retry-after %v", rl.At, rl.RetryAfter)
	}

	_, err = p.Send(context.Background(), req())
	var ae *agent.Error
	if !errors.As(err, &ae) || ae.StatusCode != 429 || ae.RateLimit == nil {
		t.Fatalf("429: %#v", err)
	}
	if ae.RateLimit.RetryAfter != 7*time.Second || !ae.RateLimit.Requests.Known || ae.RateLimit.Requests.Remaining != 0 || ae.After != 7*time.Second {
		t.Errorf("429 snapshot %+v, After %s", ae.RateLimit, ae.After)
	}

	r, err = p.Send(context.Background(), req())
	if err != nil {
		t.Fatal(err)
	}
	if r.RateLimit != nil {
		t.Errorf("no headers, but a snapshot: %+v", r.RateLimit)
	}
}
