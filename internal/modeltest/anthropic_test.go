package modeltest

// These tests hold the fake to the Messages API's documented contract for
// the current models: https://platform.claude.com/docs/en/models/sonnet-5-5/whats-new-sonnet-5-5,
// https://platform.claude.com/docs/en/api/errors, and the pages cited
// beside each rule in anthropic*.go.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	anthropic "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/anthropics/anthropic-sdk-go/v2/packages/param"
)

// The models the tests drive: a 5.5-class model and an older one that
// still takes forced tool choice.
const (
	newModel = "claude-sonnet-5-5"
	oldModel = "claude-sonnet-5"
)

func newClient(srv *Server) anthropic.Client {
	return anthropic.NewClient(option.WithBaseURL(srv.URL), option.WithAPIKey("test"), option.WithMaxRetries(0))
}

// refundSchema is a strict-compatible schema with the seed fields.
func refundSchema() anthropic.ToolInputSchemaParam {
	return anthropic.ToolInputSchemaParam{
		Properties: map[string]any{
			"stripe_id": map[string]any{"type": "string"},
			"amount":    map[string]any{"type": "integer"},
			"reason":    map[string]any{"type": "string", "enum": []string{"duplicate", "fraudulent"}},
			"note":      map[string]any{"type": "string"},
		},
		Required:    []string{"stripe_id", "reason"},
		ExtraFields: map[string]any{"additionalProperties": false},
	}
}

func tool(name string, schema anthropic.ToolInputSchemaParam) anthropic.ToolUnionParam {
	return anthropic.ToolUnionParam{OfTool: &anthropic.ToolParam{Name: name, InputSchema: schema}}
}

func params(model string) anthropic.MessageNewParams {
	return anthropic.MessageNewParams{
		Model:     anthropic.Model(model),
		MaxTokens: 16000,
		System:    []anthropic.TextBlockParam{{Text: "You handle Stripe events."}},
		Tools:     []anthropic.ToolUnionParam{tool("refund", refundSchema()), tool("notify", anthropic.ToolInputSchemaParam{})},
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("charge.refunded ch_1"))},
	}
}

func send(t *testing.T, c anthropic.Client, p anthropic.MessageNewParams, opts ...option.RequestOption) (*anthropic.Message, error) {
	t.Helper()
	return c.Messages.New(context.Background(), p, opts...)
}

func mustSend(t *testing.T, c anthropic.Client, p anthropic.MessageNewParams, opts ...option.RequestOption) *anthropic.Message {
	t.Helper()
	msg, err := send(t, c, p, opts...)
	if err != nil {
		t.Fatalf("%s: %v", p.Model, err)
	}
	return msg
}

// refused asserts err is a 400 invalid_request_error whose message is want
// (or contains it, with contains).
func refused(t *testing.T, err error, want string, contains bool) {
	t.Helper()
	var e *anthropic.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want a 400", err)
	}
	if e.StatusCode != http.StatusBadRequest || e.Type() != "invalid_request_error" {
		t.Fatalf("status %d type %q, want 400 invalid_request_error (%s)", e.StatusCode, e.Type(), e.Message)
	}
	if contains && !strings.Contains(e.Message, want) || !contains && e.Message != want {
		t.Fatalf("message\n %q\nwant\n %q", e.Message, want)
	}
}

func types(msg *anthropic.Message) []string {
	var out []string
	for _, b := range msg.Content {
		out = append(out, b.Type)
	}
	return out
}

func same(a []string, b ...string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }

// continued is the conversation after msg with a tool result for each of
// its tool calls; asst is the assistant turn as the caller sends it back.
func continued(p anthropic.MessageNewParams, asst anthropic.MessageParam, msg *anthropic.Message) anthropic.MessageNewParams {
	var results []anthropic.ContentBlockParamUnion
	for _, b := range msg.Content {
		if b.Type == "tool_use" {
			results = append(results, anthropic.NewToolResultBlock(b.ID, `{"ok":true}`, false))
		}
	}
	p.Messages = append(append([]anthropic.MessageParam{}, p.Messages...), asst, anthropic.NewUserMessage(results...))
	return p
}

// verbatim sends the turn back from the raw JSON of each block.
func verbatim(msg *anthropic.Message) anthropic.MessageParam {
	blocks := make([]anthropic.ContentBlockParamUnion, len(msg.Content))
	for i, b := range msg.Content {
		blocks[i] = param.Override[anthropic.ContentBlockParamUnion](json.RawMessage(b.RawJSON()))
	}
	return anthropic.NewAssistantMessage(blocks...)
}

// rawBlocks sends back blocks given as JSON maps (to edit a turn).
func rawBlocks(msg *anthropic.Message, edit func([]map[string]any) []map[string]any) anthropic.MessageParam {
	var blocks []map[string]any
	for _, b := range msg.Content {
		var m map[string]any
		json.Unmarshal([]byte(b.RawJSON()), &m)
		blocks = append(blocks, m)
	}
	blocks = edit(blocks)
	out := make([]anthropic.ContentBlockParamUnion, len(blocks))
	for i, b := range blocks {
		raw, _ := json.Marshal(b)
		out[i] = param.Override[anthropic.ContentBlockParamUnion](json.RawMessage(raw))
	}
	return anthropic.NewAssistantMessage(out...)
}

