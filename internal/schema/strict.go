package schema

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// The rules Strict checks, and where they come from:
//
// [A] Anthropic, strict tool use: https://platform.claude.com/docs/en/agents-and-tools/tool-use/strict-tool-use
// which defers for the schema subset to "JSON Schema limitations":
// https://platform.claude.com/docs/en/build-with-claude/structured-outputs#json-schema-limitations
// ("Both JSON outputs and strict tool use share these limitations"), and
// the same page's complexity limits.
//
// [O] OpenAI, strict function calling: https://platform.openai.com/docs/guides/function-calling#strict-mode
// ("additionalProperties must be set to false for each object in the
// parameters. All fields in properties must be marked as required."), which
// works through Structured Outputs, whose supported subset is
// https://platform.openai.com/docs/guides/structured-outputs#supported-schemas
//
// A schema passes only if both accept it, and only with what both document:
// a keyword neither lists is refused rather than guessed at.

// strictKeywords are the keywords both [A] and [O] support.
var strictKeywords = map[string]bool{
	"type":                 true, // [A] "All basic types"; [O] "Supported types"
	"properties":           true,
	"required":             true, // [A] "required"; [O] "All fields must be required"
	"additionalProperties": true, // must be false: checked below
	"items":                true,
	"enum":                 true, // [A] primitives only: checked below
	"const":                true, // [A] "const"; [O] counts "const values" in its string size limit
	"anyOf":                true, // [A] "anyOf"; [O] "anyOf", not at the root
	"$ref":                 true, // [A] "$ref" (not external); [O] "Definitions are supported"
	"$defs":                true,
	"definitions":          true,
	"description":          true, // used in every example of [A] and [O]
	"format":               true, // formats both list: checked below
	"pattern":              true, // [A] "Pattern support (regex)": checked below; [O] "pattern"
	"minItems":             true, // [A] "only values 0 and 1 supported"; [O] "minItems"
}

// strictRefused says why a keyword is refused, where one provider or the
// other documents it. Any other keyword not in strictKeywords is refused as
// undocumented.
var strictRefused = map[string]string{
	// [A] Not supported: "Numerical constraints (minimum, maximum, multipleOf, etc.)"
	"minimum":          "Anthropic strict tool use does not support numerical constraints",
	"maximum":          "Anthropic strict tool use does not support numerical constraints",
	"exclusiveMinimum": "Anthropic strict tool use does not support numerical constraints",
	"exclusiveMaximum": "Anthropic strict tool use does not support numerical constraints",
	"multipleOf":       "Anthropic strict tool use does not support numerical constraints",
	// [A] Not supported: "String constraints (minLength, maxLength)"
	"minLength": "Anthropic strict tool use does not support string length constraints",
	"maxLength": "Anthropic strict tool use does not support string length constraints",
	// [A] Not supported: "Array constraints beyond minItems of 0 or 1"
	"maxItems":    "Anthropic strict tool use supports no array constraint but minItems 0 or 1",
	"uniqueItems": "Anthropic strict tool use supports no array constraint but minItems 0 or 1",
	"contains":    "Anthropic strict tool use supports no array constraint but minItems 0 or 1",
	"prefixItems": "Anthropic strict tool use supports no array constraint but minItems 0 or 1",
	// [A] "additionalProperties set to anything other than false" is not supported
	"patternProperties":     "Anthropic strict tool use allows no properties beyond those listed (additionalProperties must be false)",
	"unevaluatedProperties": "Anthropic strict tool use allows no properties beyond those listed (additionalProperties must be false)",
	// [O] "Some type-specific keywords are not yet supported. Composition:
	// allOf, not, dependentRequired, dependentSchemas, if, then, else"
	"allOf":             "OpenAI strict mode does not support allOf",
	"not":               "OpenAI strict mode does not support not",
	"dependentRequired": "OpenAI strict mode does not support dependentRequired",
	"dependentSchemas":  "OpenAI strict mode does not support dependentSchemas",
	"if":                "OpenAI strict mode does not support if/then/else",
	"then":              "OpenAI strict mode does not support if/then/else",
	"else":              "OpenAI strict mode does not support if/then/else",
	// [O]'s supported subset has no default; [A] has it.
	"default": "OpenAI strict mode does not support default",
	// Neither lists these.
	"oneOf":   "neither provider's strict mode supports oneOf; use anyOf",
	"title":   "OpenAI's strict subset does not list title; put it in the description",
	"$schema": "neither provider's strict subset lists $schema; drop it",
}

// stringFormats are the formats both list: [A] date-time, time, date,
// duration, email, hostname, uri, ipv4, ipv6, uuid; [O] the same but uri.
var stringFormats = map[string]bool{
	"date-time": true, "time": true, "date": true, "duration": true, "email": true,
	"hostname": true, "ipv4": true, "ipv6": true, "uuid": true,
}

