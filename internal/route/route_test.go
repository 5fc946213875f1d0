package route

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agenthook/agenthook/internal/config"
)

func noenv(string) string { return "" }

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, typ string
		want         bool
	}{
		{"charge.refunded", "charge.refunded", true},
		{"charge.refunded", "charge.refunded.updated", false},
		{"charge.refunded", "charge.refund", false},
		{"charge.dispute.*", "charge.dispute.created", true},
		{"charge.dispute.*", "charge.dispute.funds.withdrawn", true},
		{"charge.dispute.*", "charge.disputes", false},
		{"charge.dispute.*", "charge.disputes.created", false},
		{"charge.dispute.*", "charge.dispute", false},
		{"charge.dispute.*", "charge.dispute.", false},
		{"charge.*", "charge.refunded", true},
		{"*", "anything.at.all", true},
		{"*", "x", true},
	}
	for _, tt := range tests {
		if got := Match(tt.pattern, tt.typ); got != tt.want {
			t.Errorf("Match(%q, %q) = %t, want %t", tt.pattern, tt.typ, got, tt.want)
		}
	}
}

func table(t *testing.T, routes ...config.Route) *Table {
	t.Helper()
	cfg := config.Default(noenv)
	if routes != nil {
		cfg.Routes = routes
	}
	tab, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func TestTableMatch(t *testing.T) {
	tab := table(t,
		config.Route{Name: "catch-all", Events: []string{"*"}, Tools: []string{"log_refund"}},
		config.Route{Name: "disputes", Events: []string{"charge.dispute.*"}, Tools: []string{"handle_dispute"}},
		config.Route{Name: "created", Events: []string{"charge.refunded", "charge.dispute.created"}, Tools: []string{"handle_dispute", "log_refund"}},
	)
	for typ, want := range map[string]string{
		"charge.dispute.created": "created",   // exact beats earlier wildcards
		"charge.dispute.closed":  "catch-all", // among wildcards, config order
		"invoice.paid":           "catch-all",
		"charge.refunded":        "created",
	} {
		r, ok := tab.Match(typ)
		if !ok || r.Name != want {
			t.Errorf("Match(%q) = %q, %t; want %q", typ, r.Name, ok, want)
		}
	}
	r, _ := tab.Match("charge.refunded")
	if len(r.Tools) != 2 || r.Tools[0].Name != "handle_dispute" || r.Tools[0].InputSchema["type"] != "object" || r.Tools[1].Description == "" {
		t.Errorf("tools not resolved in order: %+v", r.Tools)
	}

	seed := table(t)
	if _, ok := seed.Match("charge.disputes"); ok {
		t.Error("seed table matched charge.disputes")
	}
	if r, ok := seed.Match("invoice.payment_failed"); !ok || r.Tools[0].Name != "retry_failed_payment" {
		t.Errorf("seed Match(invoice.payment_failed) = %+v, %t", r, ok)
	}
	if n := len(seed.Routes()); n != 4 {
		t.Errorf("seed table has %d routes, want 4", n)
	}
}

func TestNewErrors(t *testing.T) {
	for name, r := range map[string]config.Route{
		"undefined tool": {Events: []string{"a.b"}, Tools: []string{"nope"}},
		"bad pattern":    {Events: []string{"a.*.b"}, Tools: []string{"log_refund"}},
		"no events":      {Tools: []string{"log_refund"}},
		"no tools":       {Events: []string{"a.b"}},
		"when syntax":    {Events: []string{"a.b"}, Tools: []string{"log_refund"}, When: "data.object.amount >="},
		"when unknown":   {Events: []string{"a.b"}, Tools: []string{"log_refund"}, When: "amount > 1"},
		"when not bool":  {Events: []string{"a.b"}, Tools: []string{"log_refund"}, When: "1 + 2"},
		"when blank":     {Events: []string{"a.b"}, Tools: []string{"log_refund"}, When: "  "},
		"bad field":      {Events: []string{"a.b"}, Tools: []string{"log_refund"}, Fields: []string{"data..amount"}},
		"empty redact":   {Events: []string{"a.b"}, Tools: []string{"log_refund"}, Redact: []string{""}},
		"redact all":     {Events: []string{"a.b"}, Tools: []string{"log_refund"}, Redact: []string{"*"}},
		"max steps":      {Events: []string{"a.b"}, Tools: []string{"log_refund"}, MaxSteps: -1},
	} {
		cfg := config.Default(noenv)
		cfg.Routes = []config.Route{r}
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

func TestPrint(t *testing.T) {
	var buf bytes.Buffer
	if err := table(t).Print(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 {
		t.Fatalf("Print wrote %d lines, want header + 4:\n%s", len(lines), out)
	}
	for _, w := range []string{"ROUTE", "EVENTS", "WHEN", "TOOLS", "INSTRUCTIONS", "charge.dispute.created", "handle_dispute", "…"} {
		if !strings.Contains(out, w) {
			t.Errorf("Print output lacks %q:\n%s", w, out)
		}
	}
	for _, l := range lines[1:] {
		if len([]rune(l)) > 200 {
			t.Errorf("line not abbreviated: %q", l)
		}
	}
}

func TestCompact(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"b":1,"a":null,"c":{"x":null,"y":{}},"d":[null,{},{"z":null}],"e":[],"f":"","g":false,"h":0}`,
			`{"b":1,"d":[null,{},{}],"e":[],"f":"","g":false,"h":0}`},
		{`{ "z" : 1 , "y" : 2 , "x" : { "w" : 3 } }`, `{"z":1,"y":2,"x":{"w":3}}`},
		{`{"id":123456789012345678901234567890,"f":1.50e+10,"n":-0.0}`, `{"id":123456789012345678901234567890,"f":1.50e+10,"n":-0.0}`},
		{`{"s":"<a&b> \u00e9 \"q\" \n"}`, `{"s":"<a&b> é \"q\" \n"}`},
		{`{"a":{"b":{"c":null}}}`, `{}`},
		{`null`, `null`},
		{`[1,null]`, `[1,null]`},
	}
	for _, tt := range tests {
		got, err := Compact([]byte(tt.in))
		if err != nil || string(got) != tt.want {
			t.Errorf("Compact(%s) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{``, `{`, `{"a":}`, `{"a":1}x`, `{"a" 1}`, `[1,]`, `{1:2}`, `nul`, strings.Repeat("[", 2000) + strings.Repeat("]", 2000)} {
		if _, err := Compact([]byte(bad)); err == nil {
			t.Errorf("Compact(%.40q) succeeded, want an error", bad)
		}
	}
}

func FuzzCompact(f *testing.F) {
	f.Add([]byte(`{"a":null,"b":{"c":{}},"d":[1,{"e":null}],"big":12345678901234567890}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"a":"\u0000\ud800"}`))
	f.Add([]byte(`{`))
	if raw, err := os.ReadFile(filepath.Join("testdata", "charge.dispute.created.json")); err == nil {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := Compact(in)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("Compact(%q) = %q: invalid JSON", in, out)
		}
		again, err := Compact(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("Compact is not idempotent: %q → %q → %q, %v", in, out, again, err)
		}
	})
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPrompt(t *testing.T) {
	raw := fixture(t, "charge.dispute.created.json")
	r, ok := table(t).Match("charge.dispute.created")
	if !ok {
		t.Fatal("no seed route for charge.dispute.created")
	}
	b, err := Prompt(r, raw, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := b.Text
	for _, w := range []string{
		r.Instructions,
		"Event: charge.dispute.created evt_1SD0tEB7WZ01zgkWUzGqNKKh, created 1786552803 (2026-08-12T16:40:03Z), test mode",
		"dispute object (unset fields omitted):\n{",
		`"id":"dp_1Pgc71B7WZ01zgkWMevJiAUx"`,
		`"due_by":1788307199`,
		"Decide by calling handle_dispute once.",
	} {
		if !strings.Contains(p, w) {
			t.Errorf("prompt lacks %q:\n%s", w, p)
		}
	}
	if strings.Contains(p, "null") {
		t.Errorf("prompt contains null:\n%s", p)
	}
	for _, noise := range []string{"Previous values", `"object":`, `"livemode":`, "https://"} {
		if strings.Contains(p, noise) {
			t.Errorf("prompt contains %q:\n%s", noise, p)
		}
	}
	if b.Truncated {
		t.Error("Truncated is set for a small event")
	}
	_, obj, _ := strings.Cut(p, "dispute object (")
	_, obj, _ = strings.Cut(obj, "\n")
	obj, _, _ = strings.Cut(obj, "\n")
	if !json.Valid([]byte(obj)) {
		t.Fatalf("object line is not JSON: %s", obj)
	}
	if len(obj)*4 >= len(raw)*3 {
		t.Errorf("object JSON is %d bytes, raw payload %d: want < 75%%", len(obj), len(raw))
	}
}

func TestPromptPreviousAttributes(t *testing.T) {
	r := Route{Name: "subs", Tools: []Tool{{Name: "a"}, {Name: "b"}}}
	b, err := Prompt(r, fixture(t, "customer.subscription.updated.json"), 0)
	if err != nil {
		t.Fatal(err)
	}
	p := b.Text
	for _, w := range []string{"Previous values: {\"status\":\"active\"}\n", "customer.subscription.updated", "Decide by calling one of: a, b.\n"} {
		if !strings.Contains(p, w) {
			t.Errorf("prompt lacks %q:\n%s", w, p)
		}
	}
	if strings.Contains(p, "Instructions") {
		t.Error("prompt has an instructions section for a route without them")
	}
	if strings.Index(p, "Previous values") > strings.Index(p, "subscription object (") {
		t.Error("previous attributes should come before the object")
	}
}

func TestPromptErrors(t *testing.T) {
	for _, in := range []string{``, `{`, `[]`, `{"type":"x"}`, `{"type":"x","data":{"object":null}}`, `{"id":"evt","data":{"object":{}}}`, `{"type":1,"data":{"object":{}}}`, `{"type":"x","data":[]}`} {
		if _, err := Prompt(Route{}, []byte(in), 0); err == nil {
			t.Errorf("Prompt(%s) succeeded, want an error", in)
		}
	}
}
