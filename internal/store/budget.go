package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Deferred is what a Handler returns for an event that must wait, for
// example because its route's budget is spent: the event shows status
// deferred with Reason, and runs again at Until without using an attempt.
type Deferred struct {
	Until  time.Time
	Reason string
}

func (d *Deferred) Error() string { return d.Reason }

// Usage is what a route spent in a window.
type Usage struct {
	Events int   // events that made a model request
	Tokens int64 // input + output tokens, cached input included
	// Oldest is when the oldest counted request was made: the window has
	// room again once it falls out.
	Oldest time.Time
}

// RouteUsage sums the model requests journaled for route's events since
// since. It reads the journal, so it holds across replicas and restarts.
func (s *Store) RouteUsage(ctx context.Context, route string, since time.Time) (Usage, error) {
	rows, err := s.drv.reader().query(ctx, s.q(`SELECT s.event_id, s.at, s.data FROM agenthook_step s
		JOIN agenthook_event e ON e.id = s.event_id
		WHERE e.route = ? AND s.kind = 'model_request' AND s.at >= ?`), route, since.UnixMicro())
	if err != nil {
		return Usage{}, fmt.Errorf("store: usage of %s: %w", route, err)
	}
	defer rows.Close()
	var u Usage
	var t Totals
	events := map[string]bool{}
	for rows.Next() {
		var id, data string
		var at int64
		if err := rows.Scan(&id, &at, &data); err != nil {
			return Usage{}, fmt.Errorf("store: usage of %s: %w", route, err)
		}
		t.addData([]byte(data))
		events[id] = true
		if ts := time.UnixMicro(at); u.Oldest.IsZero() || ts.Before(u.Oldest) {
			u.Oldest = ts
		}
	}
	u.Events = len(events)
	u.Tokens = t.TokensIn + t.TokensOut + t.CacheRead + t.CacheWrite
	return u, rows.Err()
}

// isDeferred reports whether err asks for the event to wait.
func isDeferred(err error) (*Deferred, bool) {
	var d *Deferred
	return d, errors.As(err, &d)
}
