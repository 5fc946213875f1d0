package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agenthook/agenthook/internal/server"
	"github.com/agenthook/agenthook/internal/store"
	"github.com/agenthook/agenthook/internal/store/storetest"
)

// adminHandler is a server on a real SQLite store with the seed routes and
// the given admin token ("" for loopback-only).
func adminHandler(t *testing.T, token string) (http.Handler, *store.Store) {
	t.Helper()
	d := testDeps(t)
	d.AdminToken = token
	return server.New(d), d.Store
}

// ingest stores events as intake would (route "" means unrouted, so
// ignored) and waits until the queued ones have their dispatch jobs.
func ingest(t *testing.T, st *store.Store, evs ...[3]string) {
	t.Helper()
	for _, e := range evs {
		in := store.Incoming{ID: e[0], Type: e[1], Route: e[2], Created: 1786000000, Payload: []byte(`{"id":"` + e[0] + `","type":"` + e[1] + `"}`)}
		if _, err := st.Ingest(context.Background(), in); err != nil {
			t.Fatal(err)
		}
	}
	storetest.WaitFed(t, st)
}

type call struct {
	method, target, body, token, remote string
}

func do(t *testing.T, h http.Handler, c call) (int, map[string]any) {
	t.Helper()
	var body *strings.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	} else {
		body = strings.NewReader("")
	}
	req := httptest.NewRequest(c.method, c.target, body)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.remote != "" {
		req.RemoteAddr = c.remote
	} else {
		req.RemoteAddr = "127.0.0.1:40000"
	}
	req.Host = "127.0.0.1:8000" // a loopback name: the API refuses other Host headers without a token
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("%s %s: %d, body not JSON: %q", c.method, c.target, rec.Code, rec.Body)
	}
	return rec.Code, m
}

func eventIDs(t *testing.T, m map[string]any) []string {
	t.Helper()
	evs, ok := m["events"].([]any)
	if !ok {
		t.Fatalf("no events array in %v", m)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.(map[string]any)["id"].(string))
	}
	return out
}

func TestAdminRoutesAuth(t *testing.T) {
	routes := []call{
		{method: http.MethodGet, target: "/api/events"},
		{method: http.MethodGet, target: "/api/events/evt_auth"},
		{method: http.MethodPost, target: "/api/replay", body: `{"status":"dead"}`},
	}
	const token = "s3cret-admin-token"
	withToken, st := adminHandler(t, token)
	ingest(t, st, [3]string{"evt_auth", "customer.created", ""})
	for _, r := range routes {
		for _, tc := range []struct {
			token, remote string
			want          int
		}{
			{"", "", http.StatusUnauthorized},
			{"wrong", "", http.StatusUnauthorized},
			{token + "x", "", http.StatusUnauthorized},
			{token, "", http.StatusOK},
			{token, "192.0.2.10:5555", http.StatusOK}, // a token opens the API to remote clients
		} {
			c := r
			c.token, c.remote = tc.token, tc.remote
			if code, m := do(t, withToken, c); code != tc.want {
				t.Errorf("token set, %s %s with %q from %q: %d %v, want %d", c.method, c.target, tc.token, tc.remote, code, m, tc.want)
			}
		}
	}
	loopOnly, st2 := adminHandler(t, "")
	ingest(t, st2, [3]string{"evt_auth", "customer.created", ""})
	for _, r := range routes {
		for _, tc := range []struct {
			remote string
			want   int
		}{
			{"127.0.0.1:5555", http.StatusOK},
			{"[::1]:5555", http.StatusOK},
			{"192.0.2.10:5555", http.StatusForbidden},
		} {
			c := r
			c.remote = tc.remote
			if code, m := do(t, loopOnly, c); code != tc.want {
				t.Errorf("no token, %s %s from %s: %d %v, want %d", c.method, c.target, tc.remote, code, m, tc.want)
			}
		}
	}
}

