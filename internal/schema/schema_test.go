package schema_test

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/agenthook/agenthook/internal/config"
	"github.com/agenthook/agenthook/internal/schema"
)

// decode parses a schema written as JSON, the way a JSON config would
// give it (float64 numbers, []any, map[string]any).
func decode(t testing.TB, src string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(src), &m); err != nil {
		t.Fatalf("bad test schema %s: %v", src, err)
	}
	return m
}

func compile(t testing.TB, src string) *schema.Schema {
	t.Helper()
	s, err := schema.Compile("test_tool", decode(t, src))
	if err != nil {
		t.Fatalf("Compile(%s): %v", src, err)
	}
	return s
}

const chargeSchema = `{
	"type": "object",
	"properties": {
		"charge": {"type": "string"},
		"amount": {"type": "integer", "minimum": 0},
		"action": {"type": "string", "enum": ["accept", "counter"]}
	},
	"required": ["charge"]
}`

const nestedSchema = `{
	"type": "object",
	"properties": {
		"customer": {
			"type": "object",
			"properties": {
				"address": {"type": "object", "properties": {"zip": {"type": "string"}}}
			}
		},
		"items": {
			"type": "array",
			"items": {
				"type": "object",
				"properties": {"id": {"type": "string"}, "qty": {"type": "integer"}},
				"required": ["id"]
			}
		},
		"odd key": {"type": "string"}
	}
}`

