package openai

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/agenthook/agenthook/internal/agent"
	"github.com/agenthook/agenthook/internal/modeltest"
)

var tools = []agent.Tool{
	{Name: "refund", Description: "Refund a charge", InputSchema: map[string]any{
		"type": "object", "properties": map[string]any{"charge": map[string]any{"type": "string"}}, "required": []any{"charge"},
	}},
	{Name: "notify", Description: "Tell the team", InputSchema: map[string]any{
		"properties": map[string]any{"text": map[string]any{"type": "string"}},
	}},
}

func opening() []agent.Message {
	return []agent.Message{{Role: agent.User, Content: []agent.Block{{Type: agent.TextBlock, Text: "A dispute was opened."}}}}
}

func request(choice agent.Choice, msgs []agent.Message) agent.Request {
	return agent.Request{
		Model: "gpt-test", System: "You handle Stripe events.", Messages: msgs, Tools: tools,
		Choice: choice, MaxTokens: 1024, Event: agent.Event{ID: "evt_1", Type: "charge.dispute.created"},
	}
}

// messagesOf returns the messages of a recorded request body.
func messagesOf(t *testing.T, body map[string]any) []map[string]any {
	t.Helper()
	raw, ok := body["messages"].([]any)
	if !ok {
		t.Fatalf("request has no messages: %v", body)
	}
	out := make([]map[string]any, len(raw))
	for i, m := range raw {
		out[i] = m.(map[string]any)
	}
	return out
}

