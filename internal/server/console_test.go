package server_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/agenthook/agenthook/internal/server/console"
)

// uiReq is one request to the console or the API as a browser would send it.
type uiReq struct {
	method, target, form, body string
	remote                     string
	host                       string            // Host header (default 127.0.0.1:8000)
	cookie                     string            // the login cookie's value
	header                     map[string]string // extra headers
	tls                        bool
}

func serveUI(t *testing.T, h http.Handler, r uiReq) *httptest.ResponseRecorder {
	t.Helper()
	body, ctype := r.body, "application/json"
	if r.form != "" {
		body, ctype = r.form, "application/x-www-form-urlencoded"
	}
	req := httptest.NewRequest(r.method, r.target, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.RemoteAddr = "127.0.0.1:40000"
	if r.remote != "" {
		req.RemoteAddr = r.remote
	}
	req.Host = "127.0.0.1:8000"
	if r.host != "" {
		req.Host = r.host
	}
	if r.cookie != "" {
		req.AddCookie(&http.Cookie{Name: console.CookieName, Value: r.cookie})
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	if r.tls {
		req.TLS = &tls.ConnectionState{}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func loginCookie(t *testing.T, rec *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	for _, c := range rec.Result().Cookies() {
		if c.Name == console.CookieName {
			return c
		}
	}
	return nil
}

// With a token, /ui/ offers a login form; the login sets an HttpOnly,
// SameSite=Strict cookie the admin API accepts in place of the Bearer
// header, with a CSRF header required on state-changing requests.
func TestConsoleLoginCookie(t *testing.T) {
	const token = "s3cret-admin-token"
	h, st := adminHandler(t, token)
	ingest(t, st, [3]string{"evt_ui_1", "customer.created", ""})

	rec := serveUI(t, h, uiReq{method: "GET", target: "/ui/", remote: "192.0.2.10:5555"})
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `action="/ui/login"`) || strings.Contains(rec.Body.String(), "app.js") {
		t.Fatalf("GET /ui/ without a login: %d, want the login form:\n%s", rec.Code, rec.Body)
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	if rec := serveUI(t, h, uiReq{method: "GET", target: "/ui/app.js", remote: "192.0.2.10:5555"}); rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/javascript") {
		t.Errorf("GET /ui/app.js: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}

	// A wrong token is refused and sets no cookie.
	for _, bad := range []string{"token=wrong", "token=" + token + "x", "token=", ""} {
		rec = serveUI(t, h, uiReq{method: "POST", target: "/ui/login", form: bad, remote: "192.0.2.10:5555"})
		if rec.Code != http.StatusUnauthorized || loginCookie(t, rec) != nil || !strings.Contains(rec.Body.String(), "Wrong token") {
			t.Errorf("login with %q: %d, cookie %v, want 401 and no cookie", bad, rec.Code, loginCookie(t, rec))
		}
	}
	// A login posted by another site's page is refused.
	rec = serveUI(t, h, uiReq{method: "POST", target: "/ui/login", form: "token=" + token, header: map[string]string{"Sec-Fetch-Site": "cross-site"}})
	if rec.Code != http.StatusForbidden || loginCookie(t, rec) != nil {
		t.Errorf("cross-site login: %d, want 403", rec.Code)
	}

	rec = serveUI(t, h, uiReq{method: "POST", target: "/ui/login", form: "token=" + url.QueryEscape(token), remote: "192.0.2.10:5555",
		header: map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://example.com"}})
	c := loginCookie(t, rec)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/ui/" || c == nil {
		t.Fatalf("login: %d %q, cookie %v", rec.Code, rec.Header().Get("Location"), c)
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure || c.MaxAge <= 0 {
		t.Errorf("login cookie %+v: want HttpOnly, SameSite=Strict, Path=/, not Secure over plain HTTP, a MaxAge", c)
	}
	if c := loginCookie(t, serveUI(t, h, uiReq{method: "POST", target: "/ui/login", form: "token=" + token, tls: true})); c == nil || !c.Secure {
		t.Errorf("login over TLS: cookie %+v, want Secure", c)
	}

	// The cookie opens the console and the API, from anywhere.
	rec = serveUI(t, h, uiReq{method: "GET", target: "/ui/", cookie: c.Value, remote: "192.0.2.10:5555"})
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "/ui/app.js") || !strings.Contains(rec.Body.String(), `action="/ui/logout"`) {
		t.Fatalf("GET /ui/ logged in: %d, want the console with a logout button:\n%s", rec.Code, rec.Body)
	}
	sid := c.Value
	for _, tc := range []struct {
		name string
		r    uiReq
		want int
	}{
		{"list with the cookie", uiReq{method: "GET", target: "/api/events", cookie: sid, remote: "192.0.2.10:5555"}, 200},
		{"event with the cookie", uiReq{method: "GET", target: "/api/events/evt_ui_1", cookie: sid}, 200},
		{"metrics with the cookie", uiReq{method: "GET", target: "/metrics", cookie: sid}, 404}, // no metrics in this server
		{"wrong cookie", uiReq{method: "GET", target: "/api/events", cookie: sid + "x"}, 401},
		{"no cookie", uiReq{method: "GET", target: "/api/events"}, 401},
		{"token without Bearer", uiReq{method: "GET", target: "/api/events", header: map[string]string{"Authorization": token}}, 401},
		{"wrong Bearer beats a good cookie", uiReq{method: "GET", target: "/api/events", cookie: sid, header: map[string]string{"Authorization": "Bearer wrong"}}, 401},
		// State-changing requests by cookie need the console's header…
		{"POST by cookie without the header", uiReq{method: "POST", target: "/api/replay", body: `{"status":"dead"}`, cookie: sid}, 403},
		{"POST by cookie with a wrong header", uiReq{method: "POST", target: "/api/replay", body: `{"status":"dead"}`, cookie: sid,
			header: map[string]string{console.CSRFHeader: "yes"}}, 403},
		{"POST by cookie with the header", uiReq{method: "POST", target: "/api/replay", body: `{"status":"dead"}`, cookie: sid,
			header: map[string]string{console.CSRFHeader: "1", "Sec-Fetch-Site": "same-origin"}}, 200},
		// …and are refused when the browser says another site sent them.
		{"POST by cookie from another site", uiReq{method: "POST", target: "/api/replay", body: `{"status":"dead"}`, cookie: sid,
			header: map[string]string{console.CSRFHeader: "1", "Sec-Fetch-Site": "cross-site"}}, 403},
		{"POST by cookie from another origin", uiReq{method: "POST", target: "/api/replay", body: `{"status":"dead"}`, cookie: sid,
			header: map[string]string{console.CSRFHeader: "1", "Origin": "https://evil.example"}}, 403},
		// A Bearer token needs no header: the commands and curl are unaffected.
		{"POST by Bearer", uiReq{method: "POST", target: "/api/replay", body: `{"status":"dead"}`,
			header: map[string]string{"Authorization": "Bearer " + token}}, 200},
	} {
		if rec := serveUI(t, h, tc.r); rec.Code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, rec.Code, rec.Body, tc.want)
		}
	}

	// Logout clears the cookie.
	rec = serveUI(t, h, uiReq{method: "POST", target: "/ui/logout", cookie: sid})
	if out := loginCookie(t, rec); rec.Code != http.StatusSeeOther || out == nil || out.MaxAge >= 0 || out.Value != "" || !out.HttpOnly {
		t.Errorf("logout: %d, cookie %+v, want a cleared cookie", rec.Code, out)
	}
	if rec := serveUI(t, h, uiReq{method: "POST", target: "/ui/logout", cookie: sid, header: map[string]string{"Sec-Fetch-Site": "cross-site"}}); rec.Code != http.StatusForbidden {
		t.Errorf("cross-site logout: %d, want 403", rec.Code)
	}
}

// Without a token the console, like the API, answers loopback clients only,
// with no login; browsers' cross-site state-changing requests are refused.
func TestConsoleLoopbackOnly(t *testing.T) {
	h, st := adminHandler(t, "")
	ingest(t, st, [3]string{"evt_ui_2", "customer.created", ""})
	for _, tc := range []struct {
		target, remote string
		want           int
	}{
		{"/ui/", "127.0.0.1:5555", 200},
		{"/ui/", "[::1]:5555", 200},
		{"/ui/app.js", "127.0.0.1:5555", 200},
		{"/ui/app.css", "127.0.0.1:5555", 200},
		{"/ui/nope", "127.0.0.1:5555", 404},
		{"/ui/", "192.0.2.10:5555", 403},
		{"/ui/app.js", "192.0.2.10:5555", 403},
		{"/ui/", "[2001:db8::1]:5555", 403},
	} {
		rec := serveUI(t, h, uiReq{method: "GET", target: tc.target, remote: tc.remote})
		if rec.Code != tc.want {
			t.Errorf("GET %s from %s: %d, want %d", tc.target, tc.remote, rec.Code, tc.want)
		}
	}
	// DNS rebinding: a page of another site whose name now points at
	// 127.0.0.1 comes from loopback but names its own host.
	for _, host := range []string{"evil.example", "evil.example:8000", "127.0.0.1.nip.io:8000"} {
		for _, target := range []string{"/ui/", "/api/events"} {
			if rec := serveUI(t, h, uiReq{method: "GET", target: target, host: host}); rec.Code != 403 {
				t.Errorf("GET %s with Host %s from loopback: %d, want 403", target, host, rec.Code)
			}
		}
	}
	for _, host := range []string{"localhost:8000", "[::1]:8000", "127.0.0.1"} {
		if rec := serveUI(t, h, uiReq{method: "GET", target: "/api/events", host: host}); rec.Code != 200 {
			t.Errorf("GET /api/events with Host %s: %d, want 200", host, rec.Code)
		}
	}
	rec := serveUI(t, h, uiReq{method: "GET", target: "/ui/"})
	if body := rec.Body.String(); !strings.Contains(body, "/ui/app.js") || strings.Contains(body, "/ui/logout") || strings.Contains(body, "/ui/login") {
		t.Errorf("loopback console: want the app without login or logout:\n%s", body)
	}
	// There is nothing to log in to.
	rec = serveUI(t, h, uiReq{method: "POST", target: "/ui/login", form: "token=x"})
	if rec.Code != http.StatusSeeOther || loginCookie(t, rec) != nil {
		t.Errorf("login without a token configured: %d, cookie %v", rec.Code, loginCookie(t, rec))
	}
	if rec := serveUI(t, h, uiReq{method: "POST", target: "/ui/login", form: "token=x", remote: "192.0.2.10:5555"}); rec.Code != 403 {
		t.Errorf("remote login without a token configured: %d, want 403", rec.Code)
	}

	for _, tc := range []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"command line client", nil, 200},
		{"the console", map[string]string{console.CSRFHeader: "1", "Sec-Fetch-Site": "same-origin"}, 200},
		{"another site", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"a sibling site", map[string]string{"Sec-Fetch-Site": "same-site"}, 403},
		{"another origin (older browser)", map[string]string{"Origin": "http://evil.example"}, 403},
	} {
		rec := serveUI(t, h, uiReq{method: "POST", target: "/api/replay", body: `{"status":"dead"}`, header: tc.header})
		if rec.Code != tc.want {
			t.Errorf("loopback POST from %s: %d %s, want %d", tc.name, rec.Code, rec.Body, tc.want)
		}
	}
	// Reading stays open to loopback browsers (a page of another site cannot
	// read the answer without CORS).
	if rec := serveUI(t, h, uiReq{method: "GET", target: "/api/events/evt_ui_2", header: map[string]string{"Sec-Fetch-Site": "cross-site"}}); rec.Code != 200 {
		t.Errorf("loopback GET: %d", rec.Code)
	}
}
