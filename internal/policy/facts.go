package policy

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"sync"

	"github.com/agenthook/agenthook/internal/journal"
	"github.com/agenthook/agenthook/internal/route"
)

// Facts is what policies know about one event: the objects it is about,
// the objects reads in its conversation reached, and the refunds it made.
// It is built from the event and its journal when an attempt starts, and
// kept current by Observe as the attempt journals its tool calls. It is
// safe for concurrent use.
type Facts struct {
	mu    sync.Mutex
	set   *Set
	event any // the decoded event, for expressions

	eventIDs map[string]bool // ids the event's data.object refers to
	reads    map[string]bool // ids reached through reads
	// amounts holds the own amount of objects seen (the event's object,
	// read results), by id; bounds the amount a dispute (or a charge, for
	// its PaymentIntent) allows refunding, by charge or PaymentIntent id.
	amounts map[string]int64
	bounds  map[string]int64
	refunds map[string]Refund
	// refunded is the total this event refunded.
	refunded int64
	// claims are refunds let through in this attempt and not yet
	// journaled, by tool_use id: a second refund of the same charge in the
	// same round is refused before either runs.
	claims map[string][]string
}

// Refund is what an event refunded of one charge or PaymentIntent.
type Refund struct {
	Count  int64 `json:"count"`
	Amount int64 `json:"amount"`
}

// Facts builds the facts of an event from its payload and its journal
// (store.Event.Entries): refunds from every attempt and replay, reads from
// the conversation since the last replay (a replay starts it afresh).
func (s *Set) Facts(payload []byte, entries []journal.Entry) *Facts {
	if s == nil {
		return nil // nothing checks them
	}
	f := &Facts{set: s, eventIDs: map[string]bool{}, reads: map[string]bool{}, amounts: map[string]int64{},
		bounds: map[string]int64{}, refunds: map[string]Refund{}, claims: map[string][]string{}}
	if ev, err := decode(payload); err == nil {
		f.event = ev
		if m, ok := ev.(map[string]any); ok {
			if data, ok := m["data"].(map[string]any); ok {
				f.collect(data["object"], f.eventIDs)
			}
		}
	}
	for _, e := range entries {
		if c := toolCall(e); c != nil && s.tools[c.Tool].action == "refund.create" {
			f.observeLocked(c, false)
		}
	}
	for _, e := range journal.SinceReplay(entries) {
		if c := toolCall(e); c != nil && s.tools[c.Tool].read {
			f.observeLocked(c, false)
		}
	}
	return f
}

func toolCall(e journal.Entry) *journal.ToolCall {
	if e.Kind != journal.KindToolCall {
		return nil
	}
	step, err := journal.Decode(e)
	if err != nil {
		return nil
	}
	return step.(*journal.ToolCall)
}

// Observe returns next with every journaled tool call also noted in f: a
// read's result widens what later writes may touch, a refund counts
// toward one_refund_per_charge.
func (f *Facts) Observe(next journal.Appender) journal.Appender {
	if f == nil {
		return next
	}
	return &observer{next: next, f: f}
}

type observer struct {
	next journal.Appender
	f    *Facts
}

func (o *observer) Append(ctx context.Context, s journal.Step) error {
	err := o.next.Append(ctx, s)
	if c, ok := s.(*journal.ToolCall); ok {
		o.f.mu.Lock()
		o.f.observeLocked(c, true)
		o.f.mu.Unlock()
	}
	return err
}

// observeLocked notes one settled tool call. release drops the claim the
// call's Check made, which the call itself now replaces.
func (f *Facts) observeLocked(c *journal.ToolCall, release bool) {
	if release {
		delete(f.claims, c.ToolUseID)
	}
	if f.set == nil || !c.Executed || c.IsError {
		return
	}
	spec := f.set.tools[c.Tool]
	in, _ := decodeMap(c.Input)
	switch {
	case spec.action == "refund.create":
		out, _ := decodeMap([]byte(c.Result))
		amount, _ := out["amount"].(int64)
		if _, ok := out["amount"]; !ok {
			amount, _ = in["amount"].(int64)
		}
		var ids []string
		for _, m := range []map[string]any{in, out} {
			for _, k := range []string{"charge", "payment_intent"} {
				if id, ok := m[k].(string); ok && id != "" && !slices.Contains(ids, id) {
					ids = append(ids, id)
				}
			}
		}
		for _, id := range ids {
			r := f.refunds[id]
			r.Count++
			r.Amount += amount
			f.refunds[id] = r
		}
		f.refunded += amount
	case spec.read:
		// Only a read of an object already reachable reaches further: a
		// read of an id the model took from customer-written text must not
		// make that object writable.
		target, _ := in["id"].(string)
		if target == "" {
			target, _ = in["customer"].(string)
		}
		if !f.reachableLocked(target) {
			return
		}
		out, err := decode([]byte(c.Result))
		if err == nil {
			f.collect(out, f.reads)
		}
	}
}

