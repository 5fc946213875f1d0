package stripeevent

import (
	"encoding/hex"
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// A timestamp far in the future or the past is refused, whatever the
// distance: 293 years ahead used to pass, because the age saturated at
// about -292 years and its negation overflowed.
func TestTimestampBoundedBothWaysWithoutOverflow(t *testing.T) {
	payload := mustFixture(t, "payment_intent.succeeded")
	now := time.Unix(1_790_000_000, 250_000_000)
	v := &Verifier{Secrets: []string{testSecret}, Now: fixedClock(now)}
	const year = 365 * 24 * 3600
	for _, tc := range []struct {
		ts   int64
		want error
	}{
		{now.Unix() + 293*year, ErrTooNew},
		{now.Unix() + 300*year, ErrTooNew},
		{now.Unix() + 1000*year, ErrTooNew},
		{math.MaxInt64, ErrTooNew},
		{math.MaxInt64 - 1, ErrTooNew},
		{0, ErrTooOld},
		{now.Unix() - 50*year, ErrTooOld},
		{now.Unix() + 301, ErrTooNew},
		{now.Unix() - 301, ErrTooOld},
	} {
		// Signed over the timestamp itself, so only the bound can refuse it.
		header := "t=" + strconv.FormatInt(tc.ts, 10) + ",v1=" + hexSig(payload, testSecret, tc.ts)
		if err := v.Verify(payload, header); !errors.Is(err, tc.want) {
			t.Errorf("t=%d (now %d): %v, want %v", tc.ts, now.Unix(), err, tc.want)
		}
	}
	// Inside the window, signed correctly: accepted.
	for _, ts := range []int64{now.Unix(), now.Unix() - 299, now.Unix() + 300} {
		if err := v.Verify(payload, "t="+strconv.FormatInt(ts, 10)+",v1="+hexSig(payload, testSecret, ts)); err != nil {
			t.Errorf("t=%d (now %d): %v, want accepted", ts, now.Unix(), err)
		}
	}
}

// outside agrees with exact arithmetic on any clock, timestamp and
// tolerance, however far apart.
func TestOutsideMatchesExactArithmetic(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	edges := []int64{0, 1, 299, 300, 301, 1 << 33, math.MaxInt64 / 2, math.MaxInt64 - 1, math.MaxInt64}
	pick := func() int64 {
		if r.IntN(3) == 0 {
			return edges[r.IntN(len(edges))]
		}
		return r.Int64()
	}
	for range 20000 {
		nowSec := pick()
		if r.IntN(2) == 0 {
			nowSec = -nowSec // clocks before 1970 too
		}
		now := time.Unix(nowSec, int64(r.IntN(1e9)))
		ts := pick()
		tol := time.Duration(r.Int64N(int64(math.MaxInt64)))
		if r.IntN(2) == 0 {
			tol = time.Duration(r.IntN(600)) * time.Second
		}
		// Exact: diff = now - ts in nanoseconds.
		diff := new(big.Int).Mul(big.NewInt(now.Unix()), big.NewInt(1e9))
		diff.Add(diff, big.NewInt(int64(now.Nanosecond())))
		diff.Sub(diff, new(big.Int).Mul(big.NewInt(ts), big.NewInt(1e9)))
		tolBig := big.NewInt(int64(tol))
		wantOld := diff.Cmp(tolBig) > 0
		wantAhead := new(big.Int).Neg(diff).Cmp(tolBig) > 0
		if old, ahead := outside(now, ts, tol); old != wantOld || ahead != wantAhead {
			t.Fatalf("outside(now=%d.%09d, ts=%d, tol=%s) = %v, %v; want %v, %v", now.Unix(), now.Nanosecond(), ts, tol, old, ahead, wantOld, wantAhead)
		}
	}
}

// "whsec_" with nothing after it is no secret: everyone knows it.
func TestBarePrefixIsNoSecret(t *testing.T) {
	payload := mustFixture(t, "payment_intent.succeeded")
	now := time.Unix(1_790_000_000, 0)
	for _, secrets := range [][]string{{SecretPrefix}, {" whsec_ "}, {"", SecretPrefix}} {
		v := &Verifier{Secrets: secrets, Now: fixedClock(now)}
		if err := v.Verify(payload, Sign(payload, SecretPrefix, now)); !errors.Is(err, ErrNoSecrets) {
			t.Errorf("secrets %q: %v, want ErrNoSecrets", secrets, err)
		}
	}
}

func hexSig(payload []byte, secret string, ts int64) string {
	return hex.EncodeToString(computeSignature(payload, secret, ts))
}