func TestEventListAPI(t *testing.T) {
	h, st := adminHandler(t, "")
	ingest(t, st,
		[3]string{"evt_d1", "charge.dispute.created", "charge.dispute.created"},
		[3]string{"evt_c1", "customer.created", ""},
		[3]string{"evt_d2", "charge.dispute.created", "charge.dispute.created"},
		[3]string{"evt_r1", "charge.refunded", "charge.refunded"},
		[3]string{"evt_c2", "customer.created", ""},
	)
	get := func(q string) (int, map[string]any) {
		t.Helper()
		return do(t, h, call{method: http.MethodGet, target: "/api/events" + q})
	}
	code, all := get("")
	if code != 200 || all["next_cursor"] != "" {
		t.Fatalf("list: %d %v", code, all)
	}
	allIDs := eventIDs(t, all)
	if len(allIDs) != 5 || allIDs[0] != "evt_c2" {
		t.Fatalf("list %v, want 5 newest first", allIDs)
	}
	first := all["events"].([]any)[0].(map[string]any)
	for _, k := range []string{"id", "type", "created", "livemode", "received_at", "route", "status", "attempts", "last_error", "updated_at", "tokens_in", "tokens_out"} {
		if _, ok := first[k]; !ok {
			t.Errorf("summary lacks %q: %v", k, first)
		}
	}
	if _, ok := first["steps"]; ok {
		t.Errorf("summary carries the journal: %v", first)
	}

	// Pages of two, following next_cursor, give the whole list once.
	var paged []string
	q := "?limit=2"
	for pages := 0; ; pages++ {
		code, m := get(q)
		if code != 200 || pages > 5 {
			t.Fatalf("page %d: %d %v", pages, code, m)
		}
		got := eventIDs(t, m)
		if len(got) > 2 {
			t.Fatalf("page of %d with limit 2", len(got))
		}
		paged = append(paged, got...)
		next, _ := m["next_cursor"].(string)
		if next == "" {
			break
		}
		q = "?limit=2&cursor=" + url.QueryEscape(next)
	}
	if !slices.Equal(paged, allIDs) {
		t.Fatalf("paged %v, want %v", paged, allIDs)
	}

	now := time.Now().UTC()
	for _, tc := range []struct {
		q    string
		want []string
	}{
		{"?status=ignored", []string{"evt_c2", "evt_c1"}},
		{"?status=ignored,queued", allIDs},
		{"?status=ignored&status=dead", []string{"evt_c2", "evt_c1"}},
		{"?type=charge.dispute.created", []string{"evt_d2", "evt_d1"}},
		{"?route=charge.refunded", []string{"evt_r1"}},
		{"?q=D", []string{"evt_d2", "evt_d1"}},
		{"?since=1h", allIDs},
		{"?since=7d&until=" + url.QueryEscape(now.Add(-time.Hour).Format(time.RFC3339)), nil},
		{"?since=" + url.QueryEscape(now.Add(time.Hour).Format(time.RFC3339)), nil},
		{"?until=" + url.QueryEscape(now.Add(time.Hour).Format(time.RFC3339)) + "&type=customer.created&limit=1", []string{"evt_c2"}},
	} {
		code, m := get(tc.q)
		if got := eventIDs(t, m); code != 200 || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %d %v, want %v", tc.q, code, got, tc.want)
		}
	}

	for _, q := range []string{"?limit=abc", "?limit=501", "?limit=-3", "?statuses=dead", "?status=finished",
		"?since=yesterday", "?since=-2h", "?until=2026-13-01", "?cursor=bm9wZQ"} {
		code, m := get(q)
		if msg, _ := m["error"].(string); code != 400 || msg == "" {
			t.Errorf("%s: %d %v, want 400 with an error", q, code, m)
		}
	}
}

func TestEventGetTotals(t *testing.T) {
	h, st := adminHandler(t, "")
	ingest(t, st, [3]string{"evt_t1", "customer.created", ""})
	code, m := do(t, h, call{method: http.MethodGet, target: "/api/events/evt_t1"})
	if code != 200 {
		t.Fatalf("%d %v", code, m)
	}
	for _, k := range []string{"id", "type", "created", "livemode", "received_at", "route", "status", "attempts", "last_error", "steps", "totals"} {
		if _, ok := m[k]; !ok {
			t.Errorf("event lacks %q: %v", k, m)
		}
	}
	tot, _ := m["totals"].(map[string]any)
	for _, k := range []string{"model_requests", "tokens_in", "tokens_out", "cache_read_tokens", "cache_write_tokens", "model_latency_ms"} {
		if v, ok := tot[k]; !ok || v != 0.0 {
			t.Errorf("totals[%q] = %v, want 0", k, v)
		}
	}
	if _, ok := m["payload"]; ok {
		t.Error("the payload leaks into the API")
	}
}

