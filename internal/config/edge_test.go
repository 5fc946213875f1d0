package config

import (
	"strings"
	"testing"
)

// "whsec_" with nothing after it is refused, from the file and from the
// environment, with a message that says what to set and never the value.
func TestBareSecretPrefixRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		env  func(string) string
	}{
		{"file", "stripe:\n  webhook_secrets: [whsec_real_one, \"whsec_\"]\n", env()},
		{"environment", "", env("STRIPE_WEBHOOK_SECRET", "whsec_")},
		{"environment, in a rotation", "", env("STRIPE_WEBHOOK_SECRET", "whsec_new_one, whsec_ ")},
	} {
		_, err := load(t, tc.body, tc.env)
		if err == nil || !strings.Contains(err.Error(), `"whsec_" with nothing after it`) || !strings.Contains(err.Error(), "signing secret") {
			t.Errorf("%s: %v, want the bare whsec_ refused, saying what to set", tc.name, err)
		}
	}
	if _, err := load(t, "", env("STRIPE_WEBHOOK_SECRET", "whsec_x")); err != nil {
		t.Errorf("a real secret: %v", err)
	}
}

func TestMaxConnections(t *testing.T) {
	c, err := load(t, "", env())
	if err != nil || c.MaxConnections != 1024 {
		t.Fatalf("default max_connections = %v, %v; want 1024", c, err)
	}
	c, err = load(t, "max_connections: 20000\n", env())
	if err != nil || c.MaxConnections != 20000 {
		t.Fatalf("max_connections: 20000 gave %v, %v", c, err)
	}
	mustFail(t, "max_connections: 0\n", "max_connections is 0: use a number from 16 to 1000000")
	mustFail(t, "max_connections: 2000000\n", "max_connections is 2000000")
}
