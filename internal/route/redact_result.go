package route

import (
	"bytes"
	"encoding/json"
	"strings"
)

// RedactResult returns a tool result (a Stripe action's JSON, an HTTP
// tool's body, a command's output, or an error message) with personal
// data and secrets replaced by [redacted], by the same default rules as
// the event prompt: key patterns (personalKey) and value detectors
// (scrub). A route's own redact: list does not apply: a tool may serve
// several routes.
//
//   - JSON is redacted structurally, by key and by value. A result with
//     nothing to redact is returned byte for byte; one with something is
//     returned as compact JSON.
//   - JSON cut short (a result clipped at tool.MaxResultBytes, followed by
//     its "[truncated: …]" line) is redacted as far as it is complete: the
//     complete part is returned as JSON with its open objects and arrays
//     closed, the value that was cut is dropped (it may be the start of a
//     name), and the lines after it (the truncation note) are scrubbed.
//   - JSON followed by other text: the JSON as above, the text scrubbed.
//   - Anything else is text: every secret, email address, phone number,
//     IP address and card number in it is replaced.
func RedactResult(content string) string {
	r := &redactor{}
	lead := strings.TrimLeft(content, " \t\r\n")
	if lead == "" || (lead[0] != '{' && lead[0] != '[') {
		if json.Valid([]byte(content)) { // a JSON string, number, …
			if root, err := parseTree([]byte(content)); err == nil && r.apply(root) {
				return string(root.json())
			}
			return content
		}
		out, _ := scrub(content)
		return out
	}
	if json.Valid([]byte(content)) {
		root, err := parseTree([]byte(content))
		if err != nil { // nested deeper than maxDepth: keep what text scrubbing can
			out, _ := scrub(content)
			return out
		}
		if !r.apply(root) {
			return content
		}
		return string(root.json())
	}
	dec := json.NewDecoder(strings.NewReader(content))
	dec.UseNumber()
	root, complete := decodePartial(dec, 0)
	if root == nil || !complete && len(root.vals) == 0 {
		// Not JSON after all ("[INFO] …", "{braces} in prose"): text.
		out, _ := scrub(content)
		return out
	}
	r.apply(root)
	var out bytes.Buffer
	root.write(&out)
	rest := content[dec.InputOffset():]
	if !complete {
		// rest starts with the value that was cut (no JSON token spans a
		// line): drop it, keep the lines after it.
		rest = strings.TrimLeft(rest, " \t\r\n")
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			rest = rest[i:]
		} else {
			rest = ""
		}
	}
	tail, _ := scrub(rest)
	out.WriteString(tail)
	return out.String()
}

// decodePartial decodes the next JSON value from dec as far as the input
// allows. It returns the value and whether it was complete; an object or
// array cut short keeps the members that were complete (so it is closed
// when written), a scalar cut short is nil.
func decodePartial(dec *json.Decoder, depth int) (*node, bool) {
	if depth > maxDepth {
		return nil, false
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, false
	}
	if n := leaf(tok); n != nil {
		return n, true
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			n := &node{kind: kindObject}
			for dec.More() {
				tok, err := dec.Token()
				key, ok := tok.(string)
				if err != nil || !ok {
					return n, false
				}
				val, complete := decodePartial(dec, depth+1)
				if val != nil {
					n.keys = append(n.keys, key)
					n.vals = append(n.vals, val)
				}
				if !complete {
					return n, false
				}
			}
			_, err := dec.Token() // '}'
			return n, err == nil
		case '[':
			n := &node{kind: kindArray}
			for dec.More() {
				val, complete := decodePartial(dec, depth+1)
				if val != nil {
					n.vals = append(n.vals, val)
				}
				if !complete {
					return n, false
				}
			}
			_, err := dec.Token() // ']'
			return n, err == nil
		}
	}
	return nil, false
}