func TestReplayManyAPI(t *testing.T) {
	h, st := adminHandler(t, "")
	ctx := context.Background()
	ingest(t, st,
		// Ignored when they came, but the seed config routes these types now.
		[3]string{"evt_old_refund1", "charge.refunded", ""},
		[3]string{"evt_old_refund2", "charge.refunded", ""},
		// Still unrouted: nothing to replay it with.
		[3]string{"evt_cust", "customer.created", ""},
		// In flight.
		[3]string{"evt_queued", "charge.refunded", "charge.refunded"},
	)
	post := func(body string) (int, map[string]any) {
		t.Helper()
		return do(t, h, call{method: http.MethodPost, target: "/api/replay", body: body})
	}
	strs := func(v any) []string {
		var out []string
		for _, x := range v.([]any) {
			out = append(out, x.(string))
		}
		return out
	}
	skips := func(v any) map[string]string {
		out := map[string]string{}
		for _, x := range v.([]any) {
			s := x.(map[string]any)
			out[s["id"].(string)] = s["reason"].(string)
		}
		return out
	}

	// One at a time: matched counts what is left, the cursor moves on.
	code, m := post(`{"status":"ignored","limit":1}`)
	if code != 200 || m["matched"] != 3.0 || m["next_cursor"] == "" || !slices.Equal(strs(m["replayed"]), []string{}) {
		t.Fatalf("first batch: %d %v", code, m)
	}
	if r := skips(m["skipped"])["evt_cust"]; !strings.Contains(r, "no route") {
		t.Fatalf("evt_cust skip reason %q", r)
	}
	code, m = post(`{"status":"ignored","limit":10,"cursor":"` + m["next_cursor"].(string) + `"}`)
	if code != 200 || m["matched"] != 2.0 || m["next_cursor"] != "" || len(m["skipped"].([]any)) != 0 {
		t.Fatalf("second batch: %d %v", code, m)
	}
	if got := strs(m["replayed"]); !slices.Equal(got, []string{"evt_old_refund2", "evt_old_refund1"}) {
		t.Fatalf("replayed %v", got)
	}
	for _, id := range []string{"evt_old_refund1", "evt_old_refund2"} {
		ev, err := st.Event(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Status != store.StatusQueued || ev.Route != "charge.refunded" || ev.Steps[len(ev.Steps)-1].Kind != "replay" {
			t.Fatalf("%s after replay: status %s route %q steps %+v", id, ev.Status, ev.Route, ev.Steps)
		}
		if n, _ := st.CountJobs(ctx, id); n != 1 {
			t.Fatalf("%s has %d jobs, want 1", id, n)
		}
	}

	// Events in flight are skipped, not queued twice.
	code, m = post(`{"type":"charge.refunded"}`)
	if code != 200 || len(m["replayed"].([]any)) != 0 || m["matched"] != 3.0 {
		t.Fatalf("in flight: %d %v", code, m)
	}
	if r := skips(m["skipped"]); len(r) != 3 || !strings.Contains(r["evt_queued"], "still queued") {
		t.Fatalf("in-flight skips %v", r)
	}
	if n, _ := st.CountJobs(ctx, "evt_queued"); n != 1 {
		t.Fatalf("evt_queued has %d jobs", n)
	}

	for _, body := range []string{"", "{}", `{"limit":5}`, `{"staus":"dead"}`, `{"status":"finished"}`, `{"since":"soon"}`, `{"status":"dead","limit":1000}`, `[1]`} {
		code, m := post(body)
		if msg, _ := m["error"].(string); code != 400 || msg == "" {
			t.Errorf("body %q: %d %v, want 400 with an error", body, code, m)
		}
	}
}
