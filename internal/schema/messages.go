package schema

import (
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// maxProblems is how many problems one Validate error lists.
const maxProblems = 5

// describer turns a validation error into one line.
type describer struct {
	inst  any                   // the value that was validated
	doc   map[string]any        // the compiled schema, to list allowed fields; may be nil
	where func([]string) string // renders an instance location
}

// problem is one thing wrong, at an instance location.
type problem struct {
	loc []string
	msg string
	// field is set for a field refused by unevaluatedProperties: false:
	// the field's own location.
	field []string
	// wrongType is set for a value of the wrong JSON type.
	wrongType bool
}

// describe explains why input v failed the schema doc, for the model.
func describe(ve *jsonschema.ValidationError, v any, doc map[string]any) string {
	d := &describer{inst: v, doc: doc}
	d.where = d.path
	return d.render(d.collect(ve), maxProblems)
}

// render sorts, dedupes and joins problems into one line.
func (d *describer) render(ps []problem, max int) string {
	ps = dropEchoes(ps)
	if len(ps) == 0 {
		return d.where(nil) + ": does not match the tool's input_schema"
	}
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := strings.Join(ps[i].loc, "\x00"), strings.Join(ps[j].loc, "\x00")
		if a != b {
			return a < b
		}
		return ps[i].msg < ps[j].msg
	})
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = d.where(p.loc) + ": " + p.msg
	}
	return joinCapped(parts, max)
}

// dropEchoes drops "field is not allowed" from unevaluatedProperties where
// the same object has other problems, at it or under it. A subschema that
// fails keeps none of the fields it declares "evaluated", so its declared
// fields come back as not allowed too; saying so would tell the model to
// remove fields it should fix. Once the other problems are fixed, a field
// that is really outside the schema is still reported.
func dropEchoes(ps []problem) []problem {
	out := ps[:0:0]
	for _, p := range ps {
		if p.field != nil && hasProblemUnder(ps, p.loc) {
			continue
		}
		out = append(out, p)
	}
	return out
}

func hasProblemUnder(ps []problem, loc []string) bool {
	for _, q := range ps {
		if q.field == nil && len(q.loc) >= len(loc) && slices.Equal(q.loc[:len(loc)], loc) {
			return true
		}
	}
	return false
}