func TestValidate(t *testing.T) {
	tests := []struct {
		name, schema, input string
		want                string // "" for valid
	}{
		{"valid", chargeSchema, `{"charge":"ch_1","amount":100,"action":"accept"}`, ""},
		{"valid with only required", chargeSchema, `{"charge":"ch_1"}`, ""},
		{"missing required", chargeSchema, `{"amount":100}`,
			`input: missing required field "charge"`},
		{"missing several required", `{"type":"object","properties":{"a":{},"b":{}},"required":["a","b"]}`, `{}`,
			`input: missing required fields "a", "b"`},
		{"wrong type", chargeSchema, `{"charge":"ch_1","amount":"12"}`,
			`input.amount: want integer, got string "12"`},
		{"float for integer", chargeSchema, `{"charge":"ch_1","amount":12.5}`,
			`input.amount: want integer, got number 12.5`},
		{"integral float is an integer", chargeSchema, `{"charge":"ch_1","amount":12.0}`, ""},
		{"below minimum", chargeSchema, `{"charge":"ch_1","amount":-5}`,
			`input.amount: want a number >= 0, got -5`},
		{"enum miss", chargeSchema, `{"charge":"ch_1","action":"refund"}`,
			`input.action: want one of "accept", "counter", got "refund"`},
		{"extra field refused", chargeSchema, `{"charge":"ch_1","note":"hi"}`,
			`input: field "note" is not allowed by the schema (additionalProperties: false); it allows "action", "amount", "charge"`},
		{"extra fields refused", chargeSchema, `{"charge":"ch_1","z":1,"note":"hi"}`,
			`input: fields "note", "z" are not allowed by the schema (additionalProperties: false); it allows "action", "amount", "charge"`},
		{"explicit additionalProperties false", `{"type":"object","properties":{"a":{}},"additionalProperties":false}`, `{"b":1}`,
			`input: field "b" is not allowed by the schema (additionalProperties: false); it allows "a"`},
		{"extra field allowed by additionalProperties true", `{"type":"object","properties":{"a":{}},"additionalProperties":true}`, `{"a":1,"b":2}`, ""},
		{"extra field allowed by an additionalProperties schema", `{"type":"object","properties":{"a":{}},"additionalProperties":{"type":"string"}}`, `{"a":1,"b":"x"}`, ""},
		{"extra field checked by the additionalProperties schema", `{"type":"object","properties":{"a":{}},"additionalProperties":{"type":"string"}}`, `{"a":1,"b":2}`,
			`input.b: want string, got number 2`},
		{"extra field allowed by patternProperties", `{"type":"object","properties":{"a":{}},"patternProperties":{"^x_":{}}}`, `{"a":1,"x_b":2}`, ""},
		{"free-form object stays open", `{"type":"object","properties":{"meta":{"type":"object"}}}`, `{"meta":{"anything":1}}`, ""},
		{"object without properties allows none when closed", `{"type":"object","properties":{},"additionalProperties":false}`, `{"a":1}`,
			`input: field "a" is not allowed by the schema (additionalProperties: false); it allows no fields`},

		{"nested valid", nestedSchema, `{"customer":{"address":{"zip":"10115"}},"items":[{"id":"a","qty":1}]}`, ""},
		{"nested wrong type in array", nestedSchema, `{"items":[{"id":"a"},{"id":"b"},{"id":7}]}`,
			`input.items[2].id: want string, got number 7`},
		{"nested missing required in array", nestedSchema, `{"items":[{"id":"a"},{"qty":2}]}`,
			`input.items[1]: missing required field "id"`},
		{"nested extra field refused", nestedSchema, `{"items":[{"id":"a","x":1}]}`,
			`input.items[0]: field "x" is not allowed by the schema (additionalProperties: false); it allows "id", "qty"`},
		{"deeply nested", nestedSchema, `{"customer":{"address":{"zip":10115}}}`,
			`input.customer.address.zip: want string, got number 10115`},
		{"deeply nested extra field", nestedSchema, `{"customer":{"address":{"zip":"1","street":"x"}}}`,
			`input.customer.address: field "street" is not allowed by the schema (additionalProperties: false); it allows "zip"`},
		{"key that is not an identifier", nestedSchema, `{"odd key":1}`,
			`input["odd key"]: want string, got number 1`},
		{"array instead of object", nestedSchema, `{"items":{"id":"a"}}`,
			`input.items: want array, got object`},

		{"several problems, sorted", chargeSchema, `{"amount":"x","action":"no","note":1}`,
			`input: field "note" is not allowed by the schema (additionalProperties: false); it allows "action", "amount", "charge"; input: missing required field "charge"; input.action: want one of "accept", "counter", got "no"; input.amount: want integer, got string "x"`},
		{"many problems, capped", nestedSchema, `{"items":[{"id":1},{"id":2},{"id":3},{"id":4},{"id":5},{"id":6},{"id":7}]}`,
			`input.items[0].id: want string, got number 1; input.items[1].id: want string, got number 2; input.items[2].id: want string, got number 3; input.items[3].id: want string, got number 4; input.items[4].id: want string, got number 5; and 2 more`},
		{"long value cut short", chargeSchema, `{"charge":"ch_1","amount":"` + strings.Repeat("9", 100) + `"}`,
			`input.amount: want integer, got string "` + strings.Repeat("9", 60) + `"…`},
		{"newline in value stays on one line", chargeSchema, `{"charge":"ch_1","action":"a\nb"}`,
			`input.action: want one of "accept", "counter", got "a\nb"`},
		{"format is asserted", `{"type":"object","properties":{"due":{"type":"string","format":"date"}}}`, `{"due":"2024-13-01"}`,
			`input.due: want a valid date, got "2024-13-01" (parsing time "2024-13-01": month out of range)`},
		{"format accepts a valid value", `{"type":"object","properties":{"due":{"type":"string","format":"date"}}}`, `{"due":"2024-02-29"}`, ""},
		{"nullable type", `{"type":"object","properties":{"n":{"type":["string","null"]}}}`, `{"n":5}`,
			`input.n: want null or string, got number 5`},
		{"anyOf names the closest alternative", `{"type":"object","properties":{"k":{"anyOf":[{"type":"string"},{"type":"integer","minimum":3}]}}}`, `{"k":1}`,
			`input.k: matches none of the 2 alternatives its schema allows (anyOf); closest: input.k: want a number >= 3, got 1`},

		{"invalid JSON", chargeSchema, `{"charge":`,
			`input: not valid JSON (it ends before the value is complete); send one JSON object that matches the tool's input_schema`},
		{"invalid JSON syntax", chargeSchema, `{"charge" "x"}`,
			`input: not valid JSON (invalid character '"' after object key at byte 11); send one JSON object that matches the tool's input_schema`},
		{"two JSON values", chargeSchema, `{"charge":"a"} {}`,
			`input: not valid JSON (there is more after the first JSON value); send one JSON object that matches the tool's input_schema`},
		{"not UTF-8", chargeSchema, "{\"charge\":\"\xff\"}",
			`input: not valid UTF-8; send one JSON object in UTF-8 that matches the tool's input_schema`},
		{"empty input", chargeSchema, ``,
			`input: empty; send one JSON object that matches the tool's input_schema`},
		{"blank input", chargeSchema, " \n\t",
			`input: empty; send one JSON object that matches the tool's input_schema`},
		{"null", chargeSchema, `null`, `input: want object, got null`},
		{"string", chargeSchema, `"ch_1"`, `input: want object, got string "ch_1"`},
		{"array", chargeSchema, `[]`, `input: want object, got array`},
		{"duplicate field", chargeSchema, `{"charge":"ch_1","charge":"ch_2"}`,
			`input: field "charge" appears more than once; send each field once`},
		{"duplicate field nested", nestedSchema, `{"items":[{"id":"a"},{"id":"b","qty":1,"qty":2}]}`,
			`input.items[1]: field "qty" appears more than once; send each field once`},
		{"same field in two objects is fine", nestedSchema, `{"items":[{"id":"a"},{"id":"b"}]}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := compile(t, tt.schema).Validate(json.RawMessage(tt.input))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate(%s) = %v, want nil", tt.input, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate(%s) = nil, want %q", tt.input, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Validate(%s)\n got %q\nwant %q", tt.input, err.Error(), tt.want)
			}
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Errorf("error is not one line: %q", err.Error())
			}
		})
	}
}

// Objects whose fields are spread over allOf, anyOf, $ref and the like
// refuse only what no part of the schema declares.
func TestValidateComposition(t *testing.T) {
	tests := []struct {
		name, schema, input string
		want                string
	}{
		{"allOf field accepted", `{"type":"object","properties":{"a":{}},"allOf":[{"properties":{"b":{"type":"integer"}}}]}`, `{"a":1,"b":2}`, ""},
		{"allOf undeclared field refused", `{"type":"object","properties":{"a":{}},"allOf":[{"properties":{"b":{"type":"integer"}}}]}`, `{"a":1,"c":3}`,
			`input: field "c" is not allowed by the schema`},
		{"allOf wrong value named, not refused", `{"type":"object","properties":{"a":{}},"allOf":[{"properties":{"b":{"type":"integer"}}}]}`, `{"a":1,"b":"x"}`,
			`input.b: want integer, got string "x"`},
		{"$ref to a definition", `{"type":"object","properties":{"x":{"$ref":"#/$defs/X"}},"$defs":{"X":{"type":"object","properties":{"id":{"type":"string"}}}}}`, `{"x":{"id":"a"}}`, ""},
		{"$ref definition refuses undeclared field", `{"type":"object","properties":{"x":{"$ref":"#/$defs/X"}},"$defs":{"X":{"type":"object","properties":{"id":{"type":"string"}}}}}`, `{"x":{"id":"a","y":1}}`,
			`input.x: field "y" is not allowed by the schema`},
		{"$ref extended by properties", `{"type":"object","properties":{"x":{"$ref":"#/$defs/Base","properties":{"extra":{}}}},"$defs":{"Base":{"type":"object","properties":{"id":{}}}}}`, `{"x":{"id":1,"extra":2}}`, ""},
		{"$ref extended refuses undeclared", `{"type":"object","properties":{"x":{"$ref":"#/$defs/Base","properties":{"extra":{}}}},"$defs":{"Base":{"type":"object","properties":{"id":{}}}}}`, `{"x":{"id":1,"z":2}}`,
			`input.x: field "z" is not allowed by the schema`},
		{"$ref to a free-form object stays open", `{"type":"object","properties":{"meta":{"$ref":"#/$defs/Meta"}},"$defs":{"Meta":{"type":"object"}}}`, `{"meta":{"any":1}}`, ""},
		{"$ref chain to a definition", `{"type":"object","properties":{"x":{"$ref":"#/$defs/A"}},"$defs":{"A":{"$ref":"#/$defs/B"},"B":{"type":"object","properties":{"id":{}}}}}`, `{"x":{"id":1,"y":2}}`,
			`input.x: field "y" is not allowed by the schema`},
		{"anyOf alternative", `{"type":"object","properties":{"item":{"anyOf":[{"type":"object","properties":{"name":{}},"required":["name"]},{"type":"object","properties":{"street":{}},"required":["street"]}]}}}`, `{"item":{"street":"s"}}`, ""},
		{"anyOf refuses a field of no alternative", `{"type":"object","properties":{"item":{"anyOf":[{"type":"object","properties":{"name":{}},"required":["name"]},{"type":"object","properties":{"street":{}},"required":["street"]}]}}}`, `{"item":{"name":"a","zip":1}}`,
			`input.item: field "zip" is not allowed by the schema`},
		{"recursive $ref", `{"type":"object","properties":{"name":{"type":"string"},"kids":{"type":"array","items":{"$ref":"#"}}}}`, `{"name":"a","kids":[{"name":"b","kids":[{"name":"c"}]}]}`, ""},
		{"recursive $ref refuses deep extra field", `{"type":"object","properties":{"name":{"type":"string"},"kids":{"type":"array","items":{"$ref":"#"}}}}`, `{"name":"a","kids":[{"name":"b","kids":[{"name":"c","z":1}]}]}`,
			`input.kids[0].kids[0]: field "z" is not allowed by the schema (additionalProperties: false); it allows "kids", "name"`},
		// Closing the schema under not would make not pass for {"a":"x","b":1}.
		{"not is left as written", `{"type":"object","properties":{"a":{},"b":{}},"not":{"properties":{"a":{"const":"x"}}}}`, `{"a":"x","b":1}`,
			`input: matches a schema it must not match (not)`},
		{"$schema draft-07 honoured", `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"x":{"$ref":"#/definitions/X"}},"definitions":{"X":{"type":"object","properties":{"id":{}}}}}`, `{"x":{"id":1,"q":2}}`,
			`input.x: field "q" is not allowed by the schema (additionalProperties: false); it allows "id"`},
		{"draft-07 anyOf alternatives closed one by one", `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","anyOf":[{"properties":{"a":{}},"required":["a"]},{"properties":{"b":{}},"required":["b"]}]}`, `{"a":1,"c":1}`,
			`input: matches none of the 2 alternatives its schema allows (anyOf); closest: input: field "c" is not allowed by the schema (additionalProperties: false); it allows "a"`},
		{"draft-07 anyOf alternative accepted", `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","anyOf":[{"properties":{"a":{}},"required":["a"]},{"properties":{"b":{}},"required":["b"]}]}`, `{"b":1}`, ""},
		// In draft-04 exclusiveMinimum is a boolean; in 2020-12 it is a number.
		{"$schema draft-04 honoured", `{"$schema":"http://json-schema.org/draft-04/schema#","type":"object","properties":{"n":{"type":"number","minimum":0,"exclusiveMinimum":true}}}`, `{"n":0}`,
			`input.n: want a number > 0, got 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := compile(t, tt.schema).Validate(json.RawMessage(tt.input))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate(%s)\n got %q\nwant %q", tt.input, got, tt.want)
			}
		})
	}
}

func TestValidateNilSchema(t *testing.T) {
	var s *schema.Schema
	if err := s.Validate(json.RawMessage(`{}`)); err == nil {
		t.Fatal("a nil *Schema validated an input; it must refuse every input")
	}
}

func TestValidateConcurrent(t *testing.T) {
	s := compile(t, nestedSchema)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			good := fmt.Sprintf(`{"items":[{"id":"a%d","qty":%d}]}`, i, i)
			if err := s.Validate(json.RawMessage(good)); err != nil {
				errs <- err
			}
			if err := s.Validate(json.RawMessage(`{"items":[{"qty":1}]}`)); err == nil {
				errs <- fmt.Errorf("a missing id was accepted")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name   string
		schema map[string]any
		want   []string // each must appear in the error
	}{
		{"nil", nil, []string{`input_schema is empty`, `type: object`}},
		{"empty", map[string]any{}, []string{`input_schema is empty`}},
		{"not an object schema", decode(t, `{"type":"string"}`),
			[]string{`input_schema has type "string", not object`, `set type: object`}},
		{"no type", decode(t, `{"properties":{"a":{}}}`),
			[]string{`input_schema has type missing, not object`}},
		{"type list", decode(t, `{"type":["object","null"]}`),
			[]string{`input_schema has type an array, not object`}},
		{"required not a list", decode(t, `{"type":"object","required":"a"}`),
			[]string{`not a valid JSON schema`, `at #/required: want array, got string "a"`, `fix or remove the keyword`}},
		{"minimum not a number", decode(t, `{"type":"object","properties":{"a":{"type":"integer","minimum":"0"}}}`),
			[]string{`at #/properties/a/minimum: want number, got string "0"`}},
		{"properties not an object", decode(t, `{"type":"object","properties":["a"]}`),
			[]string{`at #/properties: want object, got array`}},
		{"unknown type name", decode(t, `{"type":"object","properties":{"a":{"type":"strin"}}}`),
			[]string{`at #/properties/a/type`, `got "strin"`}},
		{"invalid regex", decode(t, `{"type":"object","properties":{"a":{"type":"string","pattern":"(?=x)"}}}`),
			[]string{`at #/properties/a/pattern: want a valid regex, got "(?=x)"`}},
		{"external $ref", decode(t, `{"type":"object","properties":{"a":{"$ref":"https://example.com/a.json"}}}`),
			[]string{`"https://example.com/a.json", outside the tool's input_schema`, `#/$defs/NAME`}},
		{"file $ref is not read", decode(t, `{"type":"object","properties":{"a":{"$ref":"file:///etc/passwd"}}}`),
			[]string{`"file:///etc/passwd", outside the tool's input_schema`}},
		{"dangling $ref", decode(t, `{"type":"object","properties":{"a":{"$ref":"#/$defs/missing"}}}`),
			[]string{`$ref "#/$defs/missing" points to nothing in the schema`}},
		{"unknown $schema", decode(t, `{"$schema":"http://example.com/s","type":"object"}`),
			[]string{`$schema "http://example.com/s"`, `drop $schema`}},
		{"draft-07 composition", decode(t, `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"a":{}},"allOf":[{"properties":{"b":{}}}]}`),
			[]string{`input_schema at #`, `before draft 2019-09`, `set additionalProperties at # yourself`}},
		{"non-string YAML key", map[string]any{"type": "object", "properties": map[any]any{1: map[string]any{"type": "string"}}},
			[]string{`cannot be read as JSON`, `key 1 at "#/properties" is not a string`}},
		{"NaN", map[string]any{"type": "object", "properties": map[string]any{"a": map[string]any{"maximum": math.NaN()}}},
			[]string{`cannot be read as JSON`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := schema.Compile("test_tool", tt.schema)
			if err == nil {
				t.Fatalf("Compile succeeded (%v), want an error", s)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, `tool "test_tool": `) {
				t.Errorf("error does not name the tool: %q", msg)
			}
			if strings.ContainsAny(msg, "\n\r") {
				t.Errorf("error is not one line: %q", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q\ndoes not say %q", msg, w)
				}
			}
		})
	}
}

