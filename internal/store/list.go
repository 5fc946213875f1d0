package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agenthook/agenthook/internal/journal"
)

// Page sizes of List.
const (
	DefaultListLimit = 50
	MaxListLimit     = 500
)

// ErrBadFilter wraps what is wrong with a Filter (an unknown status, a
// limit out of range, a cursor this store did not write).
var ErrBadFilter = errors.New("bad filter")

// Filter selects events for List and Count. Zero fields select everything.
type Filter struct {
	Statuses []Status // any of these
	Type     string   // exact event type
	Route    string   // exact route name
	Since    time.Time
	Until    time.Time // received before (exclusive)
	// IDContains matches a substring of the event id, ignoring case.
	IDContains string
	// Limit is the page size: DefaultListLimit when 0, at most MaxListLimit.
	Limit int
	// Cursor continues after the last event of a previous page: its
	// Page.NextCursor. Empty starts at the newest event.
	Cursor string
}

// Summary is an event without its journal and payload, as List returns it.
type Summary struct {
	Record
	// Model tokens over the whole journal (every attempt and replay), as the
	// provider reported them; cached input is counted apart (see Totals).
	TokensIn  int64 `json:"tokens_in"`
	TokensOut int64 `json:"tokens_out"`
}

// Page is one page of List, newest first.
type Page struct {
	Events []Summary `json:"events"`
	// NextCursor continues the listing (Filter.Cursor); "" on the last page.
	NextCursor string `json:"next_cursor"`
}

// Totals sums an event's model requests over its whole journal.
type Totals struct {
	ModelRequests int   `json:"model_requests"`
	TokensIn      int64 `json:"tokens_in"`
	TokensOut     int64 `json:"tokens_out"`
	// ThinkingTokens is the part of TokensOut spent thinking.
	ThinkingTokens int64 `json:"thinking_tokens"`
	CacheRead      int64 `json:"cache_read_tokens"`
	CacheWrite     int64 `json:"cache_write_tokens"`
	ModelLatencyMS int64 `json:"model_latency_ms"`
}

// add counts one model request.
func (t *Totals) add(m *journal.ModelRequest) {
	t.ModelRequests++
	t.TokensIn += m.InputTokens
	t.TokensOut += m.OutputTokens
	t.ThinkingTokens += m.ThinkingTokens
	t.CacheRead += m.CacheReadInputTokens
	t.CacheWrite += m.CacheCreationInputTokens
	t.ModelLatencyMS += m.LatencyMS
}

// addData counts one model_request step's JSON; a step this version
// cannot read adds nothing.
func (t *Totals) addData(data []byte) {
	if step, err := journal.Decode(journal.Entry{Kind: journal.KindModelRequest, Data: data}); err == nil {
		t.add(step.(*journal.ModelRequest))
	}
}

// Totals sums the event's model_request steps.
func (e *Event) Totals() Totals {
	var t Totals
	for _, st := range e.Steps {
		if st.Kind == journal.KindModelRequest {
			t.addData(st.Data)
		}
	}
	return t
}

// where returns the filter's conditions (without the cursor) and their
// arguments. The SQL is plain enough for SQLite and PostgreSQL alike.
func (f Filter) where() (string, []any, error) {
	var conds []string
	var args []any
	if len(f.Statuses) > 0 {
		marks := make([]string, len(f.Statuses))
		for i, st := range f.Statuses {
			if !slices.Contains(Statuses, st) {
				return "", nil, fmt.Errorf("%w: unknown status %q: use one of %v", ErrBadFilter, st, Statuses)
			}
			marks[i] = "?"
			args = append(args, string(st))
		}
		conds = append(conds, "status IN ("+strings.Join(marks, ", ")+")")
	}
	if f.Type != "" {
		conds = append(conds, "type = ?")
		args = append(args, f.Type)
	}
	if f.Route != "" {
		conds = append(conds, "route = ?")
		args = append(args, f.Route)
	}
	if !f.Since.IsZero() {
		conds = append(conds, "received_at >= ?")
		args = append(args, f.Since.UnixMicro())
	}
	if !f.Until.IsZero() {
		conds = append(conds, "received_at < ?")
		args = append(args, f.Until.UnixMicro())
	}
	if f.IDContains != "" {
		// LOWER on both sides: SQLite's LIKE ignores ASCII case, PostgreSQL's
		// does not.
		conds = append(conds, `LOWER(id) LIKE ? ESCAPE '\'`)
		args = append(args, "%"+likeEscape(strings.ToLower(f.IDContains))+"%")
	}
	if f.Cursor != "" {
		at, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return "", nil, err
		}
		conds = append(conds, "(received_at < ? OR (received_at = ? AND id < ?))")
		args = append(args, at, at, id)
	}
	if len(conds) == 0 {
		return "", nil, nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args, nil
}

