package modeltest

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// Strict tool use accepts a subset of JSON Schema, the same as structured
// outputs:
//
//	Supported: all basic types; enum (strings, numbers, bools, or nulls
//	only - no complex types); const; anyOf and allOf (allOf with $ref not
//	supported); $ref, $def, and definitions (external $ref not
//	supported); default; required and additionalProperties (must be set to
//	false for objects); string formats date-time, time, date, duration,
//	email, hostname, uri, ipv4, ipv6, uuid; array minItems (only values 0
//	and 1 supported).
//	Not supported: recursive schemas; complex types within enums; external
//	$ref; numerical constraints (such as minimum, maximum, multipleOf);
//	string constraints (minLength, maxLength); array constraints beyond
//	minItems of 0 or 1; additionalProperties set to anything other than
//	false. "If you use an unsupported feature, you'll receive a 400 error
//	with details."
//
// https://platform.claude.com/docs/en/build-with-claude/structured-outputs#json-schema-limitations
// "Strict tools per request: 20" (same page, Schema complexity limits).
// The docs give no wording for these 400s; the details below are the fake's.
const maxStrictTools = 20

var strictFormats = []string{"date-time", "time", "date", "duration", "email", "hostname", "uri", "ipv4", "ipv6", "uuid"}

var strictUnsupported = []string{"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "maxItems", "uniqueItems", "minProperties", "maxProperties"}

func checkStrictTools(q *request, _ *state) *APIError {
	n := 0
	for i, t := range q.Tools {
		if t["strict"] != true {
			continue
		}
		n++
		schema, _ := t["input_schema"].(map[string]any)
		where := fmt.Sprintf("tools.%d.custom.input_schema", i)
		if p := strictProblem(schema, schema, where, map[string]bool{}); p != "" {
			return bad("%s", p)
		}
	}
	if n > maxStrictTools {
		return bad("tools: %d tools have strict: true; at most %d strict tools are allowed per request", n, maxStrictTools)
	}
	return nil
}

// strictProblem is what strict mode does not support in schema s, or "".
func strictProblem(s any, root map[string]any, where string, refs map[string]bool) string {
	m, ok := s.(map[string]any)
	if !ok {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if slices.Contains(strictUnsupported, k) {
			return fmt.Sprintf("%s: property '%s' is not supported in strict mode (numerical, string length and array size constraints are not supported)", where, k)
		}
	}
	if mi, has := m["minItems"].(float64); has && mi > 1 {
		return fmt.Sprintf("%s: minItems %v is not supported in strict mode (only 0 and 1)", where, mi)
	}
	if f, has := m["format"].(string); has && !slices.Contains(strictFormats, f) {
		return fmt.Sprintf("%s: format '%s' is not supported in strict mode", where, f)
	}
	if e, has := m["enum"].([]any); has {
		for _, v := range e {
			switch v.(type) {
			case map[string]any, []any:
				return fmt.Sprintf("%s: complex types within enum are not supported", where)
			}
		}
	}
	if ref, has := m["$ref"].(string); has {
		target, local := resolveRef(root, ref)
		if !local {
			return fmt.Sprintf("%s: external $ref %q is not supported", where, ref)
		}
		if refs[ref] {
			return fmt.Sprintf("%s: recursive schemas are not supported ($ref %q)", where, ref)
		}
		refs[ref] = true
		defer delete(refs, ref)
		if p := strictProblem(target, root, where+".$ref", refs); p != "" {
			return p
		}
	}
	if isObjectSchema(m) && m["additionalProperties"] != false {
		return fmt.Sprintf("%s: For 'object' type, 'additionalProperties' must be explicitly set to false", where)
	}
	if props, ok := m["properties"].(map[string]any); ok {
		names := make([]string, 0, len(props))
		for k := range props {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			if p := strictProblem(props[k], root, where+".properties."+k, refs); p != "" {
				return p
			}
		}
	}
	if p := strictProblem(m["items"], root, where+".items", refs); p != "" {
		return p
	}
	for _, comb := range []string{"anyOf", "allOf"} {
		list, _ := m[comb].([]any)
		for i, sub := range list {
			if sm, _ := sub.(map[string]any); comb == "allOf" && sm["$ref"] != nil {
				return fmt.Sprintf("%s.allOf.%d: allOf with $ref is not supported", where, i)
			}
			if p := strictProblem(sub, root, fmt.Sprintf("%s.%s.%d", where, comb, i), refs); p != "" {
				return p
			}
		}
	}
	if _, has := m["oneOf"]; has {
		return fmt.Sprintf("%s: oneOf is not supported in strict mode (use anyOf)", where)
	}
	return ""
}

func isObjectSchema(m map[string]any) bool {
	if _, has := m["properties"]; has {
		return true
	}
	return schemaType(m) == "object"
}

// schemaType is a schema's type, the first non-null one of a type list.
func schemaType(m map[string]any) string {
	switch t := m["type"].(type) {
	case string:
		return t
	case []any:
		for _, v := range t {
			if s, _ := v.(string); s != "" && s != "null" {
				return s
			}
		}
	}
	return ""
}

// resolveRef follows a local $ref (#/$defs/x, #/definitions/x).
func resolveRef(root map[string]any, ref string) (any, bool) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, false
	}
	var cur any = root
	for _, part := range strings.Split(ref[2:], "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		cur = m[part]
	}
	return cur, cur != nil
}

// seed is the input the fake has always sent, for the properties a tool's
// schema has and where the value is valid for it.
var seed = map[string]any{"stripe_id": "obj_from_event", "amount": 1000, "customer": "cus_x", "reason": "fraudulent", "action": "accept"}