func forced(typ string) anthropic.ToolChoiceUnionParam {
	if typ == "any" {
		return anthropic.ToolChoiceUnionParam{OfAny: &anthropic.ToolChoiceAnyParam{}}
	}
	return anthropic.ToolChoiceParamOfTool("notify")
}

// Rule 1: forced tool choice is refused on the 5.5-class models, accepted on
// older ones, which then skip thinking.
func TestForcedToolChoice(t *testing.T) {
	srv := NewAnthropic()
	defer srv.Close()
	c := newClient(srv)
	for _, model := range []string{"claude-opus-5-5", "claude-sonnet-5-5", "claude-fable-5-1", "claude-mythos-5-1"} {
		for _, typ := range []string{"any", "tool"} {
			p := params(model)
			p.ToolChoice = forced(typ)
			_, err := send(t, c, p)
			refused(t, err, `tool_choice: type "tool" and "any" are not supported for this model.`, false)
		}
		p := params(model)
		p.ToolChoice = anthropic.ToolChoiceUnionParam{OfAuto: &anthropic.ToolChoiceAutoParam{}}
		if msg := mustSend(t, c, p); !same(types(msg), "thinking", "text", "tool_use") || msg.StopReason != "tool_use" {
			t.Fatalf("%s auto: %v %s", model, types(msg), msg.StopReason)
		}
	}
	// Forced tool use is refused on the token counting endpoint too.
	p := params(newModel)
	p.ToolChoice = forced("any")
	_, err := c.Messages.CountTokens(context.Background(), anthropic.MessageCountTokensParams{
		Model: p.Model, Messages: p.Messages, ToolChoice: p.ToolChoice,
		Tools: []anthropic.MessageCountTokensToolUnionParam{{OfTool: p.Tools[0].OfTool}}})
	refused(t, err, `tool_choice: type "tool" and "any" are not supported for this model.`, false)

	for _, model := range []string{oldModel, "claude-haiku-5-5", "claude-opus-5", "claude-opus-4-8"} {
		p := params(model)
		p.ToolChoice = forced("any")
		msg := mustSend(t, c, p)
		if !same(types(msg), "text", "tool_use") || msg.Content[1].Name != "refund" {
			t.Fatalf("%s any: %v, want no thinking and a call to the first tool", model, types(msg))
		}
		p.ToolChoice = forced("tool")
		if msg := mustSend(t, c, p); msg.Content[1].Name != "notify" || msg.Usage.OutputTokensDetails.ThinkingTokens != 0 {
			t.Fatalf("%s tool: %v %+v", model, types(msg), msg.Usage)
		}
	}
	// An old model does not take forced choice with manual extended thinking.
	p = params("claude-sonnet-4-6")
	p.ToolChoice = forced("any")
	p.Thinking = anthropic.ThinkingConfigParamOfEnabled(2048)
	_, err = send(t, c, p)
	refused(t, err, "Thinking may not be enabled when tool_choice forces tool use.", false)

	if rf := srv.Refusals(); len(rf) != 10 || rf[0].Model != "claude-opus-5-5" || rf[0].Status != 400 {
		t.Fatalf("refusals %+v", rf)
	}
}

// Rule 2: the thinking types each model accepts.
func TestThinkingTypes(t *testing.T) {
	srv := NewAnthropic()
	defer srv.Close()
	c := newClient(srv)
	adaptive := anthropic.ThinkingConfigParamUnion{OfAdaptive: &anthropic.ThinkingConfigAdaptiveParam{}}
	disabled := anthropic.ThinkingConfigParamUnion{OfDisabled: &anthropic.ThinkingConfigDisabledParam{}}
	between := anthropic.ThinkingConfigParamUnion{OfBetweenTools: &anthropic.ThinkingConfigBetweenToolsParam{}}
	enabled := anthropic.ThinkingConfigParamOfEnabled(2048)
	cases := []struct {
		model    string
		thinking anthropic.ThinkingConfigParamUnion
		effort   string
		opts     []option.RequestOption
		want     string // "" accepted
		first    string // accepted: the first block's type
	}{
		{model: "claude-sonnet-5-5", thinking: disabled, want: msgDisabledUseBetweenTools},
		{model: "claude-sonnet-5-5", thinking: enabled, want: msgEnabledRefused},
		{model: "claude-sonnet-5-5", thinking: between, effort: "high", first: "text"},
		{model: "claude-sonnet-5-5", thinking: between, effort: "xhigh", want: "output_config.effort 'xhigh' is not supported when thinking is disabled on this model. Use effort 'high' or below, or enable thinking."},
		{model: "claude-sonnet-5-5", thinking: between, opts: []option.RequestOption{option.WithJSONSet("thinking.display", "summarized")}, want: "thinking.between_tools.display: Extra inputs are not permitted"},
		{model: "claude-sonnet-5-5", thinking: adaptive, effort: "max", first: "thinking"},
		{model: "claude-opus-5-5", thinking: disabled, want: msgDisabledRefused},
		{model: "claude-opus-5-5", thinking: enabled, want: msgEnabledRefused},
		{model: "claude-opus-5-5", thinking: between, want: msgBetweenToolsRefused},
		{model: "claude-opus-5-5", first: "thinking"},
		{model: "claude-fable-5-1", thinking: disabled, want: msgDisabledRefused},
		{model: "claude-haiku-5-5", thinking: disabled, effort: "low", first: "text"},
		{model: "claude-haiku-5-5", thinking: disabled, effort: "max", want: "output_config.effort 'max' is not supported when thinking is disabled on this model. Use effort 'high' or below, or enable thinking."},
		{model: "claude-sonnet-5", thinking: disabled, effort: "max", first: "text"},
		{model: "claude-sonnet-5", thinking: between, want: msgBetweenToolsRefused},
		{model: "claude-opus-4-8", first: "text"}, // thinking off by default
		{model: "claude-opus-4-8", thinking: adaptive, first: "thinking"},
		{model: "claude-sonnet-4-5", thinking: adaptive, want: msgAdaptiveRefused},
		{model: "claude-sonnet-4-5", thinking: enabled, first: "thinking"},
		{model: "claude-sonnet-4-5", thinking: anthropic.ThinkingConfigParamOfEnabled(16000), want: "`max_tokens` must be greater than `thinking.budget_tokens`."},
		{model: "claude-opus-5-5", opts: []option.RequestOption{option.WithJSONSet("thinking", map[string]any{"type": "sometimes"})},
			want: "thinking: Input tag 'sometimes' found using 'type' does not match any of the expected tags: 'adaptive', 'between_tools', 'disabled', 'enabled'"},
	}
	for i, tc := range cases {
		p := params(tc.model)
		p.Thinking = tc.thinking
		if tc.effort != "" {
			p.OutputConfig = anthropic.OutputConfigParam{Effort: anthropic.OutputConfigEffort(tc.effort)}
		}
		msg, err := send(t, c, p, tc.opts...)
		if tc.want != "" {
			refused(t, err, tc.want, false)
			continue
		}
		if err != nil {
			t.Fatalf("case %d %s: %v", i, tc.model, err)
		}
		if msg.Content[0].Type != tc.first {
			t.Fatalf("case %d %s: content %v, want %s first", i, tc.model, types(msg), tc.first)
		}
	}
}