var basicTypes = map[string]bool{
	"object": true, "array": true, "string": true, "integer": true, "number": true, "boolean": true, "null": true,
}

// Limits: [O] "A schema may have up to 5000 object properties total, with
// up to 10 levels of nesting", "total string length of all property names,
// definition names, enum values, and const values cannot exceed 120,000
// characters", "up to 1000 enum values across all enum properties", and for
// one string enum of more than 250 values at most 15,000 characters. [A]
// "Schema complexity limits": at most 16 parameters with union types (type
// arrays or anyOf), 24 optional parameters and 20 strict tools, each a total
// across all strict tools in one request. Strict checks one schema: a
// caller sending several strict tools at once must keep the totals.
const (
	maxObjectProperties = 5000
	maxNesting          = 10
	maxStringSize       = 120000
	maxEnumValues       = 1000
	maxBigEnumSize      = 15000
	bigEnum             = 250
	maxUnions           = 16
)

// maxReasons is how many problems Strict's reason lists.
const maxReasons = 6

// Strict reports whether schema s can be sent with strict: true both to
// Anthropic (strict tool use) and to OpenAI (strict function calling), and
// if not, why, in one line naming each problem by its JSON pointer in s
// (#/properties/amount). In short: the root is an object; every object has
// additionalProperties: false and lists all its properties in required; only
// keywords both providers document are used (so no minimum, maximum,
// minLength, maxItems, allOf, oneOf, default, ...); minItems is 0 or 1;
// formats are ones both support; patterns avoid backreferences, lookaround
// and word boundaries; enums hold only primitives; a $ref is local, stands
// alone and is not recursive; and the size limits hold. strict.go cites the
// documentation for each rule.
//
// Strict only checks; it never rewrites s (the package doc says why).
func Strict(s map[string]any) (ok bool, why string) {
	if len(s) == 0 {
		return false, "input_schema is empty"
	}
	v, err := toJSON(s)
	if err != nil {
		return false, fmt.Sprintf("input_schema cannot be read as JSON: %v", err)
	}
	c := &strictCheck{root: v.(map[string]any)}
	c.check()
	if len(c.problems) == 0 {
		return true, ""
	}
	return false, joinCapped(c.problems, maxReasons)
}

type strictCheck struct {
	root     map[string]any
	problems []string

	properties, enumValues, stringSize, unions int
}

func (c *strictCheck) add(at, format string, args ...any) {
	if at == "" {
		at = "#"
	}
	c.problems = append(c.problems, at+": "+fmt.Sprintf(format, args...))
}

func (c *strictCheck) check() {
	// [A] strict tool input schemas are objects; [O] "Root objects must
	// not be anyOf and must be an object".
	if t, _ := c.root["type"].(string); t != "object" {
		c.add("#", "the root must have type: object (both providers)")
	}
	if has(c.root, "anyOf") {
		c.add("#", "the root must not be anyOf (OpenAI strict mode)")
	}
	c.node(c.root, "#", 0)
	c.recursion()
	if c.properties > maxObjectProperties {
		c.add("#", "has %d object properties; OpenAI strict mode allows %d in all", c.properties, maxObjectProperties)
	}
	if c.enumValues > maxEnumValues {
		c.add("#", "has %d enum values; OpenAI strict mode allows %d in all", c.enumValues, maxEnumValues)
	}
	if c.stringSize > maxStringSize {
		c.add("#", "property names, definition names, enum and const values total %d characters; OpenAI strict mode allows %d", c.stringSize, maxStringSize)
	}
	if c.unions > maxUnions {
		c.add("#", "has %d parameters with union types (type lists or anyOf); Anthropic strict tool use allows %d across all strict tools in a request", c.unions, maxUnions)
	}
}

// node checks the schema v at JSON pointer at; depth counts the objects
// it is nested in.
func (c *strictCheck) node(v any, at string, depth int) {
	m, ok := v.(map[string]any)
	if !ok {
		c.add(at, "is a boolean schema; both providers want an object schema with a type")
		return
	}
	for _, kw := range sortedKeys(m) {
		if strictKeywords[kw] {
			continue
		}
		if why, ok := strictRefused[kw]; ok {
			c.add(at, "%q is not allowed: %s", kw, why)
		} else {
			c.add(at, "%q is not in the strict subset Anthropic or OpenAI documents", kw)
		}
	}

	if ref, ok := m["$ref"]; ok {
		c.ref(m, ref, at)
		return
	}

	types := c.types(m, at)
	if len(types) == 0 && !has(m, "anyOf") {
		c.add(at, "has no type; the strict subsets are defined per type, so give it one")
	}
	if len(types) > 1 || has(m, "anyOf") {
		c.unions++
	}
	if types["object"] || has(m, "properties") {
		c.object(m, at, depth+1)
	}
	if types["array"] || has(m, "items") {
		c.array(m, at, depth)
	}
	c.values(m, at)

	if alts, ok := m["anyOf"].([]any); ok {
		for i, x := range alts {
			c.node(x, fmt.Sprintf("%s/anyOf/%d", at, i), depth)
		}
	} else if has(m, "anyOf") {
		c.add(at, "anyOf must be a list of schemas")
	}
	for _, kw := range []string{"$defs", "definitions"} {
		if x, ok := m[kw]; ok {
			defs, ok := x.(map[string]any)
			if !ok {
				c.add(at, "%s must map names to schemas", kw)
				continue
			}
			for _, name := range sortedKeys(defs) {
				c.stringSize += len(name)
				c.node(defs[name], at+"/"+kw+"/"+escapeToken(name), depth)
			}
		}
	}
}

