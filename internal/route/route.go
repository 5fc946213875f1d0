// Package route decides which route handles a Stripe event and builds the
// message the model sees for it. Routes come from config; this package
// resolves their tool names once, at start, so a bad config fails before
// any event arrives.
package route

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/agenthook/agenthook/internal/agent"
	"github.com/agenthook/agenthook/internal/config"
	"github.com/agenthook/agenthook/internal/schema"
)

// Tool is a tool offered to the model for a route.
type Tool struct {
	Name        string
	Description string
	InputSchema map[string]any
	// InputFrom maps input fields to CEL expressions over the event (see
	// CompileExpr), for the offline provider; a literal is a CEL literal
	// ('"escalate_to_human"'). New checks that they compile.
	InputFrom map[string]string
	// Strict is sent as strict: true: the schema is one that strict tool
	// use accepts, so the model's input is made to match it.
	Strict bool
	// Check validates an input against InputSchema before anything runs.
	Check func(input json.RawMessage) error
}

// DefaultOrderKey groups events by the object they are about.
const DefaultOrderKey = "data.object.id"

// Key returns the value that orders payload among events about the same
// object: the value at the route's order_key path ("" if absent, which
// means the event is not ordered). An expanded object counts by its id.
func (r Route) Key(payload []byte) string {
	path := r.OrderKey
	if path == "" {
		path = DefaultOrderKey
	}
	v := gjson.GetBytes(payload, path)
	if v.IsObject() {
		v = v.Get("id")
	}
	if v.Type != gjson.String && v.Type != gjson.Number {
		return ""
	}
	return v.String()
}

// Route is a config route with its tools resolved and its when: filter
// compiled.
type Route struct {
	Name         string
	Events       []string
	Tools        []Tool
	Instructions string
	// When is the source of the route's CEL filter; "" lets every
	// matching event through. See Allows.
	When string
	// Fields lists the event paths the prompt shows instead of the
	// trimmed object (see Prompt).
	Fields []string
	// Redact lists paths or key names redacted in addition to
	// DefaultRedact (see Redact).
	Redact []string
	// Untrusted lists paths or key names the prompt marks as written by a
	// customer, in addition to DefaultUntrusted (see Prompt).
	Untrusted []string
	// MaxSteps bounds the model rounds of one event; 0 means the agent's
	// default.
	MaxSteps int
	// OrderKey is the event path whose value serialises events about one
	// object (default data.object.id).
	OrderKey string
	// Budget caps the route's spend per window (nil: no cap).
	Budget *config.Budget
	// Settings is how the route's model requests are made (tool choice,
	// thinking, effort, max_tokens): the route's config over the agent's,
	// over the model's capabilities, resolved and checked by New.
	Settings agent.Settings

	when   *Expr     // compiled When
	redact *redactor // DefaultRedact + Redact
}

// Table matches event types to routes. It is immutable after New and safe
// for concurrent use. Routes it returns share memory with it: treat them
// as read-only.
type Table struct {
	routes []Route
	// exact maps an exact pattern to the index of the first route that
	// lists it, so exact matches are one lookup.
	exact map[string]int
}

// New builds a Table from cfg's routes, resolving tool names to tools.
// It checks what it depends on (patterns, tool names) itself, so a
// hand-built Config cannot produce a Table that fails later.
func New(cfg *config.Config) (*Table, error) {
	t := &Table{exact: map[string]int{}}
	caps := agent.CapabilitiesOf(cfg.Agent.Provider, cfg.Agent.Model)
	base := agent.Settings{ToolChoice: cfg.Agent.ToolChoice, Thinking: cfg.Agent.Thinking, Effort: cfg.Agent.Effort, MaxTokens: cfg.Agent.MaxTokens}
	if err := base.Check(caps, cfg.Agent.Model, 0); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	for i, cr := range cfg.Routes {
		r := Route{
			Name: cr.Name, Events: cr.Events, Instructions: cr.Instructions,
			When: cr.When, Fields: cr.Fields, Redact: cr.Redact, Untrusted: cr.Untrusted, MaxSteps: cr.MaxSteps, OrderKey: cr.OrderKey, Budget: cr.Budget,
		}
		if r.Name == "" && len(cr.Events) > 0 {
			r.Name = cr.Events[0]
		}
		label := fmt.Sprintf("route %d (%s)", i+1, r.Name)
		if len(cr.Events) == 0 {
			return nil, fmt.Errorf("%s has no events: list the Stripe event types it handles", label)
		}
		if len(cr.Tools) == 0 {
			return nil, fmt.Errorf("%s has no tools: name at least one tool from tools:", label)
		}
		for _, p := range cr.Events {
			if err := config.CheckPattern(p); err != nil {
				return nil, fmt.Errorf("%s: %w", label, err)
			}
			if _, dup := t.exact[p]; !dup && !isWildcard(p) {
				t.exact[p] = i
			}
		}
		if cr.When != "" {
			w, err := compileFilter(cr.When)
			if err != nil {
				return nil, fmt.Errorf("%s when: %w", label, err)
			}
			r.when = w
		}
		for _, f := range cr.Fields {
			if err := checkPath(f); err != nil {
				return nil, fmt.Errorf("%s fields: %w", label, err)
			}
		}
		red, err := newRedactor(cr.Redact)
		if err != nil {
			return nil, fmt.Errorf("%s %w", label, err)
		}
		r.redact = red
		if err := CheckUntrusted(cr.Untrusted); err != nil {
			return nil, fmt.Errorf("%s %w", label, err)
		}
		if cr.MaxSteps < 0 {
			return nil, fmt.Errorf("%s max_steps is %d: use a positive number, or 0 for the agent's default", label, cr.MaxSteps)
		}
		for _, name := range cr.Tools {
			ct, ok := cfg.Tools[name]
			if !ok {
				return nil, fmt.Errorf("%s names tool %q, which is not defined under tools: define it or fix the name", label, name)
			}
			compiled, err := schema.Compile(name, ct.InputSchema)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", label, err)
			}
			strict, _ := schema.Strict(ct.InputSchema)
			tool := Tool{Name: name, Description: ct.Description, InputSchema: ct.InputSchema, InputFrom: ct.InputFrom,
				Strict: strict, Check: compiled.Validate}
			// Checked here so a typo fails at start, not on the first event;
			// the offline provider compiles and caches them for use.
			for field, src := range ct.InputFrom {
				if _, err := CompileExpr(src); err != nil {
					return nil, fmt.Errorf("tool %s input_from.%s: %w", name, field, err)
				}
			}
			r.Tools = append(r.Tools, tool)
		}
		own := agent.Settings{ToolChoice: cr.ToolChoice, Thinking: cr.Thinking, Effort: cr.Effort, MaxTokens: cr.MaxTokens}
		r.Settings = base.Over(own)
		if err := r.Settings.Check(caps, cfg.Agent.Model, len(r.Tools)); err != nil {
			return nil, fmt.Errorf("%s: %w (agent.%s or this route's own key)", label, err, settingKey(err))
		}
		r.Settings = r.Settings.WithDefaults(caps, len(r.Tools))
		t.routes = append(t.routes, r)
	}
	return t, nil
}