func TestToolLoopTwoRounds(t *testing.T) {
	srv := modeltest.NewOpenAI(
		modeltest.Reply{Body: modeltest.OpenAIBody("gpt-test-2026", "tool_calls", "Refunding and telling the team.",
			modeltest.OpenAICall{ID: "call_a", Name: "refund", Arguments: `{"charge":"ch_1"}`},
			modeltest.OpenAICall{ID: "call_b", Name: "notify", Arguments: `{"text":"refunded ch_1"}`})},
		modeltest.Reply{Body: modeltest.OpenAIBody("gpt-test-2026", "stop", "Done.")},
	)
	defer srv.Close()
	p := New(Options{APIKey: "sk-test", BaseURL: srv.BaseURL()})
	ctx := context.Background()

	// Round 1.
	msgs := opening()
	r1, err := p.Send(ctx, request(agent.Choice{Mode: "any"}, msgs))
	if err != nil {
		t.Fatal(err)
	}
	if r1.StopReason != agent.ToolUse {
		t.Errorf("stop reason = %q, want tool_use", r1.StopReason)
	}
	if r1.Model != "gpt-test-2026" || r1.RequestID != "req_fake_1" {
		t.Errorf("model %q request id %q", r1.Model, r1.RequestID)
	}
	if r1.Text() != "Refunding and telling the team." {
		t.Errorf("text = %q", r1.Text())
	}
	uses := r1.ToolUses()
	if len(uses) != 2 {
		t.Fatalf("want 2 tool uses, got %+v", r1.Content)
	}
	if uses[0].ID != "call_a" || uses[0].Name != "refund" || string(uses[0].Input) != `{"charge":"ch_1"}` ||
		uses[1].ID != "call_b" || uses[1].Name != "notify" || string(uses[1].Input) != `{"text":"refunded ch_1"}` {
		t.Errorf("tool uses = %+v", uses)
	}
	wantUsage := agent.Usage{InputTokens: 612, OutputTokens: 64, CacheReadInputTokens: 200}
	if r1.Usage != wantUsage {
		t.Errorf("usage = %+v, want %+v", r1.Usage, wantUsage)
	}

	reqs := srv.Requests()
	b1 := reqs[0].Body
	if got := reqs[0].Header.Get("Authorization"); got != "Bearer sk-test" {
		t.Errorf("Authorization = %q", got)
	}
	if b1["model"] != "gpt-test" || b1["tool_choice"] != "required" {
		t.Errorf("model %v tool_choice %v", b1["model"], b1["tool_choice"])
	}
	if b1["max_completion_tokens"] != float64(1024) || b1["max_tokens"] != float64(1024) {
		t.Errorf("max_completion_tokens %v max_tokens %v: a compatible server gets both", b1["max_completion_tokens"], b1["max_tokens"])
	}
	if _, ok := b1["parallel_tool_calls"]; ok {
		t.Error("parallel_tool_calls sent; it should be left to the API default")
	}
	m1 := messagesOf(t, b1)
	if len(m1) != 2 || m1[0]["role"] != "system" || m1[0]["content"] != "You handle Stripe events." ||
		m1[1]["role"] != "user" || m1[1]["content"] != "A dispute was opened." {
		t.Errorf("round 1 messages = %v", m1)
	}
	ts := b1["tools"].([]any)
	if len(ts) != 2 {
		t.Fatalf("tools = %v", ts)
	}
	fn0 := ts[0].(map[string]any)["function"].(map[string]any)
	fn1 := ts[1].(map[string]any)["function"].(map[string]any)
	if ts[0].(map[string]any)["type"] != "function" || fn0["name"] != "refund" || fn0["description"] != "Refund a charge" {
		t.Errorf("tool 0 = %v", ts[0])
	}
	if !reflect.DeepEqual(fn0["parameters"].(map[string]any)["required"], []any{"charge"}) {
		t.Errorf("tool 0 parameters = %v", fn0["parameters"])
	}
	if fn1["parameters"].(map[string]any)["type"] != "object" {
		t.Errorf("a schema without type must be sent as an object schema: %v", fn1["parameters"])
	}
	if _, ok := tools[1].InputSchema["type"]; ok {
		t.Error("the route's schema map was modified")
	}

	// Round 2: the loop appends the reply and the tool results.
	msgs = append(msgs,
		agent.Message{Role: agent.Assistant, Content: r1.Content},
		agent.Message{Role: agent.User, Content: []agent.Block{
			{Type: agent.ToolResultBlock, ToolUseID: "call_a", Content: `{"id":"re_1","status":"succeeded"}`},
			{Type: agent.ToolResultBlock, ToolUseID: "call_b", Content: "slack is down", IsError: true},
		}})
	r2, err := p.Send(ctx, request(agent.Choice{Mode: "auto"}, msgs))
	if err != nil {
		t.Fatal(err)
	}
	if r2.StopReason != agent.EndTurn || r2.Text() != "Done." || len(r2.ToolUses()) != 0 || r2.RequestID != "req_fake_2" {
		t.Errorf("round 2 reply = %+v", r2)
	}

	b2 := srv.Requests()[1].Body
	if b2["tool_choice"] != "auto" {
		t.Errorf("round 2 tool_choice = %v", b2["tool_choice"])
	}
	m2 := messagesOf(t, b2)
	if len(m2) != 5 {
		t.Fatalf("round 2 has %d messages, want system, user, assistant, tool, tool: %v", len(m2), m2)
	}
	asst := m2[2]
	if asst["role"] != "assistant" || asst["content"] != "Refunding and telling the team." {
		t.Errorf("assistant message = %v", asst)
	}
	calls, _ := asst["tool_calls"].([]any)
	if len(calls) != 2 {
		t.Fatalf("assistant tool_calls = %v", asst["tool_calls"])
	}
	for i, want := range []struct{ id, name, args string }{
		{"call_a", "refund", `{"charge":"ch_1"}`},
		{"call_b", "notify", `{"text":"refunded ch_1"}`},
	} {
		c := calls[i].(map[string]any)
		fn := c["function"].(map[string]any)
		if c["id"] != want.id || c["type"] != "function" || fn["name"] != want.name || fn["arguments"] != want.args {
			t.Errorf("tool_calls[%d] = %v, want %+v", i, c, want)
		}
	}
	if m2[3]["role"] != "tool" || m2[3]["tool_call_id"] != "call_a" || m2[3]["content"] != `{"id":"re_1","status":"succeeded"}` {
		t.Errorf("first tool message = %v", m2[3])
	}
	if m2[4]["role"] != "tool" || m2[4]["tool_call_id"] != "call_b" || m2[4]["content"] != "ERROR: slack is down" {
		t.Errorf("second tool message = %v", m2[4])
	}
}

