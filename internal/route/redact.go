package route

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Redacted is what a redacted value becomes.
const Redacted = "[redacted]"

// defaultRedact lists the keys whose values are always redacted, wherever
// they appear in an event: they carry personal data (emails, names, phone
// numbers, postal addresses, IP addresses, tax ids), data that identifies
// a card across merchants (fingerprint) or a secret (client_secret). In
// the fixtures they sit in billing_details, customer_details, invoices'
// customer_* fields, customers, payment methods and dispute evidence.
// Whole sub-objects go: "address" covers line1, city, postal_code, ….
//
// Left visible on purpose: last4, brand, exp_month/exp_year and country
// (needed to tell a customer which card failed, and not enough to identify
// a person), ids (cus_…, pm_…; needed to act) and free text such as
// description and cancellation_details.comment (a decision may rest on
// it; name such keys under a route's redact: to hide them).
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

// DefaultRedact returns the key names that are always redacted, in
// addition to a route's redact: list.
func DefaultRedact() []string { return slices.Clone(defaultRedact) }

// redactor holds a compiled redact list: bare keys match anywhere, paths
// match from the event's root.
type redactor struct {
	keys  map[string]bool
	paths [][]string
}

// checkPath checks a dotted path from config (fields:, redact:).
func checkPath(p string) error {
	if strings.TrimSpace(p) != p || p == "" {
		return fmt.Errorf("path %q: remove the surrounding spaces or the empty entry", p)
	}
	if slices.Contains(strings.Split(p, "."), "") {
		return fmt.Errorf("path %q has an empty segment: write segments separated by single dots, like data.object.amount", p)
	}
	return nil
}

// newRedactor compiles the default keys plus extra. A path under
// data.object also applies to data.previous_attributes, which holds
// earlier values of the same fields.
func newRedactor(extra []string) (*redactor, error) {
	r := &redactor{keys: map[string]bool{}}
	for _, k := range defaultRedact {
		r.keys[k] = true
	}
	for _, e := range extra {
		if err := checkPath(e); err != nil {
			return nil, fmt.Errorf("redact: %w", err)
		}
		if !strings.Contains(e, ".") {
			if e == "*" {
				return nil, errors.New(`redact: "*" alone would redact the whole event: name keys or paths`)
			}
			r.keys[e] = true
			continue
		}
		segs := strings.Split(e, ".")
		r.paths = append(r.paths, segs)
		if len(segs) > 2 && segs[0] == "data" && segs[1] == "object" {
			r.paths = append(r.paths, append([]string{"data", "previous_attributes"}, segs[2:]...))
		}
	}
	return r, nil
}

// apply replaces, in place, the values under matching keys and paths with
// Redacted. Values that carry nothing (null, "", {}, []) are left as they
// are, so a prompt does not claim a value exists where none was sent.
func (r *redactor) apply(root *node) {
	r.walk(root, 0, r.paths)
}

func (r *redactor) walk(n *node, depth int, cands [][]string) {
	if n.kind != kindObject && n.kind != kindArray {
		return
	}
	for i, child := range n.vals {
		var seg string
		if n.kind == kindObject {
			seg = n.keys[i]
		} else if len(cands) > 0 {
			seg = strconv.Itoa(i)
		}
		var next [][]string
		hit := n.kind == kindObject && r.keys[seg]
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
			if !child.isEmpty() {
				n.vals[i] = &node{kind: kindString, str: Redacted}
			}
			continue
		}
		r.walk(child, depth+1, next)
	}
}

// Redact returns payload, a JSON document (normally a Stripe event), as
// compact JSON with the values under the default keys (DefaultRedact) and
// under extra replaced by "[redacted]". An entry of extra without a dot
// is a key name matched at any depth; one with dots is a path from the
// root, where "*" matches any one key or array index and a number an
// array index (data.object.lines.data.*.description). Paths under
// data.object also apply to data.previous_attributes. Key order and
// number text are kept.
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