// Schemas decoded from YAML have int numbers and, with some decoders,
// map[any]any; schemas built in Go have []string. All compile, and their
// values take effect.
func TestCompileYAMLAndGoTypes(t *testing.T) {
	var fromYAML map[string]any
	src := `
type: object
properties:
  n: {type: integer, minimum: 1, maximum: 5}
  kind: {type: string, enum: [a, b]}
required: [n]
`
	if err := yaml.Unmarshal([]byte(src), &fromYAML); err != nil {
		t.Fatal(err)
	}
	if _, ok := fromYAML["properties"].(map[string]any)["n"].(map[string]any)["minimum"].(int); !ok {
		t.Fatalf("test assumption: yaml.v3 gives int for minimum, got %T", fromYAML["properties"].(map[string]any)["n"].(map[string]any)["minimum"])
	}
	anyKeys := map[any]any{
		"type": "object",
		"properties": map[any]any{
			"n":    map[any]any{"type": "integer", "minimum": 1, "maximum": int64(5)},
			"kind": map[any]any{"type": "string", "enum": []any{"a", "b"}},
		},
		"required": []any{"n"},
	}
	goTyped := map[string]any{
		"type": "object",
		"properties": map[string]any{
			"n":    map[string]any{"type": "integer", "minimum": 1, "maximum": uint8(5)},
			"kind": map[string]any{"type": "string", "enum": []string{"a", "b"}},
		},
		"required": []string{"n"},
	}
	for name, sch := range map[string]map[string]any{
		"yaml.v3":     fromYAML,
		"map[any]any": {"type": "object", "properties": anyKeys["properties"], "required": anyKeys["required"]},
		"go types":    goTyped,
	} {
		t.Run(name, func(t *testing.T) {
			s, err := schema.Compile("test_tool", sch)
			if err != nil {
				t.Fatal(err)
			}
			for input, want := range map[string]string{
				`{"n":3,"kind":"a"}`: "",
				`{"n":0}`:            `input.n: want a number >= 1, got 0`,
				`{"n":6}`:            `input.n: want a number <= 5, got 6`,
				`{"n":2,"kind":"c"}`: `input.kind: want one of "a", "b", got "c"`,
				`{"kind":"a"}`:       `input: missing required field "n"`,
				`{"n":2,"x":1}`:      `input: field "x" is not allowed by the schema (additionalProperties: false); it allows "kind", "n"`,
			} {
				err := s.Validate(json.RawMessage(input))
				got := ""
				if err != nil {
					got = err.Error()
				}
				if got != want {
					t.Errorf("Validate(%s) = %q, want %q", input, got, want)
				}
			}
		})
	}
}