// Rule 3: output_config.effort values, thinking tokens by effort, and
// max_tokens covering thinking plus the answer.
func TestEffortAndMaxTokens(t *testing.T) {
	srv := NewAnthropic()
	defer srv.Close()
	c := newClient(srv)
	for _, tc := range []struct{ model, effort, want string }{
		{newModel, "extreme", "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'"},
		{"claude-opus-5-5", "adaptive", "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'"},
		{"claude-sonnet-4-6", "xhigh", "output_config.effort: Input should be 'low', 'medium', 'high' or 'max'"},
		{"claude-haiku-4-5", "low", "output_config.effort: Extra inputs are not permitted"},
	} {
		p := params(tc.model)
		p.OutputConfig = anthropic.OutputConfigParam{Effort: anthropic.OutputConfigEffort(tc.effort)}
		_, err := send(t, c, p)
		refused(t, err, tc.want, false)
	}
	// Every documented level is accepted; thinking tokens grow with it and
	// are output tokens.
	for effort, tokens := range thinkingTokens {
		for _, model := range []string{newModel, oldModel} {
			p := params(model)
			p.MaxTokens = 20000
			p.OutputConfig = anthropic.OutputConfigParam{Effort: anthropic.OutputConfigEffort(effort)}
			msg := mustSend(t, c, p)
			if u := msg.Usage; u.OutputTokensDetails.ThinkingTokens != int64(tokens) || u.OutputTokens != int64(tokens+tokensToolCall) {
				t.Fatalf("%s %s: usage %+v", model, effort, u)
			}
		}
	}
	// The API's default effort: high on Sonnet 5.5, medium on Opus 5.5.
	if msg := mustSend(t, c, params(newModel)); msg.Usage.OutputTokensDetails.ThinkingTokens != int64(thinkingTokens["high"]) {
		t.Fatalf("sonnet 5.5 default effort: %+v", msg.Usage)
	}
	if msg := mustSend(t, c, params("claude-opus-5-5")); msg.Usage.OutputTokensDetails.ThinkingTokens != int64(thinkingTokens["medium"]) {
		t.Fatalf("opus 5.5 default effort: %+v", msg.Usage)
	}
	// Thinking alone fills max_tokens: only the thinking block comes back.
	p := params(newModel)
	p.MaxTokens = 3000
	if msg := mustSend(t, c, p); msg.StopReason != "max_tokens" || !same(types(msg), "thinking") || msg.Usage.OutputTokens != 3000 {
		t.Fatalf("max_tokens 3000: %s %v %+v", msg.StopReason, types(msg), msg.Usage)
	}
	// Thinking fits but the answer does not: the text is cut, no tool call.
	p.MaxTokens = int64(thinkingTokens["high"] + 4)
	if msg := mustSend(t, c, p); msg.StopReason != "max_tokens" || !same(types(msg), "thinking", "text") || msg.Usage.OutputTokens != p.MaxTokens ||
		len(msg.Content[1].Text) != 16 {
		t.Fatalf("max_tokens %d: %s %v %+v %q", p.MaxTokens, msg.StopReason, types(msg), msg.Usage, msg.Content[1].Text)
	}
	// Over the model's output limit.
	// (The SDK refuses a large max_tokens without streaming; set it on the wire.)
	_, err := send(t, c, p, option.WithJSONSet("max_tokens", 128001))
	refused(t, err, "max_tokens: 128001 > 128000, which is the maximum allowed number of output tokens for claude-sonnet-5-5", false)
	// Scripted thinking amount.
	srv2 := NewAnthropic(Reply{ThinkingTokens: 100})
	defer srv2.Close()
	if msg := mustSend(t, newClient(srv2), params(newModel)); msg.Usage.OutputTokensDetails.ThinkingTokens != 100 {
		t.Fatalf("scripted thinking: %+v", msg.Usage)
	}
}

