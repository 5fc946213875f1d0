package route

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultMaxPromptBytes caps the event part of a prompt when the caller
// passes 0 (config: agent.max_prompt_bytes).
const DefaultMaxPromptBytes = 24 << 10

// Built is a prompt built for one event.
type Built struct {
	// Text is the user message for the model.
	Text string
	// Event is the whole event after redaction, as compact JSON: what may
	// be shown to a model or kept next to its decision.
	Event json.RawMessage
	// Truncated reports that the event part of Text was cut to the cap.
	Truncated bool
}

// Prompt builds the user message for the model from r and a raw Stripe
// event payload. The event is redacted first (the default key patterns
// and value detectors, and r.Redact), so nothing in Text or Event carries
// a redacted value. Text holds the route's instructions, then the event
// part: FenceOpen, a line of event metadata, the previous attributes (for
// *.updated events) and then either the object trimmed of noise (see
// trimValue) or, when r.Fields is set, a JSON object mapping each field
// path to its compacted value (paths the event lacks are left out), and
// FenceClose; and last a line asking for the tool call. Inside the fence
// no character can close it, and the values a customer or third party
// writes are marked {"untrusted": …} (see prompt_untrusted.go).
//
// The event part, fence included, is capped at maxBytes
// (DefaultMaxPromptBytes when maxBytes <= 0); a longer one is cut at a
// JSON member boundary, never inside a UTF-8 sequence, and ends with a
// marker saying how much was shown, inside the fence.
//
// Previous attributes are redacted and stripped of whitespace, not
// trimmed: there a null is information ("this field was empty before").
func Prompt(r Route, payload []byte, maxBytes int) (Built, error) {
	return buildPrompt(r, untrustedOf(r), payload, maxBytes)
}

// buildPrompt is Prompt with the route's untrusted: entries given.
func buildPrompt(r Route, untrusted []string, payload []byte, maxBytes int) (Built, error) {
	red := r.redact
	if red == nil { // a Route built by hand rather than by New
		var err error
		if red, err = newRedactor(r.Redact); err != nil {
			return Built{}, fmt.Errorf("route %s %w", r.Name, err)
		}
	}
	mk, err := newMarker(untrusted)
	if err != nil {
		return Built{}, fmt.Errorf("route %s %w", r.Name, err)
	}
	for _, f := range r.Fields {
		if err := checkPath(f); err != nil {
			return Built{}, fmt.Errorf("route %s fields: %w", r.Name, err)
		}
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxPromptBytes
	}

	root, err := parseTree(payload)
	if err != nil {
		return Built{}, fmt.Errorf("parse Stripe event: %w", err)
	}
	if root.kind != kindObject {
		return Built{}, errors.New("parse Stripe event: the payload is not a JSON object")
	}
	red.apply(root)
	id, typ := root.get("id").text(), root.get("type").text()
	if typ == "" {
		return Built{}, errors.New("parse Stripe event: no type: the payload is not a Stripe event")
	}
	data := root.get("data")
	object := data.get("object")
	if object == nil || object.kind == kindNull {
		return Built{}, fmt.Errorf("parse Stripe event %s: no data.object: the payload is not a complete Stripe event", id)
	}
	built := Built{Event: root.json()}
	set := mk.mark(root)

	// The event part. From here on the tree is only written, so it is
	// compacted and trimmed in place.
	var ev strings.Builder
	fmt.Fprintf(&ev, "Event: %s %s, created %s, %s\n", token(typ), token(id), created(root.get("created")), mode(root.get("livemode")))
	if p := data.get("previous_attributes"); p != nil && p.kind != kindNull {
		fmt.Fprintf(&ev, "Previous values: %s\n", markedJSON(p, set))
	}
	if len(r.Fields) > 0 {
		ev.WriteString("Fields (event path: value; unset ones omitted):\n")
	} else {
		label := "Object"
		if kind := object.get("object").text(); len(kind) <= 64 && plainToken(kind) {
			label = kind + " object"
		}
		fmt.Fprintf(&ev, "%s (unset fields omitted):\n", label)
	}
	head := escapeFence(ev.String())
	var body []byte
	if len(r.Fields) > 0 {
		body = fieldsJSON(root, r.Fields, set)
	} else {
		trimValue(object, false) // the top level stays, even if empty
		body = markedJSON(object, set)
	}
	eventPart := head + escapeFence(string(body))
	budget := maxBytes - len(FenceOpen+"\n"+"\n"+FenceClose)
	if len(eventPart) > budget {
		eventPart = truncate(eventPart, len(head), budget)
		built.Truncated = true
	}

	var b strings.Builder
	if s := strings.TrimSpace(r.Instructions); s != "" {
		fmt.Fprintf(&b, "Instructions:\n%s\n\n", s)
	}
	b.WriteString(FenceOpen + "\n")
	b.WriteString(eventPart)
	b.WriteString("\n" + FenceClose + "\n\n")
	b.WriteString(callTool(r.Tools))
	built.Text = b.String()
	return built, nil
}

