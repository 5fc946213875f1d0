package route

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/agenthook/agenthook/internal/config"
	"github.com/agenthook/agenthook/internal/stripeevent"
)

// pii lists personal data in the fixtures, under the default keys.
var pii = []string{
	"jenny.rosen@example.com", // email, customer_email, billing_details.email
	"Jenny Rosen",             // name, customer_name
	"94103",                   // address.postal_code
	"AOB934RVNwzk6xtn",        // card fingerprint
	"pT4vLm2QkS9xYc1B",        // payment method card fingerprint
	"secret_Dm43xiq1k0ywrRRjDoi8y1gkM",
}

func TestRedactedNeverReachesPrompt(t *testing.T) {
	tab := table(t)
	found := map[string]bool{}
	for _, typ := range stripeevent.FixtureTypes() {
		raw := event(t, typ)
		r, ok := tab.Match(typ)
		if !ok {
			r = Route{Name: typ}
		}
		everything := r
		everything.Fields = []string{"data.object", "data.object.billing_details.email", "data.object.customer_email", "data"}
		for _, route := range []Route{r, everything} {
			b, err := Prompt(route, raw, 0)
			if err != nil {
				t.Fatalf("%s: %v", typ, err)
			}
			for _, v := range pii {
				if bytes.Contains(raw, []byte(v)) {
					found[v] = true
				}
				if strings.Contains(b.Text, v) {
					t.Errorf("%s (fields %v): prompt text contains %q", typ, route.Fields, v)
				}
				if bytes.Contains(b.Event, []byte(v)) {
					t.Errorf("%s: Built.Event contains %q", typ, v)
				}
			}
			if !json.Valid(b.Event) {
				t.Errorf("%s: Built.Event is not JSON", typ)
			}
		}
	}
	for _, v := range pii {
		if !found[v] {
			t.Errorf("no fixture contains %q: the test checks nothing for it", v)
		}
	}
}

func TestRouteRedact(t *testing.T) {
	payload := []byte(`{"id":"evt_1","type":"customer.updated","data":{` +
		`"object":{"id":"cus_1","note":"secret-now","tags":["a","secret-tag"],"lines":{"data":[{"description":"secret-line","amount":1},{"description":"secret-line2"}]},"deep":{"ssn":"secret-ssn","keep":"visible"},"phone":null,"email":""},` +
		`"previous_attributes":{"note":"secret-before","email":"old@example.com"}}}`)
	cfg := config.Default(noenv)
	cfg.Routes = []config.Route{{Events: []string{"customer.updated"}, Tools: []string{"log_refund"},
		Redact: []string{"data.object.note", "data.object.tags.1", "data.object.lines.data.*.description", "ssn"}}}
	tab, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := tab.Match("customer.updated")
	b, err := Prompt(r, payload, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{b.Text, string(b.Event)} {
		if strings.Contains(out, "secret") || strings.Contains(out, "old@example.com") {
			t.Errorf("redacted value leaked:\n%s", out)
		}
		if !strings.Contains(out, `"keep":"visible"`) || !strings.Contains(out, `"amount":1`) {
			t.Errorf("too much redacted:\n%s", out)
		}
	}
	// Empty values stay as they were: "[redacted]" would claim a value.
	if !strings.Contains(string(b.Event), `"phone":null,"email":""`) {
		t.Errorf("empty values were redacted: %s", b.Event)
	}
}

func TestRedact(t *testing.T) {
	// No default key in refund.created: Redact only compacts it.
	raw := event(t, "refund.created")
	got, err := Redact(raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := json.Compact(&want, raw); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("Redact changed an event without personal data:\n%s\nwant\n%s", got, want.Bytes())
	}

	got, err = Redact([]byte(`{"b":{"email":"x@y.z","n":1.50e+10},"a":[{"name":"N"}],"email":"dup","email":"dup2","x":12345678901234567890}`), []string{"n"})
	if want := `{"b":{"email":"[redacted]","n":"[redacted]"},"a":[{"name":"[redacted]"}],"email":"[redacted]","email":"[redacted]","x":12345678901234567890}`; err != nil || string(got) != want {
		t.Errorf("Redact = %s, %v; want %s", got, err, want)
	}
	for _, bad := range [][]string{{""}, {" a"}, {"a..b"}, {"."}, {"*"}} {
		if _, err := Redact([]byte(`{}`), bad); err == nil {
			t.Errorf("Redact with %q succeeded", bad)
		}
	}
	for _, bad := range []string{``, `{`, `{"a":1}x`, strings.Repeat("[", 2000) + strings.Repeat("]", 2000)} {
		if _, err := Redact([]byte(bad), nil); err == nil {
			t.Errorf("Redact(%.20q) succeeded", bad)
		}
	}
	if d := DefaultRedact(); len(d) == 0 || &d[0] == &defaultRedact[0] {
		t.Error("DefaultRedact must return a copy of a non-empty list")
	}
}
