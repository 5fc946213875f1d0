package httpagent

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/agenthook/agenthook/internal/agent"
)

// An agent (or a proxy before it) whose error body echoes credentials must
// not get them into the error, which is logged and journaled as last_error.
func TestErrorEchoingCredentialsIsScrubbed(t *testing.T) {
	leaks := []string{"tok0123456789abcdef", "sk-ant-api03-leaked0123456789", "whsec_leakedsecret0123", "sk_live_51Hleaked0123"}
	for _, status := range []int{401, 500} {
		a := newAgent(t, secret, answer{status: status, body: "refused: Authorization: Bearer " + leaks[0] +
			"\nupstream key " + leaks[1] + ", webhook secret " + leaks[2] + ", stripe " + leaks[3]})
		_, err := New(Options{URL: a.URL, Secret: secret}).Send(context.Background(), request())
		var ae *agent.Error
		if !errors.As(err, &ae) || ae.StatusCode != status {
			t.Fatalf("error %v, want an HTTP %d *agent.Error", err, status)
		}
		for _, leak := range leaks {
			if strings.Contains(err.Error(), leak) {
				t.Errorf("HTTP %d: the error leaks %q: %s", status, leak, err)
			}
		}
		if !strings.Contains(err.Error(), "refused: Authorization: Bearer") {
			t.Errorf("HTTP %d: the error lost its text: %s", status, err)
		}
	}
}
