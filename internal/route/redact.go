package route

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Redacted is what a redacted value becomes.
const Redacted = "[redacted]"

// defaultRedact lists the plain key names of the default redaction, which
// applies wherever they appear in an event or a tool result. They are the
// simple cases of the key patterns of personalKey (redact_keys.go), which
// also catch their variants (first_name, support_phone,
// tos_acceptance.ip, …) and read "name" by the object around it (a
// customer's, not a product's); and the value detectors of
// scrub (redact_detect.go) take emails, phone numbers, IP addresses, card
// numbers and secrets out of every string, free text included.
var defaultRedact = []string{
	// email addresses
	"email", "receipt_email", "customer_email", "billing_email", "customer_email_address",
	// names
	"name", "customer_name", "individual_name", "cardholder_name", "account_holder_name",
	// phone numbers
	"phone", "customer_phone",
	// postal addresses
	"address", "billing_address", "customer_address", "shipping_address",
	"shipping", "customer_shipping", "shipping_details", "line1", "line2", "postal_code",
	// network and tax identifiers
	"ip_address", "customer_purchase_ip", "tax_id", "tax_ids", "customer_tax_ids",
	// card and secret identifiers
	"fingerprint", "client_secret",
}

// DefaultRedact returns the plain key names that are redacted by
// default, in addition to a route's redact: list ("name" where it names a
// person: see personalKey for the whole rule).
func DefaultRedact() []string { return slices.Clone(defaultRedact) }

// redactor holds a compiled redact list: the default key patterns and
// value detectors, a route's bare keys (matched anywhere) and its paths
// (matched from the event's root).
type redactor struct {
	keys  map[string]bool
	paths [][]string
}

// checkPath checks a dotted path from config (fields:, redact:,
// untrusted:).
func checkPath(p string) error {
	if strings.TrimSpace(p) != p || p == "" {
		return fmt.Errorf("path %q: remove the surrounding spaces or the empty entry", p)
	}
	if slices.Contains(strings.Split(p, "."), "") {
		return fmt.Errorf("path %q has an empty segment: write segments separated by single dots, like data.object.amount", p)
	}
	return nil
}

// compilePaths compiles a list of bare keys and dotted paths (redact:,
// untrusted:). A path under data.object also applies to
// data.previous_attributes, which holds earlier values of the same
// fields.
func compilePaths(what string, entries []string) (keys map[string]bool, paths [][]string, err error) {
	keys = map[string]bool{}
	for _, e := range entries {
		if err := checkPath(e); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", what, err)
		}
		if !strings.Contains(e, ".") {
			if e == "*" {
				return nil, nil, fmt.Errorf(`%s: "*" alone would cover the whole event: name keys or paths`, what)
			}
			keys[e] = true
			continue
		}
		segs := strings.Split(e, ".")
		paths = append(paths, segs)
		if len(segs) > 2 && segs[0] == "data" && segs[1] == "object" {
			paths = append(paths, append([]string{"data", "previous_attributes"}, segs[2:]...))
		}
	}
	return keys, paths, nil
}

// newRedactor compiles the default rules plus extra.
func newRedactor(extra []string) (*redactor, error) {
	keys, paths, err := compilePaths("redact", extra)
	if err != nil {
		return nil, err
	}
	return &redactor{keys: keys, paths: paths}, nil
}

// apply replaces, in place, with Redacted:
//
//   - the values under personal keys (personalKey) and under the route's
//     keys and paths; values that carry nothing (null, "", {}, []) and
//     booleans under personal keys are left as they are, so a prompt does
//     not claim a value exists where none was sent;
//   - every secret, email, phone number, IP address and card number inside
//     a string or an object key (scrub);
//   - every other occurrence, in any string of the same document, of a
//     value the first rule took out (echo): a description "Order for
//     Jenny Rosen" next to billing_details.name "Jenny Rosen".
//
// It reports whether anything changed.
func (r *redactor) apply(root *node) bool {
	var taken []string
	changed := r.walk(root, 0, r.paths, "", &taken)
	echo := echoPattern(taken)
	if scrubTree(root, echo) {
		changed = true
	}
	return changed
}

