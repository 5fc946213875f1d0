package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agenthook/agenthook/internal/config"
	"github.com/agenthook/agenthook/internal/journal"
	"github.com/agenthook/agenthook/internal/route"
	"github.com/agenthook/agenthook/internal/store"
)

// eventFilter is the filter of GET /api/events (query parameters) and of
// POST /api/replay (a JSON body), before it is checked.
type eventFilter struct {
	Status string `json:"status"` // comma-separated statuses
	Type   string `json:"type"`
	Route  string `json:"route"`
	Since  string `json:"since"` // RFC3339, or a duration back from now (24h, 7d)
	Until  string `json:"until"`
	Q      string `json:"q"` // text in the id
	Limit  int    `json:"limit"`
	Cursor string `json:"cursor"`
}

const filterHelp = "status, type, route, since, until, q, limit or cursor"

// empty reports whether the filter selects every event.
func (p eventFilter) empty() bool {
	return p.Status == "" && p.Type == "" && p.Route == "" && p.Since == "" && p.Until == "" && p.Q == ""
}

// filter checks p and turns it into a store filter; now anchors durations.
func (p eventFilter) filter(now time.Time) (store.Filter, error) {
	f := store.Filter{Type: p.Type, Route: p.Route, IDContains: p.Q, Limit: p.Limit, Cursor: p.Cursor}
	for st := range strings.SplitSeq(p.Status, ",") {
		if st = strings.TrimSpace(st); st != "" {
			f.Statuses = append(f.Statuses, store.Status(st))
		}
	}
	var err error
	if f.Since, err = parseInstant("since", p.Since, now); err != nil {
		return f, err
	}
	if f.Until, err = parseInstant("until", p.Until, now); err != nil {
		return f, err
	}
	return f, nil
}

// parseInstant reads an RFC3339 time or a duration meaning that long ago.
func parseInstant(name, s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := config.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("%s %q: use an RFC3339 time (2026-01-02T15:04:05Z) or a duration back from now (90m, 24h, 7d)", name, s)
	}
	return now.Add(-d), nil
}

// queryFilter reads the filter from the URL query, refusing unknown
// parameters so a typo does not silently list everything.
func queryFilter(r *http.Request) (eventFilter, error) {
	var p eventFilter
	for k, v := range r.URL.Query() {
		val := v[len(v)-1]
		switch k {
		case "status":
			p.Status = strings.Join(v, ",")
		case "type":
			p.Type = val
		case "route":
			p.Route = val
		case "since":
			p.Since = val
		case "until":
			p.Until = val
		case "q":
			p.Q = val
		case "cursor":
			p.Cursor = val
		case "limit":
			n, err := strconv.Atoi(val)
			if err != nil {
				return p, fmt.Errorf("limit %q: use a whole number from 1 to %d", val, store.MaxListLimit)
			}
			p.Limit = n
		default:
			return p, fmt.Errorf("unknown parameter %q: use %s", k, filterHelp)
		}
	}
	return p, nil
}

// handleEventList lists events, newest first, a page at a time.
// listPage runs the filter p (returned as the store saw it) and writes the error answer itself when it
// cannot: 400 for a bad filter, 500 for a store failure.
func listPage(w http.ResponseWriter, r *http.Request, st *store.Store, p eventFilter) (store.Filter, store.Page, bool) {
	f, err := p.filter(time.Now())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return f, store.Page{}, false
	}
	page, err := st.List(r.Context(), f)
	if errors.Is(err, store.ErrBadFilter) {
		writeError(w, http.StatusBadRequest, err.Error())
		return f, store.Page{}, false
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return f, store.Page{}, false
	}
	return f, page, true
}

func handleEventList(st *store.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := queryFilter(r)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		_, page, ok := listPage(w, r, st, p)
		if !ok {
			return
		}
		writeJSON(w, http.StatusOK, page)
	})
}

// eventDetail is GET /api/events/{id}: the event, its journal and the
// totals of its model requests.
type eventDetail struct {
	*store.Event
	Totals store.Totals `json:"totals"`
	// Pending lists the tool calls waiting for an operator (store's rule).
	Pending []store.Pending `json:"pending"`
	// CostUSD is the totals at agent.prices; absent when no prices are set.
	CostUSD *float64 `json:"cost_usd,omitempty"`
}

func newEventDetail(ev *store.Event, prices *config.Prices) eventDetail {
	d := eventDetail{Event: ev, Totals: ev.Totals(), Pending: []store.Pending{}}
	if ev.Status == store.StatusAwaitingApproval {
		d.Pending = append(d.Pending, ev.Pending()...)
	}
	for i, st := range ev.Steps {
		ev.Steps[i].Data = journal.Public(journal.Entry{Kind: st.Kind, Data: st.Data})
	}
	if prices != nil {
		t := d.Totals
		c := prices.Cost(t.TokensIn, t.TokensOut, t.CacheRead, t.CacheWrite)
		d.CostUSD = &c
	}
	return d
}

