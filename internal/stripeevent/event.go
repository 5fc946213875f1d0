package stripeevent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// maxFieldLen bounds id and type. Stripe ids and event types are far
// shorter; the bound keeps garbage out of logs, metrics labels and
// database keys.
const maxFieldLen = 255

// Event parsing errors. Use errors.Is to test for them.
var (
	ErrMalformedJSON = errors.New("malformed event JSON: the body must be a Stripe event object")
	ErrMissingID     = errors.New(`missing or invalid event "id": expected a Stripe event id such as evt_...`)
	ErrMissingType   = errors.New(`missing or invalid event "type": expected a Stripe event type such as invoice.paid`)
	// ErrAmbiguous is a body whose envelope two readers could read two
	// ways: a top-level key given twice, or in another case ("TYPE").
	ErrAmbiguous = errors.New("ambiguous event envelope (send the body exactly as Stripe sent it: each of id, type, created, livemode, api_version and data at most once, in lower case)")
)

// Event is the envelope fields agenthook needs; callers keep the raw payload.
//
// Only the envelope is decoded: data.object stays in the payload, so that
// agenthook is independent of the Stripe API version and of stripe-go's
// typed models, and consumers see the object exactly as Stripe sent it.
type Event struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	Created    int64  `json:"created"`
	Livemode   bool   `json:"livemode"`
	APIVersion string `json:"api_version"`
}

// envelope is what encoding/json decodes: Event, plus data, which must be
// an object (or null) for the payload to be an event at all.
type envelope struct {
	Event
	Data struct{} `json:"data"`
}

// Parse decodes the event envelope from payload and validates id and type.
// It should be called only after Verify succeeded. Errors wrap
// ErrMalformedJSON (including the byte offset of the JSON error),
// ErrAmbiguous, ErrMissingID or ErrMissingType.
//
// Parse is the one reading of the envelope: dedupe (id), routing (type),
// filters and the prompt all rely on it. So a body that readers could read
// differently is refused: an envelope key given twice or in another case
// (encoding/json keeps the last and folds case, gjson and a map keep
// others), and an id or type that is not valid UTF-8 (decoding turns every
// invalid byte into U+FFFD, so ids differing only there would be one).
//
// Parse runs on every delivery, so it first tries parseFast, which reads
// the envelope in one validating pass; whatever that path is not sure of
// (escapes, duplicate keys, unusual types, errors) goes to encoding/json,
// which defines the result. FuzzParseFast holds the two to the same answer.
func Parse(payload []byte) (Event, error) {
	ev, ok := parseFast(payload)
	if !ok {
		var err error
		if ev, err = parseStd(payload); err != nil {
			return Event{}, err
		}
		if err := checkEnvelopeKeys(payload); err != nil {
			return Event{}, err
		}
	}
	if problem := fieldProblem(ev.ID, false); problem != "" {
		return Event{}, fmt.Errorf("%w: invalid id: %s", ErrMissingID, problem)
	}
	if problem := fieldProblem(ev.Type, true); problem != "" {
		return Event{}, fmt.Errorf("%w: invalid type: %s", ErrMissingType, problem)
	}
	return ev, nil
}

// parseStd decodes the envelope with encoding/json, whose errors carry the
// byte offset a sender needs to find the fault.
func parseStd(payload []byte) (Event, error) {
	trimmed := bytes.TrimLeft(payload, " \t\r\n")
	if len(trimmed) == 0 {
		return Event{}, fmt.Errorf("%w: empty body", ErrMalformedJSON)
	}
	// Reject arrays, null, numbers, ... up front: json.Unmarshal would
	// accept "null" silently and report the rest as type errors.
	if trimmed[0] != '{' {
		return Event{}, fmt.Errorf("%w: expected a JSON object at byte offset %d", ErrMalformedJSON, len(payload)-len(trimmed))
	}
	var env envelope
	if err := json.Unmarshal(payload, &env); err != nil {
		var (
			syntaxErr *json.SyntaxError
			typeErr   *json.UnmarshalTypeError
		)
		switch {
		case errors.As(err, &syntaxErr):
			return Event{}, fmt.Errorf("%w: at byte offset %d: %w", ErrMalformedJSON, syntaxErr.Offset, err)
		case errors.As(err, &typeErr):
			return Event{}, fmt.Errorf("%w: at byte offset %d: %w", ErrMalformedJSON, typeErr.Offset, err)
		default:
			return Event{}, fmt.Errorf("%w: %w", ErrMalformedJSON, err)
		}
	}
	return env.Event, nil
}

