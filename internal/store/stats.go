package store

import (
	"context"
	"fmt"
)

// Counts returns how many queue jobs there are in each River state and how
// many events in each status, for the metrics gauges. States and statuses
// with no rows are absent.
func (s *Store) Counts(ctx context.Context) (jobs, events map[string]int64, err error) {
	if jobs, err = s.countBy(ctx, `SELECT state, count(*) FROM river_job GROUP BY state`); err != nil {
		return nil, nil, err
	}
	if events, err = s.countBy(ctx, `SELECT status, count(*) FROM agenthook_event GROUP BY status`); err != nil {
		return nil, nil, err
	}
	return jobs, events, nil
}

func (s *Store) countBy(ctx context.Context, query string) (map[string]int64, error) {
	rows, err := s.drv.reader().query(ctx, s.q(query))
	if err != nil {
		return nil, fmt.Errorf("store: counts: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			return nil, fmt.Errorf("store: counts: %w", err)
		}
		out[k] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: counts: %w", err)
	}
	return out, nil
}
