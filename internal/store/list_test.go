package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agenthook/agenthook/internal/journal"
	"github.com/agenthook/agenthook/internal/store"
)

// listFixture stores eight events through Ingest: four disputes, two failed
// invoices (both routed, so queued) and two unrouted customer.created
// (ignored). Ids mix case and underscores for the q filter.
func listFixture(t *testing.T, s *store.Store) {
	t.Helper()
	for _, e := range []struct{ id, typ, route string }{
		{"evt_Dispute1", "charge.dispute.created", "disputes"},
		{"evt_Dispute2", "charge.dispute.created", "disputes"},
		{"evtXa1", "invoice.payment_failed", "invoices"},
		{"evt_a1", "invoice.payment_failed", "invoices"},
		{"evt_Dispute3", "charge.dispute.created", "disputes"},
		{"evt_cust1", "customer.created", ""},
		{"evt_Dispute4", "charge.dispute.created", "disputes"},
		{"evt_cust2", "customer.created", ""},
	} {
		in := store.Incoming{ID: e.id, Type: e.typ, Created: 1786000000, Route: e.route, Payload: []byte(`{"id":"` + e.id + `"}`)}
		if _, err := s.Ingest(context.Background(), in); err != nil {
			t.Fatal(err)
		}
	}
}

func ids(evs []store.Summary) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func list(t *testing.T, s *store.Store, f store.Filter) store.Page {
	t.Helper()
	p, err := s.List(context.Background(), f)
	if err != nil {
		t.Fatalf("list %+v: %v", f, err)
	}
	return p
}

