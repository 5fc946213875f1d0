package route

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// event is the part of a Stripe event envelope the prompt uses.
type event struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Created  int64  `json:"created"`
	Livemode bool   `json:"livemode"`
	Data     struct {
		Object             json.RawMessage `json:"object"`
		PreviousAttributes json.RawMessage `json:"previous_attributes"`
	} `json:"data"`
}

// Prompt builds the user message for the model from r and a raw Stripe
// event payload: the route's instructions, the event's metadata, the
// previous attributes (for *.updated events) and the compacted object.
//
// Previous attributes are only stripped of whitespace, not compacted:
// there a null is information ("this field was empty before").
func Prompt(r Route, payload []byte) (string, error) {
	var ev event
	if err := json.Unmarshal(payload, &ev); err != nil {
		return "", fmt.Errorf("parse Stripe event: %w", err)
	}
	if ev.Type == "" {
		return "", errors.New("parse Stripe event: no type: the payload is not a Stripe event")
	}
	if len(ev.Data.Object) == 0 || string(ev.Data.Object) == "null" {
		return "", fmt.Errorf("parse Stripe event %s: no data.object: the payload is not a complete Stripe event", ev.ID)
	}
	object, err := Compact(ev.Data.Object)
	if err != nil {
		return "", fmt.Errorf("event %s data.object: %w", ev.ID, err)
	}

	var b strings.Builder
	if s := strings.TrimSpace(r.Instructions); s != "" {
		fmt.Fprintf(&b, "Instructions:\n%s\n\n", s)
	}
	fmt.Fprintf(&b, "Event: %s (%s)\n", ev.Type, ev.ID)
	fmt.Fprintf(&b, "Created: %d (%s)\n", ev.Created, time.Unix(ev.Created, 0).UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "Livemode: %t\n", ev.Livemode)
	if p := ev.Data.PreviousAttributes; len(p) > 0 && string(p) != "null" {
		var prev bytes.Buffer
		if err := json.Compact(&prev, p); err != nil {
			return "", fmt.Errorf("event %s data.previous_attributes: %w", ev.ID, err)
		}
		fmt.Fprintf(&b, "\nPrevious attributes (JSON; the values these fields had before this event):\n%s\n", prev.Bytes())
	}
	fmt.Fprintf(&b, "\nObject (JSON; unset and empty fields left out):\n%s\n\n", object)
	b.WriteString(callTool(r.Tools))
	return b.String(), nil
}

func callTool(tools []Tool) string {
	const basis = " Base the decision only on the data above."
	switch len(tools) {
	case 0:
		return "Respond by calling the tool you are given." + basis + "\n"
	case 1:
		return "Call the " + tools[0].Name + " tool once with your decision." + basis + "\n"
	}
	names := make([]string, len(tools))
	for i, t := range tools {
		names[i] = t.Name
	}
	return "Call exactly one of these tools with your decision: " + strings.Join(names, ", ") + "." + basis + "\n"
}
