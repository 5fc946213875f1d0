package tool

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A service whose error body echoes the request's credentials (its
// configured API key header, a Bearer token) must not get them into the
// tool result, which the journal keeps and the model reads.
func TestHTTPErrorEchoingCredentialsIsScrubbed(t *testing.T) {
	const key = "svc-key-0123456789abcdef" // no known shape: only the config tells it is the key
	for _, status := range []int{http.StatusUnauthorized, http.StatusInternalServerError} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			io.WriteString(w, "refused: X-Service-Key "+r.Header.Get("X-Service-Key")+
				", Authorization: "+r.Header.Get("Authorization")+", also sk_test_51Hleaked0123")
		}))
		cfg := httpConfig(srv.URL, time.Second)
		cfg.Tools["notify"].Run.HTTP.Headers = map[string]string{"X-Service-Key": key, "Authorization": "Bearer tok0123456789abcdef"}
		res, err := newSet(t, cfg).Execute(context.Background(), call("notify", `{}`))
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !res.IsError || !strings.Contains(res.Content, "refused: X-Service-Key") {
			t.Fatalf("HTTP %d: result %+v", status, res)
		}
		for _, leak := range []string{key, "tok0123456789abcdef", "sk_test_51Hleaked0123"} {
			if strings.Contains(res.Content, leak) {
				t.Errorf("HTTP %d: the result leaks %q: %s", status, leak, res.Content)
			}
		}
	}
}
