// Package httpagent is the "http" provider: any agent that takes tool
// inputs. Each model round is POSTed as signed JSON to the user's agent
// URL, and the agent answers with tool calls or a final result. The agent
// can be anything (a script, a framework, another LLM behind a service);
// agenthook keeps the loop, the tools, the journal and the retries.
//
// The request body:
//
//	{
//	  "event":       {"id": "evt_...", "type": "charge.dispute.created", "payload": {...redacted event...}},
//	  "model":       "agent.model, as configured",
//	  "system":      "the route's prompt",
//	  "messages":    [{"role": "user"|"assistant", "content": [block, ...]}, ...],
//	  "tools":       [{"name": "...", "description": "...", "input_schema": {...}}],
//	  "tool_choice": "auto" | "any" | "tool:NAME"
//	}
//
// where a block is {"type": "text", "text"}, {"type": "tool_use", "id",
// "name", "input"} or {"type": "tool_result", "tool_use_id", "content",
// "is_error"}. The round after tool calls carries the calls (assistant) and
// their results (user).
//
// The request carries the header
//
//	Agenthook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//
// (the same scheme as Stripe-Signature), which the agent should verify
// against the raw body and reject when t is far from its clock.
//
// The answer, with a 2xx status, is one of
//
//	{"tool_calls": [{"id": "optional", "name": "refund", "input": {...}}, ...]}
//	{"result": "any JSON value or string"}
//
// with optional "usage" ({"input_tokens", "output_tokens",
// "cache_read_input_tokens", "cache_creation_input_tokens"}) and "model".
// A non-2xx status is a failure: 408, 409, 429 and 5xx are retried
// (honouring retry-after), other statuses are permanent.
package httpagent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/agenthook/agenthook/internal/agent"
	credentials "github.com/agenthook/agenthook/internal/secret"
	"github.com/agenthook/agenthook/internal/stripeevent"
)

// Name is the provider's name in the journal and in config.
const Name = "http"

// SignatureHeader carries the request's signature.
const SignatureHeader = "Agenthook-Signature"

// DefaultTimeout bounds one round when Options.Timeout is 0: an agent that
// calls a model of its own may take a while, but a hung agent must not
// hold a worker forever.
const DefaultTimeout = 2 * time.Minute

// MaxAnswer is the largest answer body read.
const MaxAnswer = 4 << 20

// Options configure the provider.
type Options struct {
	URL string // the agent's endpoint
	// Secret signs every request. Empty sends no signature header; the
	// agent then cannot tell agenthook from anyone else.
	Secret  string
	Timeout time.Duration // per round; 0 means DefaultTimeout
	Client  *http.Client  // nil means a plain client
	// Now is the signing clock; nil means time.Now.
	Now func() time.Time
}

// Provider posts rounds to an HTTP agent.
type Provider struct {
	o Options
}

// New returns an HTTP agent provider.
func New(o Options) *Provider {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Provider{o: o}
}

// Name implements agent.Provider.
func (p *Provider) Name() string { return Name }

// Round is the request body sent to the agent.
type Round struct {
	Event      agent.Event     `json:"event"`
	Model      string          `json:"model"`
	System     string          `json:"system"`
	Messages   []agent.Message `json:"messages"`
	Tools      []Tool          `json:"tools"`
	ToolChoice string          `json:"tool_choice"`
}

// Tool is a tool as the agent sees it.
type Tool struct {
	Name        string         `json:"name"`
	Description string         `json:"description,omitempty"`
	InputSchema map[string]any `json:"input_schema"`
}

// Answer is the agent's answer.
type Answer struct {
	Result    json.RawMessage `json:"result,omitempty"`
	ToolCalls []Call          `json:"tool_calls,omitempty"`
	Usage     *agent.Usage    `json:"usage,omitempty"`
	Model     string          `json:"model,omitempty"`
}

// Call is one tool call in an answer.
type Call struct {
	ID    string          `json:"id,omitempty"`
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input,omitempty"`
}

// expected describes a valid answer, for error messages.
const expected = `answer with JSON {"tool_calls": [{"name": "<tool>", "input": {...}}]} or {"result": <any JSON>}`

