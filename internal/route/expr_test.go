package route

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/agenthook/agenthook/internal/config"
	"github.com/agenthook/agenthook/internal/stripeevent"
)

func event(t testing.TB, typ string) []byte {
	t.Helper()
	b, err := stripeevent.Fixture(typ)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWhen(t *testing.T) {
	tests := []struct {
		fixture, when string
		want          bool
		err           string // substring of the error; "" means no error
	}{
		{"charge.refunded", `type == "charge.refunded"`, true, ""},
		{"refund.created", `type == "charge.refunded"`, false, ""},
		{"charge.refunded", `data.object.amount_refunded >= 100000 && !livemode`, false, ""},
		{"charge.refunded", `data.object.amount_refunded >= 2000 && !livemode`, true, ""},
		{"charge.refunded", `data.object.amount_refunded > 1999.5`, true, ""}, // int vs double
		{"charge.refunded", `data.object.amount_refunded == 2000.0`, true, ""},
		{"charge.refunded", `data.object.outcome.risk_score < 50 && data.object.payment_method_details.card.last4 == "4242"`, true, ""},
		{"charge.refunded", `data.previous_attributes.refunded == false`, true, ""},
		{"charge.refunded", `has(data.object.customer)`, true, ""},
		{"charge.refunded", `has(data.object.nope)`, false, ""},
		{"charge.refunded", `data.object.review == null`, true, ""},
		{"charge.refunded", `event.pending_webhooks == 1 && request.id.startsWith("req_")`, true, ""},
		{"checkout.session.completed", `data.object.metadata.order_id == "6735"`, true, ""},
		{"invoice.payment_failed", `data.object.lines.data.exists(l, l.amount > 1000) && data.object.attempt_count < 3`, true, ""},
		{"invoice.payment_failed", `created > 1786615986 && api_version.endsWith(".dahlia") && object == "event"`, true, ""},
		{"charge.dispute.created", `data.object.evidence_details.due_by - created < 30 * 86400`, true, ""},
		{"charge.refunded", `data.object.nope > 1`, false, "no such key"},
		{"charge.refunded", `data.object.currency > 1`, false, "no such overload"},
		{"charge.refunded", `data.object.paid`, true, ""}, // dyn that is a bool
		{"charge.refunded", `data.object.amount == 2000 ? data.object.currency : false`, false, "not a bool"},
	}
	for _, tt := range tests {
		cfg := config.Default(noenv)
		cfg.Routes = []config.Route{{Name: "r", Events: []string{"*"}, Tools: []string{"log_refund"}, When: tt.when}}
		tab, err := New(cfg)
		if err != nil {
			t.Errorf("New with when %q: %v", tt.when, err)
			continue
		}
		r, ok := tab.Match(tt.fixture) // a wildcard route with a filter
		if !ok || r.When != tt.when {
			t.Fatalf("Match(%q) = %+v, %t", tt.fixture, r, ok)
		}
		got, err := r.Allows(event(t, tt.fixture))
		if got != tt.want || (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: when %q = %t, %v; want %t, error containing %q", tt.fixture, tt.when, got, err, tt.want, tt.err)
		}
		if err != nil && !strings.Contains(err.Error(), "filtered") {
			t.Errorf("error does not say the event is filtered: %v", err)
		}
	}
}

func TestWhenEdgeCases(t *testing.T) {
	if ok, err := (Route{}).Allows([]byte("not json")); !ok || err != nil {
		t.Errorf("a route without when: Allows = %t, %v; want true, nil", ok, err)
	}
	r := Route{Name: "r", When: `type == "x"`} // built by hand: compiled on use
	for _, bad := range []string{``, `[]`, `"x"`, `{"type":`} {
		if ok, err := r.Allows([]byte(bad)); ok || err == nil {
			t.Errorf("Allows(%q) = %t, %v; want false and an error", bad, ok, err)
		}
	}
	if ok, err := r.Allows([]byte(`{"type":"x"}`)); !ok || err != nil {
		t.Errorf("hand-built route: Allows = %t, %v", ok, err)
	}

	// Runaway comprehensions stop at the cost limit.
	ten := "[0,1,2,3,4,5,6,7,8,9]"
	expensive := ten + ".all(a, " + ten + ".all(b, " + ten + ".all(c, " + ten + ".all(d, " + ten + ".all(e, a+b+c+d+e >= 0)))))"
	e, err := compileFilter(expensive)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Eval(event(t, "refund.created")); err == nil || !strings.Contains(err.Error(), "cost limit") {
		t.Errorf("expensive expression: err = %v, want the cost limit", err)
	}
	// So do expressions too long to parse.
	if _, err := CompileExpr(strings.Repeat("1 + ", 5000) + "1"); err == nil {
		t.Error("a 20 KB expression compiled")
	}
}

func TestExprEval(t *testing.T) {
	raw := event(t, "charge.refunded")
	tests := []struct {
		src  string
		want any
	}{
		{`data.object.id`, "ch_1PgafuB7WZ01zgkWXYmPNZs8"},
		{`data.object.amount`, int64(2000)},
		{`"escalate_to_human"`, "escalate_to_human"}, // input_from: '"escalate_to_human"'
		{`double(data.object.amount_refunded) / double(data.object.amount)`, 1.0},
		{`data.object.outcome.risk_score > 30`, true},
		{`data.object.review`, nil},
		{`data.previous_attributes`, map[string]any{"amount_refunded": int64(0), "refunded": false}},
		{`[data.object.currency, 1, 2.5, null]`, []any{"usd", int64(1), 2.5, nil}},
		{`has(data.object.customer) ? data.object.customer : ""`, "cus_QXg1o8vcGmoR32"},
		{`{"n": 1u, 2: "two"}`, map[string]any{"n": uint64(1), "2": "two"}},
		{`timestamp(created)`, "2026-08-05T14:20:31Z"},
		{`b"hi"`, "aGk="},
	}
	for _, tt := range tests {
		e, err := CompileExpr(tt.src)
		if err != nil {
			t.Errorf("CompileExpr(%q): %v", tt.src, err)
			continue
		}
		got, err := e.Eval(raw)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Eval(%q) = %#v, %v; want %#v", tt.src, got, err, tt.want)
			continue
		}
		if _, err := json.Marshal(got); err != nil {
			t.Errorf("Eval(%q) = %#v: not JSON-friendly: %v", tt.src, got, err)
		}
	}
	for _, src := range []string{`1.0 / 0.0`, `data.object.nope`, `1 / 0`, `data.object.amount * 1.5`} {
		e, err := CompileExpr(src)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := e.Eval(raw); err == nil {
			t.Errorf("Eval(%q) = %v, want an error", src, v)
		}
	}
	for _, src := range []string{``, `data.object.`, `foo == 1`, `"unterminated`} {
		if _, err := CompileExpr(src); err == nil || !strings.Contains(err.Error(), "CEL expression") {
			t.Errorf("CompileExpr(%q) = %v, want an error naming the CEL expression", src, err)
		}
	}
}

