package route

import (
	"net/netip"
	"regexp"
	"strings"
)

// The value detectors of the default redaction. They run on every string
// of an event and of a tool result (object keys included), wherever it
// sits, so personal data a customer typed into free text (a description,
// metadata, a cancellation comment, dispute evidence) or a tool echoed
// back is taken out too. Each match, not the whole string, becomes
// [redacted]:
//
//   - secrets: Stripe secret and restricted keys (sk_…, rk_…), webhook
//     signing secrets (whsec_…), client secrets (pi_…_secret_…,
//     seti_…_secret_…), ephemeral keys (ek_live_…, ek_test_…), bearer
//     tokens ("Bearer …"), sk-… API keys and JSON web tokens;
//   - email addresses;
//   - card numbers: 13 to 19 digits, bare or in groups of 3 to 6 joined
//     by single spaces or dashes, that pass the Luhn check;
//   - IP addresses, v4 and v6 (what netip.ParseAddr accepts);
//   - phone numbers in the shapes people write them: international
//     (+ and 8 to 15 digits, with spaces, dots, dashes or parentheses),
//     North American ((415) 555-0100, 415-555-0100, 415.555.0100) and
//     national with a trunk 0 (020 7946 0958, 06 12 34 56 78).
//
// Bare runs of digits are not phone numbers (timestamps, order numbers
// and amounts are written that way), and JSON numbers are never touched.
var (
	secretRe = regexp.MustCompile(`(?i:\bbearer\s+[A-Za-z0-9._~+/=-]+)` +
		`|\b(?:sk|rk)_[A-Za-z0-9_]{6,}` +
		`|\bwhsec_[A-Za-z0-9+/=_-]*` +
		`|\bek_(?:live|test)_[A-Za-z0-9_]+` +
		`|\b[A-Za-z0-9]+_[A-Za-z0-9_]*_secret_[A-Za-z0-9_]+` +
		`|\bsk-[A-Za-z0-9_-]{16,}` +
		`|\beyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]+`)
	emailRe = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}`)
	cardRe  = regexp.MustCompile(`\b(?:\d{13,19}|\d{3,6}(?:[ -]\d{3,6}){2,5})\b`)
	ipv4Re  = regexp.MustCompile(`\b(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\b`)
	ipv6Re  = regexp.MustCompile(`[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*[0-9A-Fa-f:](?:%[0-9A-Za-z]+)?`)
	phoneRe = regexp.MustCompile(`\+\(?\d{1,4}\)?(?:[ .\-]?\(?\d{1,5}\)?){1,6}` +
		`|(?:\(\d{3}\) ?|\b\d{3}[-. ])\d{3}[-. ]\d{4}\b` +
		`|\b0\d{1,4}[ -]\d{3,4}[ -]?\d{3,4}\b` +
		`|\b0\d(?:[ .]\d{2}){4}\b`)
)

// scrub returns s with every detected secret, email address, card number,
// IP address and phone number replaced by Redacted, and whether anything
// was.
func scrub(s string) (string, bool) {
	changed := false
	// replace redacts the matches of re that fix accepts, over the span
	// fix returns (nil fix: every match, as found).
	replace := func(re *regexp.Regexp, fix func(s string, i, j int) (int, int, bool)) {
		locs := re.FindAllStringIndex(s, -1)
		if locs == nil {
			return
		}
		var b strings.Builder
		last, n := 0, 0
		for _, l := range locs {
			i, j, ok := l[0], l[1], true
			if fix != nil {
				i, j, ok = fix(s, i, j)
			}
			if !ok || i < last {
				continue
			}
			b.WriteString(s[last:i])
			b.WriteString(Redacted)
			last, n = j, n+1
		}
		if n == 0 {
			return
		}
		b.WriteString(s[last:])
		s, changed = b.String(), true
	}
	// Each detector runs only where its shape can be: cheap counts first.
	if strings.ContainsAny(s, "_-") || strings.Contains(s, "eyJ") || strings.Contains(strings.ToLower(s), "bearer") {
		replace(secretRe, nil)
	}
	if strings.IndexByte(s, '@') >= 0 {
		replace(emailRe, nil)
	}
	nd := digits(s)
	if nd >= 13 {
		replace(cardRe, func(s string, i, j int) (int, int, bool) { return i, j, luhn(s[i:j]) })
	}
	if strings.Count(s, ":") >= 2 {
		replace(ipv6Re, ipv6Fix)
	}
	if nd >= 4 && strings.Count(s, ".") >= 3 {
		replace(ipv4Re, ipv4Fix)
	}
	if nd >= 8 {
		replace(phoneRe, phoneFix)
	}
	return s, changed
}

// ipv6Fix accepts an IPv6 candidate; a colon before the address
// ("ip:2001:db8::1") is not part of it.
func ipv6Fix(s string, i, j int) (int, int, bool) {
	if strings.HasPrefix(s[i:j], ":") && !strings.HasPrefix(s[i:j], "::") {
		i++
	}
	return i, j, isIPv6(s[i:j])
}

// ipv4Fix accepts an IPv4 candidate that is not part of a longer dotted
// run such as a version 1.2.3.4.5.
func ipv4Fix(s string, i, j int) (int, int, bool) {
	longer := i > 0 && s[i-1] == '.' || j+1 < len(s) && s[j] == '.' && isDigit(s[j+1])
	return i, j, !longer
}

// phoneFix accepts a phone candidate with the digits a phone number has
// (8 to 15 after a +, 9 to 12 otherwise) and no digit right around it.
func phoneFix(s string, i, j int) (int, int, bool) {
	if j < len(s) && isDigit(s[j]) || i > 0 && isDigit(s[i-1]) {
		return i, j, false
	}
	n := digits(s[i:j])
	if s[i] == '+' {
		return i, j, n >= 8 && n <= 15
	}
	return i, j, n >= 9 && n <= 12
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func digits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			n++
		}
	}
	return n
}

// luhn reports whether the digits of m, 13 to 19 of them, pass the Luhn
// check that every payment card number passes.
func luhn(m string) bool {
	var ds []int
	for i := 0; i < len(m); i++ {
		if isDigit(m[i]) {
			ds = append(ds, int(m[i]-'0'))
		}
	}
	if len(ds) < 13 || len(ds) > 19 {
		return false
	}
	sum := 0
	for i := range ds {
		d := ds[len(ds)-1-i]
		if i%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// isIPv6 reports whether m is an IPv6 address with at least one hex digit
// (so that "::" in prose is not one).
func isIPv6(m string) bool {
	if zone := strings.IndexByte(m, '%'); zone >= 0 {
		m = m[:zone]
	}
	if !strings.ContainsAny(m, "0123456789abcdefABCDEF") || strings.Count(m, ":") < 2 {
		return false
	}
	a, err := netip.ParseAddr(m)
	return err == nil && a.Is6()
}
