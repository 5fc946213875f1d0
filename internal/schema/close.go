package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// closer closes the object subschemas of a schema document in place, as the
// package doc describes: so that an input's fields outside the schema are
// refused even where the schema does not say additionalProperties: false.
type closer struct {
	root   map[string]any // the document, to follow local $refs
	modern bool           // draft 2019-09 or later: unevaluatedProperties exists
	err    error          // the first schema that cannot be closed (old drafts only)
}

// operand is a subschema that applies to the same instance as the schema
// it is in (an "in-place applicator" operand).
type operand struct {
	v   any
	at  string // JSON pointer of the operand
	alt bool   // one of several alternatives (anyOf, oneOf)
}

// objectKeywords say which properties an object may have.
var objectKeywords = []string{"properties", "patternProperties", "additionalProperties", "unevaluatedProperties"}

// operands lists m's in-place operands, in a fixed order. not and if are
// left out on purpose: they are conditions, and nothing in them is closed.
func operands(m map[string]any, at string) []operand {
	var ops []operand
	for _, kw := range []string{"allOf", "anyOf", "oneOf"} {
		if arr, ok := m[kw].([]any); ok {
			for i, x := range arr {
				ops = append(ops, operand{x, fmt.Sprintf("%s/%s/%d", at, kw, i), kw != "allOf"})
			}
		}
	}
	for _, kw := range []string{"then", "else"} {
		if x, ok := m[kw]; ok {
			ops = append(ops, operand{x, at + "/" + kw, false})
		}
	}
	for _, kw := range []string{"dependentSchemas", "dependencies"} {
		if mm, ok := m[kw].(map[string]any); ok {
			for _, k := range sortedKeys(mm) {
				if _, isList := mm[k].([]any); isList {
					continue // dependencies' list form: required fields, not a schema
				}
				ops = append(ops, operand{mm[k], at + "/" + kw + "/" + escapeToken(k), false})
			}
		}
	}
	return ops
}

func has(m map[string]any, kws ...string) bool {
	for _, kw := range kws {
		if _, ok := m[kw]; ok {
			return true
		}
	}
	return false
}

// declares reports whether v, or a subschema applied in place of it, has a
// say in which properties an object may have. A $ref counts if what it
// points to does, or if agenthook cannot tell (a reference it cannot
// follow); seen guards against reference cycles.
func (c *closer) declares(v any, seen map[string]bool) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	if has(m, objectKeywords...) || c.refDeclares(m, seen) {
		return true
	}
	for _, op := range operands(m, "") {
		if c.declares(op.v, seen) {
			return true
		}
	}
	return false
}

// refDeclares reports whether m's references declare properties.
func (c *closer) refDeclares(m map[string]any, seen map[string]bool) bool {
	if has(m, "$dynamicRef", "$recursiveRef") {
		return true
	}
	ref, ok := m["$ref"]
	if !ok {
		return false
	}
	s, _ := ref.(string)
	frag, ok := strings.CutPrefix(s, "#")
	if !ok || (frag != "" && !strings.HasPrefix(frag, "/")) {
		return true // another document, or an anchor: assume it does
	}
	if frag, err := url.PathUnescape(frag); err == nil {
		if seen[frag] {
			return false // already being looked at
		}
		seen[frag] = true
		if target := resolve(c.root, frag); target != nil {
			return c.declares(target, seen)
		}
	}
	return true
}

// walk closes the schema v at JSON pointer at and everything under it. An
// operand is not closed itself: the schema it is an operand of answers for
// the properties it declares.
func (c *closer) walk(v any, at string, isOperand bool) {
	m, ok := v.(map[string]any)
	if !ok || c.err != nil {
		return
	}
	if !c.modern && has(m, "$ref") {
		return // before 2019-09, $ref replaces the schema it is in; its siblings are ignored
	}

	// Subschemas for other values (property values, items, ...) are
	// closed on their own.
	for _, kw := range []string{"additionalProperties", "unevaluatedProperties", "propertyNames", "contains", "additionalItems", "unevaluatedItems", "items", "prefixItems"} {
		switch x := m[kw].(type) {
		case map[string]any:
			c.walk(x, at+"/"+kw, false)
		case []any:
			for i, y := range x {
				c.walk(y, fmt.Sprintf("%s/%s/%d", at, kw, i), false)
			}
		}
	}
	for _, kw := range []string{"properties", "patternProperties"} {
		if mm, ok := m[kw].(map[string]any); ok {
			for _, k := range sortedKeys(mm) {
				c.walk(mm[k], at+"/"+kw+"/"+escapeToken(k), false)
			}
		}
	}
	// Definitions are used through $ref. From 2019-09 the schema holding
	// the $ref closes what it points to with unevaluatedProperties; before,
	// $ref replaces that schema, so a definition is closed on its own.
	for _, kw := range []string{"$defs", "definitions"} {
		if mm, ok := m[kw].(map[string]any); ok {
			for _, k := range sortedKeys(mm) {
				c.walk(mm[k], at+"/"+kw+"/"+escapeToken(k), c.modern)
			}
		}
	}

	ops := operands(m, at)
	open := !has(m, "additionalProperties", "patternProperties", "unevaluatedProperties")
	spread := c.modern && c.refDeclares(m, map[string]bool{}) // fields declared elsewhere, applied here
	alternativesOnly := true
	for _, op := range ops {
		if c.declares(op.v, map[string]bool{}) {
			spread = true
			alternativesOnly = alternativesOnly && op.alt
		}
	}
	switch {
	case isOperand || !open:
		// Whoever encloses this schema, or the schema's own explicit
		// keyword, decides about unknown properties.
		for _, op := range ops {
			c.walk(op.v, op.at, true)
		}
	case spread && c.modern:
		m["unevaluatedProperties"] = false
		for _, op := range ops {
			c.walk(op.v, op.at, true)
		}
	case spread && (has(m, "properties") || !alternativesOnly):
		ptr := "#" + at
		c.err = fmt.Errorf("input_schema at %s declares an object's fields across allOf/anyOf/oneOf/then/else/dependencies or $ref, and before draft 2019-09 additionalProperties cannot see them, so agenthook cannot refuse fields outside the schema there: drop $schema (draft 2020-12 handles this) or set additionalProperties at %s yourself", ptr, ptr)
	case spread:
		// Alternatives of an object that declares nothing itself: each
		// is a whole shape, closed on its own.
		for _, op := range ops {
			c.walk(op.v, op.at, false)
		}
	default:
		if has(m, "properties") {
			m["additionalProperties"] = false
		}
		for _, op := range ops {
			c.walk(op.v, op.at, false)
		}
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// duplicateField fails if an object in data (valid JSON) names a field
// twice. encoding/json keeps the last value, and a tool reading its input
// with another parser might keep the first, so the input it ran with would
// not be the input that was checked.
func duplicateField(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return scanValue(dec, "input")
}

func scanValue(dec *json.Decoder, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return nil // the input decoded once already; nothing more to find
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '{':
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil
			}
			key, _ := kt.(string)
			if seen[key] {
				return fmt.Errorf("%s: %s appears more than once; send each field once", path, fields([]string{key}))
			}
			seen[key] = true
			var b strings.Builder
			b.WriteString(path)
			writeKey(&b, key)
			if err := scanValue(dec, b.String()); err != nil {
				return err
			}
		}
	case '[':
		for i := 0; dec.More(); i++ {
			if err := scanValue(dec, path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	}
	_, _ = dec.Token() // the closing delimiter
	return nil
}
