package openai

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/param"
	"github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"
	"github.com/tidwall/gjson"

	"github.com/agenthook/agenthook/internal/agent"
)

// sendResponses sends one Responses API request.
//
//   - store false and include reasoning.encrypted_content: "This enables
//     reasoning items to be used in multi-turn conversations when using
//     the Responses API statelessly (like when the store parameter is set
//     to false ...)" (API reference, ResponseNewParams.Include).
//   - reasoning.effort only when the request asks for one; the API's
//     default otherwise.
//   - max_output_tokens: "An upper bound for the number of tokens that can
//     be generated for a response, including visible output tokens and
//     reasoning tokens."
//   - no temperature or top_p: "When reasoning effort is not none, remove
//     temperature, top_p, and top_logprobs"
//     (https://developers.openai.com/api/docs/guides/deployment-checklist).
func (p *Provider) sendResponses(ctx context.Context, req agent.Request) (*agent.Reply, error) {
	params := responses.ResponseNewParams{
		Model: shared.ResponsesModel(req.Model),
		Input: responses.ResponseNewParamsInputUnion{OfInputItemList: inputItems(req.Messages)},
		Store: param.NewOpt(false),
	}
	if reasons(req.Model) {
		params.Include = []responses.ResponseIncludable{responses.ResponseIncludableReasoningEncryptedContent}
	}
	if req.System != "" {
		params.Instructions = param.NewOpt(req.System)
	}
	if req.MaxTokens > 0 {
		params.MaxOutputTokens = param.NewOpt(int64(req.MaxTokens))
	}
	if req.Effort != "" {
		params.Reasoning = shared.ReasoningParam{Effort: shared.ReasoningEffort(req.Effort)}
	}
	for _, t := range req.Tools {
		fn := &responses.FunctionToolParam{
			Name:       t.Name,
			Parameters: parameters(t.InputSchema),
			// strict is a required field; OpenAI's strict mode wants every
			// property in required and additionalProperties false, which a
			// route's schema with optional fields is not, so it is on only
			// where the route asks for it.
			// https://platform.openai.com/docs/guides/function-calling?strict-mode=enabled#strict-mode
			Strict: param.NewOpt(t.Strict),
		}
		if t.Description != "" {
			fn.Description = param.NewOpt(t.Description)
		}
		params.Tools = append(params.Tools, responses.ToolUnionParam{OfFunction: fn})
	}
	if len(req.Tools) > 0 {
		params.ToolChoice = responsesToolChoice(req.Choice)
	}

	var resp *http.Response
	r, err := p.client.Responses.New(ctx, params, option.WithResponseInto(&resp))
	if err != nil {
		return nil, classify(err, resp)
	}
	reply, failed := convertResponse(r, roundSeed(req))
	if failed != nil {
		failed.RequestID = requestID(resp)
		return nil, failed
	}
	return finish(reply, req, resp), nil
}

// reasons reports whether a model may produce reasoning items, so that
// asking for their encrypted content makes sense. The models that do not
// are the closed set of OpenAI's older chat models.
func reasons(model string) bool {
	for _, p := range []string{"gpt-4", "gpt-3.5", "chatgpt-4o"} {
		if strings.HasPrefix(model, p) {
			return false
		}
	}
	return true
}

// neutralKinds are block types whose Raw is not a Responses item: the
// neutral kinds and Anthropic's content blocks. Any other Raw is an output
// item of this API and goes back as it came.
var neutralKinds = map[string]bool{
	agent.TextBlock: true, agent.ToolUseBlock: true, agent.ToolResultBlock: true,
	agent.ThinkingBlock: true, agent.RedactedThinkingBlock: true,
}

// rawItem returns b's Raw when it is a Responses output item.
func rawItem(b agent.Block) (json.RawMessage, bool) {
	if len(b.Raw) == 0 {
		return nil, false
	}
	t := gjson.GetBytes(b.Raw, "type")
	if t.Type != gjson.String || neutralKinds[t.Str] {
		return nil, false
	}
	return b.Raw, true
}

// inputItems maps the neutral conversation to Responses input items.
//
// An assistant turn goes back item by item as the API returned it (Raw):
// reasoning items with their encrypted content right before the calls they
// led to, messages and function_call items with their ids. "To preserve
// that reasoning when you manage conversation history, keep the history
// that produced it intact and append new messages and tool results at the
// end." (https://developers.openai.com/api/docs/guides/preserved-reasoning)
// A block without a Responses Raw (a turn from Chat Completions or the
// journal of an older version) is rebuilt from its fields; another
// provider's thinking cannot be sent and is left out.
//
// A user turn's tool results become function_call_output items, before
// any text of the same turn; there is no is_error field, so a failed
// result's output starts with ErrorPrefix.
func inputItems(msgs []agent.Message) responses.ResponseInputParam {
	var out responses.ResponseInputParam
	for _, m := range msgs {
		var texts []string
		if m.Role == agent.Assistant {
			for _, b := range m.Content {
				if raw, ok := rawItem(b); ok {
					out = append(out, param.Override[responses.ResponseInputItemUnionParam](raw))
					continue
				}
				switch b.Type {
				case agent.TextBlock:
					if b.Text != "" {
						out = append(out, message(responses.EasyInputMessageRoleAssistant, b.Text))
					}
				case agent.ToolUseBlock:
					out = append(out, responses.ResponseInputItemUnionParam{OfFunctionCall: &responses.ResponseFunctionToolCallParam{
						CallID: b.ID, Name: b.Name, Arguments: arguments(b.Input),
					}})
				}
			}
			continue
		}
		for _, b := range m.Content {
			switch b.Type {
			case agent.TextBlock:
				if b.Text != "" {
					texts = append(texts, b.Text)
				}
			case agent.ToolResultBlock:
				out = append(out, responses.ResponseInputItemUnionParam{OfFunctionCallOutput: &responses.ResponseInputItemFunctionCallOutputParam{
					CallID: param.NewOpt(b.ToolUseID),
					Output: responses.ResponseInputItemFunctionCallOutputOutputUnionParam{OfString: param.NewOpt(toolOutput(b))},
				}})
			}
		}
		if len(texts) > 0 {
			out = append(out, message(responses.EasyInputMessageRoleUser, strings.Join(texts, "\n\n")))
		}
	}
	return out
}

