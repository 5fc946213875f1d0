package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Schema is a compiled tool input schema. It is safe for concurrent use.
type Schema struct {
	sch *jsonschema.Schema
	doc map[string]any // the schema as compiled (objects closed), for messages
}

// schemaURL names the one document a Compiler holds. It is never fetched:
// the document is added as a resource and the loader refuses everything.
const schemaURL = "mem:///agenthook/input_schema.json"

// Compile compiles a tool's input schema, as decoded from YAML or JSON or
// built in Go: maps may be map[string]any or map[any]any (string keys only),
// lists []any or typed slices such as []string, numbers int or float64 and so
// on. The tool name is used only in error messages.
//
// The schema must be an object schema (type: object at the top). It is
// compiled as draft 2020-12 unless its $schema names another draft, with
// objects closed as the package doc describes. The error names the tool and
// the problem and says what to fix. s is not modified.
func Compile(tool string, s map[string]any) (*Schema, error) {
	return compile(tool, s)
}

func compile(tool string, s map[string]any) (_ *Schema, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("tool %q: input_schema could not be compiled (internal error: %v): simplify the schema and report this", tool, r)
		}
	}()
	if len(s) == 0 {
		return nil, fmt.Errorf("tool %q: input_schema is empty: give a JSON schema with type: object and the tool's fields under properties", tool)
	}
	v, err := toJSON(s)
	if err != nil {
		return nil, fmt.Errorf("tool %q: input_schema cannot be read as JSON (%v): write it with plain strings, numbers, lists and mappings", tool, err)
	}
	doc := v.(map[string]any) // toJSON of a map is a map
	if t, ok := doc["type"].(string); !ok || t != "object" {
		return nil, fmt.Errorf("tool %q: input_schema has type %s, not object: a tool's input is a JSON object, so set type: object and list its fields under properties", tool, typeWord(doc["type"]))
	}
	modern, err := draftOf(doc)
	if err != nil {
		return nil, fmt.Errorf("tool %q: %w", tool, err)
	}
	cl := closer{root: doc, modern: modern}
	cl.walk(doc, "", false)
	if cl.err != nil {
		return nil, fmt.Errorf("tool %q: %w", tool, cl.err)
	}

	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(noLoader{})
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, fmt.Errorf("tool %q: input_schema: %v", tool, err)
	}
	sch, err := c.Compile(schemaURL)
	if err != nil {
		return nil, fmt.Errorf("tool %q: input_schema is not a valid JSON schema: %s", tool, compileProblem(err, doc))
	}
	return &Schema{sch: sch, doc: doc}, nil
}

// Validate checks one input, the model's raw JSON, against the schema. It
// returns nil if the tool may run with it. Otherwise the error is one line
// for the model to correct itself: each problem names the field by path
// (input, input.amount, input.items[2].id) and says what is wrong, e.g.
//
//	input.amount: want integer, got string "12"
//	input: missing required field "charge"
//	input: field "note" is not allowed by the schema (additionalProperties: false)
//
// Empty input, input that is not UTF-8 or not exactly one JSON value, and an
// object that names a field twice are errors too. Validate never panics.
func (s *Schema) Validate(input json.RawMessage) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("input: could not be checked against the schema (internal error: %v), so the tool was not run", r)
		}
	}()
	if s == nil || s.sch == nil {
		return errors.New("input: the tool has no compiled input_schema, so the tool was not run")
	}
	if len(bytes.TrimSpace(input)) == 0 {
		return errors.New("input: empty; send one JSON object that matches the tool's input_schema")
	}
	if !utf8.Valid(input) {
		return errors.New("input: not valid UTF-8; send one JSON object in UTF-8 that matches the tool's input_schema")
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(input))
	if err != nil {
		return fmt.Errorf("input: not valid JSON (%s); send one JSON object that matches the tool's input_schema", jsonProblem(err))
	}
	if err := duplicateField(input); err != nil {
		return err
	}
	if err := s.sch.Validate(v); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return errors.New(describe(ve, v, s.doc))
		}
		return fmt.Errorf("input: %s", oneLine(err.Error()))
	}
	return nil
}

// toJSON turns a Go value into the plain JSON values the validator works on
// (map[string]any, []any, string, json.Number, bool, nil) by encoding it
// and decoding it again. The result shares nothing with v.
func toJSON(v any) (any, error) {
	p, err := plain(v, "")
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(b))
}