// replaySkip says why an event matched by POST /api/replay was not queued.
type replaySkip struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

type replayAnswer struct {
	Replayed []string     `json:"replayed"`
	Skipped  []replaySkip `json:"skipped"`
	// Writes counts the writes the replayed events made before (executed
	// without error): a replay may make them, or different ones, again.
	Writes int `json:"writes"`
	// Matched counts the events the filter selected from the cursor on,
	// before this batch: the work left, for a progress bar.
	Matched int `json:"matched"`
	// NextCursor continues with the next batch; "" when none is left.
	NextCursor string `json:"next_cursor"`
}

// handleReplayMany queues again, routed by the current config, the events a
// filter selects: one page (limit, default 50, at most 500) per request.
func handleReplayMany(log *slog.Logger, st *store.Store, routes *route.Table) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			eventFilter
			// AllowWrites replays events that made writes too.
			AllowWrites bool `json:"allow_writes"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			writeError(w, http.StatusBadRequest, "body: "+err.Error()+`: send a JSON filter such as {"status":"dead","since":"24h"} with `+filterHelp+`, and "allow_writes": true to replay events that made writes`)
			return
		}
		p := body.eventFilter
		if p.empty() {
			writeError(w, http.StatusBadRequest, "no filter: replaying every event is refused; give status, type, route, since, until or q (e.g. {\"status\":\"dead\"})")
			return
		}
		f, page, ok := listPage(w, r, st, p)
		if !ok {
			return
		}
		ans := replayAnswer{Replayed: []string{}, Skipped: []replaySkip{}, NextCursor: page.NextCursor}
		var err error
		if ans.Matched, err = st.Count(r.Context(), f); err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		for _, ev := range page.Events {
			writes, reason := replayOne(r.Context(), log, st, routes, ev, body.AllowWrites)
			if reason != "" {
				ans.Skipped = append(ans.Skipped, replaySkip{ID: ev.ID, Reason: reason})
				continue
			}
			ans.Replayed = append(ans.Replayed, ev.ID)
			ans.Writes += writes
		}
		log.Info("replay by filter", "replayed", len(ans.Replayed), "skipped", len(ans.Skipped), "writes", ans.Writes, "more", ans.NextCursor != "")
		writeJSON(w, http.StatusOK, ans)
	})
}

// replayOne queues one listed event with its current route and returns
// the writes it made before (a replay may make them or others again), or
// why it did not queue it. An event that made writes is queued only with
// allowWrites.
func replayOne(ctx context.Context, log *slog.Logger, st *store.Store, routes *route.Table, ev store.Summary, allowWrites bool) (int, string) {
	switch ev.Status {
	case store.StatusQueued, store.StatusRunning, store.StatusRetrying:
		return 0, fmt.Sprintf("still %s: wait for it to finish", ev.Status)
	}
	rt, ok := routes.Match(ev.Type)
	if !ok {
		return 0, "no route in the current config matches " + ev.Type + ": add one, then replay"
	}
	full, err := st.Event(ctx, ev.ID)
	if err != nil {
		return 0, err.Error()
	}
	made := writesMade(full)
	if len(made) > 0 && !allowWrites {
		return 0, made.refusal()
	}
	if err := st.Replay(ctx, ev.ID, rt.Name); err != nil {
		if !errors.Is(err, store.ErrNotReplayable) && !errors.Is(err, store.ErrNotFound) {
			log.Warn("replay", "id", ev.ID, "err", err)
		}
		return 0, err.Error()
	}
	log.Info("replay", "id", ev.ID, "type", ev.Type, "previous_status", ev.Status, "route", rt.Name, "writes", len(made))
	return len(made), ""
}

// writes are the tools of the writes an event's journal says ran without
// error (write, executed, not is_error), in every attempt and replay, in
// journal order.
type writes []string

// writesMade reads ev's journal for the writes it made.
func writesMade(ev *store.Event) writes {
	var out writes
	for _, e := range ev.Entries() {
		if e.Kind != journal.KindToolCall {
			continue
		}
		step, err := journal.Decode(e)
		if err != nil {
			continue
		}
		if c := step.(*journal.ToolCall); c.Write && c.Executed && !c.IsError {
			out = append(out, c.Tool)
		}
	}
	return out
}

// refusal says why a replay of an event that made w is refused without
// allow_writes. The journal refuses an identical write, but a replay
// starts the conversation afresh and may decide a different one.
func (w writes) refusal() string {
	tools := slices.Compact(slices.Sorted(slices.Values(w)))
	return fmt.Sprintf(`it made %d write(s) (%s); a replay may make different ones: pass --allow-writes to replay it (API: "allow_writes": true)`,
		len(w), strings.Join(tools, ", "))
}
