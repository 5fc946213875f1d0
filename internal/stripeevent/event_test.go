package stripeevent

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

func TestParseFixtures(t *testing.T) {
	types := FixtureTypes()
	if len(types) < 14 {
		t.Fatalf("got %d fixture types, want at least 14", len(types))
	}
	for _, typ := range types {
		payload := mustFixture(t, typ)
		ev, err := Parse(payload)
		if err != nil {
			t.Errorf("%s: %v", typ, err)
			continue
		}
		// Cross-check against an independent JSON reader.
		want := gjson.ParseBytes(payload)
		if ev.Type != typ || ev.Type != want.Get("type").String() {
			t.Errorf("%s: Type = %q", typ, ev.Type)
		}
		if !strings.HasPrefix(ev.ID, "evt_") || ev.ID != want.Get("id").String() {
			t.Errorf("%s: ID = %q, want %q", typ, ev.ID, want.Get("id").String())
		}
		if ev.Created == 0 || ev.Created != want.Get("created").Int() {
			t.Errorf("%s: Created = %d, want %d", typ, ev.Created, want.Get("created").Int())
		}
		if ev.Livemode || ev.APIVersion != "2026-07-29.dahlia" {
			t.Errorf("%s: Livemode = %v, APIVersion = %q", typ, ev.Livemode, ev.APIVersion)
		}
		if _, ok := parseFast(payload); !ok {
			t.Errorf("%s: a plain Stripe event took the slow path", typ)
		}
	}
}

func TestParseErrors(t *testing.T) {
	long := strings.Repeat("a", maxFieldLen+1)
	tests := []struct {
		name    string
		payload string
		want    error
	}{
		{"empty", "", ErrMalformedJSON},
		{"whitespace", " \n\t", ErrMalformedJSON},
		{"array", "[]", ErrMalformedJSON},
		{"null", "null", ErrMalformedJSON},
		{"number", "1", ErrMalformedJSON},
		{"string", `"evt_1"`, ErrMalformedJSON},
		{"truncated", `{"id":"evt_1","type":"x"`, ErrMalformedJSON},
		{"trailing garbage", `{"id":"evt_1","type":"x"} x`, ErrMalformedJSON},
		{"syntax error", `{"id":"evt_1",,"type":"x"}`, ErrMalformedJSON},
		{"id wrong type", `{"id":1,"type":"x"}`, ErrMalformedJSON},
		{"created wrong type", `{"id":"evt_1","type":"x","created":"now"}`, ErrMalformedJSON},
		{"data wrong type", `{"id":"evt_1","type":"x","data":[]}`, ErrMalformedJSON},
		{"empty object", `{}`, ErrMissingID},
		{"missing id", `{"type":"invoice.paid"}`, ErrMissingID},
		{"null id", `{"id":null,"type":"invoice.paid"}`, ErrMissingID},
		{"empty id", `{"id":"","type":"invoice.paid"}`, ErrMissingID},
		{"id too long", `{"id":"` + long + `","type":"invoice.paid"}`, ErrMissingID},
		{"id control char", `{"id":"evt_1\n","type":"invoice.paid"}`, ErrMissingID},
		{"id NUL", `{"id":"evt_\u0000","type":"invoice.paid"}`, ErrMissingID},
		{"missing type", `{"id":"evt_1"}`, ErrMissingType},
		{"empty type", `{"id":"evt_1","type":""}`, ErrMissingType},
		{"type too long", `{"id":"evt_1","type":"` + long + `"}`, ErrMissingType},
		{"type with space", `{"id":"evt_1","type":"invoice paid"}`, ErrMissingType},
		{"type control char", `{"id":"evt_1","type":"invoice.paid\t"}`, ErrMissingType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := Parse([]byte(tc.payload))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Parse(%.40q) = %v, want %v", tc.payload, err, tc.want)
			}
			if ev.ID != "" || ev.Type != "" {
				t.Errorf("failed Parse returned a non-zero Event: %+v", ev)
			}
		})
	}

	// JSON errors carry the position and remain inspectable.
	_, err := Parse([]byte(`{"id":"evt_1",,}`))
	var syntaxErr *json.SyntaxError
	if !errors.As(err, &syntaxErr) || !strings.Contains(err.Error(), "offset "+strconv.FormatInt(syntaxErr.Offset, 10)) {
		t.Errorf("syntax error lacks position: %v", err)
	}

	// Limits are inclusive.
	ok := `{"id":"` + long[:maxFieldLen] + `","type":"` + long[:maxFieldLen] + `"}`
	if _, err := Parse([]byte(ok)); err != nil {
		t.Errorf("id/type of exactly %d bytes: %v", maxFieldLen, err)
	}
}

