package route

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// maxDepth bounds nesting so hostile input cannot exhaust the stack;
// Stripe objects nest a handful of levels.
const maxDepth = 1000

// Compact returns object as compact JSON without null values and without
// empty objects (including objects that only held nulls) under object
// keys. Stripe objects are mostly nulls and empty sub-objects; dropping
// them cuts the tokens the model reads without losing information. Array
// elements are compacted but never dropped, since their position can
// matter. Key order and number text are kept exactly as they were, so big
// integers are not rounded. Empty arrays, empty strings, false and 0 are
// kept: they are data. A top-level null or object that ends up empty is
// returned as "null" or "{}".
func Compact(object []byte) ([]byte, error) {
	if !json.Valid(object) {
		// Unmarshal gives a SyntaxError with the offset for the message.
		var raw json.RawMessage
		if err := json.Unmarshal(object, &raw); err != nil {
			return nil, fmt.Errorf("compact JSON: %w", err)
		}
		return nil, errors.New("compact JSON: invalid JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(object))
	dec.UseNumber()
	var out bytes.Buffer
	if _, err := compactValue(dec, &out, 0); err != nil {
		return nil, fmt.Errorf("compact JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("compact JSON: data after the top-level value")
	}
	return out.Bytes(), nil
}

// compactValue writes the next value from dec to out and reports whether
// it is droppable (null, or an object with nothing left in it).
func compactValue(dec *json.Decoder, out *bytes.Buffer, depth int) (drop bool, err error) {
	if depth > maxDepth {
		return false, fmt.Errorf("nested deeper than %d levels", maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return false, err
	}
	switch v := tok.(type) {
	case nil:
		out.WriteString("null")
		return true, nil
	case bool:
		if v {
			out.WriteString("true")
		} else {
			out.WriteString("false")
		}
	case json.Number:
		out.WriteString(v.String())
	case string:
		writeString(out, v)
	case json.Delim:
		switch v {
		case '{':
			return compactObject(dec, out, depth)
		case '[':
			return false, compactArray(dec, out, depth)
		default:
			return false, fmt.Errorf("unexpected %q", v)
		}
	default:
		return false, fmt.Errorf("unexpected token %v", tok)
	}
	return false, nil
}

func compactObject(dec *json.Decoder, out *bytes.Buffer, depth int) (bool, error) {
	out.WriteByte('{')
	n := 0
	var val bytes.Buffer
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false, err
		}
		key, ok := tok.(string)
		if !ok {
			return false, fmt.Errorf("object key is %v, not a string", tok)
		}
		val.Reset()
		drop, err := compactValue(dec, &val, depth+1)
		if err != nil {
			return false, err
		}
		if drop {
			continue
		}
		if n > 0 {
			out.WriteByte(',')
		}
		writeString(out, key)
		out.WriteByte(':')
		out.Write(val.Bytes())
		n++
	}
	if _, err := dec.Token(); err != nil { // '}'
		return false, err
	}
	out.WriteByte('}')
	return n == 0, nil
}

func compactArray(dec *json.Decoder, out *bytes.Buffer, depth int) error {
	out.WriteByte('[')
	for i := 0; dec.More(); i++ {
		if i > 0 {
			out.WriteByte(',')
		}
		if _, err := compactValue(dec, out, depth+1); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // ']'
		return err
	}
	out.WriteByte(']')
	return nil
}

// writeString writes s as a JSON string without HTML escaping: the
// reader is a model, and \u003c costs tokens and reads worse than <.
func writeString(out *bytes.Buffer, s string) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // encoding a string cannot fail
	out.Write(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}