// plain converts the maps YAML decoders give (map[any]any) into
// map[string]any so encoding/json can encode them; everything else is left
// to encoding/json.
func plain(v any, at string) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			p, err := plain(x, at+"/"+k)
			if err != nil {
				return nil, err
			}
			out[k] = p
		}
		return out, nil
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("key %v at %q is not a string", k, "#"+at)
			}
			p, err := plain(x, at+"/"+ks)
			if err != nil {
				return nil, err
			}
			out[ks] = p
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			p, err := plain(x, fmt.Sprintf("%s/%d", at, i))
			if err != nil {
				return nil, err
			}
			out[i] = p
		}
		return out, nil
	}
	return v, nil
}

// drafts maps the $schema values agenthook accepts (without scheme and
// fragment) to whether the draft has unevaluatedProperties.
var drafts = map[string]bool{
	"json-schema.org/schema":               true,
	"json-schema.org/draft/2020-12/schema": true,
	"json-schema.org/draft/2019-09/schema": true,
	"json-schema.org/draft-07/schema":      false,
	"json-schema.org/draft-06/schema":      false,
	"json-schema.org/draft-04/schema":      false,
}

// draftOf reports whether the schema's draft is 2019-09 or later, and fails
// for a $schema that names no draft the validator knows.
func draftOf(doc map[string]any) (modern bool, err error) {
	raw, ok := doc["$schema"]
	if !ok {
		return true, nil
	}
	u, ok := raw.(string)
	known := false
	if ok {
		key := strings.TrimSuffix(u, "#")
		key, _ = strings.CutPrefix(key, "http://")
		key, _ = strings.CutPrefix(key, "https://")
		modern, known = drafts[key]
	}
	if !known {
		return false, fmt.Errorf("input_schema has $schema %s, which is not a JSON Schema draft agenthook knows: drop $schema (draft 2020-12 is the default) or use https://json-schema.org/draft/2020-12/schema, https://json-schema.org/draft/2019-09/schema or http://json-schema.org/draft-07/schema#", literal(raw))
	}
	return modern, nil
}

// noLoader refuses to load anything: a tool's schema is one document.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, errors.New("agenthook does not load schemas from outside the tool's input_schema")
}

// compileProblem explains a compile error in one line, with the place in
// the schema as a JSON pointer (#/properties/amount) and what to do.
func compileProblem(err error, doc map[string]any) string {
	var (
		sve   *jsonschema.SchemaValidationError
		ve    *jsonschema.ValidationError
		re    *jsonschema.InvalidRegexError
		le    *jsonschema.LoadURLError
		pnf   *jsonschema.JSONPointerNotFoundError
		anf   *jsonschema.AnchorNotFoundError
		bad   *jsonschema.InvalidJsonPointerError
		where string
	)
	switch {
	case errors.As(err, &sve) && errors.As(sve.Err, &ve):
		// The metaschema validated the schema itself, so the "instance" the
		// error points into is the schema document.
		d := &describer{inst: doc, where: func(loc []string) string { return "at " + pointer(loc) }}
		return d.render(d.collect(ve), 3) + ": fix or remove the keyword named there"
	case errors.As(err, &re):
		return fmt.Sprintf("pattern %q at %s does not compile as a Go (RE2) regular expression (%v): simplify it; lookahead, lookbehind and backreferences are not available", re.Regex, local(re.URL), re.Err)
	case errors.As(err, &le):
		return fmt.Sprintf("it refers to %q, outside the tool's input_schema: put that schema under $defs and refer to it as \"#/$defs/NAME\"", le.URL)
	case errors.As(err, &pnf):
		where = pnf.URL
	case errors.As(err, &anf):
		where = anf.URL
	case errors.As(err, &bad):
		where = bad.URL
	}
	if where != "" {
		return fmt.Sprintf("$ref %q points to nothing in the schema: fix the reference or add the schema it names under $defs", local(where))
	}
	return oneLine(strings.ReplaceAll(err.Error(), schemaURL, ""))
}

// local strips the document URL from a schema location.
func local(u string) string {
	if rest, ok := strings.CutPrefix(u, schemaURL); ok {
		if rest == "" {
			return "#"
		}
		return rest
	}
	return u
}

// oneLine keeps a message on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// jsonProblem describes a JSON decoding error without Go type names.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s at byte %d", se.Error(), se.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "it ends before the value is complete"
	}
	if strings.Contains(err.Error(), "after top-level value") {
		return "there is more after the first JSON value"
	}
	return oneLine(err.Error())
}

// typeWord names a schema's type keyword for a message.
func typeWord(t any) string {
	if t == nil {
		return "missing"
	}
	return literal(t)
}