// fieldsJSON returns {"path":value,…} for the paths present in root, each
// value compacted (in place) and untrusted values marked. A path whose
// value compacts to nothing is left out.
func fieldsJSON(root *node, paths []string, set marks) []byte {
	var out bytes.Buffer
	out.WriteByte('{')
	n := 0
	for _, p := range paths {
		v := root.lookup(p)
		if v == nil || compactNode(v) {
			continue
		}
		if n > 0 {
			out.WriteByte(',')
		}
		writeString(&out, p)
		out.WriteByte(':')
		writeMarked(v, set, &out, false)
		n++
	}
	out.WriteByte('}')
	return out.Bytes()
}

// created renders the event's created timestamp as Unix seconds (what
// the object's timestamps use) with the UTC time next to it.
func created(n *node) string {
	if n == nil || n.kind != kindNumber {
		return "at an unknown time"
	}
	sec, err := strconv.ParseInt(n.str, 10, 64)
	if err != nil {
		return n.str
	}
	t := time.Unix(sec, 0).UTC()
	if t.Year() < 0 || t.Year() > 9999 {
		return n.str
	}
	return fmt.Sprintf("%d (%s)", sec, t.Format(time.RFC3339))
}

func mode(n *node) string {
	switch {
	case n == nil || n.kind != kindBool:
		return "mode unknown"
	case n.b:
		return "live mode"
	}
	return "test mode"
}

// truncMarker is appended to a cut event part.
const truncMarker = "\n…[truncated: %d of %d bytes shown; set agent.max_prompt_bytes or route fields to see more]"

// truncate cuts s to at most maxBytes including the marker. It cuts after
// the last complete JSON member (a comma outside strings, from jsonStart
// on) if one is in the second half of the budget, otherwise at the last
// line break, otherwise at a rune boundary.
func truncate(s string, jsonStart, maxBytes int) string {
	budget := max(maxBytes-len(fmt.Sprintf(truncMarker, len(s), len(s))), 0)
	cut := -1
	if i := lastMemberEnd(s, jsonStart, budget); i >= budget/2 {
		cut = i
	} else if i := strings.LastIndexByte(s[:budget], '\n'); i >= budget/2 {
		cut = i
	} else {
		cut = budget
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
	}
	return s[:cut] + fmt.Sprintf(truncMarker, cut, len(s))
}

// lastMemberEnd returns the offset of the last comma outside JSON strings
// in s[jsonStart:limit], or -1.
func lastMemberEnd(s string, jsonStart, limit int) int {
	last, inString, escaped := -1, false, false
	for i := jsonStart; i < limit && i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && c == ',':
			last = i
		}
	}
	return last
}

// callTool is the prompt's last line. The rules for the decision (use
// only this data, invent nothing) are in the system prompt.
func callTool(tools []Tool) string {
	switch len(tools) {
	case 0:
		return "Decide by calling the tool you are given.\n"
	case 1:
		return "Decide by calling " + tools[0].Name + " once.\n"
	}
	names := make([]string, len(tools))
	for i, t := range tools {
		names[i] = t.Name
	}
	return "Decide by calling one of: " + strings.Join(names, ", ") + ".\n"
}
