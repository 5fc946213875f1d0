package config

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
)

// Validate reports every problem with c at once, each with what to do
// about it. It does not require a webhook secret: `agenthook check` must
// work without one, and `serve` checks for it itself.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if strings.TrimSpace(c.Addr) == "" {
		add("addr is empty: set a listen address such as :8000")
	}
	if strings.TrimSpace(c.Store) == "" {
		add("store is empty: set a SQLite file path such as %s", defaultStore)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		add("log_format %q is not supported: use text or json", c.LogFormat)
	}
	if c.MaxAttempts < 1 || c.MaxAttempts > 100 {
		add("max_attempts is %d: use a number from 1 to 100 (default %d)", c.MaxAttempts, defaultMaxAttempts)
	}
	if c.MaxBodyBytes < 1024 {
		add("max_body_bytes is %d: use at least 1024 (default %d); Stripe events are often tens of KiB", c.MaxBodyBytes, defaultMaxBodyBytes)
	}
	if c.Retention.D() < minRetention {
		add("retention is %s: use at least 7d (default 30d), so duplicates of an event are still recognised when Stripe retries it for up to 3 days", c.Retention)
	}
	if c.ShutdownTimeout.D() <= 0 {
		add("shutdown_timeout is %s: use a positive duration such as 30s", c.ShutdownTimeout)
	}
	if c.Workers < 1 || c.Workers > 1000 {
		add("workers is %d: use a number from 1 to 1000 (default %d)", c.Workers, defaultWorkers)
	}
	if c.MaxConnections < minMaxConnections || c.MaxConnections > maxMaxConnections {
		add("max_connections is %d: use a number from %d to %d (default %d); each connection holds a file descriptor, so stay below the process's limit (ulimit -n)",
			c.MaxConnections, minMaxConnections, maxMaxConnections, defaultMaxConnections)
	}
	if c.ApprovalTimeout.D() < 0 {
		add("approval_timeout is %s: use a positive duration such as 4h, or 0 to wait for an operator indefinitely", c.ApprovalTimeout)
	}
	if c.RescueAfter.D() < time.Second {
		add("rescue_after is %s: use at least 1s (default 5m); it must exceed the slowest dispatch", c.RescueAfter)
	}
	if c.OrderWindow.D() < 0 || c.OrderWindow.D() > time.Hour {
		add("order_window is %s: use 0 (no waiting) up to 1h (default 2s)", c.OrderWindow)
	}
	if c.Retry.Base.D() <= 0 {
		add("retry.base is %s: use a positive duration such as 2s", c.Retry.Base)
	}
	if c.Retry.Max < c.Retry.Base {
		add("retry.max (%s) is less than retry.base (%s): raise retry.max or lower retry.base", c.Retry.Max, c.Retry.Base)
	}
	if c.Stripe.Tolerance.D() <= 0 {
		add("stripe.tolerance is %s: use a positive duration such as 5m (Stripe's own default)", c.Stripe.Tolerance)
	}
	for i, s := range c.Stripe.WebhookSecrets {
		if strings.TrimSpace(s) == "" || strings.Contains(s, ",") {
			// Never print the value: it is a secret.
			add("stripe.webhook_secrets entry %d is empty or contains a comma: give one secret per entry", i+1)
		} else if strings.TrimSpace(s) == "whsec_" {
			// Everyone knows that key: anyone could sign events with it.
			add("stripe.webhook_secrets entry %d (or STRIPE_WEBHOOK_SECRET) is \"whsec_\" with nothing after it: set it to the endpoint's whole signing secret (Dashboard → Developers → Webhooks → the endpoint → Signing secret, or the one `stripe listen` prints)", i+1)
		}
	}
	c.validateAgent(add)
	c.validateTools(add)
	c.validateRoutes(add)
	return errors.Join(errs...)
}

