// Package config loads agenthook's configuration: a YAML file (optional)
// over built-in defaults, with ${VAR} references expanded from the
// environment. With no file, the seed mapping of four Stripe events to
// four decision tools is the configuration, so `agenthook serve` works
// with nothing but two environment variables.
package config

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	"gopkg.in/yaml.v3"
)

// DefaultModel is the model used when neither the config file nor
// AGENTHOOK_MODEL names one: the SDK's current Sonnet (claude-sonnet-4-5 is
// deprecated, end of life 2026-11-30).
const DefaultModel = "claude-sonnet-5-5"

// Defaults that are referred to by more than one place.
const (
	defaultAddr         = ":8000"
	defaultStore        = "agenthook-data/agenthook.db"
	defaultMaxAttempts  = 8
	defaultMaxBodyBytes = 2 << 20
	defaultWorkers      = 8
	defaultRetention    = 30 * 24 * time.Hour
	defaultMaxSteps     = 4
	defaultPromptBytes  = 24 << 10

	// minRetention keeps the dedupe window longer than Stripe's retry
	// schedule (up to three days in live mode), with room to spare.
	minRetention = 7 * 24 * time.Hour
)

// Config is agenthook's whole configuration.
type Config struct {
	Addr            string   `yaml:"addr"`
	Store           string   `yaml:"store"`
	LogFormat       string   `yaml:"log_format"`
	MaxAttempts     int      `yaml:"max_attempts"`
	MaxBodyBytes    int64    `yaml:"max_body_bytes"`
	Retention       Duration `yaml:"retention"`
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	Workers         int      `yaml:"workers"`
	Retry           Retry    `yaml:"retry"`
	// RescueAfter is how long a job may run before another replica takes
	// it over (PostgreSQL). Longer than the slowest dispatch, or a slow one
	// runs twice; shorter means a dead replica's events wait less.
	RescueAfter Duration `yaml:"rescue_after"`
	// OrderWindow is how long an event waits after it is received before
	// it may run, so that an older event about the same object that
	// arrives a little later still runs first.
	OrderWindow Duration `yaml:"order_window"`
	// MaxConnections caps the HTTP connections held open at once; more
	// wait in the kernel's backlog until one closes (idle ones first).
	MaxConnections int `yaml:"max_connections"`
	// ToolSecret signs the requests of http tools and the http provider
	// (Agenthook-Signature). Default: AGENTHOOK_TOOL_SECRET.
	ToolSecret string `yaml:"tool_secret"`
	// StripeWrites names the Stripe write actions tools may run
	// (refund.create, …). Anything not listed is refused.
	StripeWrites []string `yaml:"stripe_writes"`
	// StripeApproval names Stripe write actions that always wait for an
	// operator's approval, whatever tool runs them.
	StripeApproval []string `yaml:"stripe_approval"`
	// ApprovalTimeout denies a pending tool call automatically after this
	// long; 0 waits for an operator indefinitely.
	ApprovalTimeout Duration        `yaml:"approval_timeout"`
	Stripe          Stripe          `yaml:"stripe"`
	Agent           Agent           `yaml:"agent"`
	Routes          []Route         `yaml:"routes"`
	Tools           map[string]Tool `yaml:"tools"`
}

// Retry is the backoff between dispatch attempts of one event.
type Retry struct {
	Base Duration `yaml:"base"`
	Max  Duration `yaml:"max"`
}

// Stripe configures webhook signature checking.
type Stripe struct {
	// WebhookSecrets holds every signing secret accepted at once; more than
	// one is how a secret is rotated without dropping events.
	WebhookSecrets []string `yaml:"webhook_secrets"`
	Tolerance      Duration `yaml:"tolerance"`
	// APIKey authenticates the built-in Stripe tool actions. Default:
	// STRIPE_SECRET_KEY. A restricted key (rk_…) is recommended.
	APIKey string `yaml:"api_key"`
	// APIBase overrides https://api.stripe.com (tests, stripe-mock).
	APIBase string `yaml:"api_base"`
}