// toolInput generates the input of a call from the tool's input_schema: the
// required properties with valid values of their type (the first enum
// value, a const, a string in the format asked), and the seed fields the
// schema has and accepts. A schema with no properties that allows any
// (none, or additionalProperties not false) gets the seed fields.
func toolInput(schema map[string]any) map[string]any {
	if _, has := schema["properties"]; !has && schema["additionalProperties"] != false {
		out := map[string]any{}
		for k, v := range seed {
			out[k] = v
		}
		return out
	}
	out, _ := genValue(schema, schema, 0).(map[string]any)
	if out == nil {
		out = map[string]any{}
	}
	return out
}

func genValue(s any, root map[string]any, depth int) any {
	m, _ := s.(map[string]any)
	if m == nil || depth > 8 {
		return "obj_from_event"
	}
	if ref, ok := m["$ref"].(string); ok {
		if t, ok := resolveRef(root, ref); ok {
			return genValue(t, root, depth+1)
		}
	}
	if c, ok := m["const"]; ok {
		return c
	}
	if e, ok := m["enum"].([]any); ok && len(e) > 0 {
		return e[0]
	}
	for _, comb := range []string{"anyOf", "oneOf", "allOf"} {
		if list, ok := m[comb].([]any); ok && len(list) > 0 {
			return genValue(list[0], root, depth+1)
		}
	}
	switch schemaType(m) {
	case "object", "":
		if schemaType(m) == "" {
			if _, has := m["properties"]; !has {
				return "obj_from_event"
			}
		}
		props, _ := m["properties"].(map[string]any)
		out := map[string]any{}
		req, _ := m["required"].([]any)
		for _, r := range req {
			name, _ := r.(string)
			if p, ok := props[name]; ok {
				out[name] = propValue(name, p, root, depth)
			} else if m["additionalProperties"] != false {
				out[name] = "obj_from_event"
			}
		}
		for name := range seed {
			if p, ok := props[name]; ok {
				if _, done := out[name]; !done && validFor(seed[name], p, root) {
					out[name] = seed[name]
				}
			}
		}
		return out
	case "array":
		if mx, ok := m["maxItems"].(float64); ok && mx < 1 {
			return []any{}
		}
		return []any{genValue(m["items"], root, depth+1)}
	case "string":
		return genString(m)
	case "integer":
		return int(genNumber(m, true))
	case "number":
		return genNumber(m, false)
	case "boolean":
		return true
	case "null":
		return nil
	}
	return "obj_from_event"
}

func propValue(name string, p any, root map[string]any, depth int) any {
	if v, ok := seed[name]; ok && validFor(v, p, root) {
		return v
	}
	return genValue(p, root, depth+1)
}

func genString(m map[string]any) string {
	v := map[string]string{
		"date-time": "2026-01-01T00:00:00Z", "time": "00:00:00", "date": "2026-01-01", "duration": "P1D",
		"email": "billing@example.com", "hostname": "example.com", "uri": "https://example.com/",
		"ipv4": "192.0.2.1", "ipv6": "2001:db8::1", "uuid": "00000000-0000-4000-8000-000000000000",
	}[fmt.Sprint(m["format"])]
	if v == "" {
		v = "obj_from_event"
	}
	if mn, ok := m["minLength"].(float64); ok && float64(len(v)) < mn {
		v += strings.Repeat("x", int(mn)-len(v))
	}
	if mx, ok := m["maxLength"].(float64); ok && float64(len(v)) > mx {
		v = v[:int(mx)]
	}
	return v
}

func genNumber(m map[string]any, integer bool) float64 {
	v := 1.0
	if mn, ok := m["minimum"].(float64); ok && v < mn {
		v = mn
	}
	if mn, ok := m["exclusiveMinimum"].(float64); ok && v <= mn {
		v = mn + 1
	}
	if mx, ok := m["maximum"].(float64); ok && v > mx {
		v = mx
	}
	if mx, ok := m["exclusiveMaximum"].(float64); ok && v >= mx {
		v = mx - 1
	}
	if integer {
		v = math.Ceil(v)
	}
	return v
}

// validFor reports whether v (a seed value) is valid for schema s, as far
// as the fake checks: type, enum, const, numeric bounds.
func validFor(v any, s any, root map[string]any) bool {
	m, _ := s.(map[string]any)
	if m == nil {
		return true
	}
	if ref, ok := m["$ref"].(string); ok {
		t, ok := resolveRef(root, ref)
		return ok && validFor(v, t, root)
	}
	if c, ok := m["const"]; ok {
		return fmt.Sprint(c) == fmt.Sprint(v)
	}
	if e, ok := m["enum"].([]any); ok {
		return slices.ContainsFunc(e, func(x any) bool { return fmt.Sprint(x) == fmt.Sprint(v) })
	}
	if list, ok := m["anyOf"].([]any); ok {
		return slices.ContainsFunc(list, func(x any) bool { return validFor(v, x, root) })
	}
	switch schemaType(m) {
	case "string":
		s, ok := v.(string)
		if !ok {
			return false
		}
		if _, has := m["format"]; has {
			return false
		}
		if mn, ok := m["minLength"].(float64); ok && float64(len(s)) < mn {
			return false
		}
		if mx, ok := m["maxLength"].(float64); ok && float64(len(s)) > mx {
			return false
		}
		return true
	case "integer", "number":
		n, ok := v.(int)
		if !ok {
			return false
		}
		f := float64(n)
		if mn, ok := m["minimum"].(float64); ok && f < mn {
			return false
		}
		if mx, ok := m["maximum"].(float64); ok && f > mx {
			return false
		}
		return true
	case "":
		return true
	}
	return false
}