// Rule 4: every reply of a thinking model opens with a thinking block:
// empty text at the default display, a summary with "summarized", and a
// signature bound to the model and the conversation.
func TestThinkingBlock(t *testing.T) {
	srv := NewAnthropic(Reply{}, Reply{}, Reply{Redacted: true})
	defer srv.Close()
	c := newClient(srv)
	msg := mustSend(t, c, params(newModel))
	th := msg.Content[0].AsThinking()
	if th.Thinking != "" || th.Signature == "" {
		t.Fatalf("default display: %+v", th)
	}
	raw, _ := base64.StdEncoding.DecodeString(th.Signature)
	if !strings.Contains(string(raw), `"m":"claude-sonnet-5-5"`) {
		t.Fatalf("signature does not name the model: %q", raw)
	}
	p := params(newModel)
	p.Thinking = anthropic.ThinkingConfigParamUnion{OfAdaptive: &anthropic.ThinkingConfigAdaptiveParam{Display: "summarized"}}
	if msg2 := mustSend(t, c, p); msg2.Content[0].Thinking == "" || msg2.Content[0].Signature == th.Signature {
		t.Fatalf("summarized: %+v", msg2.Content[0])
	}
	msg3 := mustSend(t, c, params(newModel))
	if !same(types(msg3), "thinking", "redacted_thinking", "text", "tool_use") || msg3.Content[1].Data == "" {
		t.Fatalf("redacted: %v", types(msg3))
	}
	// An old model answers without thinking unless asked.
	if msg := mustSend(t, c, params("claude-opus-4-6")); !same(types(msg), "text", "tool_use") {
		t.Fatalf("opus 4.6: %v", types(msg))
	}
}

// Rule 5: a continued conversation carries the assistant turn back exactly
// as the fake issued it. Both ways the SDK sends a turn back verbatim work:
// the raw JSON of each block (param.Override) and Message.ToParam.
func TestContinuationAccepted(t *testing.T) {
	for _, model := range []string{newModel, "claude-opus-5-5", "claude-haiku-5-5", oldModel, "claude-fable-5-1"} {
		for name, back := range map[string]func(*anthropic.Message) anthropic.MessageParam{
			"raw":     verbatim,
			"ToParam": func(m *anthropic.Message) anthropic.MessageParam { return m.ToParam() },
		} {
			srv := NewAnthropic(Reply{Redacted: true})
			c := newClient(srv)
			p := params(model)
			msg := mustSend(t, c, p)
			p2 := continued(p, back(msg), msg)
			// cache_control markers are not part of the prefix check.
			p2.System[0].CacheControl = anthropic.NewCacheControlEphemeralParam()
			end := mustSend(t, c, p2)
			if !same(types(end), "thinking", "text") || end.StopReason != "end_turn" || end.Usage.CacheReadInputTokens != 700 {
				t.Fatalf("%s %s: %v %s %+v", model, name, types(end), end.StopReason, srv.Refusals())
			}
			// And a third round on top of both turns.
			p3 := p2
			p3.Messages = append(append([]anthropic.MessageParam{}, p2.Messages...), back(end), anthropic.NewUserMessage(anthropic.NewTextBlock("and now?")))
			if next := mustSend(t, c, p3); next.StopReason != "tool_use" {
				t.Fatalf("%s %s round 3: %s", model, name, next.StopReason)
			}
			srv.Close()
		}
	}
}