// Send posts one round and reads the agent's answer.
func (p *Provider) Send(ctx context.Context, req agent.Request) (*agent.Reply, error) {
	body, err := json.Marshal(round(req))
	if err != nil {
		return nil, &agent.Error{Provider: Name, Message: "cannot encode the round: " + err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, p.o.Timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, p.o.URL, bytes.NewReader(body))
	if err != nil {
		return nil, &agent.Error{Provider: Name, Message: fmt.Sprintf("agent.base_url is not a valid URL: %v", withoutURL(err))}
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "application/json")
	hr.Header.Set("User-Agent", "agenthook")
	if req.Event.ID != "" {
		hr.Header.Set("Agenthook-Event-Id", req.Event.ID)
	}
	if p.o.Secret != "" {
		hr.Header.Set(SignatureHeader, stripeevent.Sign(body, p.o.Secret, p.o.Now()))
	}

	resp, err := p.o.Client.Do(hr)
	if err != nil {
		return nil, p.transportError(ctx, "cannot reach the agent (check agent.base_url)", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer+1))
	if err != nil {
		return nil, p.transportError(ctx, "the answer was cut off", err)
	}
	rid := resp.Header.Get("X-Request-Id")
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, statusError(resp, raw, rid)
	}
	if len(raw) > MaxAnswer {
		return nil, &agent.Error{Provider: Name, StatusCode: resp.StatusCode, RequestID: rid,
			Message: fmt.Sprintf("the answer is over %d bytes: answer with tool calls or a result, not data", MaxAnswer)}
	}
	reply, err := parse(raw, req)
	if err != nil {
		return nil, &agent.Error{Provider: Name, StatusCode: resp.StatusCode, RequestID: rid, Message: credentials.Scrub(err.Error())}
	}
	reply.RequestID = rid
	return reply, nil
}

func round(req agent.Request) Round {
	r := Round{
		Event:      req.Event,
		Model:      req.Model,
		System:     req.System,
		Messages:   req.Messages,
		Tools:      make([]Tool, len(req.Tools)),
		ToolChoice: req.Choice.String(),
	}
	if r.Messages == nil {
		r.Messages = []agent.Message{}
	}
	if r.ToolChoice == "" {
		r.ToolChoice = "auto"
	}
	if len(r.Event.Payload) == 0 {
		r.Event.Payload = json.RawMessage("null")
	}
	for i, t := range req.Tools {
		schema := t.InputSchema
		if schema == nil {
			schema = map[string]any{"type": "object"}
		}
		r.Tools[i] = Tool{Name: t.Name, Description: t.Description, InputSchema: schema}
	}
	return r
}

// transportError classifies a failure to get an answer. A cancelled
// parent context (shutdown) is passed through as it is.
func (p *Provider) transportError(ctx context.Context, what string, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &agent.Error{Provider: Name, Retryable: true,
			Message: fmt.Sprintf("the agent did not answer within %s: make it answer sooner or raise agent.timeout", p.o.Timeout)}
	}
	return &agent.Error{Provider: Name, Retryable: true, Message: credentials.Scrub(fmt.Sprintf("%s: %v", what, withoutURL(err)))}
}

// withoutURL drops the URL from a transport error: an agent URL may carry
// a token in its query, and errors are journaled and logged.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// statusError turns a non-2xx answer into an *agent.Error with the tail
// of the body.
func statusError(resp *http.Response, raw []byte, rid string) error {
	e := &agent.Error{
		Provider:   Name,
		StatusCode: resp.StatusCode,
		Retryable:  agent.RetryableStatus(resp.StatusCode),
		After:      agent.ParseRetryAfter(resp.Header.Get, time.Now()),
		RequestID:  rid,
		// The agent, or a proxy before it, may echo credentials back.
		Message: credentials.Scrub(tail(raw), credentials.RequestCredentials(resp.Request)...),
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		e.Message += " (the agent refused the request: check that it verifies " + SignatureHeader + " with the same secret as tool_secret (AGENTHOOK_TOOL_SECRET))"
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		e.Message += " (check agent.base_url: the agent must accept POST there)"
	}
	return e
}

func tail(raw []byte) string {
	s := strings.TrimSpace(strings.ToValidUTF8(string(raw), "?"))
	const max = 500
	if len(s) > max {
		s = "..." + strings.ToValidUTF8(s[len(s)-max:], "")
	}
	return s
}

