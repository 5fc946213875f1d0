package openai

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/agenthook/agenthook/internal/agent"
	"github.com/agenthook/agenthook/internal/modeltest"
)

// The model of the incident: its default effort is medium, and Chat
// Completions refuses its function tools unless the effort is none.
// https://developers.openai.com/api/docs/models/gpt-6-luna
const luna = "gpt-6-luna"

// onResponses is a provider on the fake's Responses API. The fake is on
// loopback, which New would take for a compatible server, so the API is
// set explicitly, as agent.api does.
func onResponses(srv *modeltest.OpenAIServer) *Provider {
	return New(Options{APIKey: "sk-test", BaseURL: srv.BaseURL(), API: APIResponses})
}

func lunaRequest(choice agent.Choice, msgs []agent.Message) agent.Request {
	req := request(choice, msgs)
	req.Model = luna
	return req
}

// items returns the input items of a recorded Responses request.
func items(t *testing.T, body map[string]any) []map[string]any {
	t.Helper()
	raw, ok := body["input"].([]any)
	if !ok {
		t.Fatalf("request has no input items: %v", body)
	}
	out := make([]map[string]any, len(raw))
	for i, m := range raw {
		out[i] = m.(map[string]any)
	}
	return out
}

// results answers every tool_use of r with content.
func results(r *agent.Reply, content string) agent.Message {
	m := agent.Message{Role: agent.User}
	for _, u := range r.ToolUses() {
		m.Content = append(m.Content, agent.Block{Type: agent.ToolResultBlock, ToolUseID: u.ID, Content: content})
	}
	return m
}