// Agent configures the model provider.
type Agent struct {
	Provider string `yaml:"provider"`
	Model    string `yaml:"model"`
	APIKey   string `yaml:"api_key"`
	BaseURL  string `yaml:"base_url"`
	// MaxTokens caps one model response, thinking included; 0 (default)
	// picks one with room for thinking at the effort (agent.DefaultMaxTokens).
	MaxTokens int    `yaml:"max_tokens"`
	System    string `yaml:"system"`
	// ToolChoice, Thinking and Effort override what the model capability
	// table picks (see agent.Models); a route may override them again.
	ToolChoice string `yaml:"tool_choice"`
	Thinking   string `yaml:"thinking"`
	Effort     string `yaml:"effort"`
	// API is the OpenAI API to call: responses or chat; empty chooses by
	// base URL (OpenAI itself: responses; any other server: chat).
	API     string   `yaml:"api"`
	Timeout Duration `yaml:"timeout"`
	// MaxSteps bounds the model rounds of one event (default 4); a route
	// may set its own.
	MaxSteps int `yaml:"max_steps"`
	// Prices are the model's list prices in USD per million tokens; when
	// set, the admin API and the console show each event's cost.
	Prices *Prices `yaml:"prices"`
	// MaxPromptBytes caps the event part of the prompt; longer prompts are
	// cut with a visible marker.
	MaxPromptBytes int `yaml:"max_prompt_bytes"`
	// Concurrency caps the model requests in flight in this process; 0
	// (default) means as many as there are workers.
	Concurrency int `yaml:"concurrency"`
}

// Route sends events whose type matches one of Events to the model with
// Tools and Instructions.
type Route struct {
	Name         string   `yaml:"name"`
	Events       []string `yaml:"events"`
	Tools        []string `yaml:"tools"`
	Instructions string   `yaml:"instructions"`
	// When is a CEL expression over the event (id, type, created,
	// livemode, data, …); an event for which it is false is filtered.
	When string `yaml:"when"`
	// Fields lists the event paths the prompt shows (default: the whole
	// compacted object).
	Fields []string `yaml:"fields"`
	// Redact lists extra paths or key names whose values are replaced by
	// [redacted] before anything reaches a model.
	Redact []string `yaml:"redact"`
	// Untrusted lists extra paths or key names whose values a customer or
	// another third party writes; the prompt marks them as such.
	Untrusted []string `yaml:"untrusted"`
	MaxSteps  int      `yaml:"max_steps"`
	// ToolChoice, Thinking, Effort and MaxTokens override the agent's for
	// this route's requests.
	ToolChoice string `yaml:"tool_choice"`
	Thinking   string `yaml:"thinking"`
	Effort     string `yaml:"effort"`
	MaxTokens  int    `yaml:"max_tokens"`
	// OrderKey is the event path whose value groups events that must not
	// run concurrently and run oldest-created first (default
	// data.object.id; e.g. data.object.customer).
	OrderKey string `yaml:"order_key"`
	// Budget caps what the route may spend per hour or day; an event over
	// it waits (status deferred) until the window has room.
	Budget *Budget `yaml:"budget"`
	// Allow lists CEL conditions over input, event and facts that every
	// write call of the route's tools must meet (package policy).
	Allow []string `yaml:"allow"`
}

// Prices are USD per million tokens, by kind.
type Prices struct {
	Input      float64 `yaml:"input"`
	Output     float64 `yaml:"output"`
	CacheRead  float64 `yaml:"cache_read"`
	CacheWrite float64 `yaml:"cache_write"`
}

// Cost is the price of the given token counts.
func (p *Prices) Cost(in, out, cacheRead, cacheWrite int64) float64 {
	if p == nil {
		return 0
	}
	return (float64(in)*p.Input + float64(out)*p.Output + float64(cacheRead)*p.CacheRead + float64(cacheWrite)*p.CacheWrite) / 1e6
}

// Budget is a route's allowance per window: model-dispatched events and/or
// model tokens (input + output, cached input included).
type Budget struct {
	Events int    `yaml:"events"`
	Tokens int64  `yaml:"tokens"`
	Per    string `yaml:"per"` // hour or day
}

