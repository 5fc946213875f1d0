package stripeevent

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v86/webhook"
)

const testSecret = "whsec_test_secret"

// fixedClock returns a clock frozen at t.
func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// signatureVector mirrors one entry of testdata/signature-vectors.json.
type signatureVector struct {
	Name               string            `json:"name"`
	Secret             string            `json:"secret"`
	SecretsAccepted    []string          `json:"secrets_accepted"`
	Timestamp          int64             `json:"timestamp"`
	Payload            *string           `json:"payload"`
	PayloadFile        string            `json:"payload_file"`
	PayloadBytes       int               `json:"payload_bytes"`
	PayloadSHA256      string            `json:"payload_sha256"`
	ExpectedV1         string            `json:"expected_v1"`
	ExpectedV1BySecret map[string]string `json:"expected_v1_by_secret"`
	Header             string            `json:"header"`
	Expect             string            `json:"expect"`
}

// vectorWant maps each vector name to the expected Verify result with the
// clock set to the vector's timestamp. A vector missing from this table
// fails the test, so new vectors must be classified explicitly.
var vectorWant = map[string]error{
	"inline_minimal_event_valid":              nil,
	"file_customer.created_valid":             nil,
	"file_invoice.payment_failed_valid":       nil,
	"file_charge.dispute.created_valid":       nil,
	"file_customer.created_two_v1_signatures": nil,
	"inline_minimal_event_tampered_payload":   ErrNoMatch,
	"inline_minimal_event_wrong_secret":       ErrNoMatch,
	"inline_minimal_event_v0_only":            ErrNoV1,
	"stripe_cli_dummy_header":                 ErrNoV1, // "hunter2" is not hex
	"malformed_header":                        ErrMalformedHeader,
}

func loadVectors(t *testing.T) []signatureVector {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "signature-vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		ComputedVectors []signatureVector `json:"computed_vectors"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("decoding vectors: %v", err)
	}
	if len(doc.ComputedVectors) < len(vectorWant) {
		t.Fatalf("got %d vectors, want at least %d", len(doc.ComputedVectors), len(vectorWant))
	}
	return doc.ComputedVectors
}

func (v signatureVector) payload(t *testing.T) []byte {
	t.Helper()
	var p []byte
	switch {
	case v.Payload != nil:
		p = []byte(*v.Payload)
	case v.PayloadFile != "":
		var err error
		if p, err = os.ReadFile(filepath.Join("fixtures", v.PayloadFile)); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("vector %s has no payload", v.Name)
	}
	if v.PayloadBytes != 0 && len(p) != v.PayloadBytes {
		t.Fatalf("payload is %d bytes, vector says %d", len(p), v.PayloadBytes)
	}
	if v.PayloadSHA256 != "" {
		if sum := sha256.Sum256(p); hex.EncodeToString(sum[:]) != v.PayloadSHA256 {
			t.Fatalf("payload sha256 mismatch: fixture bytes changed")
		}
	}
	return p
}

func (v signatureVector) secrets() []string {
	if len(v.SecretsAccepted) > 0 {
		return v.SecretsAccepted
	}
	return []string{v.Secret}
}

