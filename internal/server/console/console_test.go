package console

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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

func TestSessionToken(t *testing.T) {
	r := httptest.NewRequest("GET", "/api/events", nil)
	if SessionToken(r) != "" {
		t.Fatal("a token without a cookie")
	}
	r.AddCookie(&http.Cookie{Name: CookieName, Value: "tok"})
	if SessionToken(r) != "tok" || !Valid("tok", "tok") || Valid("tok", "tox") || Valid("", "") || Valid("tok", "") {
		t.Fatal("SessionToken or Valid")
	}
}
