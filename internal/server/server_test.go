package server_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agenthook/agenthook/internal/config"
	"github.com/agenthook/agenthook/internal/route"
	"github.com/agenthook/agenthook/internal/server"
	"github.com/agenthook/agenthook/internal/store"
	"github.com/agenthook/agenthook/internal/stripeevent"
)

const secret = "whsec_bench_secret"

// testDeps opens a real SQLite store in a temporary folder and returns the
// server's dependencies around it: the seed routes, a verifier for secret
// and the default body limit. Tests change what they need before New.
func testDeps(tb testing.TB) server.Deps {
	tb.Helper()
	st, err := store.Open(context.Background(), store.Options{Location: filepath.Join(tb.TempDir(), "agenthook.db")})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close(context.Background()) })
	routes, err := route.New(config.Default(func(string) string { return "" }))
	if err != nil {
		tb.Fatal(err)
	}
	return server.Deps{
		Store:        st,
		Verifier:     &stripeevent.Verifier{Secrets: []string{secret}},
		Routes:       routes,
		MaxBodyBytes: 2 << 20,
	}
}

func newHandler(tb testing.TB) (http.Handler, *store.Store) {
	tb.Helper()
	d := testDeps(tb)
	d.Verifier.Secrets = []string{"whsec_rotated_out", secret}
	return server.New(d), d.Store
}

// The admin API without a token answers loopback clients only.
func TestAdminLoopbackOnlyWithoutToken(t *testing.T) {
	h, _ := newHandler(t)
	for _, tc := range []struct {
		remote string
		want   int
	}{
		{"127.0.0.1:5555", http.StatusNotFound},
		{"[::1]:5555", http.StatusNotFound},
		{"192.0.2.10:5555", http.StatusForbidden},
	} {
		req := httptest.NewRequest(http.MethodGet, "/api/events/evt_nope", nil)
		req.RemoteAddr = tc.remote
		req.Host = "127.0.0.1:8000" // a loopback name: the API refuses other Host headers without a token
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("from %s: %d, want %d", tc.remote, rec.Code, tc.want)
		}
	}
}

// BenchmarkWebhook measures verify + parse + durable store (group commit,
// fsync) for a ~2 KB dispute event, with as many concurrent requests as an
// HTTP load of 32 would bring.
func BenchmarkWebhook(b *testing.B) {
	h, _ := newHandler(b)
	fixture, err := stripeevent.Fixture("charge.dispute.created")
	if err != nil {
		b.Fatal(err)
	}
	var seq atomic.Int64
	b.SetParallelism(16)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf("evt_bench_%024d", seq.Add(1))
			body := bytes.Replace(fixture, []byte("evt_1SD0tEB7WZ01zgkWUzGqNKKh"), []byte(id), 1)
			req := httptest.NewRequest(http.MethodPost, "/stripe/webhook", bytes.NewReader(body))
			req.Header.Set("Stripe-Signature", stripeevent.Sign(body, secret, time.Now()))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
}
