package stripeevent

import (
	"testing"
	"time"
)

// BenchmarkVerify measures the common rotation case: a ~3 KB body, two
// configured secrets, and a signature that only matches the second.
func BenchmarkVerify(b *testing.B) {
	payload := mustFixture(b, "charge.dispute.closed") // 3270 bytes
	now := time.Unix(1_786_000_000, 0)
	v := &Verifier{Secrets: []string{"whsec_old", testSecret}, Now: fixedClock(now)}
	header := Sign(payload, testSecret, now)
	if err := v.Verify(payload, header); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Verify(payload, header); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	payload := mustFixture(b, "charge.dispute.closed")
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(payload); err != nil {
			b.Fatal(err)
		}
	}
}