// parseFast reads the envelope of an ordinary Stripe event with gjson,
// which validates and walks the payload without building a value for
// data.object: about a quarter of the work of encoding/json, which scans
// the payload twice. It reports ok only when its answer is the one
// encoding/json would give: it gives up on any key or string with an
// escape or a non-ASCII byte (encoding/json matches keys case-insensitively
// and unescapes them), a repeated or case-variant envelope key (encoding/json
// keeps the last), and any value of an unexpected type, and leaves those to
// parseStd.
func parseFast(payload []byte) (ev Event, ok bool) {
	// encoding/json refuses nesting deeper than 10,000; a payload with
	// fewer brackets than that cannot be so deep.
	if len(payload) > maxDepth && bytes.Count(payload, []byte("{"))+bytes.Count(payload, []byte("[")) > maxDepth {
		return Event{}, false
	}
	if !gjson.ValidBytes(payload) {
		return Event{}, false
	}
	root := gjson.ParseBytes(payload)
	if !root.IsObject() {
		return Event{}, false
	}
	var seen [len(envelopeKeys)]bool
	ok = true
	root.ForEach(func(key, value gjson.Result) bool {
		if !plainASCII(key.Raw) {
			ok = false
			return false
		}
		i := slices.Index(envelopeKeys[:], key.Str)
		if i < 0 {
			// A key encoding/json would fold onto an envelope field.
			for _, k := range envelopeKeys {
				if strings.EqualFold(key.Str, k) {
					ok = false
					return false
				}
			}
			return true
		}
		if seen[i] {
			ok = false
			return false
		}
		seen[i] = true
		switch key.Str {
		case "id", "type", "api_version":
			if value.Type != gjson.String || !plainASCII(value.Raw) {
				ok = false
				return false
			}
			switch key.Str {
			case "id":
				ev.ID = value.Str
			case "type":
				ev.Type = value.Str
			default:
				ev.APIVersion = value.Str
			}
		case "created":
			n, err := strconv.ParseInt(value.Raw, 10, 64)
			if value.Type != gjson.Number || err != nil {
				ok = false
				return false
			}
			ev.Created = n
		case "livemode":
			if value.Type != gjson.True && value.Type != gjson.False {
				ok = false
				return false
			}
			ev.Livemode = value.Type == gjson.True
		case "data":
			if !value.IsObject() {
				ok = false
				return false
			}
		}
		return true
	})
	if !ok {
		return Event{}, false
	}
	return ev, true
}

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

// envelopeKeys are the top-level keys Parse reads.
var envelopeKeys = [...]string{"id", "type", "created", "livemode", "api_version", "data"}

// plainASCII reports whether a raw JSON token has no escape and no byte
// outside printable ASCII, so that its text is its value.
func plainASCII(raw string) bool {
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c == '\\' || c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// checkEnvelopeKeys refuses a payload (valid JSON, an object) in which an
// envelope key occurs more than once at the top level, counting keys that
// encoding/json would fold onto it (other case, escapes, ſ for s), or in a
// case other than its own. The top-level keys are read by encoding/json's
// own tokenizer, so they are exactly the keys it matches on.
func checkEnvelopeKeys(payload []byte) error {
	dec := json.NewDecoder(bytes.NewReader(payload))
	if _, err := dec.Token(); err != nil { // {
		return fmt.Errorf("%w: %w", ErrMalformedJSON, err)
	}
	var seen [len(envelopeKeys)]bool
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("%w: %w", ErrMalformedJSON, err)
		}
		key, _ := tok.(string)
		for i, k := range envelopeKeys {
			if !strings.EqualFold(key, k) {
				continue
			}
			switch {
			case key != k:
				return fmt.Errorf("%w: top-level key %q is %q in another case; Stripe sends it in lower case", ErrAmbiguous, key, k)
			case seen[i]:
				return fmt.Errorf("%w: top-level key %q occurs more than once", ErrAmbiguous, k)
			}
			seen[i] = true
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return fmt.Errorf("%w: %w", ErrMalformedJSON, err)
		}
	}
	return nil
}

// fieldProblem checks an identifier-like envelope field: non-empty, at
// most maxFieldLen bytes, valid UTF-8 (decoding made every invalid byte
// U+FFFD, which no Stripe id or type contains), without control characters
// and, if noSpace, without whitespace. It returns "" if s is acceptable,
// otherwise a description of the problem that never echoes the untrusted
// value.
func fieldProblem(s string, noSpace bool) string {
	switch {
	case s == "":
		return "empty or absent"
	case len(s) > maxFieldLen:
		return fmt.Sprintf("%d bytes, limit is %d", len(s), maxFieldLen)
	case !utf8.ValidString(s) || strings.ContainsRune(s, utf8.RuneError):
		return "not valid UTF-8 (or contains U+FFFD): Stripe ids and types are plain ASCII"
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "contains control characters"
		}
		if noSpace && unicode.IsSpace(r) {
			return "contains whitespace"
		}
	}
	return ""
}
