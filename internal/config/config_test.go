package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// load writes body to a temp agenthook.yaml and loads it.
func load(t *testing.T, body string, getenv func(string) string) (*Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agenthook.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(path, getenv)
}

func mustFail(t *testing.T, body string, want ...string) {
	t.Helper()
	_, err := load(t, body, env())
	if err == nil {
		t.Fatalf("Load succeeded; want an error containing %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

func TestDefaults(t *testing.T) {
	c, err := Load("", env())
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"addr", c.Addr, ":8000"},
		{"store", c.Store, "agenthook-data/agenthook.db"},
		{"log_format", c.LogFormat, "text"},
		{"max_attempts", c.MaxAttempts, 8},
		{"max_body_bytes", c.MaxBodyBytes, int64(2 << 20)},
		{"retention", c.Retention.D(), 30 * 24 * time.Hour},
		{"shutdown_timeout", c.ShutdownTimeout.D(), 30 * time.Second},
		{"workers", c.Workers, 8},
		{"retry.base", c.Retry.Base.D(), 2 * time.Second},
		{"retry.max", c.Retry.Max.D(), 10 * time.Minute},
		{"stripe.tolerance", c.Stripe.Tolerance.D(), 5 * time.Minute},
		{"stripe.webhook_secrets", len(c.Stripe.WebhookSecrets), 0},
		{"agent.provider", c.Agent.Provider, "anthropic"},
		{"agent.model", c.Agent.Model, DefaultModel},
		{"agent.max_tokens (0: by effort)", c.Agent.MaxTokens, 0},
		{"agent.timeout", c.Agent.Timeout.D(), 60 * time.Second},
		{"agent.system set", c.Agent.System != "", true},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestSeedMapping(t *testing.T) {
	c := Default(env())
	want := map[string]string{
		"charge.dispute.created":        "handle_dispute",
		"invoice.payment_failed":        "retry_failed_payment",
		"customer.subscription.deleted": "churn_outreach",
		"charge.refunded":               "log_refund",
	}
	if len(c.Routes) != len(want) {
		t.Fatalf("%d seed routes, want %d", len(c.Routes), len(want))
	}
	for _, r := range c.Routes {
		if len(r.Events) != 1 || len(r.Tools) != 1 || want[r.Events[0]] != r.Tools[0] {
			t.Errorf("seed route %+v: want one event mapped to one of %v", r, want)
		}
		if r.Name == "" || len(r.Instructions) < 100 {
			t.Errorf("seed route %q: want a name and real instructions, got %q", r.Name, r.Instructions)
		}
	}
	if len(c.Tools) != 4 {
		t.Errorf("%d seed tools, want 4", len(c.Tools))
	}
}

func TestSeedToolSchemas(t *testing.T) {
	enums := map[string]struct {
		field  string
		values []string
		extra  []string
	}{
		"handle_dispute":       {"action", []string{"accept", "counter_with_evidence", "escalate_to_human"}, []string{"evidence_summary", "confidence"}},
		"retry_failed_payment": {"action", []string{"retry_now", "retry_later", "email_customer", "escalate"}, []string{"retry_in_hours", "customer_message"}},
		"churn_outreach":       {"action", []string{"winback_offer", "feedback_survey", "no_action"}, []string{"message"}},
		"log_refund":           {"category", []string{"customer_request", "duplicate", "fraudulent", "product_issue", "other"}, []string{"note"}},
	}
	tools := Default(env()).Tools
	for name, want := range enums {
		tool, ok := tools[name]
		if !ok {
			t.Errorf("seed tool %s missing", name)
			continue
		}
		if tool.Description == "" {
			t.Errorf("%s: no description", name)
		}
		s := tool.InputSchema
		if s["type"] != "object" {
			t.Errorf("%s: type = %v, want object", name, s["type"])
		}
		props, _ := s["properties"].(map[string]any)
		required, _ := s["required"].([]string)
		for _, f := range append([]string{"stripe_id", "amount", "customer", "reason", want.field}, want.extra...) {
			p, ok := props[f].(map[string]any)
			if !ok {
				t.Errorf("%s: no property %s", name, f)
				continue
			}
			if p["description"] == "" || p["description"] == nil {
				t.Errorf("%s.%s: no description", name, f)
			}
		}
		for _, f := range []string{"stripe_id", "amount", "customer", "reason", want.field} {
			if !slices.Contains(required, f) {
				t.Errorf("%s: %s not required (required: %v)", name, f, required)
			}
		}
		if amount, _ := props["amount"].(map[string]any); amount["type"] != "integer" {
			t.Errorf("%s: amount type = %v, want integer", name, amount["type"])
		}
		field, _ := props[want.field].(map[string]any)
		if got, _ := field["enum"].([]string); !slices.Equal(got, want.values) {
			t.Errorf("%s.%s enum = %v, want %v", name, want.field, got, want.values)
		}
	}
}

func TestDefaultIsFresh(t *testing.T) {
	a := Default(env())
	a.Routes[0].Tools[0] = "changed"
	a.Tools["handle_dispute"].InputSchema["type"] = "changed"
	b := Default(env())
	if b.Routes[0].Tools[0] == "changed" || b.Tools["handle_dispute"].InputSchema["type"] == "changed" {
		t.Fatal("Default shares state between calls")
	}
}

func TestUnknownKeys(t *testing.T) {
	mustFail(t, "adr: :9000\n", `"adr"`, "line 1", "at the top level", "agenthook.yaml")
	mustFail(t, "agent: {modle: x}\n", `"modle"`, "under agent", "model")
	mustFail(t, "stripe:\n  tolerance: 5m\n  webhook_secret: x\n", `"webhook_secret"`, "line 3", "webhook_secrets")
	mustFail(t, "routes:\n  - events: [charge.refunded]\n    tool: [log_refund]\n", `"tool"`, "routes[1]")
	mustFail(t, "tools:\n  x:\n    description: d\n    schema: {type: object}\n", `"schema"`, "tools.x")
}

func TestUndefinedTool(t *testing.T) {
	mustFail(t, "routes:\n  - events: [charge.refunded]\n    tools: [log_refund]\n  - events: [\"charge.*\"]\n    tools: [foo]\n",
		`route 2 (charge.*)`, `"foo"`, "handle_dispute", "log_refund", "define it or fix the name")
}

func TestRouteErrors(t *testing.T) {
	mustFail(t, "routes:\n  - events: []\n    tools: [log_refund]\n", "route 1", "no events")
	mustFail(t, "routes:\n  - events: [charge.refunded]\n", "route 1 (charge.refunded)", "no tools")
	mustFail(t, "routes: []\n", "no routes")
	for _, p := range []string{"", " ", "charge refunded", "charge.*.created", "charge*", "charge..refunded", "**", "charge.**", ".charge"} {
		mustFail(t, "routes:\n  - events: ['"+p+"']\n    tools: [log_refund]\n", "route 1", "pattern")
	}
	mustFail(t, "routes:\n  - events: [charge.refunded]\n    tools: [log_refund]\n  - events: [charge.refunded]\n    tools: [log_refund]\n",
		"repeats event pattern")
}

func TestFileRoutesReplaceSeedToolsMerge(t *testing.T) {
	c, err := load(t, `
routes:
  - events: ["charge.dispute.*"]
    tools: [handle_dispute, note]
tools:
  handle_dispute:
    description: Custom dispute tool.
  note:
    description: Take a note.
    input_schema: {type: object, properties: {text: {type: string}}}
`, env())
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Routes) != 1 || c.Routes[0].Name != "charge.dispute.*" {
		t.Fatalf("routes = %+v, want the one file route named after its first pattern", c.Routes)
	}
	if len(c.Tools) != 5 {
		t.Errorf("%d tools, want 4 seed + 1", len(c.Tools))
	}
	hd := c.Tools["handle_dispute"]
	if hd.Description != "Custom dispute tool." || hd.InputSchema["type"] != "object" {
		t.Errorf("handle_dispute = %+v: want new description and the seed schema kept", hd)
	}
}

func TestEnvExpansion(t *testing.T) {
	c, err := load(t, `
addr: ${ADDR}
workers: ${WORKERS}
stripe:
  webhook_secrets:
    - ${SECRET_A}
    - "${SECRET_B}"
    - ${UNSET}
agent:
  api_key: ${KEY}
  system: "Prices are in $USD; costs $5. ${COMPANY} policy."
routes:
  - events: ["${EVENT}"]
    tools: [log_refund]
    instructions: ${INJECT}
`, env("ADDR", ":9999", "WORKERS", "12", "SECRET_A", "whsec_a", "SECRET_B", "whsec_b1,whsec_b2",
		"KEY", "sk-ant-x", "COMPANY", "Acme", "EVENT", "charge.refunded", "INJECT", "x\nworkers: 99"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":9999" || c.Workers != 12 || c.Agent.APIKey != "sk-ant-x" {
		t.Errorf("addr %q workers %d api_key %q: not expanded", c.Addr, c.Workers, c.Agent.APIKey)
	}
	if want := []string{"whsec_a", "whsec_b1", "whsec_b2"}; !slices.Equal(c.Stripe.WebhookSecrets, want) {
		t.Errorf("secrets = %v, want %v", c.Stripe.WebhookSecrets, want)
	}
	if want := "Prices are in $USD; costs $5. Acme policy."; c.Agent.System != want {
		t.Errorf("system = %q, want %q (only ${NAME} expands)", c.Agent.System, want)
	}
	if c.Routes[0].Events[0] != "charge.refunded" || c.Routes[0].Instructions != "x\nworkers: 99" {
		t.Errorf("route = %+v: want expansion in a list and no YAML injection", c.Routes[0])
	}
}

func TestEnvExpansionNotInKeys(t *testing.T) {
	mustFail(t, "${KEY}: 1\n", `"${KEY}"`, "unknown key")
	mustFail(t, "addr: ${bad-name}\n", "not a valid variable reference")
}

func TestSecretsFromEnv(t *testing.T) {
	getenv := env("STRIPE_WEBHOOK_SECRET", " whsec_new , whsec_old,, ")
	want := []string{"whsec_new", "whsec_old"}
	c, err := Load("", getenv)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Stripe.WebhookSecrets, want) {
		t.Errorf("zero-config secrets = %q, want %q", c.Stripe.WebhookSecrets, want)
	}
	c, err = load(t, "addr: :8001\n", getenv)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Stripe.WebhookSecrets, want) {
		t.Errorf("file without webhook_secrets: secrets = %q, want %q from the environment", c.Stripe.WebhookSecrets, want)
	}
	c, err = load(t, "stripe: {webhook_secrets: [whsec_file]}\n", getenv)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Stripe.WebhookSecrets, []string{"whsec_file"}) {
		t.Errorf("file secrets = %q, want the file's only", c.Stripe.WebhookSecrets)
	}
}

func TestSecretNotInErrors(t *testing.T) {
	_, err := load(t, "workers: ${STRIPE_WEBHOOK_SECRET}\n", env("STRIPE_WEBHOOK_SECRET", "whsec_topsecret"))
	if err == nil {
		t.Fatal("a secret in an int field loaded")
	}
	if strings.Contains(err.Error(), "topsecret") {
		t.Errorf("error leaks the secret: %v", err)
	}
}

func TestModel(t *testing.T) {
	c, err := Load("", env("AGENTHOOK_MODEL", "claude-opus-4-1"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Agent.Model != "claude-opus-4-1" {
		t.Errorf("zero-config model = %q, want AGENTHOOK_MODEL", c.Agent.Model)
	}
	c, err = load(t, "agent: {model: claude-haiku-4-5}\n", env("AGENTHOOK_MODEL", "claude-opus-4-1"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Agent.Model != "claude-haiku-4-5" {
		t.Errorf("model = %q, want the file's", c.Agent.Model)
	}
	c, err = load(t, "agent: {model: \"${UNSET}\"}\n", env("AGENTHOOK_MODEL", "claude-opus-4-1"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Agent.Model != "claude-opus-4-1" {
		t.Errorf("empty file model = %q, want AGENTHOOK_MODEL", c.Agent.Model)
	}
}

func TestProvider(t *testing.T) {
	mustFail(t, "agent: {provider: gemini}\n", `"gemini"`, "anthropic, openai, http, offline")
	mustFail(t, "agent: {provider: openai}\n", "agent.provider is openai", "gpt-5-mini")
	mustFail(t, "agent: {provider: http}\n", "agent.base_url")
	for _, ok := range []string{
		"agent: {provider: offline}\n",
		"agent: {provider: openai, model: llama3.1, base_url: \"http://127.0.0.1:11434/v1\"}\n",
		"agent: {provider: http, base_url: \"https://agent.example.com/round\"}\n",
	} {
		if _, err := load(t, ok, env()); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}

func TestToolRun(t *testing.T) {
	mustFail(t, "tools: {log_refund: {run: {}}}\n", "exactly one of http, command or stripe (it has 0)")
	mustFail(t, "tools: {log_refund: {run: {command: [x], stripe: refund.create}}}\n", "(it has 2)")
	mustFail(t, "tools: {log_refund: {run: {http: {url: ftp://x}}}}\n", "must start with http:// or https://")
	mustFail(t, "tools: {log_refund: {run: {http: {url: \"http://x\", retries: 3}}}}\n", `unknown key "retries"`)
	c, err := load(t, "tools: {log_refund: {run: {command: [/bin/cat], timeout: 2s}}}\n", env())
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Tools["log_refund"].Run; r == nil || r.Command[0] != "/bin/cat" || r.Timeout.D() != 2*time.Second {
		t.Errorf("run = %+v", r)
	}
	if c.Tools["log_refund"].Description == "" {
		t.Error("adding run: to a seed tool lost its description")
	}
}

func TestDurations(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"30d": 30 * 24 * time.Hour, "7d": 7 * 24 * time.Hour, "1.5d": 36 * time.Hour,
		"1d12h": 36 * time.Hour, "720h": 720 * time.Hour, "5m": 5 * time.Minute, "30s": 30 * time.Second,
	} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "30", "d", "-1d", "1x", "1d-5h", "xd"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) succeeded, want an error", in)
		}
	}
	c, err := load(t, "retention: 10d\nretry: {base: 1s, max: 1h}\n", env())
	if err != nil {
		t.Fatal(err)
	}
	if c.Retention.D() != 240*time.Hour || c.Retry.Max.D() != time.Hour {
		t.Errorf("retention %v retry.max %v", c.Retention, c.Retry.Max)
	}
	mustFail(t, "retention: 30\n", "line 1", "invalid duration")
	if s, _ := Duration(30 * 24 * time.Hour).MarshalYAML(); s != "30d" {
		t.Errorf("MarshalYAML(30d) = %v", s)
	}
	if s, _ := Duration(90 * time.Second).MarshalYAML(); s != "1m30s" {
		t.Errorf("MarshalYAML(90s) = %v", s)
	}
}

func TestRetentionMinimum(t *testing.T) {
	mustFail(t, "retention: 6d\n", "retention", "at least 7d")
	mustFail(t, "retention: 72h\n", "retention", "at least 7d")
}

func TestValidateRanges(t *testing.T) {
	mustFail(t, "max_attempts: 0\nworkers: 1001\nmax_body_bytes: 100\nlog_format: xml\n",
		"max_attempts", "workers", "max_body_bytes", "log_format")
	c := Default(env())
	c.MaxAttempts = 101
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "max_attempts") {
		t.Errorf("Validate with max_attempts 101 = %v", err)
	}
}

func TestExampleFileLoads(t *testing.T) {
	c, err := Load("../../agenthook.example.yaml", env("STRIPE_WEBHOOK_SECRET", "whsec_x", "ANTHROPIC_API_KEY", "sk-ant-x"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Routes) < 4 || c.Agent.APIKey != "sk-ant-x" || !slices.Equal(c.Stripe.WebhookSecrets, []string{"whsec_x"}) {
		t.Errorf("example config: %d routes, api_key set %t, secrets %d", len(c.Routes), c.Agent.APIKey != "", len(c.Stripe.WebhookSecrets))
	}
}

func TestEmptyFileIsDefaults(t *testing.T) {
	c, err := load(t, "# nothing\n", env())
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Routes) != 4 || c.Addr != ":8000" {
		t.Errorf("empty file: %d routes, addr %q; want the defaults", len(c.Routes), c.Addr)
	}
}

func TestRedacted(t *testing.T) {
	c := Default(env("STRIPE_WEBHOOK_SECRET", "whsec_a,whsec_b"))
	c.Agent.APIKey = "sk-ant-secret"
	c.Store = "postgres://u:hunter2@db/agenthook"
	r := c.Redacted()
	if !slices.Equal(r.Stripe.WebhookSecrets, []string{"[set]", "[set]"}) || r.Agent.APIKey != "[set]" || strings.Contains(r.Store, "hunter2") {
		t.Errorf("Redacted = secrets %v, key %q, store %q", r.Stripe.WebhookSecrets, r.Agent.APIKey, r.Store)
	}
	if c.Stripe.WebhookSecrets[0] != "whsec_a" || c.Agent.APIKey != "sk-ant-secret" {
		t.Error("Redacted modified the original")
	}
}