func TestListFilters(t *testing.T) {
	s := open(t, store.Options{})
	listFixture(t, s)

	all := list(t, s, store.Filter{})
	if len(all.Events) != 8 || all.NextCursor != "" {
		t.Fatalf("all: %v, cursor %q", ids(all.Events), all.NextCursor)
	}
	// Newest first by received_at, ties broken by id, both descending.
	if !slices.IsSortedFunc(all.Events, func(a, b store.Summary) int {
		if c := b.ReceivedAt.Compare(a.ReceivedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	}) {
		t.Fatalf("not newest first: %+v", all.Events)
	}
	for _, e := range all.Events {
		if e.Type == "" || e.Created != 1786000000 || e.ReceivedAt.IsZero() || e.UpdatedAt.IsZero() || e.Status == "" {
			t.Fatalf("summary lacks fields: %+v", e)
		}
	}

	sameSet := func(name string, got []store.Summary, want ...string) {
		t.Helper()
		g := ids(got)
		slices.Sort(g)
		slices.Sort(want)
		if !slices.Equal(g, want) {
			t.Errorf("%s: got %v, want %v", name, g, want)
		}
	}
	sameSet("status ignored", list(t, s, store.Filter{Statuses: []store.Status{store.StatusIgnored}}).Events, "evt_cust1", "evt_cust2")
	sameSet("status ignored or dead", list(t, s, store.Filter{Statuses: []store.Status{store.StatusIgnored, store.StatusDead}}).Events, "evt_cust1", "evt_cust2")
	sameSet("type", list(t, s, store.Filter{Type: "invoice.payment_failed"}).Events, "evtXa1", "evt_a1")
	sameSet("route", list(t, s, store.Filter{Route: "disputes"}).Events, "evt_Dispute1", "evt_Dispute2", "evt_Dispute3", "evt_Dispute4")
	sameSet("route and status", list(t, s, store.Filter{Route: "disputes", Statuses: []store.Status{store.StatusIgnored}}).Events)
	// Every status is a valid filter, the later ones included.
	sameSet("awaiting approval or deferred", list(t, s, store.Filter{Statuses: []store.Status{store.StatusAwaitingApproval, store.StatusDeferred}}).Events)
	sameSet("q ignores case", list(t, s, store.Filter{IDContains: "dispute"}).Events, "evt_Dispute1", "evt_Dispute2", "evt_Dispute3", "evt_Dispute4")
	// _ and % are literal, not LIKE wildcards: "t_a" must not match evtXa1.
	sameSet("q literal underscore", list(t, s, store.Filter{IDContains: "t_a"}).Events, "evt_a1")
	sameSet("q literal percent", list(t, s, store.Filter{IDContains: "%"}).Events)

	// since is inclusive, until exclusive; together they split the set.
	pivot := all.Events[3].ReceivedAt
	var newer, older []string
	for _, e := range all.Events {
		if e.ReceivedAt.Before(pivot) {
			older = append(older, e.ID)
		} else {
			newer = append(newer, e.ID)
		}
	}
	sameSet("since", list(t, s, store.Filter{Since: pivot}).Events, newer...)
	sameSet("until", list(t, s, store.Filter{Until: pivot}).Events, older...)
	sameSet("since after everything", list(t, s, store.Filter{Since: all.Events[0].ReceivedAt.Add(time.Microsecond)}).Events)

	for _, f := range []store.Filter{
		{Limit: store.MaxListLimit + 1},
		{Limit: -1},
		{Cursor: "not a cursor!"},
		{Cursor: "MTIz"}, // base64 of "123": no id
		{Statuses: []store.Status{"finished"}},
	} {
		if _, err := s.List(context.Background(), f); !errors.Is(err, store.ErrBadFilter) {
			t.Errorf("list %+v: %v, want ErrBadFilter", f, err)
		}
		if _, err := s.Count(context.Background(), f); f.Limit == 0 && !errors.Is(err, store.ErrBadFilter) {
			t.Errorf("count %+v: %v, want ErrBadFilter", f, err)
		}
	}
}

func TestListPagination(t *testing.T) {
	s := open(t, store.Options{})
	ctx := context.Background()
	listFixture(t, s)
	all := ids(list(t, s, store.Filter{}).Events)

	for _, tc := range []struct {
		f     store.Filter
		want  []string
		pages int
	}{
		{store.Filter{Limit: 3}, all, 3},
		{store.Filter{Limit: 8}, all, 1}, // a full last page has no cursor
		{store.Filter{Limit: 1}, all, 8},
		{store.Filter{Limit: 2, Statuses: []store.Status{store.StatusQueued}}, nil, 3},
	} {
		if tc.want == nil {
			tc.want = ids(list(t, s, store.Filter{Statuses: tc.f.Statuses}).Events)
		}
		var got []string
		pages := 0
		f := tc.f
		for {
			n, err := s.Count(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if n != len(tc.want)-len(got) {
				t.Errorf("limit %d: count from cursor %q = %d, want %d", f.Limit, f.Cursor, n, len(tc.want)-len(got))
			}
			p := list(t, s, f)
			pages++
			if len(p.Events) > f.Limit {
				t.Fatalf("page of %d over limit %d", len(p.Events), f.Limit)
			}
			got = append(got, ids(p.Events)...)
			if p.NextCursor == "" {
				break
			}
			if pages > 20 {
				t.Fatal("pagination does not end")
			}
			f.Cursor = p.NextCursor
		}
		if !slices.Equal(got, tc.want) || pages != tc.pages {
			t.Errorf("limit %d: pages %d (want %d): %v, want %v", tc.f.Limit, pages, tc.pages, got, tc.want)
		}
	}

	// An event arriving between pages is newer than the cursor: the next
	// page neither repeats nor skips anything.
	first := list(t, s, store.Filter{Limit: 4})
	if _, err := s.Ingest(ctx, incoming("evt_late")); err != nil {
		t.Fatal(err)
	}
	rest := list(t, s, store.Filter{Limit: 10, Cursor: first.NextCursor})
	if got := append(ids(first.Events), ids(rest.Events)...); !slices.Equal(got, all) {
		t.Fatalf("paging across a new arrival: %v, want %v", got, all)
	}
	if top := list(t, s, store.Filter{Limit: 1}); top.Events[0].ID != "evt_late" {
		t.Fatalf("newest is %s, want evt_late", top.Events[0].ID)
	}
}

func TestListAndEventTotals(t *testing.T) {
	h := store.HandlerFunc(func(ctx context.Context, run *store.Run) error {
		if run.Event.ID == "evt_quiet" {
			return nil
		}
		for round := 1; round <= 2; round++ {
			if err := run.Append(ctx, &journal.ModelRequest{Round: round, LatencyMS: 250, Usage: journal.Usage{
				InputTokens: int64(100 * round), OutputTokens: int64(10 * round), CacheReadInputTokens: 7, CacheCreationInputTokens: 3}}); err != nil {
				return err
			}
			// Other kinds never count, even with token-like fields.
			if err := run.Append(ctx, &journal.Unknown{Name: "decision", Data: json.RawMessage(fmt.Sprintf(`{"round":%d,"input_tokens":1000}`, round))}); err != nil {
				return err
			}
		}
		return nil
	})
	s := open(t, store.Options{Handler: h, PollInterval: 20 * time.Millisecond})
	ctx := context.Background()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"evt_busy", "evt_quiet"} {
		if _, err := s.Ingest(ctx, incoming(id)); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"evt_busy", "evt_quiet"} {
		waitFor(t, id+" done", func() bool { return status(t, s, id) == store.StatusDone })
	}
	p := list(t, s, store.Filter{Statuses: []store.Status{store.StatusDone}})
	got := map[string][2]int64{}
	for _, e := range p.Events {
		got[e.ID] = [2]int64{e.TokensIn, e.TokensOut}
	}
	if got["evt_busy"] != [2]int64{300, 30} || got["evt_quiet"] != [2]int64{0, 0} || len(got) != 2 {
		t.Fatalf("token sums %v", got)
	}
	ev, err := s.Event(ctx, "evt_busy")
	if err != nil {
		t.Fatal(err)
	}
	want := store.Totals{ModelRequests: 2, TokensIn: 300, TokensOut: 30, CacheRead: 14, CacheWrite: 6, ModelLatencyMS: 500}
	if tot := ev.Totals(); tot != want {
		t.Fatalf("totals %+v, want %+v", tot, want)
	}
}