// parseCases are payloads where a fast reader could easily part ways with
// encoding/json; TestParseFastAgrees and FuzzParseFast hold Parse to
// encoding/json's answer on each.
var parseCases = []string{
	`{"id":"evt_1","type":"x","created":1,"livemode":true,"api_version":"v","data":{"object":{}}}`,
	`{"id":"evt_1","id":"evt_2","type":"x"}`,           // encoding/json keeps the last
	`{"ID":"evt_2","id":"evt_1","type":"x"}`,           // and folds case
	`{"id":"evt_1","Type":"y","type":"x"}`,             //
	`{"\u0069d":"evt_1","type":"x"}`,                   // escaped key
	`{"id":"evt_\u0031","type":"x"}`,                   // escaped value
	`{"id":"evt_1","type":"x","api_verſion":"v"}`,      // ſ folds to s
	`{"id":"evt_1","type":"x","created":1.0}`,          // not an integer
	`{"id":"evt_1","type":"x","created":1e3}`,          //
	`{"id":"evt_1","type":"x","created":-0}`,           //
	`{"id":"evt_1","type":"x","created":null}`,         //
	`{"id":"evt_1","type":"x","livemode":null}`,        //
	`{"id":"evt_1","type":"x","livemode":"true"}`,      //
	`{"id":"evt_1","type":"x","data":null}`,            //
	`{"id":"evt_1","type":"x","data":"x"}`,             //
	`{"id":"evt_1","type":"x","data":{"object":1}}`,    //
	` {"id":"evt_1","type":"x"} ` + "\n",               // whitespace around
	`{"id":"evt_1","type":"x"}{}`,                      // two values
	`{"id":"evt_1","type":"x","n":01}`,                 // invalid number
	`{"id":"evt_1","type":"x","s":"\x"}`,               // invalid escape
	"{\"id\":\"evt_1\",\"type\":\"x\",\"s\":\"\xff\"}", // invalid UTF-8
	"{\"id\":\"evt_\xc3\xa9\",\"type\":\"x\"}",         // non-ASCII id
	`{"id":"evt_1","type":"x","data":` + strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1) + `}`,
	`{"id":"evt_1","type":"x","data":{"a":` + strings.Repeat("[", maxDepth-3) + strings.Repeat("]", maxDepth-3) + `}}`,
}

func TestParseFastAgrees(t *testing.T) {
	for _, payload := range parseCases {
		checkParseAgrees(t, []byte(payload))
	}
}

// checkParseAgrees fails if parseFast answers differently from encoding/json.
func checkParseAgrees(t *testing.T, payload []byte) {
	t.Helper()
	fast, ok := parseFast(payload)
	if !ok {
		return
	}
	std, err := parseStd(payload)
	if err != nil {
		t.Fatalf("parseFast accepted %.60q, encoding/json refuses it: %v", payload, err)
	}
	if fast != std {
		t.Fatalf("parseFast(%.60q) = %+v, encoding/json says %+v", payload, fast, std)
	}
}

func TestFixtureAccessors(t *testing.T) {
	types := FixtureTypes()
	types[0] = "mutated"
	if FixtureTypes()[0] == "mutated" {
		t.Error("FixtureTypes returned shared state")
	}

	b := mustFixture(t, "customer.created")
	if !bytes.HasSuffix(b, []byte("}\n")) || !bytes.Contains(b, []byte("\n  \"id\": ")) {
		t.Error("fixture bytes are not the pretty-printed file")
	}
	b[0] = 'X'
	if mustFixture(t, "customer.created")[0] != '{' {
		t.Error("Fixture returned shared bytes")
	}

	for _, typ := range []string{"", "nope.nothing", "../signature-vectors", "customer.created.json"} {
		_, err := Fixture(typ)
		if !errors.Is(err, ErrUnknownFixture) {
			t.Errorf("Fixture(%q) = %v, want ErrUnknownFixture", typ, err)
			continue
		}
		for _, avail := range FixtureTypes() {
			if !strings.Contains(err.Error(), avail) {
				t.Errorf("Fixture(%q) error does not list %s: %v", typ, avail, err)
			}
		}
	}
}