func TestToolInput(t *testing.T) {
	cfg := config.Default(noenv)
	tool := cfg.Tools["handle_dispute"]
	tool.InputFrom = map[string]string{
		"stripe_id": "data.object.id",
		"amount":    "data.object.amount",
		"action":    `"escalate_to_human"`,
		"customer":  `has(data.object.customer) ? data.object.customer : ""`,
	}
	cfg.Tools["handle_dispute"] = tool
	tab, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := tab.Match("charge.dispute.created"); r.Tools[0].InputFrom["action"] != `"escalate_to_human"` {
		t.Errorf("route tool InputFrom = %v", r.Tools[0].InputFrom)
	}

	tool.InputFrom = map[string]string{"amount": "data.object.amount +"}
	cfg.Tools["handle_dispute"] = tool
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "input_from.amount") {
		t.Errorf("New with a bad input_from: %v", err)
	}
}

func FuzzWhen(f *testing.F) {
	for _, typ := range stripeevent.FixtureTypes() {
		f.Add(event(f, typ))
	}
	f.Add([]byte(`{"type":"x","data":{"object":{"amount":1e400,"customer":null}},"livemode":"yes"}`))
	f.Add([]byte(`{"type":"x","data":{"object":{"amount":-9223372036854775809,"lines":{"data":[1,"a",{}]}}}}`))
	f.Add([]byte(`{"data":[],"type":null,"a":"\ud800"}`))
	f.Add([]byte(`[{"type":"charge.refunded"}]`))
	f.Add([]byte(`{"type":"x","type":"charge.refunded"}`))
	var exprs []*Expr
	for _, src := range []string{
		`type == "charge.refunded"`,
		`data.object.amount_refunded >= 100000 && !livemode`,
		`has(data.object.customer) && data.object.customer.startsWith("cus_")`,
		`data.object.lines.data.exists(l, l.amount > 1000.5)`,
		`size(data.object) > 3 || data.object.amount / 0 > 1`,
		`event.all(k, k != "")`,
	} {
		e, err := compileFilter(src)
		if err != nil {
			f.Fatal(err)
		}
		exprs = append(exprs, e)
	}
	in, err := CompileExpr("data.object")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		for _, e := range exprs {
			r := Route{Name: "fuzz", When: e.src, when: e}
			ok, err := r.Allows(payload)
			if ok && err != nil {
				t.Fatalf("Allows(%q) with %q = true, %v", payload, e.src, err)
			}
		}
		if v, err := in.Eval(payload); err == nil {
			if _, err := json.Marshal(v); err != nil {
				t.Fatalf("Eval(%q) = %#v: not JSON: %v", payload, v, err)
			}
		}
	})
}