// settingKey names the config key an error of Settings.Check is about.
func settingKey(err error) string {
	msg := err.Error()
	for _, k := range []string{"tool_choice", "thinking", "effort"} {
		if strings.HasPrefix(msg, k) {
			return k
		}
	}
	return "max_tokens"
}

func isWildcard(p string) bool { return p == "*" || strings.HasSuffix(p, ".*") }

// Match returns the route for eventType. A route listing the exact type
// wins over any wildcard, so "charge.dispute.created" can be special-cased
// next to a "charge.dispute.*" catch-all whatever their order; among
// wildcards the first matching route in config order wins.
func (t *Table) Match(eventType string) (Route, bool) {
	if i, ok := t.exact[eventType]; ok {
		return t.routes[i], true
	}
	for _, r := range t.routes {
		for _, p := range r.Events {
			if isWildcard(p) && Match(p, eventType) {
				return r, true
			}
		}
	}
	return Route{}, false
}

// Routes returns the routes in config order.
func (t *Table) Routes() []Route {
	out := make([]Route, len(t.routes))
	copy(out, t.routes)
	return out
}

// Print writes the routes as a table, as `agenthook check` shows them.
func (t *Table) Print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ROUTE\tEVENTS\tWHEN\tTOOLS\tINSTRUCTIONS")
	for _, r := range t.routes {
		names := make([]string, len(r.Tools))
		for i, tool := range r.Tools {
			names[i] = tool.Name
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, strings.Join(r.Events, ","), orDash(Abbreviate(r.When, 40)), strings.Join(names, ","), orDash(Abbreviate(r.Instructions, 60)))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("print routes: %w", err)
	}
	return nil
}

// PrintRequests writes what each route's first model request will carry,
// as `agenthook check` shows it: "-" is a setting not sent, which leaves
// the API's default.
func (t *Table) PrintRequests(w io.Writer, provider, model string) error {
	caps := agent.CapabilitiesOf(provider, model)
	family := caps.Family
	if family == "" {
		family = "unknown: the safe choice (auto, no thinking or effort sent)"
	}
	fmt.Fprintf(w, "requests to %s %s (capabilities: %s):\n", provider, model, family)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ROUTE\tTOOL_CHOICE\tTHINKING\tEFFORT\tMAX_TOKENS\tSTRICT")
	for _, r := range t.routes {
		tools := make([]agent.Tool, len(r.Tools))
		var strict []string
		for i, tool := range r.Tools {
			tools[i] = agent.Tool{Name: tool.Name}
			if tool.Strict {
				strict = append(strict, tool.Name)
			}
		}
		s := r.Settings
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", r.Name, s.Choice(tools), orDash(s.Thinking), orDash(s.Effort), s.MaxTokens, orDash(strings.Join(strict, ",")))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("print requests: %w", err)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Abbreviate collapses whitespace (tabs and newlines would break a table
// row) and cuts s to at most n runes, ending in "…" when cut.
func Abbreviate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimRight(string(r[:n-1]), " ") + "…"
}

// Match reports whether eventType matches pattern: "*" matches every
// type, "a.b.*" matches types that start with "a.b." and have at least one
// more segment, and any other pattern matches only itself.
func Match(pattern, eventType string) bool {
	if pattern == "*" {
		return true
	}
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok && strings.HasSuffix(prefix, ".") {
		return len(eventType) > len(prefix) && strings.HasPrefix(eventType, prefix)
	}
	return pattern == eventType
}