func TestNewEvent(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	types := FixtureTypes()
	if len(types) < 14 {
		t.Fatalf("got %d fixture types, want at least 14", len(types))
	}
	for _, typ := range types {
		orig := mustFixture(t, typ)
		origEv, err := Parse(orig)
		if err != nil {
			t.Fatal(err)
		}

		body1, id1, err := NewEvent(typ, now)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		_, id2, err := NewEvent(typ, now)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if id1 == id2 {
			t.Errorf("%s: two calls returned the same id %s", typ, id1)
		}
		if !json.Valid(body1) {
			t.Fatalf("%s: NewEvent body is not valid JSON", typ)
		}
		ev, err := Parse(body1)
		if err != nil {
			t.Fatalf("%s: Parse(NewEvent) = %v", typ, err)
		}
		if ev.ID != id1 || ev.Type != typ || ev.Created != now.Unix() {
			t.Errorf("%s: got id=%s type=%s created=%d, want %s %s %d", typ, ev.ID, ev.Type, ev.Created, id1, typ, now.Unix())
		}

		// Everything but the two top-level values is byte-for-byte the
		// fixture: substituting them back in textually must reproduce it.
		if n := bytes.Count(orig, []byte(`"`+origEv.ID+`"`)); n != 1 {
			t.Fatalf("%s: original id occurs %d times", typ, n)
		}
		want := bytes.Replace(orig, []byte(`"`+origEv.ID+`"`), []byte(`"`+id1+`"`), 1)
		oldCreated := []byte(`"created": ` + strconv.FormatInt(origEv.Created, 10) + ",\n  \"data\"")
		newCreated := []byte(`"created": ` + strconv.FormatInt(now.Unix(), 10) + ",\n  \"data\"")
		if !bytes.Contains(want, oldCreated) {
			t.Fatalf("%s: fixture layout changed, top-level created not before data", typ)
		}
		want = bytes.Replace(want, oldCreated, newCreated, 1)
		if !bytes.Equal(body1, want) {
			t.Errorf("%s: NewEvent changed bytes other than id and created", typ)
		}

		// The original fixture is untouched.
		if !bytes.Equal(mustFixture(t, typ), orig) {
			t.Errorf("%s: NewEvent mutated the embedded fixture", typ)
		}
	}

	_, _, err := NewEvent("no.such.event", now)
	if !errors.Is(err, ErrUnknownFixture) || !strings.Contains(err.Error(), "invoice.paid") {
		t.Errorf("unknown type: %v, want ErrUnknownFixture listing available types", err)
	}
}

func TestNewID(t *testing.T) {
	seen := make(map[string]bool)
	for range 1000 {
		id := NewID()
		if len(id) != len("evt_")+24 || !strings.HasPrefix(id, "evt_") {
			t.Fatalf("NewID() = %q, want evt_ + 24 chars", id)
		}
		for _, c := range id[4:] {
			if !strings.ContainsRune(idAlphabet, c) {
				t.Fatalf("NewID() = %q contains non-alphanumeric %q", id, c)
			}
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
		if _, err := Parse([]byte(`{"id":"` + id + `","type":"x"}`)); err != nil {
			t.Fatalf("Parse rejects NewID output: %v", err)
		}
	}
}

// TestSignedNewEventRoundTrip exercises the trigger path end to end: fresh
// event, signed, verified, parsed.
func TestSignedNewEventRoundTrip(t *testing.T) {
	now := time.Unix(1_790_000_000, 0)
	body, id, err := NewEvent("invoice.payment_failed", now)
	if err != nil {
		t.Fatal(err)
	}
	v := &Verifier{Secrets: []string{testSecret}, Now: fixedClock(now)}
	if err := v.Verify(body, Sign(body, testSecret, now)); err != nil {
		t.Fatal(err)
	}
	if ev, err := Parse(body); err != nil || ev.ID != id {
		t.Fatalf("Parse = %+v, %v; want id %s", ev.ID, err, id)
	}
}