func (c *Config) validateAgent(add func(string, ...any)) {
	a := c.Agent
	if !slices.Contains(providers, a.Provider) {
		add("agent.provider %q is not supported: use one of %s", a.Provider, strings.Join(providers, ", "))
	}
	if strings.TrimSpace(a.Model) == "" {
		add("agent.model is empty: set it, set AGENTHOOK_MODEL, or remove the key to use %s", DefaultModel)
	}
	if a.MaxTokens < 0 || a.MaxTokens > 128000 {
		add("agent.max_tokens is %d: use a number from 1 to 128000, or 0 for a default with room for thinking at the effort", a.MaxTokens)
	}
	if a.Timeout.D() <= 0 {
		add("agent.timeout is %s: use a positive duration such as 60s", a.Timeout)
	}
	if a.Timeout.D() > 0 && a.Timeout.D() < time.Second {
		add("agent.timeout is %s: model requests take seconds; use at least 1s", a.Timeout)
	}
	if a.BaseURL != "" && !strings.HasPrefix(a.BaseURL, "http://") && !strings.HasPrefix(a.BaseURL, "https://") {
		add("agent.base_url %q must start with http:// or https://", a.BaseURL)
	}
	if a.Provider == "http" && a.BaseURL == "" {
		add("agent.provider http needs agent.base_url: the URL of your agent, which receives each round as a signed POST")
	}
	if a.API != "" && a.API != "responses" && a.API != "chat" {
		add("agent.api %q: use responses (OpenAI's Responses API) or chat (Chat Completions, for OpenAI-compatible servers), or leave it out to choose by agent.base_url", a.API)
	}
	if a.API != "" && a.Provider != "openai" {
		add("agent.api is for agent.provider openai; remove it")
	}
	if a.Provider == "openai" && strings.HasPrefix(a.Model, "claude-") {
		add("agent.provider is openai but agent.model is %q: set agent.model (or AGENTHOOK_MODEL) to a model your OpenAI-compatible server serves, e.g. gpt-5-mini or llama3.1", a.Model)
	}
	if p := a.Prices; p != nil && (p.Input < 0 || p.Output < 0 || p.CacheRead < 0 || p.CacheWrite < 0) {
		add("agent.prices has a negative price: give USD per million tokens, e.g. {input: 3, output: 15, cache_read: 0.3, cache_write: 3.75}")
	}
	if a.MaxSteps < 1 || a.MaxSteps > 50 {
		add("agent.max_steps is %d: use a number from 1 to 50 (default %d)", a.MaxSteps, defaultMaxSteps)
	}
	if a.MaxPromptBytes < 1024 {
		add("agent.max_prompt_bytes is %d: use at least 1024 (default %d)", a.MaxPromptBytes, defaultPromptBytes)
	}
	if a.Concurrency < 0 || a.Concurrency > 1000 {
		add("agent.concurrency is %d: use a number from 0 (as many as workers) to 1000", a.Concurrency)
	}
}

// Bounds and default of max_connections: below the minimum a browser on the console
// and Stripe's deliveries would wait on each other; above the maximum no
// process has the file descriptors.
const (
	minMaxConnections     = 16
	maxMaxConnections     = 1_000_000
	defaultMaxConnections = 1024
)

// toolName is the rule the Anthropic API enforces on tool names; checking
// it here turns a 400 on every event into an error at start.
var toolName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

func (c *Config) validateTools(add func(string, ...any)) {
	for _, name := range slices.Sorted(maps.Keys(c.Tools)) {
		t := c.Tools[name]
		if !toolName.MatchString(name) {
			add("tool %q: names may only contain letters, digits, _ and -, up to 64 characters: rename it", name)
		}
		if strings.TrimSpace(t.Description) == "" {
			add("tool %q has no description: say what the tool records and when to call it; the model relies on it", name)
		}
		if len(t.InputSchema) == 0 {
			add("tool %q has no input_schema: give a JSON schema with type: object and properties", name)
		} else if typ, _ := t.InputSchema["type"].(string); typ != "object" {
			add("tool %q: input_schema must have type: object (the model API requires it)", name)
		}
		c.validateApproval(name, t, add)
		for i, src := range t.Allow {
			if err := CheckAllow(src); err != nil {
				add("tool %q: allow[%d]: %w", name, i, err)
			}
		}
		if r := t.Run; r != nil {
			kinds := 0
			if r.HTTP != nil {
				kinds++
				if !strings.HasPrefix(r.HTTP.URL, "http://") && !strings.HasPrefix(r.HTTP.URL, "https://") {
					add("tool %q: run.http.url %q must start with http:// or https://", name, r.HTTP.URL)
				}
				if r.HTTP.Timeout.D() < 0 {
					add("tool %q: run.http.timeout is negative: use a duration such as 30s", name)
				}
			}
			if len(r.Command) > 0 {
				kinds++
				if strings.TrimSpace(r.Command[0]) == "" {
					add("tool %q: run.command starts with an empty program name: give the program's path first, then its arguments", name)
				}
			}
			if r.Stripe != "" {
				kinds++
			}
			if kinds != 1 {
				add("tool %q: run must have exactly one of http, command or stripe (it has %d)", name, kinds)
			}
			if r.Timeout.D() < 0 {
				add("tool %q: run.timeout is negative: use a duration such as 30s", name)
			}
		}
	}
}