// List returns one page of the events f selects, newest first (by
// received_at, then id), with their token totals.
func (s *Store) List(ctx context.Context, f Filter) (Page, error) {
	limit := f.Limit
	switch {
	case limit == 0:
		limit = DefaultListLimit
	case limit < 0 || limit > MaxListLimit:
		return Page{}, fmt.Errorf("%w: limit %d is out of range: use 1 to %d and page with the cursor", ErrBadFilter, limit, MaxListLimit)
	}
	where, args, err := f.where()
	if err != nil {
		return Page{}, err
	}
	rows, err := s.drv.reader().query(ctx, s.q(`SELECT `+recordColumns+`
		FROM agenthook_event`+where+` ORDER BY received_at DESC, id DESC LIMIT `+strconv.Itoa(limit+1)), args...)
	if err != nil {
		return Page{}, fmt.Errorf("store: list events: %w", err)
	}
	defer rows.Close()
	page := Page{Events: []Summary{}}
	for rows.Next() {
		var e Summary
		if err := e.scan(rows); err != nil {
			return Page{}, fmt.Errorf("store: list events: %w", err)
		}
		if len(page.Events) == limit {
			// The extra row only says there is another page.
			last := page.Events[limit-1]
			page.NextCursor = encodeCursor(last.ReceivedAt.UnixMicro(), last.ID)
			break
		}
		page.Events = append(page.Events, e)
	}
	if err := rows.Err(); err != nil {
		return Page{}, fmt.Errorf("store: list events: %w", err)
	}
	rows.Close()
	if err := s.addTokens(ctx, page.Events); err != nil {
		return Page{}, err
	}
	return page, nil
}

// Count returns how many events f selects from its cursor on, ignoring
// its limit.
func (s *Store) Count(ctx context.Context, f Filter) (int, error) {
	where, args, err := f.where()
	if err != nil {
		return 0, err
	}
	var n int
	if err := s.drv.reader().queryRow(ctx, s.q(`SELECT COUNT(*) FROM agenthook_event`+where), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count events: %w", err)
	}
	return n, nil
}

// addTokens fills the token sums of a page from its model_request steps.
// The sums are taken in Go so the SQL needs no JSON functions.
func (s *Store) addTokens(ctx context.Context, events []Summary) error {
	if len(events) == 0 {
		return nil
	}
	marks := make([]string, len(events))
	args := make([]any, len(events))
	index := make(map[string]int, len(events))
	for i, e := range events {
		marks[i], args[i], index[e.ID] = "?", e.ID, i
	}
	rows, err := s.drv.reader().query(ctx, s.q(`SELECT event_id, data FROM agenthook_step
		WHERE kind = 'model_request' AND event_id IN (`+strings.Join(marks, ", ")+`)`), args...)
	if err != nil {
		return fmt.Errorf("store: list events: token totals: %w", err)
	}
	defer rows.Close()
	totals := make([]Totals, len(events))
	for rows.Next() {
		var id, data string
		if err := rows.Scan(&id, &data); err != nil {
			return fmt.Errorf("store: list events: token totals: %w", err)
		}
		totals[index[id]].addData([]byte(data))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: list events: token totals: %w", err)
	}
	for i := range events {
		events[i].TokensIn, events[i].TokensOut = totals[i].TokensIn, totals[i].TokensOut
	}
	return nil
}

// likeEscape makes s match itself literally in a LIKE pattern with ESCAPE '\'.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// A cursor is the received_at (unix microseconds) and id of the last event
// of a page, which is the listing's sort key. It is opaque to clients.
func encodeCursor(receivedAt int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(receivedAt, 10) + "/" + id))
}

func decodeCursor(c string) (int64, string, error) {
	bad := fmt.Errorf("%w: cursor %q is not one this server wrote: pass next_cursor from the previous page unchanged", ErrBadFilter, c)
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, "", bad
	}
	at, id, ok := strings.Cut(string(b), "/")
	n, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil || id == "" {
		return 0, "", bad
	}
	return n, id, nil
}