// joinCapped joins up to max distinct parts with "; " and says how many
// more there were.
func joinCapped(parts []string, max int) string {
	var out []string
	seen := map[string]bool{}
	for _, p := range parts {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	if len(out) > max {
		return strings.Join(out[:max], "; ") + fmt.Sprintf("; and %d more", len(out)-max)
	}
	return strings.Join(out, "; ")
}

// collect flattens an error tree into the problems at its leaves. Where
// alternatives (anyOf, oneOf) all failed it reports that once, with the
// problems of the alternative that came closest.
func (d *describer) collect(e *jsonschema.ValidationError) []problem {
	switch k := e.ErrorKind.(type) {
	case *kind.Schema, *kind.Group, *kind.Reference, *kind.AllOf:
		if len(e.Causes) > 0 {
			var out []problem
			for _, c := range e.Causes {
				out = append(out, d.collect(c)...)
			}
			return out
		}
	case *kind.AnyOf:
		return []problem{d.alternatives(e, "anyOf")}
	case *kind.OneOf:
		if len(k.Subschemas) == 0 {
			return []problem{d.alternatives(e, "oneOf")}
		}
	}
	if _, ok := e.ErrorKind.(*kind.FalseSchema); ok && len(e.InstanceLocation) > 0 {
		// A property refused by unevaluatedProperties: false (or a
		// property schema of false) is reported on its object, like one
		// refused by additionalProperties: false.
		parent := e.InstanceLocation[:len(e.InstanceLocation)-1]
		if _, ok := d.at(parent).(map[string]any); ok {
			name := e.InstanceLocation[len(e.InstanceLocation)-1]
			return []problem{{loc: parent, msg: fmt.Sprintf("field %s is not allowed by the schema", quote(name)), field: e.InstanceLocation}}
		}
	}
	_, wrongType := e.ErrorKind.(*kind.Type)
	return []problem{{loc: e.InstanceLocation, msg: d.message(e), wrongType: wrongType}}
}

// alternatives reports that none of e's alternatives matched, with the
// problems of the closest: one for the value's type if there is one, then
// the one with the fewest problems.
func (d *describer) alternatives(e *jsonschema.ValidationError, kw string) problem {
	var best []problem
	bestRank := 0
	for _, c := range e.Causes {
		ps := d.collect(c)
		if len(ps) == 0 {
			continue
		}
		rank := len(ps)
		for _, p := range ps {
			if p.wrongType && slices.Equal(p.loc, e.InstanceLocation) {
				rank += 1 << 20 // the value is not even of this alternative's type
				break
			}
		}
		if best == nil || rank < bestRank {
			best, bestRank = ps, rank
		}
	}
	msg := fmt.Sprintf("matches none of the %d alternatives its schema allows (%s)", len(e.Causes), kw)
	if best != nil {
		msg += "; closest: " + d.render(best, 2)
	}
	return problem{loc: e.InstanceLocation, msg: msg}
}

// message says what is wrong at one leaf error.
func (d *describer) message(e *jsonschema.ValidationError) string {
	got := d.at(e.InstanceLocation)
	switch k := e.ErrorKind.(type) {
	case *kind.Type:
		return fmt.Sprintf("want %s, got %s", strings.Join(k.Want, " or "), typed(got))
	case *kind.Required:
		return "missing required " + fields(k.Missing)
	case *kind.AdditionalProperties:
		names := append([]string(nil), k.Properties...)
		sort.Strings(names)
		verb := "is"
		if len(names) > 1 {
			verb = "are"
		}
		return fmt.Sprintf("%s %s not allowed by the schema (additionalProperties: false)%s", fields(names), verb, d.allowed(e.SchemaURL))
	case *kind.FalseSchema:
		return "not allowed by the schema"
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = literal(w)
		}
		if len(want) == 1 {
			return fmt.Sprintf("want %s, got %s", want[0], literal(got))
		}
		return fmt.Sprintf("want one of %s, got %s", strings.Join(want, ", "), literal(got))
	case *kind.Const:
		return fmt.Sprintf("want %s, got %s", literal(k.Want), literal(got))
	case *kind.Format:
		return fmt.Sprintf("want a valid %s, got %s (%s)", k.Want, literal(got), oneLine(errText(k.Err)))
	case *kind.Minimum:
		return fmt.Sprintf("want a number >= %s, got %s", rat(k.Want), literal(got))
	case *kind.Maximum:
		return fmt.Sprintf("want a number <= %s, got %s", rat(k.Want), literal(got))
	case *kind.ExclusiveMinimum:
		return fmt.Sprintf("want a number > %s, got %s", rat(k.Want), literal(got))
	case *kind.ExclusiveMaximum:
		return fmt.Sprintf("want a number < %s, got %s", rat(k.Want), literal(got))
	case *kind.MultipleOf:
		return fmt.Sprintf("want a multiple of %s, got %s", rat(k.Want), literal(got))
	case *kind.MinLength:
		return fmt.Sprintf("want at least %d characters, got %d", k.Want, k.Got)
	case *kind.MaxLength:
		return fmt.Sprintf("want at most %d characters, got %d", k.Want, k.Got)
	case *kind.MinItems:
		return fmt.Sprintf("want at least %d items, got %d", k.Want, k.Got)
	case *kind.MaxItems:
		return fmt.Sprintf("want at most %d items, got %d", k.Want, k.Got)
	case *kind.MinProperties:
		return fmt.Sprintf("want at least %d fields, got %d", k.Want, k.Got)
	case *kind.MaxProperties:
		return fmt.Sprintf("want at most %d fields, got %d", k.Want, k.Got)
	case *kind.Pattern:
		return fmt.Sprintf("want a string matching the pattern %s, got %s", quote(k.Want), literal(got))
	case *kind.UniqueItems:
		return fmt.Sprintf("items %d and %d are equal; want unique items", k.Duplicates[0], k.Duplicates[1])
	case *kind.Dependency:
		return fmt.Sprintf("field %s needs %s too", quote(k.Prop), fields(k.Missing))
	case *kind.DependentRequired:
		return fmt.Sprintf("field %s needs %s too", quote(k.Prop), fields(k.Missing))
	case *kind.PropertyNames:
		return fmt.Sprintf("field name %s is not allowed by the schema", quote(k.Property))
	case *kind.AdditionalItems:
		return fmt.Sprintf("has %d more items than the schema allows", k.Count)
	case *kind.Not:
		return "matches a schema it must not match (not)"
	case *kind.OneOf:
		return fmt.Sprintf("matches more than one alternative of its schema (oneOf: %d and %d); want exactly one", k.Subschemas[0], k.Subschemas[1])
	case *kind.Contains:
		return "no item matches the schema under contains"
	case *kind.MinContains:
		return fmt.Sprintf("want at least %d items matching the schema under contains, got %d", k.Want, len(k.Got))
	case *kind.MaxContains:
		return fmt.Sprintf("want at most %d items matching the schema under contains, got %d", k.Want, len(k.Got))
	}
	// Anything else, in the library's words (without its location prefix).
	msg := (&jsonschema.ValidationError{ErrorKind: e.ErrorKind}).Error()
	msg = strings.TrimPrefix(msg, "at '': ")
	return oneLine(msg)
}