func decodeMap(raw []byte) (map[string]any, error) {
	v, err := decode(raw)
	if err != nil {
		return nil, err
	}
	m, _ := v.(map[string]any)
	return m, nil
}

// refKeys are the keys whose string values are references to other Stripe
// objects.
var refKeys = map[string]bool{
	"charge": true, "payment_intent": true, "invoice": true, "subscription": true, "customer": true,
	"dispute": true, "latest_charge": true, "refund": true, "payment": true,
}

// untrusted are the keys whose values a customer, cardholder or other
// outsider writes: an id there is a claim, not a fact.
var untrusted = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range route.DefaultUntrusted() {
		m[k] = true
	}
	return m
}()

var idPattern = regexp.MustCompile(`^[a-z][a-z0-9]*_[A-Za-z0-9_]{1,250}$`)

// collect adds to ids every Stripe id v refers to, outside untrusted
// keys, and records the amounts of the objects it holds.
func (f *Facts) collect(v any, ids map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		id, _ := x["id"].(string)
		if idPattern.MatchString(id) {
			ids[id] = true
		} else {
			id = ""
		}
		if amount, ok := x["amount"].(int64); ok {
			if id != "" {
				f.amounts[id] = amount
			}
			switch x["object"] {
			case "dispute":
				f.bound(x["charge"], amount)
				f.bound(x["payment_intent"], amount)
			case "charge":
				f.bound(x["payment_intent"], amount)
			}
		}
		for k, e := range x {
			if untrusted[k] {
				continue
			}
			if s, ok := e.(string); ok {
				if refKeys[k] && idPattern.MatchString(s) {
					ids[s] = true
				}
				continue
			}
			f.collect(e, ids)
		}
	case []any:
		for _, e := range x {
			f.collect(e, ids)
		}
	}
}

func (f *Facts) bound(id any, amount int64) {
	s, ok := id.(string)
	if !ok || s == "" {
		return
	}
	if b, seen := f.bounds[s]; !seen || amount < b {
		f.bounds[s] = amount
	}
}

func (f *Facts) reachableLocked(id string) bool {
	return id != "" && (f.eventIDs[id] || f.reads[id])
}

func (f *Facts) refundOfLocked(id string) Refund { return f.refunds[id] }

func (f *Facts) claimedLocked(id string) bool {
	for _, ids := range f.claims {
		if slices.Contains(ids, id) {
			return true
		}
	}
	return false
}

func (f *Facts) claim(useID string, ids []string) {
	if len(ids) == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.claims == nil {
		f.claims = map[string][]string{}
	}
	f.claims[useID] = ids
}

func (f *Facts) eventIDList() []string {
	return sortedKeys(f.eventIDs)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func (f *Facts) eventValue() any { return f.event }

// value is facts as an expression sees it (see the package doc).
func (f *Facts) value() map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	list := func(m map[string]bool) []any {
		out := []any{}
		for _, k := range sortedKeys(m) {
			out = append(out, k)
		}
		return out
	}
	refunds := map[string]any{}
	for id, r := range f.refunds {
		refunds[id] = map[string]any{"count": r.Count, "amount": r.Amount}
	}
	return map[string]any{
		"event_ids": list(f.eventIDs),
		"reads":     list(f.reads),
		"refunds":   refunds,
		"refunded":  f.refunded,
	}
}

// MarshalJSON shows the facts as expressions see them (for tests and
// logs).
func (f *Facts) MarshalJSON() ([]byte, error) { return json.Marshal(f.value()) }