func (c *Config) validateRoutes(add func(string, ...any)) {
	if len(c.Routes) == 0 {
		add("no routes: add at least one under routes:, or remove routes: to use the four seed routes")
		return
	}
	defined := strings.Join(slices.Sorted(maps.Keys(c.Tools)), ", ")
	names := map[string]int{}
	patterns := map[string]int{}
	for i, r := range c.Routes {
		label := fmt.Sprintf("route %d", i+1)
		name := r.Name
		if name == "" && len(r.Events) > 0 {
			name = r.Events[0]
		}
		if name != "" {
			label += fmt.Sprintf(" (%s)", name)
			if j, dup := names[name]; dup {
				add("%s has the same name as route %d: give each route a distinct name", label, j)
			}
			names[name] = i + 1
		}
		if len(r.Events) == 0 {
			add("%s has no events: list the Stripe event types it handles, e.g. events: [charge.refunded]", label)
		}
		for _, p := range r.Events {
			if err := CheckPattern(p); err != nil {
				add("%s: %w", label, err)
				continue
			}
			if j, dup := patterns[p]; dup {
				add("%s repeats event pattern %q from route %d, so it would never match there: remove one", label, p, j)
				continue
			}
			patterns[p] = i + 1
		}
		if len(r.Tools) == 0 {
			add("%s has no tools: name at least one tool from tools: (defined: %s)", label, defined)
		}
		if b := r.Budget; b != nil {
			if b.Events < 0 || b.Tokens < 0 || (b.Events == 0 && b.Tokens == 0) {
				add("%s: budget needs events and/or tokens above 0, e.g. budget: {events: 500, per: hour}", label)
			}
			if b.Per != "hour" && b.Per != "day" {
				add("%s: budget.per is %q: use hour or day", label, b.Per)
			}
		}
		if r.MaxTokens < 0 || r.MaxTokens > 128000 {
			add("%s: max_tokens is %d: use a number from 1 to 128000, or leave it out to use agent.max_tokens", label, r.MaxTokens)
		}
		if r.MaxSteps < 0 || r.MaxSteps > 50 {
			add("%s: max_steps is %d: use a number from 1 to 50, or leave it out to use agent.max_steps", label, r.MaxSteps)
		}
		for j, src := range r.Allow {
			if err := CheckAllow(src); err != nil {
				add("%s: allow[%d]: %w", label, j, err)
			}
		}
		for _, u := range r.Untrusted {
			if err := checkUntrustedEntry(u); err != nil {
				add("%s untrusted: %w", label, err)
			}
		}
		seen := map[string]bool{}
		for _, t := range r.Tools {
			if _, ok := c.Tools[t]; !ok {
				add("%s names tool %q, which is not defined under tools: (defined: %s): define it or fix the name", label, t, defined)
			}
			if seen[t] {
				add("%s lists tool %q twice: list it once", label, t)
			}
			seen[t] = true
		}
	}
}

// AllowVariables are the variables of an allow: expression
// (tools.<name>.allow, routes[].allow): the tool call's input, the whole
// event, and facts from the event's journal (package policy documents
// their shape).
var AllowVariables = []string{"input", "event", "facts"}

// AllowEnv is the CEL environment allow: expressions compile in. Package
// policy compiles with it too, so `agenthook check` reports exactly the
// errors serve would.
var AllowEnv = sync.OnceValues(func() (*cel.Env, error) {
	opts := []cel.EnvOption{
		cel.CrossTypeNumericComparisons(true),
		cel.ParserExpressionSizeLimit(4096),
		cel.ParserRecursionLimit(100),
	}
	for _, v := range AllowVariables {
		opts = append(opts, cel.Variable(v, cel.DynType))
	}
	return cel.NewEnv(opts...)
})

