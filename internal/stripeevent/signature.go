// Package stripeevent verifies the Stripe-Signature header of incoming
// webhook deliveries, parses the event envelope fields agenthook routes on,
// and embeds realistic event fixtures used by trigger, demo and load-test
// tooling.
//
// The package deliberately does not use stripe-go's webhook.ConstructEvent:
// by default that function rejects events whose api_version belongs to a
// different release train than the SDK's (e.g. an endpoint still on basil
// while stripe-go expects dahlia), which would make agenthook drop valid,
// correctly signed deliveries after an SDK upgrade. agenthook only needs
// the envelope, so it verifies the signature itself, never looks at
// api_version, and leaves the raw body untouched for downstream consumers.
package stripeevent

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// DefaultTolerance is the maximum allowed distance between the signed
// timestamp and the local clock. It matches Stripe's own libraries.
const DefaultTolerance = 5 * time.Minute

// SecretPrefix starts every Stripe endpoint signing secret.
const SecretPrefix = "whsec_"

// SignatureHeader is the HTTP header carrying Stripe's webhook signature.
const SignatureHeader = "Stripe-Signature"

const (
	// maxHeaderLen bounds the work done on an attacker-controlled header.
	// Real Stripe headers are well under 1 KiB even during secret rotation.
	maxHeaderLen = 8 << 10
	// maxV1 caps the number of v1 signatures kept from one header so a
	// crafted header cannot multiply the comparisons done per request.
	maxV1 = 16
	// schemeV1 is the only signature scheme Stripe currently uses for
	// webhooks; v0 (and anything unknown) is ignored.
	schemeV1 = "v1"
)

// Signature verification errors. Use errors.Is to test for them; returned
// errors may wrap them with extra, non-secret detail.
var (
	ErrNoSecrets       = errors.New("no webhook secret configured: set STRIPE_WEBHOOK_SECRET to the endpoint's signing secret (whsec_...)")
	ErrMissingHeader   = errors.New("missing " + SignatureHeader + " header: the request was not sent by Stripe (or a proxy dropped the header)")
	ErrMalformedHeader = errors.New("malformed " + SignatureHeader + " header: expected t=<unix seconds>,v1=<hex signature>")
	ErrNoV1            = errors.New("no v1 signature in " + SignatureHeader + " header: only the v1 (HMAC-SHA256) scheme is accepted")
	ErrNoMatch         = errors.New("no signature matches: check STRIPE_WEBHOOK_SECRET is this endpoint's signing secret (whsec_...) and that no proxy modified the request body")
	ErrTooOld          = errors.New("signature timestamp is too old: check the server clock (NTP); a stale timestamp can also mean a replayed request")
	ErrTooNew          = errors.New("signature timestamp is in the future: check the server clock (NTP); this can also mean a forged or replayed request")
)

// Verifier checks a Stripe-Signature header against the raw request body.
//
// A Verifier is safe for concurrent use as long as its fields are not
// modified while Verify runs.
type Verifier struct {
	// Secrets lists every configured signing secret. Several secrets are
	// accepted so that an endpoint secret can be rolled without downtime:
	// during a roll Stripe sends one v1 signature per active secret, and
	// during a local config change agenthook may know both old and new.
	// Each v1 value is checked against each secret. Blank secrets, and
	// "whsec_" alone, are ignored because a key everyone knows would let
	// anyone forge signatures.
	Secrets []string
	// Tolerance is the maximum |now - t| accepted. Zero (or negative)
	// means DefaultTolerance. Future timestamps are rejected too: a
	// timestamp far ahead of our clock is either clock skew or forgery,
	// and accepting it would extend the replay window.
	Tolerance time.Duration
	// Now returns the current time. Nil means time.Now; tests inject a
	// fixed clock.
	Now func() time.Time
}

// Verify reports whether header carries a valid v1 signature of payload by
// one of v.Secrets with a timestamp inside the tolerance window. payload
// must be the exact request body bytes: any re-serialisation (even
// whitespace changes) invalidates the signature. Verify never modifies
// payload and does not look at the event's api_version.
//
// The timestamp is checked before any HMAC is computed so that stale or
// replayed requests are rejected cheaply.
func (v *Verifier) Verify(payload []byte, header string) error {
	if v == nil {
		return ErrNoSecrets
	}
	secrets := usableSecrets(v.Secrets)
	if len(secrets) == 0 {
		return ErrNoSecrets
	}

	h, err := ParseHeader(header)
	if err != nil {
		return err
	}

	tolerance := v.Tolerance
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	at := now()
	if old, ahead := outside(at, h.Timestamp, tolerance); old {
		return fmt.Errorf("%w: signed %s ago, tolerance is %s", ErrTooOld, distance(at.Unix(), h.Timestamp), tolerance)
	} else if ahead {
		return fmt.Errorf("%w: signed %s ahead of local time, tolerance is %s", ErrTooNew, distance(h.Timestamp, at.Unix()), tolerance)
	}

	for _, secret := range secrets {
		expected := computeSignature(payload, secret, h.Timestamp)
		for _, sig := range h.V1 {
			if hmac.Equal(expected, sig) {
				return nil
			}
		}
	}
	return fmt.Errorf("%w (%d signature(s) checked against %d secret(s))", ErrNoMatch, len(h.V1), len(secrets))
}