// walk redacts the members of n by key and path; parent is the key n
// sits under (for an array, the array's key) and cands the route paths
// still matching at depth. The strings it takes out are added to taken.
func (r *redactor) walk(n *node, depth int, cands [][]string, parent string, taken *[]string) bool {
	if n.kind != kindObject && n.kind != kindArray {
		return false
	}
	changed := false
	kind := ""
	if n.kind == kindObject {
		kind = n.get("object").text()
	}
	for i, child := range n.vals {
		var seg string
		if n.kind == kindObject {
			seg = n.keys[i]
		} else if len(cands) > 0 {
			seg = strconv.Itoa(i)
		}
		var next [][]string
		hit := n.kind == kindObject && (r.keys[seg] || personalKey(seg, parent, kind) && child.kind != kindBool)
		for _, p := range cands {
			if p[depth] != seg && p[depth] != "*" {
				continue
			}
			if len(p) == depth+1 {
				hit = true
			} else {
				next = append(next, p)
			}
		}
		if hit {
			if !child.isEmpty() && !(child.kind == kindString && child.str == Redacted) {
				collectStrings(child, seg, taken)
				n.vals[i] = &node{kind: kindString, str: Redacted}
				changed = true
			}
			continue
		}
		childParent := parent
		if n.kind == kindObject {
			childParent = seg
		}
		if r.walk(child, depth+1, next, childParent, taken) {
			changed = true
		}
	}
	return changed
}

// collectStrings adds the strings of n, and the text of its numbers, to
// out; key is the key n sits under. The parts of an address that do not
// identify anyone alone (city, state, country) are left out.
func collectStrings(n *node, key string, out *[]string) {
	switch n.kind {
	case kindString, kindNumber:
		if key != "city" && key != "state" && key != "country" {
			*out = append(*out, n.str)
		}
	case kindObject:
		for i, v := range n.vals {
			collectStrings(v, n.keys[i], out)
		}
	case kindArray:
		for _, v := range n.vals {
			collectStrings(v, key, out)
		}
	}
}

// echoPattern matches the values of taken that can be told apart from
// ordinary words, as whole words, in any case; nil when there are none.
// A value qualifies with 5 bytes or more (trimmed) and something besides
// lower-case letters and underscores: "Jenny Rosen", "jr@example.org" and
// "90210" do, an enum or a placeholder such as "phone" does not.
func echoPattern(taken []string) *regexp.Regexp {
	var alts []string
	seen := map[string]bool{}
	for _, v := range taken {
		v = strings.TrimSpace(v)
		if len(v) < 5 || v == Redacted || seen[strings.ToLower(v)] || strings.Trim(v, "abcdefghijklmnopqrstuvwxyz_") == "" {
			continue
		}
		seen[strings.ToLower(v)] = true
		q := regexp.QuoteMeta(v)
		if isWordByte(v[0]) {
			q = `\b` + q
		}
		if isWordByte(v[len(v)-1]) {
			q += `\b`
		}
		alts = append(alts, q)
	}
	if len(alts) == 0 {
		return nil
	}
	// Longest first, so that "Jenny Rosen" goes before "Jenny".
	slices.SortFunc(alts, func(a, b string) int { return len(b) - len(a) })
	re, err := regexp.Compile(`(?i)` + strings.Join(alts, "|"))
	if err != nil { // cannot happen: every alternative is quoted
		return nil
	}
	return re
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// scrubTree applies scrub, and echo when it is not nil, to every string
// and object key under n (n included).
func scrubTree(n *node, echo *regexp.Regexp) bool {
	clean := func(s string) (string, bool) {
		out, changed := scrub(s)
		if echo != nil && echo.MatchString(out) {
			out, changed = echo.ReplaceAllLiteralString(out, Redacted), true
		}
		return out, changed
	}
	changed := false
	switch n.kind {
	case kindString:
		if out, ok := clean(n.str); ok {
			n.str, changed = out, true
		}
	case kindObject, kindArray:
		for i, v := range n.vals {
			if n.kind == kindObject {
				if out, ok := clean(n.keys[i]); ok { // a key a customer wrote (metadata)
					n.keys[i], changed = out, true
				}
			}
			if scrubTree(v, echo) {
				changed = true
			}
		}
	}
	return changed
}

// Redact returns payload, a JSON document (normally a Stripe event), as
// compact JSON with personal data and secrets replaced by "[redacted]":
// the values under personal keys (personalKey; DefaultRedact lists the
// plain ones), every secret, email address, phone number, IP address and
// Luhn-valid card number inside a string (scrub), and the values under
// extra. An entry of extra without a dot is a key name matched at any
// depth; one with dots is a path from the root, where "*" matches any one
// key or array index and a number an array index
// (data.object.lines.data.*.description). Paths under data.object also
// apply to data.previous_attributes. Key order and number text are kept.
func Redact(payload []byte, extra []string) ([]byte, error) {
	r, err := newRedactor(extra)
	if err != nil {
		return nil, err
	}
	root, err := parseTree(payload)
	if err != nil {
		return nil, fmt.Errorf("redact: parse JSON: %w", err)
	}
	r.apply(root)
	return root.json(), nil
}
