package route

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/agenthook/agenthook/internal/stripeevent"
)

// The corpus tests: every event type of stripe-mock's fixtures, and the
// repository's own fixtures, as they are and with personal data planted
// in every personal field and in free text. No value from the PII list
// may reach the prompt (Text or Event) or a tool result carrying the same
// object, and what a decision needs must stay.

// stripeMock is the module whose fixtures are the corpus. It is not a
// dependency of agenthook: the test reads it from the module cache.
const (
	stripeMock         = "github.com/stripe/stripe-mock@v0.203.0"
	stripeMockDownload = "go mod download " + stripeMock
)

// stripeMockDir returns the openapi directory of stripe-mock in the module
// cache, or skips the test saying how to get it.
func stripeMockDir(t *testing.T) string {
	t.Helper()
	cache := os.Getenv("GOMODCACHE")
	if cache == "" {
		if goBin, err := exec.LookPath("go"); err == nil {
			if out, err := exec.Command(goBin, "env", "GOMODCACHE").Output(); err == nil {
				cache = strings.TrimSpace(string(out))
			}
		}
	}
	if cache == "" {
		if home, err := os.UserHomeDir(); err == nil {
			cache = filepath.Join(home, "go", "pkg", "mod")
		}
	}
	dir := filepath.Join(cache, "github.com", "stripe", "stripe-mock@v0.203.0", "embedded", "openapi")
	if _, err := os.Stat(filepath.Join(dir, "spec3.beta.sdk.json")); err != nil {
		t.Skipf("stripe-mock v0.203.0 is not in the module cache (%s): run `%s` (.ci/run does)", dir, stripeMockDownload)
	}
	return dir
}