// Compile closes a copy: the caller's schema (sent to the model as is)
// keeps no additionalProperties it did not have.
func TestCompileLeavesSchemaAlone(t *testing.T) {
	const src = `{"type":"object","properties":{"a":{"type":"object","properties":{"b":{}}}},"allOf":[{"properties":{"c":{}}}]}`
	s := decode(t, src)
	if _, err := schema.Compile("test_tool", s); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s, decode(t, src)) {
		t.Errorf("Compile changed its argument: %v", s)
	}
	if _, _ = schema.Strict(s); !reflect.DeepEqual(s, decode(t, src)) {
		t.Errorf("Strict changed its argument: %v", s)
	}
}

// strictOK is a schema both providers accept in strict mode.
const strictOK = `{
	"type": "object",
	"description": "A refund decision.",
	"properties": {
		"charge": {"type": "string", "description": "ch_ id", "pattern": "^ch_[A-Za-z0-9]+$"},
		"amount": {"type": "integer"},
		"ratio": {"type": "number"},
		"final": {"type": "boolean"},
		"due": {"type": "string", "format": "date"},
		"note": {"type": ["string", "null"]},
		"kind": {"type": "string", "enum": ["a", "b"]},
		"version": {"type": "integer", "const": 1},
		"tags": {"type": "array", "minItems": 1, "items": {"type": "string"}},
		"lines": {"type": "array", "items": {"$ref": "#/$defs/line"}},
		"target": {"anyOf": [
			{"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"], "additionalProperties": false},
			{"type": "null"}
		]}
	},
	"required": ["charge", "amount", "ratio", "final", "due", "note", "kind", "version", "tags", "lines", "target"],
	"additionalProperties": false,
	"$defs": {
		"line": {
			"type": "object",
			"properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}},
			"required": ["sku", "qty"],
			"additionalProperties": false
		}
	}
}`

