package server_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agenthook/agenthook/internal/server"
	"github.com/agenthook/agenthook/internal/store"
	"github.com/agenthook/agenthook/internal/stripeevent"
)

// A correctly signed body that readers could read two ways is a 400 that
// says what to do, and nothing of it is stored: routing (the type), the
// filter and the prompt could otherwise each see another event, and ids
// that differ only in an invalid UTF-8 byte would be one for dedupe.
func TestWebhookRefusesAmbiguousEnvelope(t *testing.T) {
	d := testDeps(t)
	h := server.New(d)
	for _, tc := range []struct{ name, body, id, say string }{
		{"type and TYPE", `{"id":"evt_amb_1","object":"event","type":"customer.created","TYPE":"charge.dispute.created","data":{"object":{}}}`, "evt_amb_1", "in another case"},
		{"type twice", `{"id":"evt_amb_2","object":"event","type":"charge.dispute.created","type":"customer.created","data":{"object":{}}}`, "evt_amb_2", "more than once"},
		{"invalid UTF-8 id", "{\"id\":\"evt_amb_\xff\",\"object\":\"event\",\"type\":\"customer.created\",\"data\":{\"object\":{}}}", "evt_amb_\ufffd", "not valid UTF-8"},
		{"another invalid byte", "{\"id\":\"evt_amb_\xfe\",\"object\":\"event\",\"type\":\"customer.created\",\"data\":{\"object\":{}}}", "evt_amb_\ufffd", "not valid UTF-8"},
	} {
		req := httptest.NewRequest(http.MethodPost, "/stripe/webhook", strings.NewReader(tc.body))
		req.Header.Set(stripeevent.SignatureHeader, stripeevent.Sign([]byte(tc.body), secret, time.Now()))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), tc.say) || !strings.Contains(rec.Body.String(), "send the body exactly as Stripe sent it") && !strings.Contains(rec.Body.String(), "plain ASCII") {
			t.Errorf("%s: %d %s, want 400 saying %q and what to do", tc.name, rec.Code, rec.Body, tc.say)
		}
		if _, err := d.Store.Event(context.Background(), tc.id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: stored (%v)", tc.name, err)
		}
	}
}