func TestContinuationRefused(t *testing.T) {
	srv := NewAnthropic()
	defer srv.Close()
	c := newClient(srv)
	p := params(newModel)
	msg := mustSend(t, c, p)
	redactedSrv := NewAnthropic(Reply{Redacted: true})
	defer redactedSrv.Close()
	rc := newClient(redactedSrv)
	rmsg := mustSend(t, rc, p)

	drop := func(typ string) func([]map[string]any) []map[string]any {
		return func(bs []map[string]any) []map[string]any {
			var out []map[string]any
			for _, b := range bs {
				if b["type"] != typ {
					out = append(out, b)
				}
			}
			return out
		}
	}
	t.Run("thinking dropped", func(t *testing.T) {
		_, err := send(t, c, continued(p, rawBlocks(msg, drop("thinking")), msg))
		refused(t, err, "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `text`. When `thinking` is enabled, a final `assistant` message must start with a thinking block (preceding the lastmost set of `tool_use` and `tool_result` blocks).", false)
	})
	t.Run("turn rebuilt from its parts without thinking", func(t *testing.T) {
		tu := msg.Content[2].AsToolUse()
		asst := anthropic.NewAssistantMessage(anthropic.NewToolUseBlock(tu.ID, tu.Input, tu.Name))
		_, err := send(t, c, continued(p, asst, msg))
		refused(t, err, "Expected `thinking` or `redacted_thinking`, but found `tool_use`.", true)
	})
	t.Run("redacted_thinking filtered out", func(t *testing.T) {
		_, err := send(t, rc, continued(p, rawBlocks(rmsg, drop("redacted_thinking")), rmsg))
		refused(t, err, "messages.1.content.0: "+msgModified, false)
	})
	t.Run("thinking text edited", func(t *testing.T) {
		_, err := send(t, c, continued(p, rawBlocks(msg, func(bs []map[string]any) []map[string]any {
			bs[0]["thinking"] = "I will refund."
			return bs
		}), msg))
		refused(t, err, "messages.1.content.0: "+msgModified, false)
	})
	t.Run("blocks reordered", func(t *testing.T) {
		_, err := send(t, c, continued(p, rawBlocks(msg, func(bs []map[string]any) []map[string]any {
			bs[0], bs[1] = bs[1], bs[0]
			return bs
		}), msg))
		refused(t, err, msgModified, true)
	})
	t.Run("tool input edited", func(t *testing.T) {
		_, err := send(t, c, continued(p, rawBlocks(msg, func(bs []map[string]any) []map[string]any {
			bs[2]["input"] = map[string]any{"stripe_id": "ch_other", "reason": "duplicate"}
			return bs
		}), msg))
		refused(t, err, "messages.1.content.0: "+msgModified, false)
	})
	for name, sig := range map[string]func(string) string{
		"signature altered": func(s string) string { return "A" + s[1:] },
		"signature empty":   func(string) string { return "" },
		"signature cut":     func(s string) string { return s[:len(s)/2] },
	} {
		t.Run(name, func(t *testing.T) {
			_, err := send(t, c, continued(p, rawBlocks(msg, func(bs []map[string]any) []map[string]any {
				bs[0]["signature"] = sig(bs[0]["signature"].(string))
				return bs
			}), msg))
			refused(t, err, "messages.1.content.0: Invalid `signature` in `thinking` block", false)
		})
	}
	t.Run("another fake's key", func(t *testing.T) {
		other := NewAnthropic()
		defer other.Close()
		other.SigningKey = []byte("another key")
		_, err := send(t, newClient(other), continued(p, verbatim(msg), msg))
		refused(t, err, "messages.1.content.0: Invalid `signature` in `thinking` block", false)
	})
	conversationErr := "messages.1.content.0: Invalid `signature` in `thinking` block. The block is bound to a different conversation. Remove the block, or set `thinking.block_binding.prefix_mismatch_behavior` to \"drop_block\". That setting requires the `thinking-binding-controls-2026-08-01` value in the `anthropic-beta` header. "
	t.Run("system prompt changed", func(t *testing.T) {
		p2 := continued(p, verbatim(msg), msg)
		p2.System = []anthropic.TextBlockParam{{Text: "You handle Stripe events. Today is Monday."}}
		_, err := send(t, c, p2)
		refused(t, err, conversationErr+"The `system` prompt differs from when the block was created.", false)
	})
	t.Run("tools changed", func(t *testing.T) {
		p2 := continued(p, verbatim(msg), msg)
		p2.Tools = p2.Tools[:1]
		_, err := send(t, c, p2)
		refused(t, err, conversationErr+"The `tools` list differs from when the block was created.", false)
		// With the beta header and drop_block the block is dropped instead.
		end, err := send(t, c, p2, option.WithHeader("anthropic-beta", betaBinding),
			option.WithJSONSet("thinking", map[string]any{"type": "adaptive", "block_binding": map[string]any{"prefix_mismatch_behavior": "drop_block"}}))
		if err != nil || !strings.Contains(end.RawJSON(), `"input_transformations":[{"path":"messages.1.content.0","reason":"prefix_binding_mismatch","type":"thinking_dropped"}]`) {
			t.Fatalf("drop_block: %v %s", err, end.RawJSON())
		}
		// block_binding needs the beta header.
		_, err = send(t, c, p2, option.WithJSONSet("thinking", map[string]any{"type": "adaptive", "block_binding": map[string]any{"prefix_mismatch_behavior": "drop_block"}}))
		refused(t, err, "thinking.adaptive.block_binding: Extra inputs are not permitted", false)
	})
	t.Run("earlier message changed", func(t *testing.T) {
		p2 := continued(p, verbatim(msg), msg)
		p2.Messages[0] = anthropic.NewUserMessage(anthropic.NewTextBlock("charge.refunded ch_2"))
		_, err := send(t, c, p2)
		refused(t, err, conversationErr+"An earlier message differs from when the block was created.", false)
	})
	t.Run("older model: no prefix check", func(t *testing.T) {
		p := params(oldModel)
		msg := mustSend(t, c, p)
		p2 := continued(p, verbatim(msg), msg)
		p2.System = []anthropic.TextBlockParam{{Text: "Changed."}}
		mustSend(t, c, p2)
		_, err := send(t, c, continued(p, rawBlocks(msg, func(bs []map[string]any) []map[string]any {
			bs[0]["thinking"] = "edited"
			return bs
		}), msg))
		refused(t, err, msgModified, true)
	})
	t.Run("block from another model is dropped", func(t *testing.T) {
		po := params("claude-opus-5-5")
		omsg := mustSend(t, c, po)
		p2 := continued(p, verbatim(omsg), omsg)
		end, err := send(t, c, p2, option.WithHeader("anthropic-beta", betaBinding))
		if err != nil || !strings.Contains(end.RawJSON(), `"reason":"model_binding_mismatch"`) {
			t.Fatalf("cross-model: %v %s", err, end.RawJSON())
		}
	})
}