// withProp returns strictOK with property p set to the schema src (and
// required), so each refused case changes one thing.
func withProp(t *testing.T, p, src string) map[string]any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(src), &v); err != nil {
		t.Fatalf("bad test schema %s: %v", src, err)
	}
	s := decode(t, strictOK)
	s["properties"].(map[string]any)[p] = v
	s["required"] = append(s["required"].([]any), p)
	return s
}

func with(t *testing.T, key string, v any) map[string]any {
	t.Helper()
	s := decode(t, strictOK)
	s[key] = v
	return s
}

func TestStrict(t *testing.T) {
	ok, why := schema.Strict(decode(t, strictOK))
	if !ok || why != "" {
		t.Fatalf("Strict(strictOK) = %v, %q; want true, \"\"", ok, why)
	}
	if ok, why := schema.Strict(decode(t, `{"type":"object","properties":{},"additionalProperties":false}`)); !ok {
		t.Errorf("Strict(empty object) = false, %q; want true", why)
	}

	nested := func(depth int) map[string]any {
		s := `{"type":"object","properties":{},"additionalProperties":false}`
		for range depth - 1 {
			s = `{"type":"object","properties":{"x":` + s + `},"required":["x"],"additionalProperties":false}`
		}
		return decode(t, s)
	}
	if ok, why := schema.Strict(nested(10)); !ok {
		t.Errorf("Strict(10 levels) = false, %q; want true", why)
	}
	manyNullable := decode(t, strictOK)
	manyProps := decode(t, `{"type":"object","properties":{},"required":[],"additionalProperties":false}`)
	for i := range 17 {
		manyNullable["properties"].(map[string]any)[fmt.Sprintf("n%d", i)] = map[string]any{"type": []any{"string", "null"}}
		manyNullable["required"] = append(manyNullable["required"].([]any), fmt.Sprintf("n%d", i))
	}
	for i := range 5001 {
		manyProps["properties"].(map[string]any)[fmt.Sprintf("p%d", i)] = map[string]any{"type": "string"}
		manyProps["required"] = append(manyProps["required"].([]any), fmt.Sprintf("p%d", i))
	}
	var manyValues []any
	for i := range 1001 {
		manyValues = append(manyValues, fmt.Sprintf("v%d", i))
	}

	refused := []struct {
		name   string
		schema map[string]any
		want   string // must appear in why
	}{
		{"root not an object", decode(t, `{"type":"string"}`), `#: the root must have type: object`},
		{"root anyOf", with(t, "anyOf", []any{map[string]any{"type": "object"}}), `#: the root must not be anyOf (OpenAI strict mode)`},
		{"root without additionalProperties", func() map[string]any { s := decode(t, strictOK); delete(s, "additionalProperties"); return s }(),
			`#: needs additionalProperties: false`},
		{"additionalProperties true", with(t, "additionalProperties", true), `#: additionalProperties must be false`},
		{"nested object without additionalProperties", withProp(t, "o", `{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}`),
			`#/properties/o: needs additionalProperties: false`},
		{"optional property", func() map[string]any {
			s := decode(t, strictOK)
			s["required"] = s["required"].([]any)[1:]
			return s
		}(), `#: property "charge" is not in required; OpenAI strict mode needs every property required`},
		{"minimum", withProp(t, "n", `{"type":"integer","minimum":0}`), `#/properties/n: "minimum" is not allowed: Anthropic strict tool use does not support numerical constraints`},
		{"maximum", withProp(t, "n", `{"type":"number","maximum":1}`), `"maximum" is not allowed: Anthropic`},
		{"multipleOf", withProp(t, "n", `{"type":"number","multipleOf":2}`), `"multipleOf" is not allowed: Anthropic`},
		{"maxLength", withProp(t, "s", `{"type":"string","maxLength":3}`), `#/properties/s: "maxLength" is not allowed: Anthropic strict tool use does not support string length constraints`},
		{"maxItems", withProp(t, "a", `{"type":"array","items":{"type":"string"},"maxItems":3}`), `"maxItems" is not allowed: Anthropic`},
		{"minItems 2", withProp(t, "a", `{"type":"array","items":{"type":"string"},"minItems":2}`), `#/properties/a: minItems is 2; Anthropic strict tool use supports only 0 and 1`},
		{"uniqueItems", withProp(t, "a", `{"type":"array","items":{"type":"string"},"uniqueItems":true}`), `"uniqueItems" is not allowed`},
		{"allOf", withProp(t, "x", `{"type":"string","allOf":[{"type":"string"}]}`), `"allOf" is not allowed: OpenAI strict mode does not support allOf`},
		{"oneOf", withProp(t, "x", `{"oneOf":[{"type":"string"},{"type":"null"}]}`), `"oneOf" is not allowed: neither provider's strict mode supports oneOf; use anyOf`},
		{"not", withProp(t, "x", `{"type":"string","not":{"const":"a"}}`), `"not" is not allowed: OpenAI`},
		{"if", withProp(t, "x", `{"type":"string","if":{"const":"a"},"then":{}}`), `"if" is not allowed: OpenAI strict mode does not support if/then/else`},
		{"default", withProp(t, "x", `{"type":"string","default":"a"}`), `"default" is not allowed: OpenAI strict mode does not support default`},
		{"title", withProp(t, "x", `{"type":"string","title":"X"}`), `"title" is not allowed`},
		{"$schema", with(t, "$schema", "https://json-schema.org/draft/2020-12/schema"), `#: "$schema" is not allowed`},
		{"patternProperties", with(t, "patternProperties", map[string]any{"^x": map[string]any{"type": "string"}}), `"patternProperties" is not allowed: Anthropic`},
		{"unknown keyword", withProp(t, "x", `{"type":"string","examples":["a"]}`), `#/properties/x: "examples" is not in the strict subset Anthropic or OpenAI documents`},
		{"format uri", withProp(t, "x", `{"type":"string","format":"uri"}`), `#/properties/x: format uri is not supported by OpenAI strict mode`},
		{"unknown format", withProp(t, "x", `{"type":"string","format":"currency"}`), `format "currency" is not supported by both providers`},
		{"lookahead", withProp(t, "x", `{"type":"string","pattern":"^(?=a)a$"}`), `pattern uses a lookaround (?=...), which Anthropic strict tool use does not support`},
		{"backreference", withProp(t, "x", `{"type":"string","pattern":"(a)\\1"}`), `pattern uses a backreference \1, which`},
		{"word boundary", withProp(t, "x", `{"type":"string","pattern":"\\bword\\b"}`), `pattern uses a word boundary \b, which`},
		{"complex enum", withProp(t, "x", `{"type":"object","enum":[{"a":1}],"properties":{},"additionalProperties":false}`), `enum has a complex value`},
		{"complex const", withProp(t, "x", `{"type":"array","items":{"type":"string"},"const":["a"]}`), `const has a complex value`},
		{"no type", withProp(t, "x", `{"description":"anything"}`), `#/properties/x: has no type`},
		{"boolean schema", withProp(t, "x", `true`), `#/properties/x: is a boolean schema`},
		{"array without items", withProp(t, "x", `{"type":"array"}`), `#/properties/x: an array schema needs items`},
		{"tuple items", withProp(t, "x", `{"type":"array","items":[{"type":"string"}]}`), `items must be one schema`},
		{"external $ref", withProp(t, "x", `{"$ref":"https://example.com/x.json"}`), `$ref "https://example.com/x.json" points outside the schema`},
		{"$ref with a sibling", withProp(t, "x", `{"$ref":"#/$defs/line","description":"a line"}`), `#/properties/x: $ref must stand alone, without description next to it`},
		{"dangling $ref", withProp(t, "x", `{"$ref":"#/$defs/nothing"}`), `$ref "#/$defs/nothing" points to nothing in the schema`},
		{"recursive to the root", withProp(t, "kids", `{"type":"array","items":{"$ref":"#"}}`), `#/properties/kids/items: makes the schema recursive, which Anthropic strict tool use does not support`},
		{"recursive definitions", func() map[string]any {
			s := withProp(t, "tree", `{"$ref":"#/$defs/node"}`)
			s["$defs"].(map[string]any)["node"] = decode(t, `{"type":"object","properties":{"next":{"anyOf":[{"$ref":"#/$defs/node"},{"type":"null"}]}},"required":["next"],"additionalProperties":false}`)
			return s
		}(), `#/$defs/node/properties/next/anyOf/0: makes the schema recursive`},
		{"too deep", nested(11), `is nested 11 objects deep; OpenAI strict mode allows 10 levels`},
		{"too many unions", manyNullable, `#: has 19 parameters with union types (type lists or anyOf); Anthropic strict tool use allows 16`},
		{"too many properties", manyProps, `#: has 5001 object properties; OpenAI strict mode allows 5000 in all`},
		{"too many enum values", withProp(t, "x", `{"type":"string","enum":`+mustJSON(t, manyValues)+`}`), `enum values; OpenAI strict mode allows 1000 in all`},
		{"empty", map[string]any{}, `input_schema is empty`},
		{"not JSON", map[string]any{"type": "object", "properties": map[any]any{2: "x"}}, `input_schema cannot be read as JSON`},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			ok, why := schema.Strict(tt.schema)
			if ok {
				t.Fatalf("Strict = true, want false with %q", tt.want)
			}
			if !strings.Contains(why, tt.want) {
				t.Errorf("Strict why = %q\nwant it to say %q", why, tt.want)
			}
			if strings.ContainsAny(why, "\n\r") {
				t.Errorf("why is not one line: %q", why)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The seed tools: every schema compiles, decides the inputs a model would
// send as the tool's description asks, and Strict's verdict is logged for
// the record (run with -v).
func TestSeedSchemas(t *testing.T) {
	tools := config.Default(func(string) string { return "" }).Tools
	if len(tools) == 0 {
		t.Fatal("no seed tools")
	}
	common := `"stripe_id":"obj_from_event","amount":1000,"currency":"usd","customer":"cus_x","reason":"fraudulent"`
	inputs := map[string]map[string]string{ // tool -> input -> want ("" valid; else a part of the error)
		"handle_dispute": {
			`{` + common + `,"action":"accept","evidence_summary":"Customer is right.","confidence":0.8}`: "",
			`{` + common + `,"action":"accept"}`:                                                       `input: missing required fields "evidence_summary", "confidence"`,
			`{` + common + `,"action":"refund","evidence_summary":"x","confidence":0.5}`:               `input.action: want one of "accept", "counter_with_evidence", "escalate_to_human", got "refund"`,
			`{` + common + `,"action":"accept","evidence_summary":"x","confidence":1.5}`:               `input.confidence: want a number <= 1, got 1.5`,
			`{` + common + `,"action":"accept","evidence_summary":"x","confidence":0.5,"refund":true}`: `input: field "refund" is not allowed by the schema (additionalProperties: false)`,
		},
		"retry_failed_payment": {
			`{` + common + `,"action":"retry_later","retry_in_hours":24}`:                                            "",
			`{` + common + `,"action":"email_customer","customer_message":"Hello"}`:                                  "",
			`{` + common + `,"action":"accept"}`:                                                                     `input.action: want one of "retry_now", "retry_later", "email_customer", "escalate", got "accept"`,
			`{` + common + `,"action":"retry_later","retry_in_hours":0}`:                                             `input.retry_in_hours: want a number >= 1, got 0`,
			`{"stripe_id":"in_1","amount":-1,"currency":"usd","customer":"","reason":"unknown","action":"escalate"}`: `input.amount: want a number >= 0, got -1`,
		},
		"churn_outreach": {
			`{` + common + `,"action":"no_action","message":"Cancelled for non-payment."}`: "",
			`{` + common + `,"action":"accept"}`:                                           `input: missing required field "message"`,
		},
		"log_refund": {
			`{` + common + `,"category":"fraudulent","note":"Full refund."}`:                                                      "",
			`{` + common + `,"action":"accept"}`:                                                                                  `input: field "action" is not allowed by the schema (additionalProperties: false)`,
			`{` + common + `,"category":"lost","note":"x"}`:                                                                       `input.category: want one of "customer_request", "duplicate", "fraudulent", "product_issue", "other", got "lost"`,
			`{"stripe_id":"ch_1","amount":"1000","currency":"usd","customer":"cus_x","reason":"r","category":"other","note":"x"}`: `input.amount: want integer, got string "1000"`,
		},
	}
	names := make([]string, 0, len(tools))
	for name := range tools {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			s, err := schema.Compile(name, tools[name].InputSchema)
			if err != nil {
				t.Fatalf("seed schema does not compile: %v", err)
			}
			for input, want := range inputs[name] {
				err := s.Validate(json.RawMessage(input))
				switch {
				case want == "" && err != nil:
					t.Errorf("Validate(%s) = %v, want nil", input, err)
				case want != "" && err == nil:
					t.Errorf("Validate(%s) = nil, want %q", input, want)
				case want != "" && !strings.Contains(err.Error(), want):
					t.Errorf("Validate(%s) = %q, want it to say %q", input, err, want)
				}
			}
			ok, why := schema.Strict(tools[name].InputSchema)
			if ok != (why == "") {
				t.Errorf("Strict = %v, %q: why must be empty exactly when ok", ok, why)
			}
			t.Logf("Strict(%s) = %v %s", name, ok, why)
		})
	}
}

func FuzzValidate(f *testing.F) {
	tools := config.Default(func(string) string { return "" }).Tools
	schemas := []*schema.Schema{compile(f, nestedSchema), compile(f, chargeSchema)}
	for _, src := range []string{
		`{"type":"object","properties":{"a":{}},"allOf":[{"properties":{"b":{"type":"integer"}}}],"anyOf":[{"required":["a"]},{"properties":{"c":{"format":"date"}}}]}`,
		`{"type":"object","properties":{"name":{"type":"string","pattern":"^[a-z]+$"},"kids":{"type":"array","items":{"$ref":"#"}}}}`,
		`{"type":"object","properties":{"x":{"$ref":"#/$defs/X"}},"$defs":{"X":{"type":["object","null"],"properties":{"id":{"type":"string","format":"uuid"}},"required":["id"]}}}`,
	} {
		schemas = append(schemas, compile(f, src))
	}
	for name, tool := range tools {
		s, err := schema.Compile(name, tool.InputSchema)
		if err != nil {
			f.Fatal(err)
		}
		schemas = append(schemas, s)
	}
	for _, seed := range []string{
		``, `null`, `{}`, `[]`, `"x"`, `1e999`, `{"a":`, `{"a":1}{}`, "\xff",
		`{"stripe_id":"obj_from_event","amount":1000,"currency":"usd","customer":"cus_x","reason":"fraudulent","action":"accept"}`,
		`{"items":[{"id":"a"},{"id":7,"qty":"x","z":null}],"customer":{"address":{"zip":1}},"odd key":[]}`,
		`{"name":"a","kids":[{"name":"b","kids":[{"name":"C","z":1}]}]}`,
		`{"a":1,"a":2}`, `{"x":{"id":"not-a-uuid","y":[1,{"z":{}}]}}`,
		`{"charge":"` + strings.Repeat("\\u00e9", 100) + `","amount":-1e308}`,
		strings.Repeat(`[`, 200) + strings.Repeat(`]`, 200),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		for _, s := range schemas {
			err := s.Validate(json.RawMessage(input))
			if err == nil {
				var m map[string]any
				if json.Unmarshal(input, &m) != nil || m == nil {
					t.Fatalf("Validate accepted %q, which is not a JSON object", input)
				}
				continue
			}
			msg := err.Error()
			if strings.Contains(msg, "internal error") {
				t.Fatalf("Validate(%q) hit a panic: %s", input, msg)
			}
			if !strings.HasPrefix(msg, "input") || strings.ContainsAny(msg, "\n\r") {
				t.Fatalf("Validate(%q) error is not one line naming the input: %q", input, msg)
			}
		}
	})
}

