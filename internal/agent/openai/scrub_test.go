package openai

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/agenthook/agenthook/internal/agent"
	"github.com/agenthook/agenthook/internal/modeltest"
)

// A compatible server (or a proxy before it) that answers 401 and echoes
// the Authorization header must not get the key into the error, which is
// logged and journaled as last_error: on both APIs, in a JSON error and in
// a plain-text body.
func TestErrorEchoingTheKeyIsScrubbed(t *testing.T) {
	const key = "local-key-0123456789" // no known shape: only the request tells it is the key
	for _, tc := range []struct{ name, api, body string }{
		{"chat json", APIChat, `{"error":{"message":"bad Authorization: Bearer ` + key + ` (raw ` + key + `)","type":"invalid_request_error"}}`},
		{"responses json", APIResponses, `{"error":{"message":"bad Authorization: Bearer ` + key + ` (raw ` + key + `)","type":"invalid_request_error"}}`},
		{"chat text", APIChat, "401 Unauthorized\nauthorization: Bearer " + key + "\nx-api-key: sk-proj-other0123456789\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := modeltest.NewOpenAI(modeltest.Reply{Status: 401, Body: tc.body})
			defer srv.Close()
			_, err := New(Options{APIKey: key, BaseURL: srv.BaseURL(), API: tc.api}).Send(context.Background(), request(agent.Choice{Mode: "any"}, opening()))
			var ae *agent.Error
			if !errors.As(err, &ae) || ae.StatusCode != 401 {
				t.Fatalf("error %v, want a 401 *agent.Error", err)
			}
			for _, leak := range []string{key, "sk-proj-other0123456789"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("the error leaks %q: %s", leak, err)
				}
			}
			if !strings.Contains(err.Error(), "OPENAI_API_KEY") {
				t.Errorf("the error lost its advice: %s", err)
			}
		})
	}
}