// parse validates an answer and turns it into a reply.
func parse(raw []byte, req agent.Request) (*agent.Reply, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, fmt.Errorf("the answer is not a JSON object (%q): %s", tail(trimmed), expected)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &fields); err != nil {
		return nil, fmt.Errorf("the answer is not valid JSON (%v): %s", err, expected)
	}
	_, hasResult := fields["result"]
	_, hasCalls := fields["tool_calls"]
	switch {
	case hasResult && hasCalls:
		return nil, fmt.Errorf("the answer has both result and tool_calls: %s, not both", expected)
	case !hasResult && !hasCalls:
		return nil, fmt.Errorf("the answer has neither result nor tool_calls: %s", expected)
	}
	reply := &agent.Reply{Model: req.Model}
	if m, ok := fields["model"]; ok {
		if err := json.Unmarshal(m, &reply.Model); err != nil {
			return nil, fmt.Errorf(`the answer's "model" must be a string`)
		}
	}
	if u, ok := fields["usage"]; ok && string(u) != "null" {
		if err := json.Unmarshal(u, &reply.Usage); err != nil {
			return nil, fmt.Errorf(`the answer's "usage" must be {"input_tokens": N, "output_tokens": N}: %v`, err)
		}
	}
	if hasResult {
		reply.StopReason = agent.EndTurn
		if text := resultText(fields["result"]); text != "" {
			reply.Content = []agent.Block{{Type: agent.TextBlock, Text: text}}
		}
		return reply, nil
	}

	var calls []json.RawMessage
	if err := json.Unmarshal(fields["tool_calls"], &calls); err != nil {
		return nil, fmt.Errorf(`the answer's "tool_calls" must be an array: %s`, expected)
	}
	if len(calls) == 0 {
		return nil, fmt.Errorf(`the answer's "tool_calls" is empty: to finish, answer {"result": ...} instead`)
	}
	used := map[string]bool{}
	for _, m := range req.Messages {
		for _, b := range m.Content {
			if b.Type == agent.ToolUseBlock {
				used[b.ID] = true
			}
		}
	}
	reply.StopReason = agent.ToolUse
	for i, rawCall := range calls {
		var c Call
		if err := json.Unmarshal(rawCall, &c); err != nil {
			return nil, fmt.Errorf(`tool_calls[%d] must be {"id"?: string, "name": string, "input": object}: %v`, i, err)
		}
		if c.Name == "" {
			return nil, fmt.Errorf(`tool_calls[%d] has no "name": name one of the offered tools`, i)
		}
		input, err := callInput(c.Input)
		if err != nil {
			return nil, fmt.Errorf("tool_calls[%d] (%s): %v", i, c.Name, err)
		}
		if c.ID == "" {
			c.ID = callID(req, i, c.Name, input)
		}
		if used[c.ID] {
			return nil, fmt.Errorf("tool_calls[%d] (%s) repeats the id %q: ids must be unique in the conversation; omit id to have one generated", i, c.Name, c.ID)
		}
		used[c.ID] = true
		reply.Content = append(reply.Content, agent.Block{Type: agent.ToolUseBlock, ID: c.ID, Name: c.Name, Input: input})
	}
	return reply, nil
}

// callInput checks a call's input: a JSON object, or absent for {}. An
// input sent as a string holding a JSON object (the OpenAI habit of
// arguments strings) is accepted too.
func callInput(in json.RawMessage) (json.RawMessage, error) {
	in = bytes.TrimSpace(in)
	if len(in) == 0 || string(in) == "null" {
		return json.RawMessage("{}"), nil
	}
	if in[0] == '"' {
		var s string
		if err := json.Unmarshal(in, &s); err == nil {
			in = bytes.TrimSpace([]byte(s))
		}
	}
	var obj map[string]json.RawMessage
	if len(in) == 0 || in[0] != '{' || json.Unmarshal(in, &obj) != nil {
		return nil, errors.New(`"input" must be a JSON object of the tool's inputs, e.g. {"charge": "ch_123"}`)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, in); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// resultText is a result as text: a string as it is, null as nothing,
// any other value as compact JSON.
func resultText(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if string(v) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	var buf bytes.Buffer
	if json.Compact(&buf, v) != nil {
		return string(v)
	}
	return buf.String()
}

// callID makes an id for a call the agent sent without one. It depends
// only on the round (event, conversation length), the call's position,
// name and input, so the same round answered the same way again (a resend
// after a crash) gets the same ids, which the journal relies on.
func callID(req agent.Request, i int, name string, input json.RawMessage) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%d\x00%s\x00", req.Event.ID, len(req.Messages), i, name)
	h.Write(input)
	return fmt.Sprintf("call_%d_%s", i+1, hex.EncodeToString(h.Sum(nil)[:6]))
}