// Window is the budget's period.
func (b *Budget) Window() time.Duration {
	if b.Per == "day" {
		return 24 * time.Hour
	}
	return time.Hour
}

// Tool is a tool offered to the model; InputSchema is a JSON schema.
type Tool struct {
	Description string         `yaml:"description"`
	InputSchema map[string]any `yaml:"input_schema"`
	// Run says how the tool is carried out; nil means the decision is only
	// journaled.
	Run *Run `yaml:"run"`
	// InputFrom maps input fields to event paths for the offline provider.
	InputFrom map[string]string `yaml:"input_from"`
	// Approval "required" makes every call wait for an operator; "never"
	// lets a write run with no operator (an explicit opt-out of the
	// default). Empty: a write waits, any other call runs.
	Approval string `yaml:"approval"`
	// AutoApprove is a CEL condition over input and event that approves a
	// write call with no operator when it is true (an evaluation error
	// means a person decides).
	AutoApprove string `yaml:"auto_approve"`
	// Writes marks a tool that changes something outside agenthook (a
	// Stripe write action always does): an event runs each identical write
	// once, whatever its retries, resumes and replays.
	Writes bool `yaml:"writes"`
	// Allow lists CEL conditions over input, event and facts that every
	// call of the tool must meet before it runs (package policy).
	Allow []string `yaml:"allow"`
}

// NeedsApproval reports whether every call to the named tool waits for an
// operator whatever its input: the tool says approval: required, or it
// runs a Stripe write listed in stripe_approval. Writes wait by default
// too, unless auto_approve or approval: never says otherwise: that rule
// needs the call and knows which tools write, and is Approvals.Decide.
func (c *Config) NeedsApproval(name string) bool {
	t, ok := c.Tools[name]
	if !ok {
		return false
	}
	if t.Approval == ApprovalRequired {
		return true
	}
	return t.Run != nil && t.Run.Stripe != "" && slices.Contains(c.StripeApproval, t.Run.Stripe)
}

// Values of tools.<name>.approval.
const (
	ApprovalRequired = "required" // every call waits for an operator
	ApprovalNever    = "never"    // a write runs with no operator: an explicit opt-out
)

// AutoApproveBy is the "by" of the approval step journaled for a call an
// auto_approve expression approved.
const AutoApproveBy = "auto_approve"

// autoApproveCostLimit bounds one evaluation of an auto_approve expression
// (CEL cost units), as for routes' when: filters.
const autoApproveCostLimit = 100_000

// autoApproveEnv is the CEL environment of auto_approve: the tool call's
// input and the whole Stripe event.
var autoApproveEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.CrossTypeNumericComparisons(true),
		cel.ParserExpressionSizeLimit(4096),
		cel.ParserRecursionLimit(100),
		cel.Variable("input", cel.DynType),
		cel.Variable("event", cel.DynType),
	)
})

// compileAutoApprove compiles an auto_approve expression and checks that
// it can yield a bool.
func compileAutoApprove(src string) (cel.Program, error) {
	env, err := autoApproveEnv()
	if err != nil {
		return nil, fmt.Errorf("CEL environment: %w", err)
	}
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("empty CEL expression: write a condition such as input.amount <= 2500, or remove the key")
	}
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		return nil, fmt.Errorf("CEL expression %q does not compile: fix it (variables: input, event): %w", src, iss.Err())
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) && !t.IsExactType(cel.DynType) {
		return nil, fmt.Errorf("CEL expression %q yields %s, not a bool: auto_approve must be a condition, such as input.amount <= 2500", src, t)
	}
	prg, err := env.Program(ast, cel.CostLimit(autoApproveCostLimit))
	if err != nil {
		return nil, fmt.Errorf("CEL expression %q: %w", src, err)
	}
	return prg, nil
}

// Approvals decides, call by call, which tool calls wait for an operator.
// Build it with Config.Approvals; it is safe for concurrent use.
type Approvals struct {
	tools map[string]approvalRule
}

