package anthropic

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/agenthook/agenthook/internal/agent"
)

// A gateway that answers 401 and echoes the request's headers must not get
// the key into the error, which is logged and journaled as last_error.
func TestErrorEchoingTheKeyIsScrubbed(t *testing.T) {
	const key = "gw-key-0123456789abcdef" // no known shape: only the request tells it is the key
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		// The key as it was sent (the SDK puts it in Authorization or
		// x-api-key), and alone.
		sent := r.Header.Get("Authorization") + r.Header.Get("X-Api-Key")
		w.Write([]byte(`{"type":"error","error":{"type":"authentication_error","message":"invalid key ` + key +
			` (headers: ` + sent + `; x-api-key: sk-ant-api03-other0123456789)"}}`))
	}))
	defer srv.Close()
	p := New(Options{APIKey: key, BaseURL: srv.URL})
	_, err := p.Send(context.Background(), agent.Request{Model: "claude-test", MaxTokens: 16,
		Messages: []agent.Message{{Role: agent.User, Content: []agent.Block{{Type: agent.TextBlock, Text: "hi"}}}}})
	var ae *agent.Error
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusUnauthorized {
		t.Fatalf("error %v, want a 401 *agent.Error", err)
	}
	for _, leak := range []string{key, "sk-ant-api03-other0123456789"} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("the error leaks %q: %s", leak, err)
		}
	}
	if !strings.Contains(err.Error(), "invalid key") || !strings.Contains(err.Error(), "ANTHROPIC_API_KEY") {
		t.Errorf("the error lost its message: %s", err)
	}
}
