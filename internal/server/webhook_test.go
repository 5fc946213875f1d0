package server_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/agenthook/agenthook/internal/stripeevent"
)

// TestWebhookBodyLength: the body is read by its declared length when
// there is one and to its end when there is none, and neither way lets a
// body past max_body_bytes or a body shorter than it claims.
func TestWebhookBodyLength(t *testing.T) {
	h := newMetricsHandler(t, adminToken, false)
	send := func(body io.Reader, length int64, sig string) int {
		req := httptest.NewRequest(http.MethodPost, "/stripe/webhook", body)
		req.ContentLength = length
		req.Header.Set(stripeevent.SignatureHeader, sig)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	now := time.Now()
	event := newEvent(t, "charge.dispute.created")
	sig := stripeevent.Sign(event, secret, now)
	big := bytes.Repeat([]byte("x"), 17<<10)
	for _, tc := range []struct {
		name   string
		body   io.Reader
		length int64
		sig    string
		want   int
	}{
		// io.MultiReader hides the length, as a chunked request does.
		{"unknown length", io.MultiReader(bytes.NewReader(event)), -1, sig, 200},
		{"declared length", bytes.NewReader(event), int64(len(event)), sig, 200},
		{"shorter than declared", bytes.NewReader(event[:len(event)-10]), int64(len(event)), sig, 400},
		{"too large, unknown length", io.MultiReader(bytes.NewReader(big)), -1, stripeevent.Sign(big, secret, now), 413},
		{"too large, declared", bytes.NewReader(big), int64(len(big)), stripeevent.Sign(big, secret, now), 413},
	} {
		if got := send(tc.body, tc.length, tc.sig); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}