// outside reports whether the signing time ts (Unix seconds) is more than
// tolerance before now (old) or after it (ahead). It works in whole
// seconds and nanoseconds apart, never in a time.Duration of the distance:
// that saturates at about 292 years, and the negation of a saturated
// distance overflows, which let a timestamp 293 years ahead through.
func outside(now time.Time, ts int64, tolerance time.Duration) (old, ahead bool) {
	tolSec, tolNs := int64(tolerance/time.Second), int64(tolerance%time.Second)
	nowSec, nowNs := now.Unix(), int64(now.Nanosecond())
	// now - ts = ageSec s + nowNs ns, saturated.
	ageSec := subSat(nowSec, ts)
	if ageSec > tolSec || (ageSec == tolSec && nowNs > tolNs) {
		return true, false
	}
	// ts - now = aheadSec s + aheadNs ns, with 0 <= aheadNs < 1 s.
	aheadSec, aheadNs := subSat(ts, nowSec), int64(0)
	if nowNs > 0 {
		aheadSec, aheadNs = subSat(aheadSec, 1), int64(time.Second)-nowNs
	}
	return false, aheadSec > tolSec || (aheadSec == tolSec && aheadNs > tolNs)
}

// subSat returns a - b, saturated to the int64 range.
func subSat(a, b int64) int64 {
	d := a - b
	if (b > 0 && d > a) || (b < 0 && d < a) {
		if b > 0 {
			return math.MinInt64
		}
		return math.MaxInt64
	}
	return d
}

// distance describes how far later a is than b, both Unix seconds.
func distance(a, b int64) string {
	d := subSat(a, b)
	if d > int64(math.MaxInt64/time.Second) {
		return "more than 292 years"
	}
	return (time.Duration(d) * time.Second).String()
}

// usableSecrets drops blank secrets, and "whsec_" with nothing after it:
// a key everyone knows would let anyone sign. The remaining secrets are
// used verbatim (no trimming): the whole string, including the whsec_
// prefix, is the HMAC key.
func usableSecrets(secrets []string) []string {
	out := make([]string, 0, len(secrets))
	for _, s := range secrets {
		if t := strings.TrimSpace(s); t != "" && t != SecretPrefix {
			out = append(out, s)
		}
	}
	return out
}

// Header is a parsed Stripe-Signature header.
type Header struct {
	// Timestamp is the signing time in Unix seconds (the t= element).
	Timestamp int64
	// V1 holds the hex-decoded v1 signatures, in header order.
	V1 [][]byte
}

// ParseHeader parses a Stripe-Signature header of the form
// "t=<unix>,v1=<hex>[,v1=<hex>...][,v0=<hex>]".
//
// v0 and unknown schemes are ignored, as are v1 values that are not valid
// hex (the stripe CLI forwards placeholder values such as "hunter2"). If no
// usable v1 value remains the error is ErrNoV1. Headers longer than 8 KiB,
// elements without '=', and missing, repeated or non-numeric t values are
// ErrMalformedHeader. At most 16 v1 values are kept.
func ParseHeader(header string) (Header, error) {
	var h Header
	if strings.TrimSpace(header) == "" {
		return h, ErrMissingHeader
	}
	if len(header) > maxHeaderLen {
		return h, fmt.Errorf("%w: header is %d bytes, limit is %d", ErrMalformedHeader, len(header), maxHeaderLen)
	}

	haveT := false
	for elem := range strings.SplitSeq(header, ",") {
		key, value, ok := strings.Cut(strings.TrimSpace(elem), "=")
		if !ok {
			return Header{}, fmt.Errorf("%w: element without '='", ErrMalformedHeader)
		}
		switch key {
		case "t":
			if haveT {
				return Header{}, fmt.Errorf("%w: repeated t element", ErrMalformedHeader)
			}
			ts, err := parseTimestamp(value)
			if err != nil {
				return Header{}, fmt.Errorf("%w: %w", ErrMalformedHeader, err)
			}
			h.Timestamp, haveT = ts, true
		case schemeV1:
			if len(h.V1) >= maxV1 {
				continue
			}
			sig, err := hex.DecodeString(value)
			if err != nil || len(sig) == 0 {
				continue // placeholder or garbage; another v1 may still match
			}
			h.V1 = append(h.V1, sig)
		default:
			// v0 and future schemes: ignored by design.
		}
	}
	if !haveT {
		return Header{}, fmt.Errorf("%w: no t (timestamp) element", ErrMalformedHeader)
	}
	if len(h.V1) == 0 {
		return Header{}, ErrNoV1
	}
	return h, nil
}

// parseTimestamp accepts only plain decimal digits, rejecting signs,
// spaces and other forms strconv would otherwise tolerate.
func parseTimestamp(s string) (int64, error) {
	if s == "" {
		return 0, errors.New("empty t value")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("t is not a non-negative integer")
		}
	}
	ts, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errors.New("t is out of range")
	}
	return ts, nil
}

// computeSignature returns HMAC-SHA256(secret, "<t>.<payload>").
func computeSignature(payload []byte, secret string, t int64) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	var buf [20]byte
	mac.Write(strconv.AppendInt(buf[:0], t, 10))
	mac.Write([]byte{'.'})
	mac.Write(payload)
	return mac.Sum(nil)
}

// Sign returns a Stripe-Signature header value "t=<unix>,v1=<hex>" for
// payload signed with secret at time t. It is meant for tests, demos and
// the trigger/load-test tools that impersonate Stripe.
func Sign(payload []byte, secret string, t time.Time) string {
	return SignAll(payload, []string{secret}, t)
}

// SignAll is like Sign but adds one v1 signature per secret, in order,
// mimicking what Stripe sends while an endpoint secret is being rolled.
func SignAll(payload []byte, secrets []string, t time.Time) string {
	ts := t.Unix()
	var b strings.Builder
	b.Grow(len("t=,") + 20 + len(secrets)*(len("v1=,")+2*sha256.Size))
	b.WriteString("t=")
	b.WriteString(strconv.FormatInt(ts, 10))
	for _, secret := range secrets {
		b.WriteString(",v1=")
		b.WriteString(hex.EncodeToString(computeSignature(payload, secret, ts)))
	}
	return b.String()
}