// mockEvents returns, for every event type in stripe-mock's OpenAPI spec
// (the schemas with x-stripeEvent), the fixture of its data.object.
func mockEvents(t *testing.T) map[string]json.RawMessage {
	dir := stripeMockDir(t)
	var spec struct {
		Components struct {
			Schemas map[string]struct {
				XResourceID string `json:"x-resourceId"`
				XEvent      *struct {
					Type string `json:"type"`
				} `json:"x-stripeEvent"`
				Properties struct {
					Object struct {
						Ref   string `json:"$ref"`
						AnyOf []struct {
							Ref string `json:"$ref"`
						} `json:"anyOf"`
					} `json:"object"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	readJSON(t, filepath.Join(dir, "spec3.beta.sdk.json"), &spec)
	var fixtures []map[string]json.RawMessage
	for _, f := range []string{"fixtures3.beta.json", "fixtures3.json"} {
		var fx struct {
			Resources map[string]json.RawMessage `json:"resources"`
		}
		readJSON(t, filepath.Join(dir, f), &fx)
		fixtures = append(fixtures, fx.Resources)
	}
	schemas := spec.Components.Schemas
	events := map[string]json.RawMessage{}
	for _, s := range schemas {
		if s.XEvent == nil {
			continue
		}
		refs := []string{s.Properties.Object.Ref}
		for _, a := range s.Properties.Object.AnyOf {
			refs = append(refs, a.Ref)
		}
	find:
		for _, ref := range refs {
			name := strings.TrimPrefix(ref, "#/components/schemas/")
			if name == "" {
				continue
			}
			id := schemas[name].XResourceID
			if id == "" {
				id = name
			}
			for _, fx := range fixtures {
				if obj, ok := fx[id]; ok {
					events[s.XEvent.Type] = obj
					break find
				}
			}
		}
		if _, ok := events[s.XEvent.Type]; !ok {
			t.Errorf("event type %s: no fixture for %v", s.XEvent.Type, refs)
		}
	}
	return events
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// The PII list, written here apart from the code under test: the keys
// personal data sits under in Stripe's objects, by category.
var (
	piiKeys = map[string]bool{
		// names
		"first_name": true, "last_name": true, "maiden_name": true, "middle_name": true, "full_name": true,
		"first_name_kana": true, "last_name_kana": true, "first_name_kanji": true, "last_name_kanji": true,
		"customer_name": true, "sender_name": true, "account_holder_name": true, "cardholder_name": true,
		"individual_name": true, "business_name": true, "verified_name": true,
		// phones
		"phone": true, "phone_number": true, "support_phone": true, "customer_phone": true, "verified_phone": true,
		// emails
		"email": true, "receipt_email": true, "support_email": true, "customer_email": true, "customer_email_address": true,
		"verified_email": true, "billing_email": true,
		// IPs and user agents
		"ip": true, "ip_address": true, "customer_purchase_ip": true, "client_ip": true, "user_agent": true,
		// dates of birth
		"dob": true,
		// addresses
		"address": true, "billing_address": true, "shipping_address": true, "support_address": true, "customer_address": true,
		"registered_address": true, "verified_address": true, "raw_address": true, "line1": true, "line2": true, "postal_code": true,
		"shipping": true, "customer_shipping": true, "shipping_details": true,
		"address_line1": true, "address_line2": true, "address_city": true, "address_state": true, "address_zip": true,
		// bank accounts
		"account_number": true, "routing_number": true, "iban": true,
		// tax and national ids
		"tax_id": true, "tax_ids": true, "customer_tax_ids": true, "id_number": true, "ssn_last_4": true, "vat_id": true,
		// cards and secrets
		"fingerprint": true, "client_secret": true, "secret": true,
	}
	// "name" is a person's under these parents and in these objects.
	piiNameParents = map[string]bool{
		"billing_details": true, "shipping": true, "shipping_details": true, "customer_details": true, "owner": true,
		"cardholder": true, "individual": true, "card": true, "credit_user": true, "collected_information": true, "document": true,
	}
	piiNameKinds = map[string]bool{
		"customer": true, "card": true, "issuing.cardholder": true, "financial_connections.account_owner": true,
		"bank_account": true, "person": true,
	}
)

func isPII(key, parent, kind string) bool {
	switch {
	case parent == "custom_text" || parent == "customer_update":
		// Checkout's custom_text.shipping_address is the merchant's message
		// beside the address form, customer_update.address a setting.
		return false
	case piiKeys[key]:
		return true
	case key == "name":
		return piiNameParents[parent] || piiNameKinds[kind]
	case key == "value":
		return kind == "tax_id"
	}
	return false
}

// freeTextKeys are where customers write; the planted text goes there.
var freeTextKeys = map[string]bool{
	"description": true, "comment": true, "uncategorized_text": true, "access_activity_log": true,
	"cancellation_rebuttal": true, "refund_refusal_explanation": true, "product_description": true,
}

// plantedFreeText holds what the value detectors must find.
var plantedFreeText = []string{"planted.pii@example.org", "+1 415 555 0142", "198.51.100.77", "2001:db8::77", "4111 1111 1111 1111", "sk_live_PLANTEDsecret123", "whsec_PLANTEDsecret456"}

func freeText(name string) string {
	s := "Call " + plantedFreeText[1] + " or mail " + plantedFreeText[0] + " from " + plantedFreeText[2] + " / " + plantedFreeText[3] +
		", card " + plantedFreeText[4] + ", key " + plantedFreeText[5] + " " + plantedFreeText[6]
	if name != "" {
		s += ", order for " + name
	}
	return s
}

// plant returns object with a distinct planted value in every personal
// field (every string and null leaf of a personal object), the planted
// free text in every free-text field and in metadata, and the list of
// planted values.
func plant(t *testing.T, object []byte) ([]byte, []string) {
	root, err := parseTree(object)
	if err != nil {
		t.Fatal(err)
	}
	var planted []string
	n := 0
	name := "" // a planted name, which the free text repeats
	var fill func(v *node) *node
	fill = func(v *node) *node {
		switch v.kind {
		case kindObject, kindArray:
			for i, c := range v.vals {
				v.vals[i] = fill(c)
			}
			if v.kind == kindObject && len(v.vals) == 0 {
				n++
				s := fmt.Sprintf("Planted Person%04dz", n)
				planted = append(planted, s)
				return &node{kind: kindString, str: s}
			}
			return v
		case kindBool:
			return v
		}
		n++
		s := fmt.Sprintf("Planted Person%04dz", n)
		planted = append(planted, s)
		return &node{kind: kindString, str: s}
	}
	var walk func(v *node, parent string)
	walk = func(v *node, parent string) {
		kind := v.get("object").text()
		for i, c := range v.vals {
			key := parent
			if v.kind == kindObject {
				key = v.keys[i]
				if isPII(key, parent, kind) && c.kind != kindBool {
					v.vals[i] = fill(c)
					if name == "" && (key == "name" || strings.HasSuffix(key, "_name")) {
						name = v.vals[i].text() // the free text repeats it
					}
					continue
				}
			}
			walk(c, key)
		}
	}
	walk(root, "")
	var text func(v *node)
	text = func(v *node) {
		for i, c := range v.vals {
			if v.kind == kindObject && freeTextKeys[v.keys[i]] && (c.kind == kindString || c.kind == kindNull) {
				v.vals[i] = &node{kind: kindString, str: freeText(name)}
				continue
			}
			if v.kind == kindObject && v.keys[i] == "metadata" && c.kind == kindObject {
				c.keys = append(c.keys, "note", plantedFreeText[0])
				c.vals = append(c.vals, &node{kind: kindString, str: freeText(name)}, &node{kind: kindString, str: "key"})
			}
			text(c)
		}
	}
	text(root)
	return root.json(), append(planted, plantedFreeText...)
}

// rawPII returns the values of object the PII list names: strings under
// personal keys (long enough to search for, and not stripe-mock's
// placeholders such as "name"), and emails, international phone numbers
// and IP addresses anywhere.
func rawPII(t *testing.T, object []byte) []string {
	root, err := parseTree(object)
	if err != nil {
		t.Fatal(err)
	}
	placeholder := regexp.MustCompile(`^[a-z_]+$`)
	anywhere := regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}|\+\d{8,15}|\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b`)
	var out []string
	var take func(v *node)
	take = func(v *node) {
		if v.kind == kindString && len(v.str) >= 4 && !placeholder.MatchString(v.str) {
			out = append(out, v.str)
		}
		for _, c := range v.vals {
			take(c)
		}
	}
	var walk func(v *node, parent string)
	walk = func(v *node, parent string) {
		kind := v.get("object").text()
		for i, c := range v.vals {
			key := parent
			if v.kind == kindObject {
				key = v.keys[i]
				if isPII(key, parent, kind) {
					take(c)
					continue
				}
			}
			if c.kind == kindString {
				out = append(out, anywhere.FindAllString(c.str, -1)...)
			}
			walk(c, key)
		}
	}
	walk(root, "")
	return out
}

// keepKeys are values a decision needs: they must reach the model as
// they are.
func keep(key, kind string) bool {
	switch key {
	case "id", "object", "currency", "status", "reason", "created", "livemode", "last4", "brand", "exp_month", "exp_year", "nickname", "interval", "quantity":
		return true
	case "name":
		return kind == "product" || kind == "plan" || kind == "price" || kind == "coupon" || kind == "tax_rate"
	}
	return strings.HasPrefix(key, "amount") || strings.HasSuffix(key, "_amount") || strings.HasSuffix(key, "_check")
}

// checkKept compares raw and redacted side by side and reports a keep
// value that changed.
func checkKept(t *testing.T, label string, raw, red *node, path string) {
	if raw.kind != red.kind {
		return // redacted here
	}
	switch raw.kind {
	case kindObject:
		kind := raw.get("object").text()
		if len(raw.keys) != len(red.keys) {
			t.Errorf("%s %s: members changed", label, path)
			return
		}
		for i, k := range raw.keys {
			r, d := raw.vals[i], red.vals[i]
			if keep(k, kind) && (r.kind == kindString || r.kind == kindNumber) {
				if d.kind != r.kind || d.str != r.str {
					t.Errorf("%s %s.%s: %s became %s", label, path, k, r.json(), d.json())
				}
				continue
			}
			checkKept(t, label, r, d, path+"."+k)
		}
	case kindArray:
		for i := range min(len(raw.vals), len(red.vals)) {
			checkKept(t, label, raw.vals[i], red.vals[i], fmt.Sprintf("%s.%d", path, i))
		}
	}
}

// checkCorpusEvent builds the prompt of one event (the default prompt, and
// a fields: prompt that shows the object untrimmed) and the tool result of
// its object, and checks that none of pii reaches them.
//
// With kept set it also checks that the values a decision needs (keep)
// reach the event and the tool result as they are.
func checkCorpusEvent(t *testing.T, label, typ string, object []byte, pii []string, kept bool) {
	t.Helper()
	ev := stripeEvent(typ, string(object))
	result := RedactResult(string(object))
	outs := map[string]string{"tool result": result}
	var built json.RawMessage
	for _, r := range []Route{{Name: typ, Tools: []Tool{{Name: "t"}}}, {Name: typ, Tools: []Tool{{Name: "t"}}, Fields: []string{"data"}}} {
		b, err := Prompt(r, ev, 1<<22)
		if err != nil {
			t.Fatalf("%s %s: %v", label, typ, err)
		}
		if b.Truncated {
			t.Fatalf("%s %s: truncated at 4 MiB", label, typ)
		}
		outs[fmt.Sprintf("prompt (fields %v)", r.Fields)] = b.Text
		outs["Built.Event"] = string(b.Event)
		built = b.Event
	}
	for what, out := range outs {
		for _, v := range pii {
			if strings.Contains(out, v) || strings.Contains(out, strings.TrimSuffix(strings.TrimPrefix(mustJSON(v), `"`), `"`)) {
				t.Errorf("%s %s: %s shows %q", label, typ, what, v)
			}
		}
	}
	if !kept {
		return
	}
	raw, err := parseTree(object)
	if err != nil {
		t.Fatal(err)
	}
	evTree, err := parseTree(built)
	if err != nil {
		t.Fatal(err)
	}
	checkKept(t, label+" "+typ+" event", raw, evTree.get("data").get("object"), "data.object")
	res, err := parseTree([]byte(result))
	if err != nil {
		t.Fatalf("%s %s: the tool result is not JSON: %v", label, typ, err)
	}
	checkKept(t, label+" "+typ+" result", raw, res, "result")
}

func mustJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestStripeMockCorpus runs every event type of stripe-mock v0.203.0 (303
// in its spec3.beta.sdk.json, each with a fixture object) through the
// prompt and the tool-result redaction: as the fixture is, and with
// personal data planted.
func TestStripeMockCorpus(t *testing.T) {
	events := mockEvents(t)
	if len(events) < 300 {
		t.Fatalf("stripe-mock gave %d event types with a fixture, want the 303 of its spec", len(events))
	}
	types := make([]string, 0, len(events))
	for typ := range events {
		types = append(types, typ)
	}
	sort.Strings(types)
	planted, found := 0, 0
	for _, typ := range types {
		obj := events[typ]
		raw := rawPII(t, obj)
		found += len(raw)
		checkCorpusEvent(t, "stripe-mock", typ, obj, raw, true)
		withPII, pii := plant(t, obj)
		planted += len(pii)
		checkCorpusEvent(t, "stripe-mock planted", typ, withPII, pii, false)
	}
	t.Logf("%d event types: %d PII values in the fixtures, %d planted; none reached a prompt or a tool result", len(types), found, planted)
	if found == 0 || planted == 0 {
		t.Error("the corpus checked nothing")
	}
}

// TestRepoFixturesCorpus does the same for the repository's fixtures: the
// embedded ones and ../shared/fixtures/stripe-events.
func TestRepoFixturesCorpus(t *testing.T) {
	corpus := map[string][]byte{}
	for _, typ := range stripeevent.FixtureTypes() {
		corpus["embedded "+typ] = event(t, typ)
	}
	shared, _ := filepath.Glob(filepath.Join("..", "..", "..", "shared", "fixtures", "stripe-events", "*.*.json"))
	if len(shared) == 0 {
		t.Log("../shared/fixtures/stripe-events is absent: only the embedded fixtures are checked")
	}
	for _, f := range shared {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		corpus["shared "+filepath.Base(f)] = b
	}
	if len(corpus) < 14 {
		t.Fatalf("%d fixtures, want at least the 14 embedded ones", len(corpus))
	}
	seed := table(t)
	for label, payload := range corpus {
		var ev struct {
			Type string `json:"type"`
			Data struct {
				Object json.RawMessage `json:"object"`
			} `json:"data"`
		}
		if err := json.Unmarshal(payload, &ev); err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		checkCorpusEvent(t, label, ev.Type, ev.Data.Object, rawPII(t, ev.Data.Object), true)
		withPII, pii := plant(t, ev.Data.Object)
		checkCorpusEvent(t, label+" planted", ev.Type, withPII, pii, false)

		// The whole payload, as the dispatcher hands it over (with
		// previous_attributes), through the seed route where there is one.
		r, ok := seed.Match(ev.Type)
		if !ok {
			r = Route{Name: ev.Type, Tools: []Tool{{Name: "t"}}}
		}
		b, err := Prompt(r, payload, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range rawPII(t, payload) {
			if strings.Contains(b.Text, v) || strings.Contains(string(b.Event), v) {
				t.Errorf("%s: the prompt shows %q", label, v)
			}
		}
	}
}