type approvalRule struct {
	always bool // approval: required, or a Stripe write in stripe_approval
	never  bool // approval: never
	src    string
	auto   cel.Program // auto_approve, or nil
}

// Approvals compiles the auto_approve expressions of c's tools.
func (c *Config) Approvals() (*Approvals, error) {
	a := &Approvals{tools: map[string]approvalRule{}}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(c.Tools)) {
		t := c.Tools[name]
		r := approvalRule{always: c.NeedsApproval(name), never: t.Approval == ApprovalNever, src: t.AutoApprove}
		if t.AutoApprove != "" {
			prg, err := compileAutoApprove(t.AutoApprove)
			if err != nil {
				errs = append(errs, fmt.Errorf("tool %q: auto_approve: %w", name, err))
				continue
			}
			r.auto = prg
		}
		a.tools[name] = r
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return a, nil
}

// Decide reports whether a call of tool with input, made for event (the
// Stripe event's JSON), waits for an operator. write reports whether the
// tool changes something outside agenthook (writes: true or a Stripe
// write action). A write waits unless the tool says approval: never, or
// its auto_approve expression is true for this call; then auto is the
// expression. approval: required and stripe_approval always wait. An
// auto_approve that cannot be evaluated, or yields anything but true,
// approves nothing: a person decides.
func (a *Approvals) Decide(tool string, write bool, input json.RawMessage, event []byte) (need bool, auto string) {
	if a == nil {
		return write, ""
	}
	r, ok := a.tools[tool]
	switch {
	case !ok:
		return write, ""
	case r.always:
		return true, ""
	case !write || r.never:
		return false, ""
	case r.auto == nil:
		return true, ""
	}
	if r.eval(input, event) {
		return false, r.src
	}
	return true, ""
}

// eval reports whether the rule's auto_approve is true for the call; any
// error, a panic or a value other than true is false (fail closed).
func (r approvalRule) eval(input json.RawMessage, event []byte) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	in, err := CELValue(input)
	if err != nil {
		return false
	}
	ev, err := CELValue(event)
	if err != nil {
		return false
	}
	if in == nil {
		in = map[string]any{}
	}
	v, _, err := r.auto.Eval(map[string]any{"input": in, "event": ev})
	if err != nil {
		return false
	}
	b, isBool := v.Value().(bool)
	return isBool && b
}

// CELValue reads JSON for a CEL expression's variables: integers as int64
// and other numbers as float64, as CEL expects them; empty input is nil.
// Approvals here and policies (package policy) read their inputs with it.
func CELValue(raw []byte) (any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON value")
	}
	return nativeJSON(v), nil
}

func nativeJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = nativeJSON(e)
		}
	case []any:
		for i, e := range x {
			x[i] = nativeJSON(e)
		}
	}
	return v
}

// Run is how a tool is executed: exactly one of HTTP, Command or Stripe.
type Run struct {
	HTTP    *HTTPRun `yaml:"http"`
	Command []string `yaml:"command"` // argv, no shell
	Stripe  string   `yaml:"stripe"`  // a built-in action, e.g. charge.retrieve
	Timeout Duration `yaml:"timeout"` // for command and stripe (http has its own)
}

// HTTPRun POSTs the tool call, signed, to the user's service.
type HTTPRun struct {
	URL     string            `yaml:"url"`
	Headers map[string]string `yaml:"headers"`
	Timeout Duration          `yaml:"timeout"`
}

// providers lists the accepted agent.provider values.
var providers = []string{"anthropic", "openai", "http", "offline"}

