package console

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The assets load nothing from elsewhere and put API data in the page as
// text only: journals hold model output and customer data.
func TestAssetsSelfContained(t *testing.T) {
	err := fs.WalkDir(static, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, path)
		if err != nil {
			return err
		}
		s := string(b)
		for _, bad := range []string{"http://", "https://", "//cdn", "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
			if strings.Contains(s, bad) {
				t.Errorf("%s contains %q", path, bad)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCheckCSRF(t *testing.T) {
	for _, tc := range []struct {
		name, method string
		header       map[string]string
		cookie       bool
		ok           bool
	}{
		{"GET by cookie", "GET", nil, true, true},
		{"GET from another site", "GET", map[string]string{"Sec-Fetch-Site": "cross-site"}, true, true},
		{"POST by cookie with the header", "POST", map[string]string{CSRFHeader: "1", "Sec-Fetch-Site": "same-origin"}, true, true},
		{"POST by cookie without the header", "POST", map[string]string{"Sec-Fetch-Site": "same-origin"}, true, false},
		{"DELETE by cookie without the header", "DELETE", nil, true, false},
		{"POST without a cookie, no browser headers", "POST", nil, false, true},
		{"POST from another site", "POST", map[string]string{CSRFHeader: "1", "Sec-Fetch-Site": "cross-site"}, false, false},
		{"POST from another origin", "POST", map[string]string{"Origin": "https://evil.example"}, false, false},
		{"POST from this origin", "POST", map[string]string{"Origin": "http://agenthook.test"}, false, true},
	} {
		r := httptest.NewRequest(tc.method, "http://agenthook.test/api/replay", nil)
		for k, v := range tc.header {
			r.Header.Set(k, v)
		}
		if got := CheckCSRF(r, tc.cookie); (got == "") != tc.ok {
			t.Errorf("%s: %q, want ok=%v", tc.name, got, tc.ok)
		}
	}
}

func TestSessions(t *testing.T) {
	r := httptest.NewRequest("GET", "/api/events", nil)
	if SessionID(r) != "" {
		t.Fatal("a session id without a cookie")
	}
	r.AddCookie(&http.Cookie{Name: CookieName, Value: "sid"})
	if SessionID(r) != "sid" || !Valid("tok", "tok") || Valid("tok", "tox") || Valid("", "") || Valid("tok", "") {
		t.Fatal("SessionID or Valid")
	}

	s := NewSessions()
	now := time.Unix(1_790_000_000, 0)
	s.now = func() time.Time { return now }
	a, err := s.Create()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.Create()
	if a == b || len(a) != 43 { // 32 random bytes, base64url
		t.Fatalf("session ids %q and %q: want two distinct 32-byte ids", a, b)
	}
	if !s.Valid(a) || !s.Valid(b) || s.Valid(a+"x") || s.Valid("") {
		t.Fatal("Valid")
	}
	if !s.Revoke(a) || s.Valid(a) || !s.Valid(b) || s.Revoke(a) {
		t.Fatal("Revoke must end that session only, once")
	}
	now = now.Add(sessionAge - time.Second)
	if !s.Valid(b) {
		t.Fatal("a session ended before 12 h")
	}
	now = now.Add(time.Second)
	if s.Valid(b) {
		t.Fatal("a session outlived 12 h")
	}
	var nilTable *Sessions
	if nilTable.Valid(a) || nilTable.Revoke(a) {
		t.Fatal("a nil table has no sessions")
	}
}

// The table is bounded: past maxSessions the login that expires first goes.
func TestSessionsBounded(t *testing.T) {
	s := NewSessions()
	now := time.Unix(1_790_000_000, 0)
	s.now = func() time.Time { return now }
	first, _ := s.Create()
	for range maxSessions {
		now = now.Add(time.Millisecond)
		if _, err := s.Create(); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.m) != maxSessions || s.Valid(first) {
		t.Fatalf("%d sessions, first still valid %v: want %d and the oldest gone", len(s.m), s.Valid(first), maxSessions)
	}
}

// Without a token, a request that a proxy forwarded is no local client,
// whatever its address and Host say.
func TestProxyHeader(t *testing.T) {
	for _, h := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "x-forwarded-port", "X-Real-Ip", "Via"} {
		r := httptest.NewRequest("GET", "http://127.0.0.1:8000/api/events", nil)
		r.RemoteAddr = "127.0.0.1:40000"
		r.Header[h] = []string{"127.0.0.1"} // as set, not canonicalised
		if ProxyHeader(r) == "" || LocalRequest(r) {
			t.Errorf("%s: ProxyHeader %q, LocalRequest %v", h, ProxyHeader(r), LocalRequest(r))
		}
		if msg := LoopbackRefusal(r, "the admin API"); !strings.Contains(msg, "AGENTHOOK_ADMIN_TOKEN") || !strings.Contains(msg, "proxy") {
			t.Errorf("%s: refusal %q", h, msg)
		}
	}
	r := httptest.NewRequest("GET", "http://127.0.0.1:8000/api/events", nil)
	r.RemoteAddr = "127.0.0.1:40000"
	r.Header.Set("X-Forwarded-For", "203.0.113.9")
	r.Header.Set("Forwarded", "for=203.0.113.9")
	if got := ProxyHeader(r); got != "Forwarded" {
		t.Errorf("ProxyHeader = %q, want the first of them, Forwarded", got)
	}
	r.Header = http.Header{"X-Forwarder": {"x"}, "Accept": {"*/*"}}
	if ProxyHeader(r) != "" || !LocalRequest(r) || LoopbackRefusal(r, "the admin API") != "" {
		t.Errorf("no proxy header: ProxyHeader %q, LocalRequest %v", ProxyHeader(r), LocalRequest(r))
	}
}
