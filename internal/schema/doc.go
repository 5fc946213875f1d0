// Package schema checks a tool's input against the tool's input_schema
// before the tool runs, and says which input schemas can be sent to the
// model providers as strict tools.
//
// # Validation
//
// [Compile] compiles a tool's input_schema once (at start, so a bad schema
// fails there and not on the first event); [Schema.Validate] checks each
// input the model sends. Validation uses github.com/santhosh-tekuri/jsonschema/v6:
//
//   - Draft 2020-12 unless the schema's $schema names draft-04, -06, -07,
//     2019-09 or 2020-12; any other $schema is a compile error.
//   - format is asserted (an input "due": "2024-13-01" with format: date
//     is refused), as strict tool use would constrain it.
//   - Nothing is loaded from outside the schema: a $ref to another document
//     is a compile error, and no file or URL is ever read.
//   - pattern uses Go's RE2 syntax, whose matching time is linear in the
//     input, so no input can make a pattern take exponential time.
//
// An input is refused when it is empty, is not UTF-8, is not exactly one
// JSON value, names the same field twice in one object (the validator and
// the tool could otherwise read different values for it), or does not match
// the schema. The error is one line written for the model to correct
// itself, naming the field by path: `input.amount: want integer, got string "12"`.
//
// # Fields outside the schema are refused
//
// JSON Schema allows properties that an object schema does not list unless it
// says additionalProperties: false. Our security standard is that a tool
// never receives fields outside its schema, so Compile closes objects: it
// compiles a copy of the schema in which every object subschema that has
// properties and none of additionalProperties, patternProperties and
// unevaluatedProperties gets additionalProperties: false. A schema that wants
// extra fields says so explicitly (additionalProperties: true, or a schema for
// them); an object schema without properties (a free-form object) stays open.
//
// additionalProperties only sees the properties next to it, so closing an
// object whose fields are spread over allOf/anyOf/oneOf/then/else/
// dependentSchemas branches or a $ref would refuse fields the schema declares.
// There the enclosing schema gets unevaluatedProperties: false instead (draft
// 2019-09 and later), which sees through those keywords, and the branches
// themselves (and $defs entries) are left open. A $ref to a free-form object
// schema stays open, as the same schema written in place would. Drafts before
// 2019-09 have no unevaluatedProperties: such a schema compiles only if it
// sets additionalProperties itself there, except for anyOf/oneOf alternatives
// of an object that declares no properties of its own, which are closed one
// by one. Nothing under not or if is changed: closing a condition would make
// the schema around it accept more, not less.
//
// # Strict tools
//
// [Strict] reports whether a schema, as configured and so as sent to the
// model, can be sent with strict: true to both Anthropic (strict tool use)
// and OpenAI (strict function calling), by the rules those providers
// document; strict.go cites the source of each rule.
//
// Strict is a pure check: it does not offer a rewritten schema. The one
// rewrite that keeps the meaning for us is adding additionalProperties: false
// (both providers require it on every object, and Validate already refuses
// undeclared fields), and that is not what keeps schemas from being strict:
// the seed schemas close their objects already and fail on numeric bounds and
// optional fields. The rewrites for those change the tool's contract.
// Anthropic's SDKs move unsupported constraints such as minimum into the
// description ("removing them and adding constraints to field descriptions"),
// so the grammar no longer enforces them; OpenAI keeps a field optional only
// by making it required and nullable ("emulate an optional parameter by using
// a union type with null"), so the tool would receive null where it now
// receives no field. Such changes are the schema author's to make, in the
// schema itself.
package schema