// CompileAllow compiles one allow: expression and checks that it can
// yield a bool; the error quotes the expression.
func CompileAllow(src string) (*cel.Ast, error) {
	env, err := AllowEnv()
	if err != nil {
		return nil, fmt.Errorf("CEL environment: %w", err)
	}
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("empty CEL expression: write a condition such as input.amount <= event.data.object.amount, or remove the entry")
	}
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		return nil, fmt.Errorf("CEL expression %q does not compile: fix it (variables: %s): %w", src, strings.Join(AllowVariables, ", "), iss.Err())
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) && !t.IsExactType(cel.DynType) {
		return nil, fmt.Errorf("CEL expression %q yields %s, not a bool: an allow: entry must be a condition, such as input.amount <= event.data.object.amount", src, t)
	}
	return ast, nil
}

// CheckAllow reports whether src is a valid allow: expression.
func CheckAllow(src string) error {
	_, err := CompileAllow(src)
	return err
}

// validateApproval checks a tool's approval: and auto_approve: keys.
func (c *Config) validateApproval(name string, t Tool, add func(string, ...any)) {
	switch t.Approval {
	case "", ApprovalRequired, ApprovalNever:
	default:
		add("tool %q: approval is %q: use required (every call waits for an operator), never (a write runs with no operator), or leave it out (writes wait, other calls run)", name, t.Approval)
	}
	listed := t.Run != nil && t.Run.Stripe != "" && slices.Contains(c.StripeApproval, t.Run.Stripe)
	if t.Approval == ApprovalNever && listed {
		add("tool %q: approval is never, but it runs %s, which stripe_approval says always waits for an operator: remove one of the two", name, t.Run.Stripe)
	}
	if t.AutoApprove == "" {
		return
	}
	switch {
	case t.Approval == ApprovalRequired:
		add("tool %q: auto_approve and approval: required contradict each other (required: every call waits): remove one", name)
	case t.Approval == ApprovalNever:
		add("tool %q: auto_approve and approval: never contradict each other (never: no call waits): remove one", name)
	case listed:
		add("tool %q: auto_approve would never apply: it runs %s, which stripe_approval says always waits for an operator: remove one of the two", name, t.Run.Stripe)
	}
	if _, err := compileAutoApprove(t.AutoApprove); err != nil {
		add("tool %q: auto_approve: %w", name, err)
	}
}

// checkUntrustedEntry checks one routes[].untrusted entry: a key name or
// a dotted path from the event's root, with the syntax of redact: (the
// route package checks both again when it builds the table).
func checkUntrustedEntry(e string) error {
	switch {
	case e == "" || strings.TrimSpace(e) != e:
		return fmt.Errorf("entry %q: remove the surrounding spaces or the empty entry", e)
	case slices.Contains(strings.Split(e, "."), ""):
		return fmt.Errorf("path %q has an empty segment: write segments separated by single dots, like data.object.metadata.note", e)
	case e == "*":
		return errors.New(`"*" alone would mark the whole event: name keys or paths (the whole event is already fenced as data)`)
	}
	return nil
}

// CheckPattern reports whether p is a valid route event pattern: "*" (every
// event), an exact event type such as "charge.dispute.created", or a prefix
// ending in ".*" such as "charge.dispute.*". Segments are non-empty runs of
// letters, digits, _ and -; "*" is allowed only as a whole last segment.
func CheckPattern(p string) error {
	if p == "" {
		return errors.New("empty event pattern: use an event type such as charge.refunded, a prefix such as charge.*, or *")
	}
	if p == "*" {
		return nil
	}
	segs := strings.Split(p, ".")
	for i, s := range segs {
		switch {
		case s == "*" && i == len(segs)-1:
		case s == "":
			return fmt.Errorf("event pattern %q has an empty segment: separate segments with single dots, e.g. charge.dispute.*", p)
		case strings.Contains(s, "*"):
			return fmt.Errorf("event pattern %q: * may only be a whole last segment (charge.dispute.*) or the whole pattern (*)", p)
		case strings.IndexFunc(s, badPatternRune) >= 0:
			return fmt.Errorf("event pattern %q contains whitespace or other characters not found in Stripe event types: use letters, digits, _, - and dots", p)
		}
	}
	return nil
}

func badPatternRune(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-')
}
