package dispatch

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/agenthook/agenthook/internal/agent"
	"github.com/agenthook/agenthook/internal/metrics"
	"github.com/agenthook/agenthook/internal/store"
)

// outcome mirrors what the store makes of an attempt's result.
func TestOutcome(t *testing.T) {
	live := context.Background()
	cut, cancel := context.WithCancel(live)
	cancel()
	retryable := &agent.Error{Provider: "p", StatusCode: 529, Retryable: true}
	d := &Dispatcher{MaxAttempts: 3}
	for _, tc := range []struct {
		ctx     context.Context
		attempt int
		err     error
		want    string
	}{
		{live, 1, nil, metrics.DispatchDone},
		{live, 1, store.ErrFiltered, metrics.DispatchFiltered},
		{live, 1, retryable, metrics.DispatchRetrying},
		{live, 2, fmt.Errorf("wrapped: %w", retryable), metrics.DispatchRetrying},
		{live, 3, retryable, metrics.DispatchDead}, // the last attempt
		{live, 1, &agent.Error{Provider: "p", StatusCode: 401}, metrics.DispatchDead},
		{live, 1, permanentError{errors.New("no route")}, metrics.DispatchDead},
		{live, 1, &agent.Truncated{MaxTokens: 10}, metrics.DispatchDead},
		{cut, 1, context.Canceled, metrics.DispatchDeferred},
		{cut, 3, retryable, metrics.DispatchDeferred}, // shutdown does not use up the attempt
	} {
		if got := d.outcome(tc.ctx, &store.Run{Attempt: tc.attempt}, tc.err); got != tc.want {
			t.Errorf("attempt %d, err %v, ctx err %v: %s, want %s", tc.attempt, tc.err, tc.ctx.Err(), got, tc.want)
		}
	}
	// Without MaxAttempts the store's default applies.
	d = &Dispatcher{}
	if got := d.outcome(live, &store.Run{Attempt: store.DefaultMaxAttempts - 1}, retryable); got != metrics.DispatchRetrying {
		t.Errorf("attempt %d of the default: %s", store.DefaultMaxAttempts-1, got)
	}
	if got := d.outcome(live, &store.Run{Attempt: store.DefaultMaxAttempts}, retryable); got != metrics.DispatchDead {
		t.Errorf("attempt %d of the default: %s", store.DefaultMaxAttempts, got)
	}
}