// Default returns the zero-config configuration: every default, the seed
// routes and tools, and the values taken from the environment
// (STRIPE_WEBHOOK_SECRET, AGENTHOOK_MODEL).
func Default(getenv func(string) string) *Config {
	c := &Config{
		Addr:            defaultAddr,
		Store:           defaultStore,
		LogFormat:       "text",
		MaxAttempts:     defaultMaxAttempts,
		MaxBodyBytes:    defaultMaxBodyBytes,
		Retention:       Duration(defaultRetention),
		ShutdownTimeout: Duration(30 * time.Second),
		Workers:         defaultWorkers,
		MaxConnections:  defaultMaxConnections,
		RescueAfter:     Duration(5 * time.Minute),
		OrderWindow:     Duration(2 * time.Second),
		Retry:           Retry{Base: Duration(2 * time.Second), Max: Duration(10 * time.Minute)},
		Stripe: Stripe{
			WebhookSecrets: splitSecrets([]string{getenv("STRIPE_WEBHOOK_SECRET")}),
			Tolerance:      Duration(5 * time.Minute),
			APIKey:         getenv("STRIPE_SECRET_KEY"),
		},
		ToolSecret: getenv("AGENTHOOK_TOOL_SECRET"),
		Agent: Agent{
			Provider:       "anthropic",
			Model:          cmp.Or(getenv("AGENTHOOK_MODEL"), DefaultModel),
			System:         DefaultSystem,
			Timeout:        Duration(60 * time.Second),
			MaxSteps:       defaultMaxSteps,
			MaxPromptBytes: defaultPromptBytes,
		},
		Routes: seedRoutes(),
		Tools:  seedTools(),
	}
	return c
}

// Load reads the config file at path over the defaults, expands ${VAR}
// references in its values, and validates the result. With path "" it
// returns the validated zero-config Default.
func Load(path string, getenv func(string) string) (*Config, error) {
	if path == "" {
		c := Default(getenv)
		if err := c.Validate(); err != nil {
			return nil, fmt.Errorf("config (zero-config defaults): %w", err)
		}
		return c, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w (pass an existing file with --config, or omit it to use the zero-config defaults)", err)
	}
	c, err := parse(data, getenv)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// parse decodes one YAML document over Default(getenv). Expansion happens
// on the parsed node tree, never on the raw text, so a variable's value
// is always a single scalar and cannot inject YAML structure.
func parse(data []byte, getenv func(string) string) (*Config, error) {
	c := Default(getenv)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return c, nil // an empty file means "all defaults"
		}
		return nil, fmt.Errorf("%w: fix the YAML syntax", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one YAML document (---): put the whole config in one document")
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return c, nil
		}
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return c, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: the config must be a mapping of keys (addr:, routes:, …), not a %s", root.Line, kindName(root))
	}
	// yaml.v3's KnownFields only applies to Decoder.Decode, not to
	// Node.Decode, which is needed to decode the expanded tree; checkKeys
	// gives the same strictness, with the original line numbers.
	if err := checkKeys(root, typeOfConfig, ""); err != nil {
		return nil, err
	}
	var secrets []string
	if err := expand(root, getenv, &secrets, map[*yaml.Node]bool{}); err != nil {
		return nil, err
	}
	// Seed tools are merged with the file's tools field by field below,
	// so decode tools separately from the rest.
	userTools := map[string]Tool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "tools" {
			if err := root.Content[i+1].Decode(&userTools); err != nil {
				return nil, redact(err, secrets)
			}
			root.Content = slices.Delete(root.Content, i, i+2)
			break
		}
	}
	if err := root.Decode(c); err != nil {
		return nil, redact(err, secrets)
	}
	for name, t := range userTools {
		if seed, ok := c.Tools[name]; ok {
			// Redefining only a seed tool's description (or only its
			// schema) keeps the other half.
			t.Description = cmp.Or(t.Description, seed.Description)
			if t.InputSchema == nil {
				t.InputSchema = seed.InputSchema
			}
			if t.InputFrom == nil {
				t.InputFrom = seed.InputFrom
			}
		}
		c.Tools[name] = t
	}
	c.Stripe.WebhookSecrets = splitSecrets(c.Stripe.WebhookSecrets)
	c.Agent.Model = cmp.Or(c.Agent.Model, getenv("AGENTHOOK_MODEL"), DefaultModel)
	for i := range c.Routes {
		r := &c.Routes[i]
		r.Name = strings.TrimSpace(r.Name)
		if r.Name == "" && len(r.Events) > 0 {
			r.Name = r.Events[0]
		}
	}
	return c, nil
}