func TestComputedVectors(t *testing.T) {
	for _, vec := range loadVectors(t) {
		t.Run(vec.Name, func(t *testing.T) {
			want, ok := vectorWant[vec.Name]
			if !ok {
				t.Fatalf("unclassified vector %q (expect: %s)", vec.Name, vec.Expect)
			}
			if valid := strings.HasPrefix(vec.Expect, "valid"); valid != (want == nil) {
				t.Fatalf("table says err=%v but vector expects %q", want, vec.Expect)
			}
			payload := vec.payload(t)
			ts := vec.Timestamp
			if ts == 0 {
				ts = 123 // stripe-cli dummy header's t; keeps the clock out of the way
			}
			now := time.Unix(ts, 0)

			// Each accepted secret must verify on its own and together.
			sets := [][]string{vec.secrets()}
			if len(vec.SecretsAccepted) > 1 {
				for _, s := range vec.SecretsAccepted {
					sets = append(sets, []string{s})
				}
			}
			for _, secrets := range sets {
				v := &Verifier{Secrets: secrets, Now: fixedClock(now)}
				err := v.Verify(payload, vec.Header)
				if !errors.Is(err, want) || (want == nil) != (err == nil) {
					t.Errorf("Verify with %d secret(s) = %v, want %v", len(secrets), err, want)
				}
			}

			// Our signer reproduces the expected values.
			if vec.ExpectedV1 != "" && want == nil {
				if got := Sign(payload, vec.Secret, now); got != vec.Header {
					t.Errorf("Sign = %q, want %q", got, vec.Header)
				}
			}
			if len(vec.ExpectedV1BySecret) > 0 {
				if got := SignAll(payload, vec.SecretsAccepted, now); got != vec.Header {
					t.Errorf("SignAll = %q, want %q", got, vec.Header)
				}
				for secret, sig := range vec.ExpectedV1BySecret {
					if got, want := Sign(payload, secret, now), "t="+itoa(ts)+",v1="+sig; got != want {
						t.Errorf("Sign(%s) = %q, want %q", secret, got, want)
					}
				}
			}

			// With the real clock every vector whose header parses is
			// stale; header errors are reported before the clock check.
			wantReal := ErrTooOld
			if errors.Is(want, ErrMalformedHeader) || errors.Is(want, ErrNoV1) {
				wantReal = want
			}
			v := &Verifier{Secrets: vec.secrets()}
			if err := v.Verify(payload, vec.Header); !errors.Is(err, wantReal) {
				t.Errorf("Verify with real clock = %v, want %v", err, wantReal)
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func mustFixture(t testing.TB, eventType string) []byte {
	t.Helper()
	b, err := Fixture(eventType)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStripeGoInterop(t *testing.T) {
	now := time.Now()
	for _, typ := range FixtureTypes() {
		payload := mustFixture(t, typ)

		// stripe-go signed -> we verify.
		signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{
			Payload: payload, Secret: testSecret, Timestamp: now,
		})
		v := &Verifier{Secrets: []string{testSecret}}
		if err := v.Verify(payload, signed.Header); err != nil {
			t.Errorf("%s: Verify(stripe-go header) = %v", typ, err)
		}
		if got := Sign(payload, testSecret, now); got != signed.Header {
			t.Errorf("%s: Sign = %q, stripe-go = %q", typ, got, signed.Header)
		}

		// We sign -> stripe-go verifies.
		if err := webhook.ValidatePayload(payload, Sign(payload, testSecret, now), testSecret); err != nil {
			t.Errorf("%s: stripe-go rejected Sign output: %v", typ, err)
		}
		// Including the rotation form with two v1 values.
		header := SignAll(payload, []string{"whsec_old", testSecret}, now)
		if err := webhook.ValidatePayload(payload, header, testSecret); err != nil {
			t.Errorf("%s: stripe-go rejected SignAll output: %v", typ, err)
		}
	}

	// stripe-go's v0 scheme must not be accepted.
	payload := mustFixture(t, "customer.created")
	v0 := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{
		Payload: payload, Secret: testSecret, Timestamp: now, Scheme: "v0",
	})
	v := &Verifier{Secrets: []string{testSecret}}
	if err := v.Verify(payload, v0.Header); !errors.Is(err, ErrNoV1) {
		t.Errorf("Verify(v0 header) = %v, want ErrNoV1", err)
	}
}

func TestRotation(t *testing.T) {
	payload := mustFixture(t, "invoice.paid")
	now := time.Unix(1_786_000_000, 0)
	secrets := []string{"whsec_old", "whsec_current", "whsec_next"}
	v := &Verifier{Secrets: secrets, Now: fixedClock(now)}

	for _, s := range secrets {
		if err := v.Verify(payload, Sign(payload, s, now)); err != nil {
			t.Errorf("header signed by %s: %v", s, err)
		}
	}

	// Two v1 values, only the second one matches a configured secret.
	header := SignAll(payload, []string{"whsec_unknown", "whsec_next"}, now)
	if err := v.Verify(payload, header); err != nil {
		t.Errorf("second v1 matches: %v", err)
	}
	// Same, but with a non-hex placeholder first.
	header = "t=" + itoa(now.Unix()) + ",v1=hunter2," + strings.TrimPrefix(Sign(payload, "whsec_old", now), "t="+itoa(now.Unix())+",")
	if err := v.Verify(payload, header); err != nil {
		t.Errorf("placeholder then valid v1: %v", err)
	}

	if err := v.Verify(payload, Sign(payload, "whsec_unknown", now)); !errors.Is(err, ErrNoMatch) {
		t.Errorf("unknown secret: %v, want ErrNoMatch", err)
	}
	// A header signed with one secret must not verify against only another.
	only := &Verifier{Secrets: []string{"whsec_current"}, Now: fixedClock(now)}
	if err := only.Verify(payload, Sign(payload, "whsec_old", now)); !errors.Is(err, ErrNoMatch) {
		t.Errorf("old secret after rotation finished: %v, want ErrNoMatch", err)
	}
}

func TestNoSecrets(t *testing.T) {
	payload := []byte(`{"id":"evt_1","type":"x"}`)
	header := Sign(payload, "", time.Now())
	for _, secrets := range [][]string{nil, {}, {""}, {"", "  "}} {
		v := &Verifier{Secrets: secrets}
		err := v.Verify(payload, header)
		if !errors.Is(err, ErrNoSecrets) {
			t.Errorf("secrets %q: %v, want ErrNoSecrets", secrets, err)
		}
	}
	// An empty secret next to a real one is skipped, never used as a key.
	v := &Verifier{Secrets: []string{"", testSecret}}
	if err := v.Verify(payload, header); !errors.Is(err, ErrNoMatch) {
		t.Errorf("empty-key signature: %v, want ErrNoMatch", err)
	}
	var nilV *Verifier
	if err := nilV.Verify(payload, header); !errors.Is(err, ErrNoSecrets) {
		t.Errorf("nil Verifier: %v, want ErrNoSecrets", err)
	}
}

func TestTolerance(t *testing.T) {
	payload := mustFixture(t, "payment_intent.succeeded")
	now := time.Unix(1_790_000_000, 0)
	tests := []struct {
		name      string
		tolerance time.Duration
		offset    time.Duration // signing time relative to now
		want      error
	}{
		{"exact", 0, 0, nil},
		{"past within", 0, -299 * time.Second, nil},
		{"future within", 0, 299 * time.Second, nil},
		{"past boundary", 0, -300 * time.Second, nil},
		{"future boundary", 0, 300 * time.Second, nil},
		{"past outside", 0, -301 * time.Second, ErrTooOld},
		{"future outside", 0, 301 * time.Second, ErrTooNew},
		{"negative tolerance means default", -time.Second, -299 * time.Second, nil},
		{"custom past within", 10 * time.Second, -10 * time.Second, nil},
		{"custom past outside", 10 * time.Second, -11 * time.Second, ErrTooOld},
		{"custom future outside", 10 * time.Second, 11 * time.Second, ErrTooNew},
		{"custom wide past", time.Hour, -59 * time.Minute, nil},
		{"custom wide future", time.Hour, 59 * time.Minute, nil},
		{"custom wide outside", time.Hour, -61 * time.Minute, ErrTooOld},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := &Verifier{Secrets: []string{testSecret}, Tolerance: tc.tolerance, Now: fixedClock(now)}
			err := v.Verify(payload, Sign(payload, testSecret, now.Add(tc.offset)))
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("Verify = %v, want %v", err, tc.want)
			}
		})
	}

	// Sub-second clock: 300.5 s old is outside the 300 s window.
	v := &Verifier{Secrets: []string{testSecret}, Now: fixedClock(now.Add(500 * time.Millisecond))}
	if err := v.Verify(payload, Sign(payload, testSecret, now.Add(-300*time.Second))); !errors.Is(err, ErrTooOld) {
		t.Errorf("300.5s old: %v, want ErrTooOld", err)
	}
	// Absurd timestamps do not overflow into acceptance.
	for _, ts := range []string{"0", "9223372036854775807"} {
		sig := strings.SplitN(Sign(payload, testSecret, now), ",", 2)[1]
		if err := v.Verify(payload, "t="+ts+","+sig); err == nil {
			t.Errorf("t=%s accepted", ts)
		}
	}
}

func TestRawBytesMatter(t *testing.T) {
	payload := mustFixture(t, "checkout.session.completed")
	now := time.Unix(1_786_000_000, 0)
	header := Sign(payload, testSecret, now)
	v := &Verifier{Secrets: []string{testSecret}, Now: fixedClock(now)}

	orig := bytes.Clone(payload)
	if err := v.Verify(payload, header); err != nil {
		t.Fatalf("exact bytes: %v", err)
	}
	if !bytes.Equal(orig, payload) {
		t.Fatal("Verify modified the payload")
	}

	var decoded any
	if err := json.Unmarshal(payload, &decoded); err != nil {
		t.Fatal(err)
	}
	reserialized, err := json.Marshal(decoded)
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, payload); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string][]byte{
		"reserialized":        reserialized,
		"compacted":           compact.Bytes(),
		"no trailing newline": bytes.TrimSuffix(payload, []byte("\n")),
		"crlf":                bytes.ReplaceAll(payload, []byte("\n"), []byte("\r\n")),
	} {
		if bytes.Equal(body, payload) {
			t.Fatalf("%s: transformation did not change the bytes", name)
		}
		if err := v.Verify(body, header); !errors.Is(err, ErrNoMatch) {
			t.Errorf("%s body: %v, want ErrNoMatch", name, err)
		}
	}
}

