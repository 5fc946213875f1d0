// Package secret keeps credentials out of what agenthook prints, logs and
// journals. It is a leaf package (standard library only) so that every
// place an untrusted or credential-bearing text becomes a message can use
// it: Scrub for what an upstream echoes back (a model provider's or an HTTP
// tool's error body), RedactURL for a store URL.
package secret

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// Mask replaces a scrubbed credential.
const Mask = "[scrubbed]"

// minKnown is the shortest known value Scrub replaces: shorter ones (a
// header such as "X-Tenant: a") would shred ordinary text.
const minKnown = 8

var patterns = []struct {
	re   *regexp.Regexp
	repl string
}{
	// A header or field that carries a credential, in any of the forms an
	// echo takes: "Authorization: Bearer x", "x-api-key=x",
	// {"authorization":"Basic x"}, api_key: 'x'. The scheme word stays so
	// the message still says what was sent.
	{regexp.MustCompile(`(?i)((?:proxy-)?authorization|x-api-key|api[-_]?key|access[-_]?token|client[-_]?secret|password)(\\?["']?\s*[:=]\s*\\?["']?)((?:bearer|basic|token|digest)\s+)?[^\s"',;&}\]\\]+`), "${1}${2}${3}" + Mask},
	// Bearer tokens on their own.
	{regexp.MustCompile(`(?i)\b(bearer\s+)[A-Za-z0-9._~+/=:-]+`), "${1}" + Mask},
	// Anthropic (sk-ant-…) and OpenAI (sk-…, sk-proj-…) keys.
	{regexp.MustCompile(`\bsk-[A-Za-z0-9_-]{6,}`), Mask},
	// Stripe secret and restricted keys, webhook signing secrets.
	{regexp.MustCompile(`\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]+`), Mask},
	{regexp.MustCompile(`\brk_[A-Za-z0-9_]{6,}`), Mask},
	{regexp.MustCompile(`\bwhsec_[A-Za-z0-9+/=_-]+`), Mask},
	// A password in a URL's user info: scheme://user:PASSWORD@host.
	{regexp.MustCompile(`(\b[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@`), "${1}xxxxx@"},
	// Credentials in a query string.
	{regexp.MustCompile(`(?i)([?&;](?:password|passwd|pwd|sslpassword|secret|token|access_token|api_key|apikey|key|sig|signature)=)[^&\s"'#]+`), "${1}xxxxx"},
}

// Scrub returns s with the credentials it can recognise replaced by
// [scrubbed]: Authorization, x-api-key and similar header or field values,
// Bearer tokens, Anthropic and OpenAI keys (sk-ant-…, sk-…), Stripe keys
// (sk_live_…, sk_test_…, rk_…), webhook secrets (whsec_…), and passwords in
// URLs and query strings. Each of known (a configured key or header value
// the caller sent, at least 8 bytes) is replaced wherever it appears, so an
// echo of a credential with no recognisable shape is caught too.
//
// Use it wherever text an upstream sent back becomes a log line, an
// error, a journal entry or a tool result.
func Scrub(s string, known ...string) string {
	for _, k := range known {
		if len(k) >= minKnown && strings.Contains(s, k) {
			s = strings.ReplaceAll(s, k, Mask)
		}
	}
	for _, p := range patterns {
		s = p.re.ReplaceAllString(s, p.repl)
	}
	return s
}

// sensitiveParams are query parameters of a store URL whose values are
// credentials (pgx reads password and sslpassword from the query).
var sensitiveParams = []string{"password", "passwd", "pwd", "sslpassword", "secret", "token", "api_key", "apikey", "key"}

// RedactURL returns loc safe to print: a URL's password becomes xxxxx
// (url.URL.Redacted), and so do the values of query parameters such as
// password= and sslpassword=. Text that is not a URL (a SQLite file path)
// is returned as it is; a URL that does not parse is scrubbed as text.
func RedactURL(loc string) string {
	if !strings.Contains(loc, "://") {
		return loc
	}
	u, err := url.Parse(loc)
	if err != nil {
		return Scrub(loc)
	}
	if u.RawQuery != "" {
		q := u.Query()
		changed := false
		for k := range q {
			for _, p := range sensitiveParams {
				if strings.EqualFold(k, p) {
					q[k] = []string{"xxxxx"}
					changed = true
				}
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	return u.Redacted()
}

// credentialHeaders are request headers whose values are credentials.
var credentialHeaders = []string{"Authorization", "Proxy-Authorization", "X-Api-Key", "Api-Key"}

// RequestCredentials returns the credentials r carried (the values of its
// Authorization, X-Api-Key and similar headers, and the token after an
// Authorization scheme), to pass to Scrub as known values. A nil r has none.
func RequestCredentials(r *http.Request) []string {
	if r == nil {
		return nil
	}
	var out []string
	for _, name := range credentialHeaders {
		for _, v := range r.Header.Values(name) {
			out = append(out, v)
			if _, tok, ok := strings.Cut(v, " "); ok {
				out = append(out, strings.TrimSpace(tok))
			}
		}
	}
	return out
}