// types returns the schema's types, checking they are basic types.
func (c *strictCheck) types(m map[string]any, at string) map[string]bool {
	out := map[string]bool{}
	switch t := m["type"].(type) {
	case nil:
	case string:
		out[t] = true
	case []any:
		for _, x := range t {
			s, _ := x.(string)
			out[s] = true
		}
		if len(t) == 0 {
			c.add(at, "type is an empty list")
		}
	default:
		c.add(at, "type must be a type name or a list of them")
	}
	for t := range out {
		if !basicTypes[t] {
			c.add(at, "type %q is not a JSON Schema type", t)
		}
	}
	return out
}

func (c *strictCheck) object(m map[string]any, at string, depth int) {
	if depth == maxNesting+1 {
		c.add(at, "is nested %d objects deep; OpenAI strict mode allows %d levels", depth, maxNesting)
	}
	// [A] additionalProperties "must be set to false for objects"; [O]
	// "additionalProperties: false must always be set in objects".
	if ap, ok := m["additionalProperties"]; !ok {
		c.add(at, "needs additionalProperties: false (both providers require it on every object)")
	} else if ap != false {
		c.add(at, "additionalProperties must be false (both providers)")
	}
	props := map[string]any{}
	if x, ok := m["properties"]; ok {
		if props, ok = x.(map[string]any); !ok {
			c.add(at, "properties must map names to schemas")
		}
	}
	required := map[string]bool{}
	if x, ok := m["required"]; ok {
		list, _ := x.([]any)
		for _, r := range list {
			if s, ok := r.(string); ok {
				required[s] = true
			}
		}
	}
	// [O] "All fields must be required"; a field stays optional by being
	// nullable: type: [string, "null"].
	var optional []string
	for _, name := range sortedKeys(props) {
		c.properties++
		c.stringSize += len(name)
		if !required[name] {
			optional = append(optional, name)
		}
		c.node(props[name], at+"/properties/"+escapeToken(name), depth)
	}
	if len(optional) > 0 {
		c.add(at, "%s not in required; OpenAI strict mode needs every property required (keep a field optional by making it nullable, e.g. type: [string, \"null\"])", optionalList(optional))
	}
}

func optionalList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quote(n)
	}
	if len(q) == 1 {
		return "property " + q[0] + " is"
	}
	return "properties " + strings.Join(q, ", ") + " are"
}

func (c *strictCheck) array(m map[string]any, at string, depth int) {
	switch items := m["items"].(type) {
	case map[string]any:
		c.node(items, at+"/items", depth)
	case nil:
		c.add(at, "an array schema needs items (a schema for its elements)")
	default:
		c.add(at, "items must be one schema (tuples are not supported)")
	}
	if x, ok := m["minItems"]; ok {
		if n := fmt.Sprint(x); n != "0" && n != "1" {
			c.add(at, "minItems is %s; Anthropic strict tool use supports only 0 and 1", n)
		}
	}
}

// values checks enum, const, format and pattern.
func (c *strictCheck) values(m map[string]any, at string) {
	if x, ok := m["enum"]; ok {
		list, ok := x.([]any)
		if !ok || len(list) == 0 {
			c.add(at, "enum must be a non-empty list")
		}
		size, strs := 0, 0
		for _, e := range list {
			switch e := e.(type) {
			case map[string]any, []any:
				// [A] "enum (strings, numbers, bools, or nulls only - no complex types)"
				c.add(at, "enum has a complex value; Anthropic strict tool use allows only strings, numbers, booleans and null")
			case string:
				size += len(e)
				strs++
			}
		}
		c.enumValues += len(list)
		c.stringSize += size
		if strs > bigEnum && size > maxBigEnumSize {
			c.add(at, "enum has %d string values of %d characters in all; OpenAI strict mode allows %d characters once there are more than %d values", strs, size, maxBigEnumSize, bigEnum)
		}
	}
	if x, ok := m["const"]; ok {
		switch x := x.(type) {
		case map[string]any, []any:
			c.add(at, "const has a complex value; keep it to a string, number, boolean or null")
		case string:
			c.stringSize += len(x)
		}
	}
	if x, ok := m["format"]; ok {
		f, _ := x.(string)
		switch {
		case f == "uri":
			c.add(at, "format uri is not supported by OpenAI strict mode")
		case !stringFormats[f]:
			c.add(at, "format %s is not supported by both providers (they share date-time, time, date, duration, email, hostname, ipv4, ipv6, uuid)", literal(x))
		}
	}
	if x, ok := m["pattern"]; ok {
		p, isString := x.(string)
		if !isString {
			c.add(at, "pattern must be a string")
		} else if why := unsupportedRegex(p); why != "" {
			c.add(at, "pattern uses %s, which Anthropic strict tool use does not support", why)
		}
	}
}