// A gap in the run of thinking blocks fails the prefix check; thinking
// removed from the start of the history does not.
func TestThinkingChain(t *testing.T) {
	srv := NewAnthropic(Reply{}, Reply{StopReason: "tool_use"}, Reply{StopReason: "tool_use"})
	defer srv.Close()
	c := newClient(srv)
	p := params(newModel)
	var turns []*anthropic.Message
	for range 3 {
		msg := mustSend(t, c, p)
		turns = append(turns, msg)
		p = continued(p, verbatim(msg), msg)
	}
	strip := func(i int) anthropic.MessageNewParams {
		q := p
		q.Messages = append([]anthropic.MessageParam{}, p.Messages...)
		q.Messages[1+2*i] = rawBlocks(turns[i], func(bs []map[string]any) []map[string]any { return bs[1:] })
		return q
	}
	mustSend(t, c, strip(0)) // oldest first: allowed
	_, err := send(t, c, strip(1))
	refused(t, err, "messages.5.content.0: Invalid `signature` in `thinking` block. The block is bound to a different conversation.", true)
	refused(t, err, "An earlier thinking block is missing or out of order.", true)
}

// Rule 6: stop reasons.
func TestStopReasons(t *testing.T) {
	for _, model := range []string{newModel, oldModel} {
		srv := NewAnthropic(Reply{NoTool: true}, Reply{StopReason: "end_turn", Text: "Nothing to do."}, Reply{StopReason: "refusal"},
			Reply{StopReason: "model_context_window_exceeded"}, Reply{StopReason: "max_tokens"}, Reply{StopReason: "stop_sequence"},
			Reply{StopReason: "pause_turn"})
		c := newClient(srv)
		p := params(model)
		if msg := mustSend(t, c, p); msg.StopReason != "end_turn" || !same(types(msg), "thinking", "text") {
			t.Fatalf("%s NoTool: %s %v", model, msg.StopReason, types(msg))
		}
		if msg := mustSend(t, c, p); msg.StopReason != "end_turn" || msg.Content[1].Text != "Nothing to do." {
			t.Fatalf("%s end_turn: %v", model, msg.Content)
		}
		if msg := mustSend(t, c, p); msg.StopReason != "refusal" || msg.StopDetails.Type != "refusal" || hasToolUse(msg) {
			t.Fatalf("%s refusal: %s", model, msg.RawJSON())
		}
		if msg := mustSend(t, c, p); msg.StopReason != "model_context_window_exceeded" || hasToolUse(msg) {
			t.Fatalf("%s context window: %s", model, msg.RawJSON())
		}
		if msg := mustSend(t, c, p); msg.StopReason != "max_tokens" || hasToolUse(msg) {
			t.Fatalf("%s max_tokens: %s", model, msg.RawJSON())
		}
		ps := p
		ps.StopSequences = []string{"END"}
		if msg := mustSend(t, c, ps); msg.StopReason != "stop_sequence" || msg.StopSequence != "END" {
			t.Fatalf("%s stop_sequence: %s", model, msg.RawJSON())
		}
		// pause_turn: the content so far, sent back as it is to continue.
		paused := mustSend(t, c, p)
		if paused.StopReason != "pause_turn" || hasToolUse(paused) {
			t.Fatalf("%s pause_turn: %s", model, paused.RawJSON())
		}
		pp := p
		pp.Messages = append(append([]anthropic.MessageParam{}, p.Messages...), paused.ToParam())
		if msg := mustSend(t, c, pp); msg.StopReason != "tool_use" {
			t.Fatalf("%s after pause: %s", model, msg.StopReason)
		}
		// An assistant turn the fake did not pause is a prefill.
		pp.Messages = append(append([]anthropic.MessageParam{}, p.Messages...), anthropic.NewAssistantMessage(anthropic.NewTextBlock("The refund")))
		_, err := send(t, c, pp)
		refused(t, err, "This model does not support assistant message prefill. The conversation must end with a user message.", false)
		srv.Close()
	}
}

func hasToolUse(msg *anthropic.Message) bool {
	for _, b := range msg.Content {
		if b.Type == "tool_use" {
			return true
		}
	}
	return false
}

// Rule 7: strict tool use refuses schemas outside the supported subset; the
// generated input follows the schema.
func TestStrictTools(t *testing.T) {
	for _, model := range []string{newModel, oldModel} {
		t.Run(model, func(t *testing.T) { testStrictTools(t, model) })
	}
}

