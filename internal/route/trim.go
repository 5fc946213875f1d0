package route

import (
	"slices"
	"strings"
)

// trimValue removes, in place, what a model cannot use from a Stripe
// object before it goes into the default prompt, and reports whether n
// itself carries nothing (its parent then drops it). The rules are about
// the shape of Stripe's API, not about particular event types:
//
//   - Unset values: null, "", {} and [] under object keys, and objects
//     that end up empty. Stripe sends every field of an object, set or
//     not; most are null. (Array elements are kept: position can matter.)
//   - Type tags: "object": "charge" and the like. The top-level type is
//     named in the prompt; nested ones repeat their id prefix.
//   - "livemode": the event's mode, shown once in the prompt, repeated in
//     every nested object.
//   - List envelopes: a list object {"object":"list","data":[…],
//     "has_more":false,"total_count":…,"url":"/v1/…"} becomes its data
//     array; when has_more is true only the url goes.
//   - Links: strings starting with http:// or https:// (receipt_url,
//     hosted_invoice_url, invoice_pdf, doc_url, …). The model cannot open
//     them and they are long opaque tokens.
//   - Back-references: a string equal to the id of an enclosing object
//     (a line item's "invoice", a subscription item's "subscription").
//   - Legacy duplicates: a "plan" next to a "price" with the same id (the
//     plan is the older view of the same price), and "x_decimal" next to
//     an "x" with the same value.
//   - Switched-off features: objects with "enabled": false or "status":
//     "disabled" or "unavailable", and {"used": false}.
//   - Configuration: keys ending in _settings, _options or
//     _configuration_details, and "rendering": how Stripe is set up to
//     behave next time (PDF page size, retry settings, 3DS preference),
//     not what happened.
//   - Variant tags: a "type" naming a sibling key, as in Stripe's
//     {"type":"card","card":{…}}; the sibling key says it.
//   - Processor plumbing (plumbingKeys): ledger and card-network
//     identifiers and numbering counters that only Stripe or the network
//     act on.
//
// Nothing under "metadata" is touched except unset values: it is the
// merchant's own data. A route's fields: shows any path untrimmed.
func trimValue(n *node, inMetadata bool, ids ...string) (drop bool) {
	switch n.kind {
	case kindNull:
		return true
	case kindString:
		if n.str == "" {
			return true
		}
		return !inMetadata && (strings.HasPrefix(n.str, "https://") || strings.HasPrefix(n.str, "http://"))
	case kindArray:
		for _, v := range n.vals {
			trimValue(v, inMetadata, ids...)
		}
		return len(n.vals) == 0
	case kindObject:
		if inMetadata {
			return trimMembers(n, func(string, *node) bool { return false }, true, ids)
		}
		if n.get("object").text() == "list" {
			if data := n.get("data"); data != nil && data.kind == kindArray {
				if more := n.get("has_more"); more == nil || more.kind != kindBool || !more.b {
					*n = *data
					return trimValue(n, false, ids...)
				}
			}
			n.drop("url")
		}
		if id := n.get("id").text(); id != "" {
			ids = append(slices.Clip(ids), id)
		}
		price := n.get("price").get("id").text()
		noise := func(k string, v *node) bool {
			switch {
			case k == "object" && v.kind == kindString,
				k == "livemode" && v.kind == kindBool,
				k == "rendering",
				strings.HasSuffix(k, "_settings"),
				strings.HasSuffix(k, "_options"),
				strings.HasSuffix(k, "_configuration_details"),
				k == "plan" && price != "" && v.get("id").text() == price,
				k == "type" && v.kind == kindString && v.str != "type" && n.get(v.str) != nil,
				plumbingKeys[k],
				k != "id" && v.kind == kindString && slices.Contains(ids, v.str):
				return true
			}
			if base, ok := strings.CutSuffix(k, "_decimal"); ok && v.kind == kindString {
				if b := n.get(base); b != nil && b.kind == kindNumber && b.str == v.str {
					return true
				}
			}
			return false
		}
		if trimMembers(n, noise, false, ids) {
			return true
		}
		return switchedOff(n)
	}
	return false
}

// plumbingKeys are dropped by trimValue: balance_transaction (the ledger
// entry; its amounts are on the object), network_transaction_id and
// authorization_code (card-network references), regulated_status (the
// card's interchange regulation), webhooks_delivered_at (delivery
// bookkeeping), invoice_prefix and next_invoice_sequence (invoice
// numbering counters).
var plumbingKeys = map[string]bool{
	"balance_transaction":    true,
	"network_transaction_id": true,
	"authorization_code":     true,
	"regulated_status":       true,
	"webhooks_delivered_at":  true,
	"invoice_prefix":         true,
	"next_invoice_sequence":  true,
}

// trimMembers drops the members of object n that noise picks or that
// trim to nothing, and reports whether n ended up empty.
func trimMembers(n *node, noise func(string, *node) bool, inMetadata bool, ids []string) bool {
	var keys []string
	var vals []*node
	for i, k := range n.keys {
		v := n.vals[i]
		if noise(k, v) || trimValue(v, inMetadata || k == "metadata", ids...) {
			continue
		}
		keys, vals = append(keys, k), append(vals, v)
	}
	n.keys, n.vals = keys, vals
	return len(n.vals) == 0
}

// drop removes every member named key from object n.
func (n *node) drop(key string) {
	for i := len(n.keys) - 1; i >= 0; i-- {
		if n.keys[i] == key {
			n.keys = slices.Delete(n.keys, i, i+1)
			n.vals = slices.Delete(n.vals, i, i+1)
		}
	}
}

// switchedOff reports whether an object describes a feature that is off
// or not available: "enabled": false, "status": "disabled" or
// "unavailable", or nothing but "used": false.
func switchedOff(n *node) bool {
	if e := n.get("enabled"); e != nil && e.kind == kindBool && !e.b {
		return true
	}
	if s := n.get("status").text(); s == "disabled" || s == "unavailable" {
		return true
	}
	return len(n.vals) == 1 && n.keys[0] == "used" && n.vals[0].kind == kindBool && !n.vals[0].b
}