func TestToolChoice(t *testing.T) {
	cases := []struct {
		choice agent.Choice
		want   any
	}{
		{agent.Choice{Mode: "auto"}, "auto"},
		{agent.Choice{Mode: "any"}, "required"},
		{agent.Choice{Mode: "tool", Name: "notify"}, map[string]any{"type": "function", "function": map[string]any{"name": "notify"}}},
		{agent.Choice{}, "auto"},
	}
	for _, c := range cases {
		t.Run(c.choice.String(), func(t *testing.T) {
			srv := modeltest.NewOpenAI()
			defer srv.Close()
			if _, err := New(Options{BaseURL: srv.BaseURL()}).Send(context.Background(), request(c.choice, opening())); err != nil {
				t.Fatal(err)
			}
			if got := srv.Requests()[0].Body["tool_choice"]; !reflect.DeepEqual(got, c.want) {
				t.Errorf("tool_choice = %v, want %v", got, c.want)
			}
		})
	}
	t.Run("no tools", func(t *testing.T) {
		srv := modeltest.NewOpenAI(modeltest.Reply{Body: modeltest.OpenAIBody("m", "stop", "ok")})
		defer srv.Close()
		req := request(agent.Choice{Mode: "any"}, opening())
		req.Tools = nil
		if _, err := New(Options{BaseURL: srv.BaseURL()}).Send(context.Background(), req); err != nil {
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

func TestRetryableErrors(t *testing.T) {
	cases := []struct {
		name    string
		reply   modeltest.Reply
		status  int
		after   time.Duration
		message string
	}{
		{"429 retry-after", modeltest.Reply{Status: 429, Headers: map[string]string{"retry-after": "7"}}, 429, 7 * time.Second, "fake 429"},
		{"429 retry-after-ms", modeltest.Reply{Status: 429, Headers: map[string]string{"retry-after-ms": "1500", "retry-after": "2"}}, 429, 1500 * time.Millisecond, "fake 429"},
		{"503", modeltest.Reply{Status: 503}, 503, 0, "fake 503"},
		{"500 plain text", modeltest.Reply{Status: 500, Body: "upstream exploded"}, 500, 0, "upstream exploded"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := modeltest.NewOpenAI(c.reply)
			defer srv.Close()
			_, err := New(Options{APIKey: "sk-test", BaseURL: srv.BaseURL()}).Send(context.Background(), request(agent.Choice{Mode: "any"}, opening()))
			var ae *agent.Error
			if !errors.As(err, &ae) {
				t.Fatalf("error %v (%T) is not *agent.Error", err, err)
			}
			if !ae.Retryable || ae.StatusCode != c.status || ae.After != c.after || ae.Provider != "openai" {
				t.Errorf("error = %+v, want retryable %d after %s", ae, c.status, c.after)
			}
			if ae.RequestID != "req_fake_1" {
				t.Errorf("request id = %q", ae.RequestID)
			}
			if !strings.Contains(ae.Message, c.message) {
				t.Errorf("message %q does not contain %q", ae.Message, c.message)
			}
			if len(srv.Requests()) != 1 {
				t.Errorf("the SDK retried: %d requests; the queue owns retries", len(srv.Requests()))
			}
		})
	}
}

func TestPermanentErrors(t *testing.T) {
	cases := []struct {
		name  string
		reply modeltest.Reply
		want  []string
	}{
		{"400", modeltest.Reply{Status: 400, Body: `{"error":{"message":"Invalid schema for function 'refund'","type":"invalid_request_error","param":"tools[0]","code":null}}`},
			[]string{"HTTP 400", "Invalid schema for function 'refund'"}},
		{"401", modeltest.Reply{Status: 401}, []string{"HTTP 401", "OPENAI_API_KEY"}},
		{"404 plain text", modeltest.Reply{Status: 404, Body: "404 page not found"}, []string{"404 page not found", "agent.base_url", "agent.model"}},
		{"422 vllm", modeltest.Reply{Status: 422, Body: `{"object":"error","message":"max_tokens is too large","type":"BadRequestError","code":422}`},
			[]string{"max_tokens is too large"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := modeltest.NewOpenAI(c.reply)
			defer srv.Close()
			_, err := New(Options{APIKey: "sk-secret-key", BaseURL: srv.BaseURL()}).Send(context.Background(), request(agent.Choice{Mode: "any"}, opening()))
			var ae *agent.Error
			if !errors.As(err, &ae) {
				t.Fatalf("error %v (%T) is not *agent.Error", err, err)
			}
			if ae.Retryable || !ae.Permanent() {
				t.Errorf("%s must not be retryable: %+v", c.name, ae)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "sk-secret-key") {
				t.Errorf("error leaks the key: %q", err)
			}
		})
	}
}

func TestLengthIsMaxTokens(t *testing.T) {
	srv := modeltest.NewOpenAI(modeltest.Reply{StopReason: "max_tokens"})
	defer srv.Close()
	r, err := New(Options{BaseURL: srv.BaseURL()}).Send(context.Background(), request(agent.Choice{Mode: "any"}, opening()))
	if err != nil {
		t.Fatal(err)
	}
	if r.StopReason != agent.MaxTokens {
		t.Errorf("finish_reason length gave stop reason %q, want max_tokens", r.StopReason)
	}
}

func TestEmptyKeySendsNoAuthorization(t *testing.T) {
	// The caller already read OPENAI_API_KEY; an empty key must win over
	// the SDK's own reading of the environment.
	t.Setenv("OPENAI_API_KEY", "sk-from-env")
	srv := modeltest.NewOpenAI()
	defer srv.Close()
	r, err := New(Options{BaseURL: srv.BaseURL()}).Send(context.Background(), request(agent.Choice{Mode: "tool", Name: "refund"}, opening()))
	if err != nil {
		t.Fatalf("an empty key must work against a local server: %v", err)
	}
	if len(r.ToolUses()) != 1 || r.ToolUses()[0].Name != "refund" {
		t.Errorf("reply = %+v", r)
	}
	if got := srv.Requests()[0].Header.Values("Authorization"); len(got) != 0 {
		t.Errorf("Authorization sent with an empty key: %q", got)
	}
}

func TestOddToolCalls(t *testing.T) {
	body := modeltest.OpenAIBody("m", "stop", "",
		modeltest.OpenAICall{Name: "refund", Arguments: `{"charge": "ch_1"`},
		modeltest.OpenAICall{Name: "notify", Arguments: ""},
		modeltest.OpenAICall{Name: "notify", Arguments: ""})
	srv := modeltest.NewOpenAI(modeltest.Reply{Body: body}, modeltest.Reply{Body: body})
	defer srv.Close()
	p := New(Options{BaseURL: srv.BaseURL()})
	req := request(agent.Choice{Mode: "any"}, opening())
	r1, err := p.Send(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	uses := r1.ToolUses()
	if len(uses) != 3 {
		t.Fatalf("tool uses = %+v", r1.Content)
	}
	if r1.StopReason != agent.ToolUse {
		t.Errorf("calls with finish_reason stop gave %q, want tool_use", r1.StopReason)
	}
	var raw map[string]string
	if err := json.Unmarshal(uses[0].Input, &raw); err != nil || raw["_raw"] != `{"charge": "ch_1"` {
		t.Errorf("invalid arguments kept as %s (%v)", uses[0].Input, err)
	}
	if string(uses[1].Input) != "{}" {
		t.Errorf("empty arguments gave %s, want {}", uses[1].Input)
	}
	seen := map[string]bool{}
	for _, u := range uses {
		if !strings.HasPrefix(u.ID, "call_") || seen[u.ID] {
			t.Errorf("generated id %q is not a unique call_ id", u.ID)
		}
		seen[u.ID] = true
	}
	// The same round sent again (a resend after a crash) gets the same ids.
	r2, err := p.Send(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	for i, u := range r2.ToolUses() {
		if u.ID != uses[i].ID {
			t.Errorf("id %d changed on resend: %q then %q", i, uses[i].ID, u.ID)
		}
	}
	// Journaled inputs must survive a JSON round trip, and go back to
	// the API as valid JSON.
	if _, err := json.Marshal(r1); err != nil {
		t.Errorf("reply cannot be journaled: %v", err)
	}
}

func TestTimeoutIsRetryable(t *testing.T) {
	block := make(chan struct{})
	srv := modeltest.NewOpenAI(modeltest.Reply{Block: block})
	defer srv.Close()
	defer close(block)
	_, err := New(Options{BaseURL: srv.BaseURL(), Timeout: 50 * time.Millisecond}).Send(context.Background(), request(agent.Choice{Mode: "any"}, opening()))
	var ae *agent.Error
	if !errors.As(err, &ae) || !ae.Retryable || !strings.Contains(ae.Message, "agent.timeout") {
		t.Fatalf("timeout gave %v, want a retryable *agent.Error naming agent.timeout", err)
	}
}

func TestCancelPassesThrough(t *testing.T) {
	block := make(chan struct{})
	srv := modeltest.NewOpenAI(modeltest.Reply{Block: block})
	defer srv.Close()
	defer close(block)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := New(Options{BaseURL: srv.BaseURL()}).Send(ctx, request(agent.Choice{Mode: "any"}, opening()))
		errc <- err
	}()
	<-srv.Started()
	cancel()
	err := <-errc
	var ae *agent.Error
	if !errors.Is(err, context.Canceled) || errors.As(err, &ae) {
		t.Fatalf("cancel gave %v (%T), want context.Canceled as it is", err, err)
	}
}

func TestOfficialHost(t *testing.T) {
	for base, want := range map[string]bool{
		"":                          true,
		"https://api.openai.com/v1": true,
		"https://my-res.openai.azure.com/openai/v1": true,
		"http://localhost:11434/v1":                 false,
		"http://vllm.internal:8000/v1":              false,
		"https://notopenai.com/v1":                  false,
	} {
		if got := officialHost(base); got != want {
			t.Errorf("officialHost(%q) = %v, want %v", base, got, want)
		}
	}
	if New(Options{}).legacyMaxTokens || New(Options{API: APIChat}).legacyMaxTokens {
		t.Error("OpenAI itself must not get max_tokens: its reasoning models reject it")
	}
}

// The fake's defaults drive a whole loop: a call, then end_turn once the
// results come back.
func TestFakeDefaultsFinishAfterResults(t *testing.T) {
	srv := modeltest.NewOpenAI()
	defer srv.Close()
	p := New(Options{BaseURL: srv.BaseURL()})
	msgs := opening()
	r1, err := p.Send(context.Background(), request(agent.Choice{Mode: "any"}, msgs))
	if err != nil {
		t.Fatal(err)
	}
	uses := r1.ToolUses()
	if r1.StopReason != agent.ToolUse || len(uses) != 1 || uses[0].Name != "refund" || uses[0].ID != "call_fake_1" {
		t.Fatalf("first default reply = %+v", r1)
	}
	msgs = append(msgs, agent.Message{Role: agent.Assistant, Content: r1.Content},
		agent.Message{Role: agent.User, Content: []agent.Block{{Type: agent.ToolResultBlock, ToolUseID: uses[0].ID, Content: "ok"}}})
	r2, err := p.Send(context.Background(), request(agent.Choice{Mode: "auto"}, msgs))
	if err != nil {
		t.Fatal(err)
	}
	if r2.StopReason != agent.EndTurn || len(r2.ToolUses()) != 0 || r2.Text() == "" {
		t.Errorf("default reply to tool results = %+v, want end_turn with text", r2)
	}
}

// reasoning_effort goes to Chat Completions only when the config sets an
// effort, "none" included; most compatible servers know no such field.
func TestChatEffortOnlyWhenSet(t *testing.T) {
	srv := modeltest.NewOpenAI(modeltest.Reply{}, modeltest.Reply{})
	defer srv.Close()
	p := New(Options{BaseURL: srv.BaseURL()})
	req := request(agent.Choice{Mode: "any"}, opening())
	if _, err := p.Send(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	req.Effort = "none"
	if _, err := p.Send(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if _, ok := reqs[0].Body["reasoning_effort"]; ok {
		t.Errorf("reasoning_effort sent without an effort: %v", reqs[0].Body["reasoning_effort"])
	}
	if reqs[1].Body["reasoning_effort"] != "none" {
		t.Errorf("reasoning_effort = %v, want none", reqs[1].Body["reasoning_effort"])
	}
	for _, r := range reqs {
		for _, k := range []string{"temperature", "top_p"} {
			if _, ok := r.Body[k]; ok {
				t.Errorf("%s sent", k)
			}
		}
	}
}

// The incident: gpt-6-luna on Chat Completions with function tools and its
// default effort. The fake refuses it as OpenAI does, and the error names
// the config keys that fix it; with effort none the same request works.
func TestChatRefusesToolsAtReasoningEffort(t *testing.T) {
	srv := modeltest.NewOpenAI()
	defer srv.Close()
	p := New(Options{BaseURL: srv.BaseURL()})
	req := request(agent.Choice{Mode: "any"}, opening())
	req.Model = "gpt-6-luna"
	_, err := p.Send(context.Background(), req)
	var ae *agent.Error
	if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Retryable {
		t.Fatalf("gpt-6-luna with tools on Chat Completions gave %v, want a permanent 400", err)
	}
	for _, w := range []string{
		"Function tools with reasoning_effort are not supported for gpt-6-luna in /v1/chat/completions. To use function tools, use /v1/responses or set reasoning_effort to 'none'.",
		"agent.api: responses", "agent.effort: none",
	} {
		if !strings.Contains(ae.Message, w) {
			t.Errorf("message %q does not contain %q", ae.Message, w)
		}
	}
	req.Effort = "none"
	if _, err := p.Send(context.Background(), req); err != nil {
		t.Errorf("with effort none: %v", err)
	}
}

// Reasoning tokens are reported as the thinking part of the output, and a
// content filter stop is a refusal.
func TestChatReasoningTokensAndContentFilter(t *testing.T) {
	srv := modeltest.NewOpenAI(modeltest.Reply{Body: `{"id":"c","object":"chat.completion","created":1,"model":"m",
		"choices":[{"index":0,"message":{"role":"assistant","content":null},"finish_reason":"content_filter"}],
		"usage":{"prompt_tokens":100,"completion_tokens":50,"total_tokens":150,
			"prompt_tokens_details":{"cached_tokens":40},"completion_tokens_details":{"reasoning_tokens":30}}}`})
	defer srv.Close()
	r, err := New(Options{BaseURL: srv.BaseURL()}).Send(context.Background(), request(agent.Choice{Mode: "any"}, opening()))
	if err != nil {
		t.Fatal(err)
	}
	want := agent.Usage{InputTokens: 60, OutputTokens: 50, CacheReadInputTokens: 40, ThinkingTokens: 30}
	if r.Usage != want || r.StopReason != agent.Refusal {
		t.Errorf("usage %+v stop %q, want %+v refusal", r.Usage, r.StopReason, want)
	}
}

// Refusals of tool_choice and of sampling parameters name the config key.
func TestAdviceForRefusedSettings(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{`{"error":{"message":"Tool choice type 'allowed_tools' is not supported with model 'gpt-5'","type":"invalid_request_error","param":"tool_choice","code":null}}`, "agent.tool_choice"},
		{`{"error":{"message":"Unsupported parameter: 'temperature' is not supported with this model.","type":"invalid_request_error","param":"temperature","code":"unsupported_parameter"}}`, "agent.effort is none"},
		{`{"error":{"message":"Unsupported value: 'minimal' is not supported with the 'gpt-5.1' model.","type":"invalid_request_error","param":"reasoning.effort","code":"unsupported_value"}}`, "agent.effort"},
	} {
		srv := modeltest.NewOpenAI(modeltest.Reply{Status: 400, Body: c.body})
		_, err := New(Options{BaseURL: srv.BaseURL()}).Send(context.Background(), request(agent.Choice{Mode: "any"}, opening()))
		srv.Close()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s gave %v, want advice naming %s", c.body, err, c.want)
		}
	}
}