func message(role responses.EasyInputMessageRole, text string) responses.ResponseInputItemUnionParam {
	return responses.ResponseInputItemUnionParam{OfMessage: &responses.EasyInputMessageParam{
		Role:    role,
		Content: responses.EasyInputMessageContentUnionParam{OfString: param.NewOpt(text)},
	}}
}

// responsesToolChoice maps auto/any/tool to "auto", "required" and
// {"type": "function", "name": ...}.
func responsesToolChoice(c agent.Choice) responses.ResponseNewParamsToolChoiceUnion {
	switch c.Mode {
	case "tool":
		return responses.ResponseNewParamsToolChoiceUnion{OfFunctionTool: &responses.ToolChoiceFunctionParam{Name: c.Name}}
	case "any":
		return responses.ResponseNewParamsToolChoiceUnion{OfToolChoiceMode: param.NewOpt(responses.ToolChoiceOptionsRequired)}
	default:
		return responses.ResponseNewParamsToolChoiceUnion{OfToolChoiceMode: param.NewOpt(responses.ToolChoiceOptionsAuto)}
	}
}

// convertResponse maps a response to a neutral reply: every output item a
// block with the item in Raw. Reasoning items are ReasoningBlock, messages
// text, function calls tool_use (arguments as in convertChat's input);
// items of other types keep their type and Raw and are sent back as they
// came.
//
// The stop reason: a refusal content item, or status incomplete for
// content_filter, is agent.Refusal; status incomplete for max_output_tokens
// (or any other reason) is agent.MaxTokens; completed with function calls
// is agent.ToolUse, without agent.EndTurn. A failed response is an error,
// worth retrying: the request was accepted.
func convertResponse(r *responses.Response, seed string) (*agent.Reply, *agent.Error) {
	switch r.Status {
	case responses.ResponseStatusFailed, responses.ResponseStatusCancelled:
		msg := "the response " + string(r.Status)
		if r.Error.Message != "" {
			msg += ": " + string(r.Error.Code) + ": " + r.Error.Message
		}
		return nil, &agent.Error{Provider: Name, Retryable: true, Message: msg}
	case responses.ResponseStatusQueued, responses.ResponseStatusInProgress:
		return nil, &agent.Error{Provider: Name, Message: "the response is " + string(r.Status) + ": agenthook does not run background responses"}
	}
	u := r.Usage
	reply := &agent.Reply{Model: string(r.Model), Usage: netUsage(u.InputTokens, u.InputTokensDetails.CachedTokens,
		u.InputTokensDetails.CacheWriteTokens, u.OutputTokens, u.OutputTokensDetails.ReasoningTokens)}
	refused := false
	calls := 0
	for _, item := range r.Output {
		raw := json.RawMessage(item.RawJSON())
		switch item.Type {
		case "reasoning":
			reply.Content = append(reply.Content, agent.Block{Type: ReasoningBlock, Raw: raw})
		case "message":
			var parts []string
			for _, c := range item.Content {
				switch c.Type {
				case "output_text":
					if c.Text != "" {
						parts = append(parts, c.Text)
					}
				case "refusal":
					refused = true
					parts = append(parts, "refusal: "+c.Refusal)
				}
			}
			reply.Content = append(reply.Content, agent.Block{Type: agent.TextBlock, Text: strings.Join(parts, "\n"), Raw: raw})
		case "function_call":
			fc := item.AsFunctionCall()
			id := fc.CallID
			if id == "" {
				id = callID(seed, calls, fc.Name, fc.Arguments)
			}
			calls++
			reply.Content = append(reply.Content, agent.Block{Type: agent.ToolUseBlock, ID: id, Name: fc.Name, Input: input(fc.Arguments), Raw: raw})
		default:
			reply.Content = append(reply.Content, agent.Block{Type: item.Type, Raw: raw})
		}
	}
	switch {
	case refused, r.Status == responses.ResponseStatusIncomplete && r.IncompleteDetails.Reason == "content_filter":
		reply.StopReason = agent.Refusal
	case r.Status == responses.ResponseStatusIncomplete:
		reply.StopReason = agent.MaxTokens
	case calls > 0:
		reply.StopReason = agent.ToolUse
	default:
		reply.StopReason = agent.EndTurn
	}
	return reply, nil
}