// journaled is msgs after a trip through the journal's JSON, as a resumed
// event rebuilds them.
func journaled(t *testing.T, msgs []agent.Message) []agent.Message {
	t.Helper()
	b, err := json.Marshal(msgs)
	if err != nil {
		t.Fatal(err)
	}
	var out []agent.Message
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func jsonEqual(t *testing.T, a, b any) bool {
	t.Helper()
	norm := func(v any) any {
		var raw []byte
		switch x := v.(type) {
		case json.RawMessage:
			raw = x
		case []byte:
			raw = x
		default:
			raw, _ = json.Marshal(x)
		}
		var out any
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("not JSON: %s", raw)
		}
		return out
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

// A two-round tool conversation with gpt-6-luna on the Responses API: the
// reasoning item comes back verbatim with the call it led to, after a
// trip through the journal, and the fake (which refuses dropped or altered
// reasoning) accepts the second round without dropping any.
func TestResponsesTwoRoundsCarryReasoning(t *testing.T) {
	srv := modeltest.NewOpenAI()
	defer srv.Close()
	p := onResponses(srv)
	ctx := context.Background()

	msgs := opening()
	r1, err := p.Send(ctx, lunaRequest(agent.Choice{Mode: "any"}, msgs))
	if err != nil {
		t.Fatal(err)
	}
	if r1.StopReason != agent.ToolUse || r1.Model != luna || r1.RequestID != "req_fake_1" {
		t.Errorf("round 1: stop %q model %q request id %q", r1.StopReason, r1.Model, r1.RequestID)
	}
	if len(r1.Content) != 3 || r1.Content[0].Type != ReasoningBlock || r1.Content[1].Type != agent.TextBlock || r1.Content[2].Type != agent.ToolUseBlock {
		t.Fatalf("round 1 blocks = %+v, want reasoning, text, tool_use", r1.Content)
	}
	for _, b := range r1.Content {
		if len(b.Raw) == 0 {
			t.Errorf("block %s has no Raw item", b.Type)
		}
	}
	if enc := gjson.GetBytes(r1.Content[0].Raw, "encrypted_content").Str; enc == "" {
		t.Errorf("reasoning item without encrypted_content: %s", r1.Content[0].Raw)
	}
	use := r1.ToolUses()[0]
	if use.Name != "refund" || use.ID != "call_fake_1" || !strings.Contains(string(use.Input), `"charge"`) { // generated from the schema
		t.Errorf("tool use = %+v", use)
	}
	if r1.Text() != "Deciding from the event data." {
		t.Errorf("text = %q", r1.Text())
	}
	want := agent.Usage{InputTokens: 612, OutputTokens: 64, CacheReadInputTokens: 200, ThinkingTokens: 40}
	if r1.Usage != want {
		t.Errorf("usage = %+v, want %+v (input without cached tokens; reasoning part of output)", r1.Usage, want)
	}

	b1 := srv.Requests()[0].Body
	if b1["store"] != false {
		t.Errorf("store = %v, want false: nothing may live at OpenAI", b1["store"])
	}
	if !reflect.DeepEqual(b1["include"], []any{"reasoning.encrypted_content"}) {
		t.Errorf("include = %v", b1["include"])
	}
	if b1["instructions"] != "You handle Stripe events." || b1["max_output_tokens"] != float64(1024) || b1["tool_choice"] != "required" {
		t.Errorf("instructions %v max_output_tokens %v tool_choice %v", b1["instructions"], b1["max_output_tokens"], b1["tool_choice"])
	}
	for _, k := range []string{"temperature", "top_p", "reasoning", "reasoning_effort", "max_tokens", "max_completion_tokens", "parallel_tool_calls", "messages"} {
		if _, ok := b1[k]; ok {
			t.Errorf("%s sent: %v", k, b1[k])
		}
	}
	in1 := items(t, b1)
	if len(in1) != 1 || in1[0]["role"] != "user" || in1[0]["content"] != "A dispute was opened." {
		t.Errorf("round 1 input = %v", in1)
	}
	ts := b1["tools"].([]any)
	t0 := ts[0].(map[string]any)
	if len(ts) != 2 || t0["type"] != "function" || t0["name"] != "refund" || t0["description"] != "Refund a charge" || t0["strict"] != false {
		t.Errorf("tools = %v", ts)
	}
	if ts[1].(map[string]any)["parameters"].(map[string]any)["type"] != "object" {
		t.Errorf("a schema without type must go as an object schema: %v", ts[1])
	}

	// Round 2, as a resumed event builds it: from the journal.
	msgs = journaled(t, append(msgs, agent.Message{Role: agent.Assistant, Content: r1.Content}, agent.Message{Role: agent.User, Content: []agent.Block{
		{Type: agent.ToolResultBlock, ToolUseID: use.ID, Content: "charge not found", IsError: true},
	}}))
	r2, err := p.Send(ctx, lunaRequest(agent.Choice{Mode: "auto"}, msgs))
	if err != nil {
		t.Fatalf("round 2 refused: %v", err)
	}
	if r2.StopReason != agent.EndTurn || r2.Text() != "Done: the tool results are recorded." || len(r2.ToolUses()) != 0 {
		t.Errorf("round 2 reply = %+v", r2)
	}
	b2 := srv.Requests()[1].Body
	if b2["tool_choice"] != "auto" {
		t.Errorf("round 2 tool_choice = %v", b2["tool_choice"])
	}
	in2 := items(t, b2)
	if len(in2) != 5 {
		t.Fatalf("round 2 input = %v, want user, reasoning, message, function_call, function_call_output", in2)
	}
	for i, b := range r1.Content {
		if !jsonEqual(t, in2[1+i], b.Raw) {
			t.Errorf("input item %d = %v, want the output item verbatim: %s", 1+i, in2[1+i], b.Raw)
		}
	}
	out := in2[4]
	if out["type"] != "function_call_output" || out["call_id"] != "call_fake_1" || out["output"] != "ERROR: charge not found" {
		t.Errorf("tool result item = %v", out)
	}
	if d := srv.DroppedReasoning(); len(d) != 0 {
		t.Errorf("the fake dropped reasoning: %v", d)
	}
}

// The same second round without the reasoning item: the function_call
// item goes back with its id, so OpenAI refuses it (400), and the error is
// permanent.
func TestResponsesRefusesDroppedReasoning(t *testing.T) {
	srv := modeltest.NewOpenAI()
	defer srv.Close()
	p := onResponses(srv)
	r1, err := p.Send(context.Background(), lunaRequest(agent.Choice{Mode: "any"}, opening()))
	if err != nil {
		t.Fatal(err)
	}
	var kept []agent.Block
	for _, b := range r1.Content {
		if b.Type != ReasoningBlock {
			kept = append(kept, b)
		}
	}
	msgs := append(opening(), agent.Message{Role: agent.Assistant, Content: kept}, results(r1, "ok"))
	_, err = p.Send(context.Background(), lunaRequest(agent.Choice{Mode: "auto"}, msgs))
	var ae *agent.Error
	if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Retryable {
		t.Fatalf("dropped reasoning gave %v, want a permanent 400", err)
	}
	if !strings.Contains(ae.Message, "of type 'function_call' was provided without its required 'reasoning' item: 'rs_fake_1'") || !strings.Contains(ae.Message, "replay the event") {
		t.Errorf("message = %q", ae.Message)
	}
}

// Altered encrypted reasoning does not verify (400,
// invalid_encrypted_content), and the error says what that means.
func TestResponsesRefusesAlteredReasoning(t *testing.T) {
	srv := modeltest.NewOpenAI()
	defer srv.Close()
	p := onResponses(srv)
	r1, err := p.Send(context.Background(), lunaRequest(agent.Choice{Mode: "any"}, opening()))
	if err != nil {
		t.Fatal(err)
	}
	content := append([]agent.Block(nil), r1.Content...)
	var item map[string]any
	json.Unmarshal(content[0].Raw, &item)
	item["encrypted_content"] = item["encrypted_content"].(string) + "x"
	content[0].Raw, _ = json.Marshal(item)
	msgs := append(opening(), agent.Message{Role: agent.Assistant, Content: content}, results(r1, "ok"))
	_, err = p.Send(context.Background(), lunaRequest(agent.Choice{Mode: "auto"}, msgs))
	var ae *agent.Error
	if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Retryable {
		t.Fatalf("altered reasoning gave %v, want a permanent 400", err)
	}
	if !strings.Contains(ae.Message, "could not be verified") || !strings.Contains(ae.Message, "journaled reasoning") {
		t.Errorf("message = %q", ae.Message)
	}
}

// A turn journaled without Raw (by Chat Completions, or an older version)
// is rebuilt from its fields: calls without item ids, so OpenAI takes it
// and reasons afresh, dropping the reasoning it cannot see.
func TestResponsesRebuildsTurnWithoutRaw(t *testing.T) {
	srv := modeltest.NewOpenAI()
	defer srv.Close()
	p := onResponses(srv)
	r1, err := p.Send(context.Background(), lunaRequest(agent.Choice{Mode: "any"}, opening()))
	if err != nil {
		t.Fatal(err)
	}
	var plain []agent.Block
	for _, b := range r1.Content {
		if b.Type != ReasoningBlock {
			b.Raw = nil
			plain = append(plain, b)
		}
	}
	msgs := append(opening(), agent.Message{Role: agent.Assistant, Content: plain}, results(r1, "ok"))
	if _, err := p.Send(context.Background(), lunaRequest(agent.Choice{Mode: "auto"}, msgs)); err != nil {
		t.Fatalf("a rebuilt turn was refused: %v", err)
	}
	in := items(t, srv.Requests()[1].Body)
	if len(in) != 4 || in[1]["role"] != "assistant" || in[1]["content"] != "Deciding from the event data." ||
		in[2]["type"] != "function_call" || in[2]["call_id"] != "call_fake_1" || in[2]["name"] != "refund" || in[2]["id"] != nil {
		t.Errorf("rebuilt input = %v", in)
	}
	if !jsonEqual(t, in[2]["arguments"], string(r1.ToolUses()[0].Input)) {
		t.Errorf("arguments = %v", in[2]["arguments"])
	}
	want := []modeltest.DroppedReasoning{{ID: "rs_fake_1", Why: "not sent back"}}
	if d := srv.DroppedReasoning(); !reflect.DeepEqual(d, want) {
		t.Errorf("dropped = %v, want %v", d, want)
	}
}

// Another provider's thinking has no place in a Responses request.
func TestResponsesLeavesOutOtherThinking(t *testing.T) {
	srv := modeltest.NewOpenAI(modeltest.Reply{StopReason: "end_turn"})
	defer srv.Close()
	msgs := append(opening(), agent.Message{Role: agent.Assistant, Content: []agent.Block{
		{Type: agent.ThinkingBlock, Text: "hmm", Raw: json.RawMessage(`{"type":"thinking","thinking":"hmm","signature":"sig"}`)},
		{Type: agent.TextBlock, Text: "Looking.", Raw: json.RawMessage(`{"type":"text","text":"Looking."}`)},
	}}, agent.Message{Role: agent.User, Content: []agent.Block{{Type: agent.TextBlock, Text: "Go on."}}})
	if _, err := onResponses(srv).Send(context.Background(), lunaRequest(agent.Choice{Mode: "auto"}, msgs)); err != nil {
		t.Fatal(err)
	}
	in := items(t, srv.Requests()[0].Body)
	if len(in) != 3 || in[1]["role"] != "assistant" || in[1]["content"] != "Looking." || in[2]["content"] != "Go on." {
		t.Errorf("input = %v", in)
	}
}

func TestResponsesToolChoice(t *testing.T) {
	cases := []struct {
		choice agent.Choice
		want   any
	}{
		{agent.Choice{Mode: "auto"}, "auto"},
		{agent.Choice{Mode: "any"}, "required"},
		{agent.Choice{Mode: "tool", Name: "notify"}, map[string]any{"type": "function", "name": "notify"}},
		{agent.Choice{}, "auto"},
	}
	for _, c := range cases {
		t.Run(c.choice.String(), func(t *testing.T) {
			srv := modeltest.NewOpenAI()
			defer srv.Close()
			if _, err := onResponses(srv).Send(context.Background(), lunaRequest(c.choice, opening())); err != nil {
				t.Fatal(err)
			}
			if got := srv.Requests()[0].Body["tool_choice"]; !reflect.DeepEqual(got, c.want) {
				t.Errorf("tool_choice = %v, want %v", got, c.want)
			}
		})
	}
	t.Run("no tools", func(t *testing.T) {
		srv := modeltest.NewOpenAI(modeltest.Reply{StopReason: "end_turn"})
		defer srv.Close()
		req := lunaRequest(agent.Choice{Mode: "any"}, opening())
		req.Tools = nil
		if _, err := onResponses(srv).Send(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		body := srv.Requests()[0].Body
		if _, ok := body["tool_choice"]; ok {
			t.Errorf("tool_choice sent without tools: %v", body)
		}
		if _, ok := body["tools"]; ok {
			t.Errorf("empty tools sent: %v", body)
		}
	})
}

// reasoning.effort goes as the config says, and only then; a value the
// model refuses comes back as a permanent 400 naming agent.effort.
func TestResponsesEffort(t *testing.T) {
	srv := modeltest.NewOpenAI()
	defer srv.Close()
	p := onResponses(srv)
	req := lunaRequest(agent.Choice{Mode: "any"}, opening())
	req.Effort = "high"
	req.Thinking = "adaptive" // Anthropic's; never sent
	if _, err := p.Send(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	body := srv.Requests()[0].Body
	if !reflect.DeepEqual(body["reasoning"], map[string]any{"effort": "high"}) {
		t.Errorf("reasoning = %v", body["reasoning"])
	}
	if strings.Contains(string(srv.Requests()[0].Raw), "adaptive") {
		t.Errorf("the thinking mode was sent: %s", srv.Requests()[0].Raw)
	}

	// GPT-6 Astra does not accept none.
	req.Model, req.Effort = "gpt-6-astra", "none"
	_, err := p.Send(context.Background(), req)
	var ae *agent.Error
	if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Retryable ||
		!strings.Contains(ae.Message, "Unsupported value: 'none' is not supported with the 'gpt-6-astra' model") || !strings.Contains(ae.Message, "agent.effort") {
		t.Fatalf("effort none on gpt-6-astra gave %v", err)
	}
}

// Strict goes on a function exactly when the route asks for it; the fake
// holds a strict schema to strict mode's rules, so a non-strict schema
// sent strict would be refused.
func TestResponsesStrict(t *testing.T) {
	strictTool := agent.Tool{Name: "log", Strict: true, InputSchema: map[string]any{
		"type": "object", "additionalProperties": false,
		"properties": map[string]any{"id": map[string]any{"type": "string"}}, "required": []any{"id"},
	}}
	srv := modeltest.NewOpenAI()
	defer srv.Close()
	p := onResponses(srv)
	req := lunaRequest(agent.Choice{Mode: "auto"}, opening())
	req.Tools = []agent.Tool{strictTool, tools[1]}
	if _, err := p.Send(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	ts := srv.Requests()[0].Body["tools"].([]any)
	if ts[0].(map[string]any)["strict"] != true || ts[1].(map[string]any)["strict"] != false {
		t.Errorf("strict = %v, %v; want true for the strict tool, false for the other", ts[0], ts[1])
	}

	loose := tools[1]
	loose.Strict = true
	req.Tools = []agent.Tool{loose}
	_, err := p.Send(context.Background(), req)
	var ae *agent.Error
	if !errors.As(err, &ae) || ae.StatusCode != 400 || !strings.Contains(ae.Message, "Invalid schema for function 'notify'") {
		t.Fatalf("a strict tool with a non-strict schema gave %v, want the API's 400", err)
	}
}

func TestResponsesStopReasons(t *testing.T) {
	cases := []struct {
		script string
		want   string
		text   string
	}{
		{"end_turn", agent.EndTurn, "Deciding from the event data."},
		{"max_tokens", agent.MaxTokens, ""},
		{"content_filter", agent.Refusal, ""},
		{"refusal", agent.Refusal, "refusal: I can't help with that."},
	}
	for _, c := range cases {
		t.Run(c.script, func(t *testing.T) {
			srv := modeltest.NewOpenAI(modeltest.Reply{StopReason: c.script})
			defer srv.Close()
			r, err := onResponses(srv).Send(context.Background(), lunaRequest(agent.Choice{Mode: "any"}, opening()))
			if err != nil {
				t.Fatal(err)
			}
			if r.StopReason != c.want || r.Text() != c.text || len(r.ToolUses()) != 0 {
				t.Errorf("reply = %+v, want stop %q text %q", r, c.want, c.text)
			}
		})
	}
}

// A response that failed after it was accepted is worth another attempt.
func TestResponsesFailedIsRetryable(t *testing.T) {
	srv := modeltest.NewOpenAI(modeltest.Reply{Body: `{"id":"resp_1","object":"response","status":"failed","model":"gpt-6-luna","output":[],
		"error":{"code":"server_error","message":"The model failed to generate a response."},"incomplete_details":null,
		"usage":{"input_tokens":0,"input_tokens_details":{"cached_tokens":0},"output_tokens":0,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":0}}`})
	defer srv.Close()
	_, err := onResponses(srv).Send(context.Background(), lunaRequest(agent.Choice{Mode: "any"}, opening()))
	var ae *agent.Error
	if !errors.As(err, &ae) || !ae.Retryable || !strings.Contains(ae.Message, "server_error") || ae.RequestID != "req_fake_1" {
		t.Fatalf("failed response gave %#v", err)
	}
}

// Calls as some servers send them: no call_id, arguments that are not
// JSON, or none; the ids generated for them are the same on a resend.
func TestResponsesOddCalls(t *testing.T) {
	body := modeltest.OpenAIResponseBody("m", "", "", "",
		modeltest.OpenAICall{Name: "refund", Arguments: `{"charge": "ch_1"`},
		modeltest.OpenAICall{Name: "notify", Arguments: ""},
		modeltest.OpenAICall{ID: "call_x", Name: "notify", Arguments: `{"text":"hi"}`})
	srv := modeltest.NewOpenAI(modeltest.Reply{Body: body}, modeltest.Reply{Body: body})
	defer srv.Close()
	p := onResponses(srv)
	req := request(agent.Choice{Mode: "any"}, opening())
	r1, err := p.Send(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	uses := r1.ToolUses()
	if len(uses) != 3 || r1.StopReason != agent.ToolUse {
		t.Fatalf("reply = %+v", r1)
	}
	var raw map[string]string
	if err := json.Unmarshal(uses[0].Input, &raw); err != nil || raw["_raw"] != `{"charge": "ch_1"` {
		t.Errorf("invalid arguments kept as %s (%v)", uses[0].Input, err)
	}
	if string(uses[1].Input) != "{}" || uses[2].ID != "call_x" {
		t.Errorf("uses = %+v", uses)
	}
	if uses[0].ID == uses[1].ID || !strings.HasPrefix(uses[0].ID, "call_") {
		t.Errorf("generated ids %q %q", uses[0].ID, uses[1].ID)
	}
	r2, err := p.Send(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	for i, u := range r2.ToolUses() {
		if u.ID != uses[i].ID {
			t.Errorf("id %d changed on resend: %q then %q", i, uses[i].ID, u.ID)
		}
	}
}

// Rate limits, retry-after and the request id come through on Responses
// as on Chat Completions, and the SDK does not retry.
func TestResponsesRateLimited(t *testing.T) {
	srv := modeltest.NewOpenAI(modeltest.Reply{Status: 429, Headers: map[string]string{
		"retry-after": "3", "x-ratelimit-remaining-tokens": "0", "x-ratelimit-limit-tokens": "30000",
	}})
	defer srv.Close()
	_, err := onResponses(srv).Send(context.Background(), lunaRequest(agent.Choice{Mode: "any"}, opening()))
	var ae *agent.Error
	if !errors.As(err, &ae) || !ae.Retryable || ae.StatusCode != 429 || ae.After != 3*time.Second || ae.RequestID != "req_fake_1" {
		t.Fatalf("429 gave %#v", err)
	}
	if ae.RateLimit == nil || !ae.RateLimit.Tokens.Known || ae.RateLimit.Tokens.Remaining != 0 || ae.RateLimit.Tokens.Limit != 30000 {
		t.Errorf("rate limit = %+v", ae.RateLimit)
	}
	if len(srv.Requests()) != 1 {
		t.Errorf("the SDK retried: %d requests", len(srv.Requests()))
	}
}

// OpenAI's older chat models have no reasoning items to include.
func TestResponsesNoEncryptedReasoningForOlderModels(t *testing.T) {
	srv := modeltest.NewOpenAI()
	defer srv.Close()
	req := request(agent.Choice{Mode: "any"}, opening())
	req.Model = "gpt-4.1"
	req.System = ""
	if _, err := onResponses(srv).Send(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	body := srv.Requests()[0].Body
	if _, ok := body["include"]; ok {
		t.Errorf("include sent to gpt-4.1: %v", body["include"])
	}
	if _, ok := body["instructions"]; ok {
		t.Errorf("instructions sent without a system prompt: %v", body["instructions"])
	}
}

// A server that is not OpenAI gets Chat Completions (its API has no
// Responses), and the same conversation works there; agent.api can move
// either way.
func TestAPIChoice(t *testing.T) {
	for _, c := range []struct {
		opts Options
		want string
	}{
		{Options{}, APIResponses},
		{Options{BaseURL: "https://api.openai.com/v1"}, APIResponses},
		{Options{BaseURL: "https://my-res.openai.azure.com/openai/v1"}, APIResponses},
		{Options{BaseURL: "http://localhost:11434/v1"}, APIChat},
		{Options{BaseURL: "https://litellm.internal/v1"}, APIChat},
		{Options{BaseURL: "http://localhost:11434/v1", API: APIResponses}, APIResponses},
		{Options{API: APIChat}, APIChat},
	} {
		if got := New(c.opts).API(); got != c.want {
			t.Errorf("New(%+v).API() = %q, want %q", c.opts, got, c.want)
		}
	}
	if CheckAPI("") != nil || CheckAPI("chat") != nil || CheckAPI("responses") != nil {
		t.Error("CheckAPI refuses a valid value")
	}
	if err := CheckAPI("completions"); err == nil || !strings.Contains(err.Error(), "agent.api") {
		t.Errorf("CheckAPI(completions) = %v", err)
	}
	_, err := New(Options{API: "completions"}).Send(context.Background(), request(agent.Choice{Mode: "any"}, opening()))
	var ae *agent.Error
	if !errors.As(err, &ae) || ae.Retryable || !strings.Contains(ae.Message, "agent.api") {
		t.Errorf("an unknown API gave %v, want a permanent error naming agent.api", err)
	}
}

func TestCompatibleServerUsesChatCompletions(t *testing.T) {
	srv := modeltest.NewOpenAI()
	defer srv.Close()
	p := New(Options{BaseURL: srv.BaseURL()})
	r1, err := p.Send(context.Background(), request(agent.Choice{Mode: "any"}, opening()))
	if err != nil {
		t.Fatal(err)
	}
	msgs := append(opening(), agent.Message{Role: agent.Assistant, Content: r1.Content}, results(r1, "ok"))
	r2, err := p.Send(context.Background(), request(agent.Choice{Mode: "auto"}, msgs))
	if err != nil {
		t.Fatal(err)
	}
	if r1.StopReason != agent.ToolUse || r2.StopReason != agent.EndTurn {
		t.Errorf("stop reasons %q, %q", r1.StopReason, r2.StopReason)
	}
	for i, req := range srv.Requests() {
		if _, ok := req.Body["messages"]; !ok {
			t.Errorf("request %d is not Chat Completions: %s", i, req.Raw)
		}
		if _, ok := req.Body["input"]; ok {
			t.Errorf("request %d has Responses input: %s", i, req.Raw)
		}
	}
}

// A conversation begun on Responses and continued on Chat Completions
// (agent.api changed between attempts): the reasoning items have no place
// there and are left out; the rest goes as Chat messages.
func TestChatLeavesOutReasoningItems(t *testing.T) {
	srv := modeltest.NewOpenAI()
	defer srv.Close()
	r1, err := onResponses(srv).Send(context.Background(), lunaRequest(agent.Choice{Mode: "any"}, opening()))
	if err != nil {
		t.Fatal(err)
	}
	msgs := append(opening(), agent.Message{Role: agent.Assistant, Content: r1.Content}, results(r1, "ok"))
	chat := New(Options{BaseURL: srv.BaseURL(), API: APIChat})
	if _, err := chat.Send(context.Background(), request(agent.Choice{Mode: "auto"}, msgs)); err != nil {
		t.Fatal(err)
	}
	m := messagesOf(t, srv.Requests()[1].Body)
	if len(m) != 4 || m[2]["role"] != "assistant" || m[2]["content"] != "Deciding from the event data." || m[3]["role"] != "tool" {
		t.Errorf("chat messages = %v", m)
	}
}

// As on Chat Completions, an empty key sends no Authorization header.
func TestResponsesEmptyKeySendsNoAuthorization(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-from-env")
	srv := modeltest.NewOpenAI()
	defer srv.Close()
	if _, err := New(Options{BaseURL: srv.BaseURL(), API: APIResponses}).Send(context.Background(), lunaRequest(agent.Choice{Mode: "any"}, opening())); err != nil {
		t.Fatalf("an empty key must work: %v", err)
	}
	if got := srv.Requests()[0].Header.Values("Authorization"); len(got) != 0 {
		t.Errorf("Authorization sent with an empty key: %q", got)
	}
}