// splitSecrets turns entries such as "whsec_new, whsec_old" into one
// secret each: a comma-separated list is how an environment variable
// carries the old and new secret during rotation.
func splitSecrets(in []string) []string {
	var out []string
	for _, s := range in {
		for part := range strings.SplitSeq(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// redact removes expanded environment values from a decode error, which
// may quote the offending scalar: a secret put in the wrong key must not
// end up in a log.
func redact(err error, values []string) error {
	msg := err.Error()
	changed := false
	for _, v := range values {
		if len(v) >= 4 && strings.Contains(msg, v) {
			msg = strings.ReplaceAll(msg, v, "[value from environment]")
			changed = true
		}
	}
	if !changed {
		return err
	}
	return errors.New(msg)
}

// varRef matches ${NAME}; other uses of $ ("costs $5", JSON-schema
// "$ref") are left alone, unlike os.Expand, which would eat them.
var varRef = regexp.MustCompile(`\$\{([^}]*)\}`)

var varName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// expand replaces ${NAME} in every scalar value (not mapping keys) under n
// with getenv(NAME), recording the values substituted so errors can hide
// them. Each node is expanded once, even when reached through an alias,
// so an expanded value is never expanded again.
func expand(n *yaml.Node, getenv func(string) string, values *[]string, seen map[*yaml.Node]bool) error {
	if n == nil || seen[n] {
		return nil
	}
	seen[n] = true
	switch n.Kind {
	case yaml.AliasNode:
		return expand(n.Alias, getenv, values, seen)
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return nil
		}
		var bad string
		out := varRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
			name := ref[2 : len(ref)-1]
			if !varName.MatchString(name) {
				bad = ref
				return ref
			}
			v := getenv(name)
			*values = append(*values, v)
			return v
		})
		if bad != "" {
			return fmt.Errorf("line %d: %q is not a valid variable reference: use ${NAME} with letters, digits and underscores", n.Line, bad)
		}
		if strings.Contains(varRef.ReplaceAllString(n.Value, ""), "${") {
			return fmt.Errorf("line %d: unterminated ${ in a value: close it with }", n.Line)
		}
		n.Value = out
		// A plain scalar is re-typed from its new text, so "workers: ${N}"
		// becomes an int. A value that would read as null stays a string,
		// and quoted scalars always stay strings.
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
			switch out {
			case "", "~", "null", "Null", "NULL":
				n.Tag = "!!str"
			default:
				n.Tag = ""
			}
		}
		return nil
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			if err := expand(n.Content[i], getenv, values, seen); err != nil {
				return err
			}
		}
		return nil
	default:
		for _, c := range n.Content {
			if err := expand(c, getenv, values, seen); err != nil {
				return err
			}
		}
		return nil
	}
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "single value"
	case yaml.AliasNode:
		return "alias"
	}
	return "mapping"
}

// Redacted returns a copy of c that is safe to print: webhook secrets and
// the API key become "[set]" and a password in a store URL is masked.
// Slices and the tools map are copied; tool schemas are shared.
func (c *Config) Redacted() *Config {
	r := *c
	r.Stripe.WebhookSecrets = make([]string, len(c.Stripe.WebhookSecrets))
	for i := range r.Stripe.WebhookSecrets {
		r.Stripe.WebhookSecrets[i] = "[set]"
	}
	if r.Agent.APIKey != "" {
		r.Agent.APIKey = "[set]"
	}
	if r.Stripe.APIKey != "" {
		r.Stripe.APIKey = "[set]"
	}
	if r.ToolSecret != "" {
		r.ToolSecret = "[set]"
	}
	if strings.Contains(r.Store, "://") {
		if u, err := url.Parse(r.Store); err == nil {
			r.Store = u.Redacted()
		} else {
			r.Store = "[unparseable URL]"
		}
	}
	r.Routes = make([]Route, len(c.Routes))
	for i, rt := range c.Routes {
		rt.Events = slices.Clone(rt.Events)
		rt.Tools = slices.Clone(rt.Tools)
		r.Routes[i] = rt
	}
	r.Tools = maps.Clone(c.Tools)
	return &r
}
