package stripeevent

import (
	"errors"
	"strings"
	"testing"
)

// One parse decides id and type: a body readers could read two ways (an
// envelope key twice, or in another case) is refused, and so is an id that
// is not valid UTF-8, which decoding would collapse with its neighbours.
func TestAmbiguousEnvelopeRefused(t *testing.T) {
	for _, tc := range []struct {
		name, payload string
		want          error
		say           string
	}{
		{"type and TYPE", `{"id":"evt_1","type":"customer.created","TYPE":"charge.dispute.created"}`, ErrAmbiguous, `"TYPE" is "type" in another case`},
		{"TYPE before type", `{"TYPE":"charge.dispute.created","id":"evt_1","type":"customer.created"}`, ErrAmbiguous, "another case"},
		{"Type alone", `{"id":"evt_1","Type":"customer.created"}`, ErrAmbiguous, "another case"},
		{"type twice", `{"id":"evt_1","type":"customer.created","type":"charge.dispute.created"}`, ErrAmbiguous, `"type" occurs more than once`},
		{"id twice", `{"id":"evt_1","id":"evt_2","type":"x"}`, ErrAmbiguous, `"id" occurs more than once`},
		{"ID and id", `{"ID":"evt_2","id":"evt_1","type":"x"}`, ErrAmbiguous, "another case"},
		{"escaped type twice", `{"id":"evt_1","type":"x","\u0074ype":"y"}`, ErrAmbiguous, "more than once"},
		{"data twice", `{"id":"evt_1","type":"x","data":{"object":{"amount":1}},"data":{"object":{"amount":2}}}`, ErrAmbiguous, "more than once"},
		{"livemode twice", `{"id":"evt_1","type":"x","livemode":false,"livemode":true}`, ErrAmbiguous, "more than once"},
		{"ſ folds to s", `{"id":"evt_1","type":"x","api_verſion":"v"}`, ErrAmbiguous, "another case"},
		{"invalid UTF-8 id", "{\"id\":\"evt_\xff\",\"type\":\"x\"}", ErrMissingID, "not valid UTF-8"},
		{"another invalid byte", "{\"id\":\"evt_\xfe\",\"type\":\"x\"}", ErrMissingID, "not valid UTF-8"},
		{"lone surrogate id", `{"id":"evt_\ud800","type":"x"}`, ErrMissingID, "not valid UTF-8"},
		{"invalid UTF-8 type", "{\"id\":\"evt_1\",\"type\":\"invoice.\xffpaid\"}", ErrMissingType, "not valid UTF-8"},
	} {
		ev, err := Parse([]byte(tc.payload))
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.say) {
			t.Errorf("%s: Parse = %+v, %v; want %v saying %q", tc.name, ev, err, tc.want, tc.say)
		}
	}
	// What stays accepted: keys that only resemble the envelope's, nested
	// duplicates (not the envelope), and a non-ASCII but valid id.
	for _, ok := range []string{
		`{"id":"evt_1","type":"x","types":"y","object":"event","Object":"event"}`,
		`{"id":"evt_1","type":"x","data":{"object":{"type":"a","type":"b","TYPE":"c"}}}`,
		"{\"id\":\"evt_\xc3\xa9\",\"type\":\"x\"}",
	} {
		if _, err := Parse([]byte(ok)); err != nil {
			t.Errorf("Parse(%q) = %v, want accepted", ok, err)
		}
	}
}