// FuzzCompileStrict: neither Compile nor Strict panics on any schema.
func FuzzCompileStrict(f *testing.F) {
	for _, seed := range []string{
		strictOK, chargeSchema, nestedSchema, `{}`, `{"type":"object","properties":{"a":{"$ref":"#/properties/a"}}}`,
		`{"type":"object","$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}},"properties":{"x":{"$ref":"#/$defs/a"}}}`,
		`{"type":"object","properties":{"x":{"$ref":"#/%24defs/a~1b"}},"$defs":{"a/b":{"type":"string"}}}`,
		`{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","dependencies":{"a":["b"],"c":{"properties":{"d":{}}}}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		var m map[string]any
		if json.Unmarshal(src, &m) != nil {
			return
		}
		start := time.Now()
		defer func() {
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("SLOW %v: %s", d, src)
			}
		}()
		s, err := schema.Compile("fuzz", m)
		if err != nil && strings.Contains(err.Error(), "internal error") {
			t.Fatalf("Compile(%s) hit a panic: %v", src, err)
		}
		if err == nil {
			_ = s.Validate(json.RawMessage(`{"a":1}`))
		}
		if ok, why := schema.Strict(m); ok != (why == "") {
			t.Fatalf("Strict(%s) = %v, %q", src, ok, why)
		}
	})
}