// allowed lists the fields the object schema at u declares, for a message
// about fields it does not.
func (d *describer) allowed(u string) string {
	if d.doc == nil {
		return ""
	}
	frag, ok := strings.CutPrefix(u, schemaURL+"#")
	if !ok {
		return ""
	}
	m, ok := resolve(d.doc, frag).(map[string]any)
	if !ok {
		return ""
	}
	props, _ := m["properties"].(map[string]any)
	if len(props) == 0 {
		return "; it allows no fields"
	}
	names := make([]string, 0, len(props))
	for n := range props {
		names = append(names, n)
	}
	sort.Strings(names)
	const max = 20
	more := ""
	if len(names) > max {
		more = fmt.Sprintf(" and %d more", len(names)-max)
		names = names[:max]
	}
	for i, n := range names {
		names[i] = quote(n)
	}
	return "; it allows " + strings.Join(names, ", ") + more
}

// path renders an instance location for the model: input, input.amount,
// input.items[2].id, input["odd key"].
func (d *describer) path(loc []string) string {
	var b strings.Builder
	b.WriteString("input")
	cur := d.inst
	for _, tok := range loc {
		switch c := cur.(type) {
		case []any:
			b.WriteString("[" + tok + "]")
			cur = nil
			if i, err := strconv.Atoi(tok); err == nil && i >= 0 && i < len(c) {
				cur = c[i]
			}
		case map[string]any:
			writeKey(&b, tok)
			cur = c[tok]
		default:
			writeKey(&b, tok)
			cur = nil
		}
	}
	return b.String()
}

func writeKey(b *strings.Builder, k string) {
	if isIdent(k) {
		b.WriteString("." + k)
	} else {
		b.WriteString("[" + quote(k) + "]")
	}
}

func isIdent(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
		case i > 0 && r >= '0' && r <= '9':
		default:
			return false
		}
	}
	return true
}

// at returns the value at an instance location, or nil.
func (d *describer) at(loc []string) any {
	cur := d.inst
	for _, tok := range loc {
		switch c := cur.(type) {
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			cur = c[i]
		case map[string]any:
			cur = c[tok]
		default:
			return nil
		}
	}
	return cur
}

// pointer renders a location as a JSON pointer fragment: #/properties/amount.
func pointer(loc []string) string {
	var b strings.Builder
	b.WriteString("#")
	for _, tok := range loc {
		b.WriteString("/" + escapeToken(tok))
	}
	return b.String()
}

func escapeToken(t string) string {
	return strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1")
}

// resolve follows a JSON pointer ("/properties/x", or "" for the root)
// within doc; nil if it leads nowhere.
func resolve(doc any, ptr string) any {
	if ptr == "" {
		return doc
	}
	if !strings.HasPrefix(ptr, "/") {
		return nil
	}
	cur := doc
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			var ok bool
			if cur, ok = c[tok]; !ok {
				return nil
			}
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}

// fields names one or more fields: field "a", fields "a", "b".
func fields(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quote(n)
	}
	if len(q) == 1 {
		return "field " + q[0]
	}
	return "fields " + strings.Join(q, ", ")
}

// maxShown is how many characters of a string a message shows.
const maxShown = 60

// quote quotes s on one line, cut to maxShown characters.
func quote(s string) string {
	if utf8.RuneCountInString(s) > maxShown {
		r := []rune(s)
		return strconv.Quote(string(r[:maxShown])) + "…"
	}
	return strconv.Quote(s)
}

// literal shows a JSON value as it would be written, cut short.
func literal(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return quote(v)
	case json.Number:
		return shorten(string(v))
	case bool:
		return strconv.FormatBool(v)
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return shorten(string(b))
}

// typed shows a value with its JSON type: string "12", number 12, null.
func typed(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string " + literal(v)
	case json.Number:
		return "number " + literal(v)
	case bool:
		return "boolean " + literal(v)
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return literal(v)
}

func shorten(s string) string {
	if len(s) > maxShown {
		return s[:maxShown] + "…"
	}
	return s
}

func rat(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func errText(err error) string {
	if err == nil {
		return "invalid"
	}
	return err.Error()
}
