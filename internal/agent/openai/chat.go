package openai

import (
	"context"
	"net/http"
	"strings"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/agenthook/agenthook/internal/agent"
)

// sendChat sends one Chat Completions request.
//
// reasoning_effort is sent only when the request asks for an effort: many
// compatible servers know no such field, and "none" is sent only when the
// config says none. OpenAI's GPT-5.4-and-later models take function tools
// here only with reasoning_effort none, and their default is not always
// none; that refusal comes back as a 400 naming agent.api and agent.effort.
// https://developers.openai.com/api/docs/models/gpt-6-luna
func (p *Provider) sendChat(ctx context.Context, req agent.Request) (*agent.Reply, error) {
	params := sdk.ChatCompletionNewParams{
		Model:    sdk.ChatModel(req.Model),
		Messages: messages(req.System, req.Messages),
	}
	if req.MaxTokens > 0 {
		params.MaxCompletionTokens = sdk.Int(int64(req.MaxTokens))
		if p.legacyMaxTokens {
			params.MaxTokens = sdk.Int(int64(req.MaxTokens))
		}
	}
	if req.Effort != "" {
		params.ReasoningEffort = shared.ReasoningEffort(req.Effort)
	}
	for _, t := range req.Tools {
		fn := shared.FunctionDefinitionParam{Name: t.Name, Parameters: shared.FunctionParameters(parameters(t.InputSchema))}
		if t.Description != "" {
			fn.Description = sdk.String(t.Description)
		}
		if t.Strict {
			fn.Strict = sdk.Bool(true)
		}
		params.Tools = append(params.Tools, sdk.ChatCompletionFunctionTool(fn))
	}
	if len(req.Tools) > 0 {
		params.ToolChoice = chatToolChoice(req.Choice)
	}

	var resp *http.Response
	c, err := p.client.Chat.Completions.New(ctx, params, option.WithResponseInto(&resp))
	if err != nil {
		return nil, classify(err, resp)
	}
	if len(c.Choices) == 0 {
		return nil, &agent.Error{Provider: Name, RequestID: requestID(resp),
			Message: "the answer has no choices: check that agent.base_url points at an OpenAI-compatible /v1 endpoint"}
	}
	return finish(convertChat(c, roundSeed(req)), req, resp), nil
}

// messages maps the neutral conversation to Chat Completions messages.
//
// The system prompt is a "system" message, not "developer": every
// compatible server knows system, and OpenAI treats it as developer for
// the models that want that. A user message's tool_result blocks become
// role "tool" messages, which must directly follow the assistant message
// holding the calls, so they come before any text of the same turn.
// Reasoning items (from the Responses API) have no place here and are
// left out.
func messages(system string, msgs []agent.Message) []sdk.ChatCompletionMessageParamUnion {
	var out []sdk.ChatCompletionMessageParamUnion
	if system != "" {
		out = append(out, sdk.SystemMessage(system))
	}
	for _, m := range msgs {
		var texts []string
		if m.Role == agent.Assistant {
			var calls []sdk.ChatCompletionMessageToolCallUnionParam
			for _, b := range m.Content {
				switch b.Type {
				case agent.TextBlock:
					if b.Text != "" {
						texts = append(texts, b.Text)
					}
				case agent.ToolUseBlock:
					calls = append(calls, sdk.ChatCompletionMessageToolCallUnionParam{
						OfFunction: &sdk.ChatCompletionMessageFunctionToolCallParam{
							ID:       b.ID,
							Function: sdk.ChatCompletionMessageFunctionToolCallFunctionParam{Name: b.Name, Arguments: arguments(b.Input)},
						},
					})
				}
			}
			a := sdk.ChatCompletionAssistantMessageParam{ToolCalls: calls}
			if len(texts) > 0 || len(calls) == 0 {
				a.Content.OfString = sdk.String(strings.Join(texts, "\n\n"))
			}
			out = append(out, sdk.ChatCompletionMessageParamUnion{OfAssistant: &a})
			continue
		}
		for _, b := range m.Content {
			switch b.Type {
			case agent.TextBlock:
				if b.Text != "" {
					texts = append(texts, b.Text)
				}
			case agent.ToolResultBlock:
				out = append(out, sdk.ToolMessage(toolOutput(b), b.ToolUseID))
			}
		}
		if len(texts) > 0 {
			out = append(out, sdk.UserMessage(strings.Join(texts, "\n\n")))
		}
	}
	return out
}

// chatToolChoice maps auto/any/tool to "auto", "required" and a named
// function.
func chatToolChoice(c agent.Choice) sdk.ChatCompletionToolChoiceOptionUnionParam {
	switch c.Mode {
	case "tool":
		return sdk.ChatCompletionToolChoiceOptionUnionParam{OfFunctionToolChoice: &sdk.ChatCompletionNamedToolChoiceParam{
			Function: sdk.ChatCompletionNamedToolChoiceFunctionParam{Name: c.Name},
		}}
	case "any":
		return sdk.ChatCompletionToolChoiceOptionUnionParam{OfAuto: sdk.String(string(sdk.ChatCompletionToolChoiceOptionAutoRequired))}
	default:
		return sdk.ChatCompletionToolChoiceOptionUnionParam{OfAuto: sdk.String(string(sdk.ChatCompletionToolChoiceOptionAutoAuto))}
	}
}

// convertChat maps the first choice to a neutral reply. A call without an
// id gets a deterministic one (callID).
func convertChat(c *sdk.ChatCompletion, seed string) *agent.Reply {
	ch := c.Choices[0]
	u := c.Usage
	r := &agent.Reply{Model: c.Model, Usage: netUsage(u.PromptTokens, u.PromptTokensDetails.CachedTokens,
		u.PromptTokensDetails.CacheWriteTokens, u.CompletionTokens, u.CompletionTokensDetails.ReasoningTokens)}
	if ch.Message.Content != "" {
		r.Content = append(r.Content, agent.Block{Type: agent.TextBlock, Text: ch.Message.Content})
	}
	if ch.Message.Refusal != "" {
		r.Content = append(r.Content, agent.Block{Type: agent.TextBlock, Text: "refusal: " + ch.Message.Refusal})
	}
	for i, tc := range ch.Message.ToolCalls {
		if tc.Type != "" && tc.Type != "function" {
			continue // only function tools are offered
		}
		id := tc.ID
		if id == "" {
			id = callID(seed, i, tc.Function.Name, tc.Function.Arguments)
		}
		r.Content = append(r.Content, agent.Block{Type: agent.ToolUseBlock, ID: id, Name: tc.Function.Name, Input: input(tc.Function.Arguments)})
	}
	calls := len(r.ToolUses()) > 0
	switch {
	case ch.FinishReason == "length":
		r.StopReason = agent.MaxTokens
	case ch.FinishReason == "content_filter" || ch.Message.Refusal != "":
		r.StopReason = agent.Refusal
	case calls:
		// tool_calls, function_call, or a compatible server that says
		// stop even when it returns calls.
		r.StopReason = agent.ToolUse
	default:
		r.StopReason = agent.EndTurn
	}
	return r
}