func TestHeaderErrors(t *testing.T) {
	payload := []byte(`{"id":"evt_1","type":"x"}`)
	now := time.Unix(1_786_000_000, 0)
	good := Sign(payload, testSecret, now)
	sig := strings.TrimPrefix(good, "t=1786000000,v1=")
	tests := []struct {
		name   string
		header string
		now    time.Time
		want   error
	}{
		{"empty", "", now, ErrMissingHeader},
		{"blank", "   ", now, ErrMissingHeader},
		{"garbage", "garbage", now, ErrMalformedHeader},
		{"non-integer t", "t=abc,v1=" + sig, now, ErrMalformedHeader},
		{"negative t", "t=-1786000000,v1=" + sig, now, ErrMalformedHeader},
		{"signed t", "t=+1786000000,v1=" + sig, now, ErrMalformedHeader},
		{"overflowing t", "t=99999999999999999999,v1=" + sig, now, ErrMalformedHeader},
		{"empty t", "t=,v1=" + sig, now, ErrMalformedHeader},
		{"v1 without t", "v1=" + sig, now, ErrMalformedHeader},
		{"repeated t", "t=1786000000,t=1786000000,v1=" + sig, now, ErrMalformedHeader},
		{"element without =", "t=1786000000,v1", now, ErrMalformedHeader},
		{"trailing comma", good + ",", now, ErrMalformedHeader},
		{"too long", good + ",v0=" + strings.Repeat("a", maxHeaderLen), now, ErrMalformedHeader},
		{"stripe-cli dummy", "t=123,v1=hunter2", time.Unix(123, 0), ErrNoV1},
		{"v0 only", "t=1786000000,v0=" + sig, now, ErrNoV1},
		{"empty v1", "t=1786000000,v1=", now, ErrNoV1},
		{"t only", "t=1786000000", now, ErrNoV1},
		{"wrong-length v1", "t=1786000000,v1=abcd", now, ErrNoMatch},
		{"unknown scheme ignored", "t=1786000000,v9=zz,v1=" + sig + ",v0=00", now, nil},
		{"uppercase hex", "t=1786000000,v1=" + strings.ToUpper(sig), now, nil},
		{"spaces around elements", "t=1786000000, v1=" + sig, now, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := &Verifier{Secrets: []string{testSecret}, Now: fixedClock(tc.now)}
			err := v.Verify(payload, tc.header)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("Verify(%.60q) = %v, want %v", tc.header, err, tc.want)
			}
		})
	}
}

