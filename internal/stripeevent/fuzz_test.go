package stripeevent

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var headerSeeds = []string{
	"",
	"garbage",
	"t=abc,v1=00",
	"v1=00",
	"t=123,v1=hunter2",
	"v1,t=1",
	"t=1785751200,v1=ea44f8869b71346820f60bb7f5372765421a5bb606dc78fc1b49f0035c650d0e",
	"t=1785751200,v0=ea44f8869b71346820f60bb7f5372765421a5bb606dc78fc1b49f0035c650d0e",
	"t=1785402727,v1=df4d53eee6b99917f44f43d1c9ec365007a672769709f3679882b387676884d9,v1=f5c538dc35f352431013951638fcb17ec8bc4fdb861f75c14307acb4e8141ff8",
	"t=1,t=2,v1=ab",
	"t=99999999999999999999,v1=ab",
	"t=-1,v1=ab",
	"t=1,v1=,v1=ab,",
	"t=1, v1=ab ,v2=zz",
}

func FuzzParseHeader(f *testing.F) {
	for _, s := range headerSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		h, err := ParseHeader(header)
		if err != nil {
			if !errors.Is(err, ErrMissingHeader) && !errors.Is(err, ErrMalformedHeader) && !errors.Is(err, ErrNoV1) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		if h.Timestamp < 0 || !strings.Contains(header, "t=") {
			t.Fatalf("accepted header without a valid timestamp: %q -> %d", header, h.Timestamp)
		}
		if len(h.V1) == 0 || len(h.V1) > maxV1 {
			t.Fatalf("accepted header with %d v1 values", len(h.V1))
		}
		for _, sig := range h.V1 {
			if len(sig) == 0 {
				t.Fatal("empty v1 value kept")
			}
		}
	})
}

func FuzzVerify(f *testing.F) {
	payload := []byte("{\n  \"id\": \"evt_test_webhook\",\n  \"object\": \"event\",\n  \"api_version\": \"2026-07-29.dahlia\"\n}")
	for _, s := range headerSeeds {
		f.Add(s, payload)
	}
	f.Add(Sign(payload, "whsec_attacker", time.Unix(1785751200, 0)), payload)
	f.Add(Sign(nil, "", time.Unix(1785751200, 0)), []byte{})
	const secret = "whsec_fuzz_secret_never_seen_by_the_fuzzer"
	v := &Verifier{
		Secrets:   []string{secret, "whsec_second"},
		Tolerance: 100 * 365 * 24 * time.Hour, // make the clock irrelevant
		Now:       fixedClock(time.Unix(1785751200, 0)),
	}
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		if err := v.Verify(body, header); err == nil {
			t.Fatalf("forged header verified: %q", header)
		}
	})
}

func FuzzParse(f *testing.F) {
	for _, typ := range FixtureTypes() {
		b, err := Fixture(typ)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{"", "[]", "null", "1", "{}", `{"id":"evt_1"}`, `{"type":"x"}`,
		`{"id":"evt_1","type":"x","data":{"object":{}}}`, `{"id":"\u0000","type":"x"}`, `{"id":"evt_1","type":"a b"}`, "{",
		`{"id":"evt_1","type":"x","TYPE":"y"}`, `{"id":"evt_1","type":"x","type":"y"}`, "{\"id\":\"evt_\xff\",\"type\":\"x\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		ev, err := Parse(payload)
		if err != nil {
			if !errors.Is(err, ErrMalformedJSON) && !errors.Is(err, ErrMissingID) && !errors.Is(err, ErrMissingType) && !errors.Is(err, ErrAmbiguous) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		if ev.ID == "" || ev.Type == "" || len(ev.ID) > maxFieldLen || len(ev.Type) > maxFieldLen {
			t.Fatalf("accepted event with id %q type %q", ev.ID, ev.Type)
		}
		if !utf8.ValidString(ev.ID) || strings.ContainsRune(ev.ID, utf8.RuneError) {
			t.Fatalf("accepted an id that is not valid UTF-8: %q", ev.ID)
		}
		// One reading: the filters' view of the event (a map, by exact
		// key) and the envelope agree on id and type.
		var m map[string]any
		if err := json.Unmarshal(payload, &m); err != nil {
			t.Fatalf("accepted a payload encoding/json refuses: %v", err)
		}
		if m["id"] != ev.ID || m["type"] != ev.Type {
			t.Fatalf("Parse read id %q type %q, a map reads id %v type %v", ev.ID, ev.Type, m["id"], m["type"])
		}
	})
}

// FuzzParseFast holds the fast envelope reader to encoding/json's answer:
// whenever parseFast is sure, encoding/json must accept the payload and
// read the same envelope from it.
func FuzzParseFast(f *testing.F) {
	for _, typ := range FixtureTypes() {
		b, err := Fixture(typ)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range parseCases {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		checkParseAgrees(t, payload)
	})
}
