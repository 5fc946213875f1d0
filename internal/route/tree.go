package route

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// node is one decoded JSON value that keeps what encoding/json's maps
// lose: key order, duplicate keys and the exact text of numbers. Redact,
// the prompt and the CEL activation all work on it, so an event is parsed
// once and every consumer sees the same values.
type node struct {
	kind nodeKind
	str  string // kindString: the value; kindNumber: the literal text
	b    bool
	keys []string // kindObject, parallel to vals
	vals []*node  // kindObject values or kindArray elements
}

type nodeKind uint8

const (
	kindNull nodeKind = iota
	kindBool
	kindNumber
	kindString
	kindObject
	kindArray
)

// parseTree decodes one JSON document. It fails on invalid JSON, data
// after the value and nesting deeper than maxDepth.
func parseTree(data []byte) (*node, error) {
	if !json.Valid(data) {
		// Unmarshal gives a SyntaxError with the offset for the message.
		var raw json.RawMessage
		if err := json.Unmarshal(data, &raw); err != nil {
			return nil, err
		}
		return nil, errors.New("invalid JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := decodeNode(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the top-level value")
	}
	return n, nil
}

// leaf is the node of a scalar token, or nil for a delimiter.
func leaf(tok json.Token) *node {
	switch v := tok.(type) {
	case nil:
		return &node{kind: kindNull}
	case bool:
		return &node{kind: kindBool, b: v}
	case json.Number:
		return &node{kind: kindNumber, str: v.String()}
	case string:
		return &node{kind: kindString, str: v}
	}
	return nil
}

func decodeNode(dec *json.Decoder, depth int) (*node, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nested deeper than %d levels", maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if n := leaf(tok); n != nil {
		return n, nil
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			n := &node{kind: kindObject}
			for dec.More() {
				tok, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, ok := tok.(string)
				if !ok {
					return nil, fmt.Errorf("object key is %v, not a string", tok)
				}
				val, err := decodeNode(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, key)
				n.vals = append(n.vals, val)
			}
			_, err := dec.Token() // '}'
			return n, err
		case '[':
			n := &node{kind: kindArray}
			for dec.More() {
				val, err := decodeNode(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.vals = append(n.vals, val)
			}
			_, err := dec.Token() // ']'
			return n, err
		}
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

// get returns the value of key in an object node; with duplicate keys the
// last one wins, as in encoding/json and the CEL activation.
func (n *node) get(key string) *node {
	if n == nil || n.kind != kindObject {
		return nil
	}
	for i := len(n.keys) - 1; i >= 0; i-- {
		if n.keys[i] == key {
			return n.vals[i]
		}
	}
	return nil
}

// lookup follows a dotted path from n. A segment that is a decimal number
// indexes an array. It returns nil when the path does not exist.
func (n *node) lookup(path string) *node {
	for seg := range strings.SplitSeq(path, ".") {
		switch {
		case n == nil:
			return nil
		case n.kind == kindObject:
			n = n.get(seg)
		case n.kind == kindArray:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(n.vals) {
				return nil
			}
			n = n.vals[i]
		default:
			return nil
		}
	}
	return n
}

// text returns the value of a string node, or "" for anything else.
func (n *node) text() string {
	if n == nil || n.kind != kindString {
		return ""
	}
	return n.str
}

// isEmpty reports whether n carries no information: null, "", {} or [].
func (n *node) isEmpty() bool {
	if n == nil {
		return true
	}
	switch n.kind {
	case kindNull:
		return true
	case kindString:
		return n.str == ""
	case kindObject, kindArray:
		return len(n.vals) == 0
	}
	return false
}

// write appends n to out as compact JSON: key order and number text as
// parsed, strings without HTML escaping.
func (n *node) write(out *bytes.Buffer) {
	switch n.kind {
	case kindNull:
		out.WriteString("null")
	case kindBool:
		out.WriteString(strconv.FormatBool(n.b))
	case kindNumber:
		out.WriteString(n.str)
	case kindString:
		writeString(out, n.str)
	case kindObject:
		out.WriteByte('{')
		for i, k := range n.keys {
			if i > 0 {
				out.WriteByte(',')
			}
			writeString(out, k)
			out.WriteByte(':')
			n.vals[i].write(out)
		}
		out.WriteByte('}')
	case kindArray:
		out.WriteByte('[')
		for i, v := range n.vals {
			if i > 0 {
				out.WriteByte(',')
			}
			v.write(out)
		}
		out.WriteByte(']')
	}
}

func (n *node) json() []byte {
	var b bytes.Buffer
	n.write(&b)
	return b.Bytes()
}

// native converts n to the values CEL's default type adapter understands:
// map[string]any, []any, string, bool, nil, int64 for integers that fit
// and float64 for every other number. With duplicate keys the last wins.
func (n *node) native() any {
	switch n.kind {
	case kindBool:
		return n.b
	case kindNumber:
		if i, err := strconv.ParseInt(n.str, 10, 64); err == nil {
			return i
		}
		f, _ := strconv.ParseFloat(n.str, 64) // ±Inf for out-of-range: still comparable
		return f
	case kindString:
		return n.str
	case kindObject:
		m := make(map[string]any, len(n.keys))
		for i, k := range n.keys {
			m[k] = n.vals[i].native()
		}
		return m
	case kindArray:
		a := make([]any, len(n.vals))
		for i, v := range n.vals {
			a[i] = v.native()
		}
		return a
	}
	return nil
}

// clone returns a deep copy of n.
func (n *node) clone() *node {
	c := *n
	if n.keys != nil {
		c.keys = append([]string(nil), n.keys...)
	}
	if n.vals != nil {
		c.vals = make([]*node, len(n.vals))
		for i, v := range n.vals {
			c.vals[i] = v.clone()
		}
	}
	return &c
}