func TestParseHeader(t *testing.T) {
	sig := strings.Repeat("ab", 32)
	h, err := ParseHeader("t=42,v1=" + sig + ",v0=ff,v1=zz,v1=0102")
	if err != nil {
		t.Fatal(err)
	}
	if h.Timestamp != 42 {
		t.Errorf("Timestamp = %d, want 42", h.Timestamp)
	}
	if len(h.V1) != 2 || hex.EncodeToString(h.V1[0]) != sig || !bytes.Equal(h.V1[1], []byte{1, 2}) {
		t.Errorf("V1 = %x, want [%s 0102]", h.V1, sig)
	}

	// At most maxV1 values are kept.
	header := "t=1" + strings.Repeat(",v1="+sig, 40)
	if h, err := ParseHeader(header); err != nil || len(h.V1) != maxV1 {
		t.Errorf("40 v1 values: got %d values, err %v; want %d", len(h.V1), err, maxV1)
	}
	// A header at exactly the limit is still parsed.
	header = "t=1,v1=" + sig + ",v0="
	header += strings.Repeat("0", maxHeaderLen-len(header))
	if _, err := ParseHeader(header); err != nil {
		t.Errorf("header of exactly %d bytes: %v", maxHeaderLen, err)
	}
}

// TestErrorMessagesDoNotLeak ensures no error text contains a secret or a
// signature, since these errors end up in logs and HTTP responses.
func TestErrorMessagesDoNotLeak(t *testing.T) {
	payload := mustFixture(t, "customer.created")
	now := time.Unix(1_786_000_000, 0)
	secret := "whsec_very_secret_value"
	other := Sign(payload, "whsec_other", now)
	own := Sign(payload, secret, now)
	v := &Verifier{Secrets: []string{secret}, Now: fixedClock(now)}
	headers := []string{other, own + "x", Sign(payload, secret, now.Add(-time.Hour)), Sign(payload, secret, now.Add(time.Hour)), "garbage"}
	for _, h := range headers {
		err := v.Verify(payload, h)
		if err == nil {
			t.Fatalf("header %q unexpectedly verified", h)
		}
		msg := err.Error()
		if strings.Contains(msg, secret) || strings.Contains(msg, own[len("t=1786000000,v1="):]) ||
			strings.Contains(msg, other[len("t=1786000000,v1="):]) {
			t.Errorf("error leaks secret material: %s", msg)
		}
	}
}
