package server_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agenthook/agenthook/internal/stripeevent"
)

// With no admin token, a request a proxy forwarded is refused on every
// admin and console path, even from 127.0.0.1 with a loopback Host (what
// nginx sends by default: proxy_set_header Host $proxy_host), and the
// refusal says to set AGENTHOOK_ADMIN_TOKEN. The webhook, which is signed,
// and the probes are unaffected.
func TestNoTokenRefusesProxiedAdminRequests(t *testing.T) {
	h := newMetricsHandler(t, "", true)
	proxied := []map[string]string{
		{"X-Forwarded-For": "203.0.113.9"},
		{"X-Forwarded-Proto": "https"},
		{"X-Forwarded-Host": "agenthook.example.com"},
		{"Forwarded": "for=203.0.113.9;proto=https"},
		{"X-Real-Ip": "203.0.113.9"},
		{"Via": "1.1 nginx"},
	}
	for _, hdr := range proxied {
		for _, tc := range []struct{ method, target, body string }{
			{"GET", "/api/events", ""},
			{"GET", "/api/events/evt_x", ""},
			{"GET", "/api/approvals", ""},
			{"POST", "/api/replay", `{"status":"dead"}`},
			{"GET", "/metrics", ""},
			{"GET", "/ui/", ""},
			{"GET", "/ui/app.js", ""},
		} {
			rec := serveUI(t, h, uiReq{method: tc.method, target: tc.target, body: tc.body, header: hdr})
			if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "set AGENTHOOK_ADMIN_TOKEN") || !strings.Contains(rec.Body.String(), "proxy") {
				t.Errorf("%s %s with %v from 127.0.0.1: %d %s, want 403 saying to set AGENTHOOK_ADMIN_TOKEN", tc.method, tc.target, hdr, rec.Code, rec.Body)
			}
		}
	}
	// The same requests straight from loopback are answered.
	if rec := serveUI(t, h, uiReq{method: "GET", target: "/api/events"}); rec.Code != http.StatusOK {
		t.Errorf("direct loopback GET /api/events: %d", rec.Code)
	}
	// Stripe's deliveries through a proxy are fine: they are signed.
	body := newEvent(t, "charge.dispute.created")
	req := httptest.NewRequest(http.MethodPost, "/stripe/webhook", strings.NewReader(string(body)))
	req.RemoteAddr = "127.0.0.1:40000"
	req.Header.Set(stripeevent.SignatureHeader, stripeevent.Sign(body, secret, time.Now()))
	req.Header.Set("X-Forwarded-For", "3.18.12.63")
	req.Header.Set("Forwarded", "for=3.18.12.63")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Errorf("proxied webhook: %d %s", rec.Code, rec.Body)
	}
	if rec := serveUI(t, h, uiReq{method: "GET", target: "/healthz", header: proxied[0]}); rec.Code != http.StatusOK {
		t.Errorf("proxied /healthz: %d", rec.Code)
	}
	// With a token, a proxy is fine: the token is what counts.
	h = newMetricsHandler(t, adminToken, true)
	if rec := serveUI(t, h, uiReq{method: "GET", target: "/api/events", header: map[string]string{"X-Forwarded-For": "203.0.113.9", "Authorization": "Bearer " + adminToken}}); rec.Code != http.StatusOK {
		t.Errorf("proxied request with the token: %d %s", rec.Code, rec.Body)
	}
}

// The login cookie is a session id, not the admin token, and logging out
// revokes it on the server: a copy of the cookie taken before is refused
// afterwards by the console and the API alike; other sessions go on.
func TestConsoleLogoutRevokesSession(t *testing.T) {
	const token = "s3cret-admin-token"
	h, _ := adminHandler(t, token)
	login := func() string {
		t.Helper()
		rec := serveUI(t, h, uiReq{method: "POST", target: "/ui/login", form: "token=" + token})
		c := loginCookie(t, rec)
		if rec.Code != http.StatusSeeOther || c == nil {
			t.Fatalf("login: %d, cookie %v", rec.Code, c)
		}
		return c.Value
	}
	stolen, other := login(), login()
	if stolen == other || strings.Contains(stolen, token) || len(stolen) < 43 {
		t.Errorf("cookies %q and %q: want distinct session ids of 32 random bytes, not the token", stolen, other)
	}
	// The token itself is no cookie.
	if rec := serveUI(t, h, uiReq{method: "GET", target: "/api/events", cookie: token}); rec.Code != http.StatusUnauthorized {
		t.Errorf("the admin token as the cookie: %d, want 401", rec.Code)
	}
	for _, sid := range []string{stolen, other} {
		if rec := serveUI(t, h, uiReq{method: "GET", target: "/api/events", cookie: sid}); rec.Code != http.StatusOK {
			t.Fatalf("a live session: %d %s", rec.Code, rec.Body)
		}
	}

	if rec := serveUI(t, h, uiReq{method: "POST", target: "/ui/logout", cookie: stolen}); rec.Code != http.StatusSeeOther {
		t.Fatalf("logout: %d", rec.Code)
	}
	for _, tc := range []struct {
		r    uiReq
		want int
	}{
		{uiReq{method: "GET", target: "/api/events", cookie: stolen}, http.StatusUnauthorized},
		{uiReq{method: "GET", target: "/metrics", cookie: stolen}, http.StatusUnauthorized},
		{uiReq{method: "POST", target: "/api/replay", body: `{"status":"dead"}`, cookie: stolen, header: map[string]string{"X-Agenthook-UI": "1"}}, http.StatusUnauthorized},
	} {
		if rec := serveUI(t, h, tc.r); rec.Code != tc.want || !strings.Contains(rec.Body.String(), "log in again") {
			t.Errorf("%s %s with the cookie after logout: %d %s, want %d", tc.r.method, tc.r.target, rec.Code, rec.Body, tc.want)
		}
	}
	if rec := serveUI(t, h, uiReq{method: "GET", target: "/ui/", cookie: stolen}); !strings.Contains(rec.Body.String(), `action="/ui/login"`) {
		t.Errorf("GET /ui/ with the cookie after logout: %d, want the login form", rec.Code)
	}
	if rec := serveUI(t, h, uiReq{method: "GET", target: "/api/events", cookie: other}); rec.Code != http.StatusOK {
		t.Errorf("another session after one logged out: %d, want 200", rec.Code)
	}
}