func testStrictTools(t *testing.T, model string) {
	srv := NewAnthropic()
	defer srv.Close()
	c := newClient(srv)
	strict := func(schema anthropic.ToolInputSchemaParam) anthropic.MessageNewParams {
		p := params(model)
		p.Tools = []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{Name: "refund", InputSchema: schema, Strict: anthropic.Bool(true)}}}
		return p
	}
	open := anthropic.ToolInputSchemaParam{Properties: map[string]any{"id": map[string]any{"type": "string"}}}
	_, err := send(t, c, strict(open))
	refused(t, err, "tools.0.custom.input_schema: For 'object' type, 'additionalProperties' must be explicitly set to false", false)
	bounded := refundSchema()
	bounded.Properties = map[string]any{"amount": map[string]any{"type": "integer", "minimum": 1}}
	_, err = send(t, c, strict(bounded))
	refused(t, err, "tools.0.custom.input_schema.properties.amount: property 'minimum' is not supported in strict mode", true)
	nested := refundSchema()
	nested.Properties = map[string]any{"metadata": map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}}}
	_, err = send(t, c, strict(nested))
	refused(t, err, "tools.0.custom.input_schema.properties.metadata: For 'object' type, 'additionalProperties' must be explicitly set to false", false)

	// Accepted: the input has every required field, valid for the schema.
	schema := anthropic.ToolInputSchemaParam{
		Properties: map[string]any{
			"stripe_id": map[string]any{"type": "string"},
			"amount":    map[string]any{"type": "string"}, // the seed 1000 is not valid here
			"reason":    map[string]any{"type": "string", "enum": []string{"duplicate", "requested_by_customer"}},
			"when":      map[string]any{"type": "string", "format": "date"},
			"notify":    map[string]any{"type": "boolean"},
			"customer":  map[string]any{"type": "string"},
			"note":      map[string]any{"type": "string"},
		},
		Required:    []string{"stripe_id", "amount", "reason", "when", "notify"},
		ExtraFields: map[string]any{"additionalProperties": false},
	}
	msg := mustSend(t, c, strict(schema))
	var in map[string]any
	in = nil
	json.Unmarshal(msg.Content[2].Input, &in)
	want := map[string]any{"stripe_id": "obj_from_event", "amount": "obj_from_event", "reason": "duplicate", "when": "2026-01-01", "notify": true, "customer": "cus_x"}
	if b, _ := json.Marshal(in); string(b) != mustJSON(want) {
		t.Fatalf("input %s, want %s", b, mustJSON(want))
	}
	// Not strict, and a schema with the seed fields: the seed values.
	msg = mustSend(t, c, params(model))
	in = nil
	json.Unmarshal(msg.Content[2].Input, &in)
	if b, _ := json.Marshal(in); string(b) != `{"amount":1000,"reason":"fraudulent","stripe_id":"obj_from_event"}` {
		t.Fatalf("seed input %s", b)
	}
	// A tool with no properties gets all the seed fields, as before.
	p := params(model)
	p.ToolChoice = anthropic.ToolChoiceUnionParam{OfAuto: &anthropic.ToolChoiceAutoParam{}}
	msg = mustSend(t, c, p, option.WithJSONSet("tools.0.input_schema", map[string]any{"type": "object"}))
	in = nil
	json.Unmarshal(msg.Content[2].Input, &in)
	if len(in) != 5 || in["action"] != "accept" {
		t.Fatalf("open input %v", in)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Rule 8: the documented response and error shapes.
func TestShapes(t *testing.T) {
	srv := NewAnthropic(Reply{}, Reply{Status: 529})
	defer srv.Close()
	c := newClient(srv)
	var resp *http.Response
	msg := mustSend(t, c, params(newModel), option.WithResponseInto(&resp))
	var body map[string]any
	json.Unmarshal([]byte(msg.RawJSON()), &body)
	for _, k := range []string{"id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"} {
		if _, ok := body[k]; !ok {
			t.Fatalf("no %s in %s", k, msg.RawJSON())
		}
	}
	u, _ := body["usage"].(map[string]any)
	for _, k := range []string{"input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "cache_creation", "output_tokens_details"} {
		if _, ok := u[k]; !ok {
			t.Fatalf("no usage.%s in %s", k, msg.RawJSON())
		}
	}
	if msg.ID != "msg_fake_1" || msg.Type != "message" || msg.Role != "assistant" || msg.Model != newModel || body["stop_sequence"] != nil ||
		resp.Header.Get("request-id") != "req_fake_1" {
		t.Fatalf("shape %s", msg.RawJSON())
	}
	_, err := send(t, c, params(newModel))
	var e *anthropic.Error
	if !errors.As(err, &e) || e.StatusCode != 529 || e.Type() != "overloaded_error" || e.RequestID != "req_fake_2" {
		t.Fatalf("529: %v", err)
	}
	if !strings.Contains(e.RawJSON(), `"request_id":"req_fake_2"`) || !strings.Contains(e.RawJSON(), `"type":"error"`) {
		t.Fatalf("error shape %s", e.RawJSON())
	}
	// Refused requests are recorded with their status and error.
	p := params(newModel)
	p.ToolChoice = forced("any")
	_, err = send(t, c, p)
	refused(t, err, msgForcedToolChoice, false)
	reqs := srv.Requests()
	if len(reqs) != 3 || reqs[0].Status != 200 || reqs[1].Status != 529 || reqs[2].Status != 400 || reqs[2].Error == nil ||
		reqs[2].Error.Message != msgForcedToolChoice || reqs[2].ID != "req_fake_3" {
		t.Fatalf("requests %+v", reqs)
	}
	if rf := srv.Refusals(); len(rf) != 1 || rf[0].RequestID != "req_fake_3" || srv.RefusalCount() != 1 {
		t.Fatalf("refusals %+v", rf)
	}
}

// Other documented refusals: sampling parameters, unpaired tool calls.
func TestRequestRules(t *testing.T) {
	srv := NewAnthropic()
	defer srv.Close()
	c := newClient(srv)
	temp := option.WithJSONSet("temperature", 0.2)
	_, err := send(t, c, params(newModel), temp)
	refused(t, err, "temperature: non-default values are not supported for this model; omit temperature", false)
	mustSend(t, c, params("claude-sonnet-4-6"), temp)
	mustSend(t, c, params(newModel), option.WithJSONSet("temperature", 1))
	_, err = send(t, c, params("claude-opus-5-5"), option.WithJSONSet("top_k", 5))
	refused(t, err, "top_k: not supported for this model; omit top_k", false)

	p := params(newModel)

	p = params(newModel)
	msg := mustSend(t, c, p)
	p2 := p
	p2.Messages = append(append([]anthropic.MessageParam{}, p.Messages...), msg.ToParam(), anthropic.NewUserMessage(anthropic.NewTextBlock("go on")))
	_, err = send(t, c, p2)
	refused(t, err, "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: "+msg.Content[2].ID+".", true)
	p2.Messages[2] = anthropic.NewUserMessage(anthropic.NewToolResultBlock(msg.Content[2].ID, "ok", false), anthropic.NewToolResultBlock("toolu_other", "ok", false))
	_, err = send(t, c, p2)
	refused(t, err, "messages.2.content.1: unexpected `tool_use_id` found in `tool_result` blocks: toolu_other.", true)
}

// Rule 9: without a script the fake calls the first tool, and ends the turn
// when tool results come back; a model it does not know keeps the old
// answers exactly.
func TestDefaults(t *testing.T) {
	srv := NewAnthropic()
	defer srv.Close()
	c := newClient(srv)
	p := params("claude-test-model")
	msg := mustSend(t, c, p)
	if !same(types(msg), "text", "tool_use") || msg.Content[1].ID != "toolu_fake_1" || msg.Content[1].Name != "refund" ||
		msg.Usage.InputTokens != 812 || msg.Usage.OutputTokens != 64 || msg.Content[0].Text != "Deciding from the event data." {
		t.Fatalf("unknown model: %s", msg.RawJSON())
	}
	var in map[string]any
	json.Unmarshal(msg.Content[1].Input, &in)
	if in["stripe_id"] != "obj_from_event" {
		t.Fatalf("input %v", in)
	}
	p2 := continued(p, msg.ToParam(), msg)
	end := mustSend(t, c, p2)
	if end.StopReason != "end_turn" || end.Usage.InputTokens != 950 || end.Usage.OutputTokens != 12 || end.Usage.CacheReadInputTokens != 700 ||
		end.Content[0].Text != "Done: the tool results are recorded." {
		t.Fatalf("unknown model end: %s", end.RawJSON())
	}
	// A known model thinks first.
	p = params("claude-opus-5-5")
	msg = mustSend(t, c, p)
	if !same(types(msg), "thinking", "text", "tool_use") || !strings.HasPrefix(msg.Content[2].ID, "toolu_fake_1_t") {
		t.Fatalf("opus 5.5: %s", msg.RawJSON())
	}
	end = mustSend(t, c, continued(p, verbatim(msg), msg))
	if !same(types(end), "thinking", "text") || end.StopReason != "end_turn" {
		t.Fatalf("opus 5.5 end: %s", end.RawJSON())
	}
	// between_tools: no up-front thinking; a progress update between tool calls.
	srv2 := NewAnthropic(Reply{}, Reply{StopReason: "tool_use"})
	defer srv2.Close()
	c2 := newClient(srv2)
	p = params(newModel)
	p.Thinking = anthropic.ThinkingConfigParamUnion{OfBetweenTools: &anthropic.ThinkingConfigBetweenToolsParam{}}
	msg = mustSend(t, c2, p)
	next := mustSend(t, c2, continued(p, verbatim(msg), msg))
	if !same(types(msg), "text", "tool_use") || !same(types(next), "thinking", "text", "tool_use") || next.Content[0].Thinking == "" {
		t.Fatalf("between_tools: %v then %v", types(msg), types(next))
	}
}

// Streaming (stream: true) sends the same message as events; the
// accumulated message continues the conversation like a non-streamed one.
func TestStreaming(t *testing.T) {
	srv := NewAnthropic(Reply{Redacted: true})
	defer srv.Close()
	c := newClient(srv)
	p := params(newModel)
	p.MaxTokens = 64000 // the SDK asks for streaming above ~21K
	stream := c.Messages.NewStreaming(context.Background(), p)
	var msg anthropic.Message
	for stream.Next() {
		if err := msg.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if !same(types(&msg), "thinking", "redacted_thinking", "text", "tool_use") || msg.Content[0].Signature == "" || msg.StopReason != "tool_use" ||
		msg.Usage.OutputTokensDetails.ThinkingTokens != int64(thinkingTokens["high"]) {
		t.Fatalf("streamed: %s", msg.RawJSON())
	}
	for name, back := range map[string]anthropic.MessageParam{"raw": verbatim(&msg), "ToParam": msg.ToParam()} {
		stream := c.Messages.NewStreaming(context.Background(), continued(p, back, &msg))
		var end anthropic.Message
		for stream.Next() {
			end.Accumulate(stream.Current())
		}
		if err := stream.Err(); err != nil || end.StopReason != "end_turn" {
			t.Fatalf("%s: %v %s", name, err, end.RawJSON())
		}
	}
	// A refused stream is a plain 400.
	p.ToolChoice = forced("any")
	stream = c.Messages.NewStreaming(context.Background(), p)
	for stream.Next() {
	}
	refused(t, stream.Err(), msgForcedToolChoice, false)
}
