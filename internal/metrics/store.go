package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/agenthook/agenthook/internal/store"
)

// The states River's jobs and agenthook's events can be in. They are always
// exported (0 when empty) so that a series does not vanish when its count
// drops to zero; a state the store returns that is not listed is exported
// too.
var (
	jobStates     = []string{"available", "cancelled", "completed", "discarded", "pending", "retryable", "running", "scheduled"}
	eventStatuses = func() []string {
		out := make([]string, len(store.Statuses))
		for i, st := range store.Statuses {
			out[i] = string(st)
		}
		return out
	}()
)

// StatusAwaitingApproval is the event status counted by
// agenthook_awaiting_approvals.
const StatusAwaitingApproval = string(store.StatusAwaitingApproval)

// storeCollector queries the store at scrape time, with a short timeout.
// When the query fails it exports agenthook_store_up 0 and no counts
// rather than failing the whole scrape.
type storeCollector struct {
	src      Source
	timeout  time.Duration
	jobs     *prometheus.Desc
	events   *prometheus.Desc
	awaiting *prometheus.Desc
	outbox   *prometheus.Desc
	up       *prometheus.Desc
}

// outboxSource is a Source that also counts the events waiting in SQLite's
// outbox for their queue job (*store.Store does).
type outboxSource interface {
	Outbox(ctx context.Context) (int, error)
}

func newStoreCollector(src Source, timeout time.Duration) *storeCollector {
	return &storeCollector{
		src:      src,
		timeout:  timeout,
		jobs:     prometheus.NewDesc("agenthook_queue_jobs", "Queue (River) jobs by state, at scrape time.", []string{"state"}, nil),
		events:   prometheus.NewDesc("agenthook_events", "Stored events by status, at scrape time.", []string{"status"}, nil),
		awaiting: prometheus.NewDesc("agenthook_awaiting_approvals", "Events waiting for a person's approval, at scrape time.", nil, nil),
		outbox:   prometheus.NewDesc("agenthook_outbox_events", "Acknowledged events waiting in the SQLite outbox for their queue job, at scrape time.", nil, nil),
		up:       prometheus.NewDesc("agenthook_store_up", "1 if the scrape-time store query succeeded, 0 if it failed or timed out.", nil, nil),
	}
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.jobs
	ch <- c.events
	ch <- c.awaiting
	if _, ok := c.src.(outboxSource); ok {
		ch <- c.outbox
	}
	ch <- c.up
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	jobs, events, err := c.src.Counts(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	gauges(ch, c.jobs, jobStates, jobs)
	gauges(ch, c.events, eventStatuses, events)
	ch <- prometheus.MustNewConstMetric(c.awaiting, prometheus.GaugeValue, float64(events[StatusAwaitingApproval]))
	if o, ok := c.src.(outboxSource); ok {
		if n, err := o.Outbox(ctx); err == nil {
			ch <- prometheus.MustNewConstMetric(c.outbox, prometheus.GaugeValue, float64(n))
		}
	}
}

// gauges exports one gauge per known label value (0 when absent from
// counts) and per other label value counts holds.
func gauges(ch chan<- prometheus.Metric, desc *prometheus.Desc, known []string, counts map[string]int64) {
	seen := make(map[string]bool, len(known))
	for _, k := range known {
		seen[k] = true
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(counts[k]), k)
	}
	for k, n := range counts {
		if !seen[k] {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(n), k)
		}
	}
}