// unsupportedRegex names the first regex feature in p that [A] "Pattern
// support (regex)" lists as not supported: backreferences, lookahead and
// lookbehind, word boundaries.
func unsupportedRegex(p string) string {
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			if i+1 < len(p) {
				switch n := p[i+1]; {
				case n >= '1' && n <= '9':
					return "a backreference \\" + string(n)
				case n == 'b' || n == 'B':
					return "a word boundary \\" + string(n)
				}
			}
			i++
		case '(':
			for _, la := range []string{"(?=", "(?!", "(?<=", "(?<!"} {
				if strings.HasPrefix(p[i:], la) {
					return "a lookaround " + la + "...)"
				}
			}
		}
	}
	return ""
}

// ref checks a $ref schema: local ([A] "External $ref ... not supported"),
// alone (the Anthropic SDKs keep nothing next to a $ref: "$ref is not
// supported alongside other properties", anthropic-sdk-go schemautil.go;
// the OpenAI SDKs inline such a $ref for the same reason), and resolvable.
func (c *strictCheck) ref(m map[string]any, ref any, at string) {
	s, ok := ref.(string)
	if !ok {
		c.add(at, "$ref must be a string")
		return
	}
	if len(m) > 1 {
		var others []string
		for _, k := range sortedKeys(m) {
			if k != "$ref" {
				others = append(others, k)
			}
		}
		c.add(at, "$ref must stand alone, without %s next to it", strings.Join(others, ", "))
	}
	if !strings.HasPrefix(s, "#") {
		c.add(at, "$ref %s points outside the schema; both providers support only local references (#/$defs/NAME)", quote(s))
		return
	}
	if _, ok := c.target(s); !ok {
		c.add(at, "$ref %s points to nothing in the schema", quote(s))
	}
}

// target resolves a local $ref to its JSON pointer and schema.
func (c *strictCheck) target(ref string) (string, bool) {
	frag, err := url.PathUnescape(strings.TrimPrefix(ref, "#"))
	if err != nil {
		return "", false
	}
	if resolve(c.root, frag) == nil {
		return "", false
	}
	return frag, true
}

// recursion refuses recursive schemas ([A] Not supported: "Recursive
// schemas"): a $ref reachable from the root whose target contains it, or
// contains a schema the references so far went through.
func (c *strictCheck) recursion() {
	done := map[string]bool{}
	var found []string
	var visit func(ptr string, stack []string)
	visit = func(ptr string, stack []string) {
		if done[ptr] {
			return
		}
		stack = append(stack, ptr)
		for _, r := range refsUnder(resolve(c.root, ptr), ptr) {
			t, ok := c.target(r.ref)
			if !ok {
				continue // reported by ref
			}
			cyclic := within(r.at, t)
			for _, s := range stack {
				cyclic = cyclic || within(s, t)
			}
			if cyclic {
				found = append(found, "#"+r.at)
				continue
			}
			visit(t, stack)
		}
		done[ptr] = true
	}
	visit("", nil)
	sort.Strings(found)
	for _, at := range found {
		c.add(at, "makes the schema recursive, which Anthropic strict tool use does not support")
	}
}

type refAt struct{ ref, at string }

// refsUnder lists the $refs in v (at JSON pointer at) and below it.
func refsUnder(v any, at string) []refAt {
	var out []refAt
	switch v := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(v) {
			if s, ok := v[k].(string); ok && k == "$ref" {
				out = append(out, refAt{s, at})
				continue
			}
			out = append(out, refsUnder(v[k], at+"/"+escapeToken(k))...)
		}
	case []any:
		for i, x := range v {
			out = append(out, refsUnder(x, fmt.Sprintf("%s/%d", at, i))...)
		}
	}
	return out
}

// within reports whether pointer p is ancestor at or below pointer anc.
func within(p, anc string) bool {
	return p == anc || strings.HasPrefix(p, anc+"/")
}
