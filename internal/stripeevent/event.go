package stripeevent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode"
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
)

// Event is the envelope fields agenthook needs; Raw payload is kept by callers.
//
// Only the envelope is decoded: data.object stays raw so that agenthook
// is independent of the Stripe API version and of stripe-go's typed
// models, and so that consumers see the object exactly as Stripe sent it.
type Event struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	Created    int64  `json:"created"`
	Livemode   bool   `json:"livemode"`
	APIVersion string `json:"api_version"`
	Data       struct {
		Object             json.RawMessage `json:"object"`
		PreviousAttributes json.RawMessage `json:"previous_attributes,omitempty"`
	} `json:"data"`
}

// Parse decodes the event envelope from payload and validates id and type.
// It should be called only after Verify succeeded. Errors wrap
// ErrMalformedJSON (including the byte offset of the JSON error),
// ErrMissingID or ErrMissingType.
func Parse(payload []byte) (Event, error) {
	var ev Event
	trimmed := bytes.TrimLeft(payload, " \t\r\n")
	if len(trimmed) == 0 {
		return Event{}, fmt.Errorf("%w: empty body", ErrMalformedJSON)
	}
	// Reject arrays, null, numbers, ... up front: json.Unmarshal would
	// accept "null" silently and report the rest as type errors.
	if trimmed[0] != '{' {
		return Event{}, fmt.Errorf("%w: expected a JSON object at byte offset %d", ErrMalformedJSON, len(payload)-len(trimmed))
	}
	if err := json.Unmarshal(payload, &ev); err != nil {
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
	if problem := fieldProblem(ev.ID, false); problem != "" {
		return Event{}, fmt.Errorf("%w: invalid id: %s", ErrMissingID, problem)
	}
	if problem := fieldProblem(ev.Type, true); problem != "" {
		return Event{}, fmt.Errorf("%w: invalid type: %s", ErrMissingType, problem)
	}
	return ev, nil
}

// fieldProblem checks an identifier-like envelope field: non-empty, at
// most maxFieldLen bytes, without control characters and, if noSpace,
// without whitespace. It returns "" if s is acceptable, otherwise a
// description of the problem that never echoes the untrusted value.
func fieldProblem(s string, noSpace bool) string {
	switch {
	case s == "":
		return "empty or absent"
	case len(s) > maxFieldLen:
		return fmt.Sprintf("%d bytes, limit is %d", len(s), maxFieldLen)
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
