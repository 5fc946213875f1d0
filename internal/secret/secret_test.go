package secret

import (
	"strings"
	"testing"
)

// Every credential an upstream might echo back is gone from the text, and
// ordinary error text around it survives.
func TestScrub(t *testing.T) {
	for _, tc := range []struct {
		in, gone, keep string
	}{
		{"401: invalid header Authorization: Bearer abc.def-ghi", "abc.def-ghi", "Authorization: Bearer " + Mask},
		{`{"headers":{"Authorization":"Basic dXNlcjpwYXNz"}}`, "dXNlcjpwYXNz", `"Authorization":"Basic ` + Mask},
		{`{"error":"bad key","echo":"{\"x-api-key\": \"k-1234567890\"}"}`, "k-1234567890", "bad key"},
		{"x-api-key: sk-ant-api03-AAAABBBBCCCC was refused", "sk-ant-api03-AAAABBBBCCCC", "was refused"},
		{"invalid key sk-ant-api03-AAAABBBBCCCC", "AAAABBBBCCCC", "invalid key " + Mask},
		{"Incorrect API key provided: sk-proj-abcdefghijkl", "abcdefghijkl", "Incorrect API key provided"},
		{"token sk_live_51Habcdef used", "51Habcdef", "used"},
		{"token sk_test_51Habcdef used", "51Habcdef", "used"},
		{"restricted rk_live_51Habcdef", "51Habcdef", "restricted"},
		{"secret whsec_abcdefABCDEF123", "abcdefABCDEF123", "secret " + Mask},
		{"got bearer eyJhbGciOi.x.y", "eyJhbGciOi", "bearer " + Mask},
		{"dial postgres://u:hunter22@db/x failed", "hunter22", "postgres://u:xxxxx@db/x failed"},
		{"GET /v1?password=hunter22&db=x", "hunter22", "db=x"},
		{`{"api_key": "plainvalue99"}`, "plainvalue99", `"api_key": "` + Mask},
	} {
		got := Scrub(tc.in)
		if strings.Contains(got, tc.gone) || !strings.Contains(got, tc.keep) {
			t.Errorf("Scrub(%q) = %q: want %q gone and %q kept", tc.in, got, tc.gone, tc.keep)
		}
	}
	// Ordinary error text is untouched.
	for _, s := range []string{
		"rate limited: retry after 30s",
		`{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`,
		"password authentication failed for user \"agenthook\"",
		"a task_id and a desk_lamp",
	} {
		if got := Scrub(s); got != s {
			t.Errorf("Scrub(%q) = %q, want it unchanged", s, got)
		}
	}
	// A known value is scrubbed whatever its shape; short ones are not.
	if got := Scrub("echo: my-own-local-key and tenant", "my-own-local-key", "tenant"); got != "echo: "+Mask+" and tenant" {
		t.Errorf("known values: %q", got)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://user:secret@host/db":                       "postgres://user:xxxxx@host/db",
		"postgresql://user:s%40cret@host:5432/db?sslmode=off":  "postgresql://user:xxxxx@host:5432/db?sslmode=off",
		"postgres://user@host/db?password=secret&sslmode=off":  "postgres://user@host/db?password=xxxxx&sslmode=off",
		"postgres://host/db?sslpassword=secret":                "postgres://host/db?sslpassword=xxxxx",
		"postgres://root@127.0.0.1:5432/test?sslmode=disable":  "postgres://root@127.0.0.1:5432/test?sslmode=disable",
		"agenthook-data/agenthook.db":                          "agenthook-data/agenthook.db",
		"postgres://user:secret@host/db?PASSWORD=x&Password=y": "postgres://user:xxxxx@host/db?PASSWORD=xxxxx&Password=xxxxx",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
	// Unparseable: scrubbed as text.
	if got := RedactURL("postgres://user:secret@ho st/%zz"); strings.Contains(got, "secret") {
		t.Errorf("unparseable URL: %q", got)
	}
}
