package modeltest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// What OpenAI's models accept, for the fake's refusals. One row per model
// family, the longest prefix wins; a model no row matches (a test model, a
// compatible server's model) gets none of the model rules, only the
// API-wide ones. Sources, per row:
//
//   - gpt-6-astra, gpt-6.1-sol, gpt-6.2-*: no none; tools need Responses.
//     https://developers.openai.com/api/docs/guides/deployment-checklist
//     https://developers.openai.com/api/docs/guides/latest-model
//   - gpt-6 (gpt-6-sol, gpt-6-luna, gpt-6.1-terra): none…max, default
//     medium, "Chat Completions supports function calling only with
//     reasoning_effort set to none".
//     https://developers.openai.com/api/docs/models/gpt-6-luna
//     https://developers.openai.com/zh-Hans/api/docs/models/gpt-6-sol
//   - gpt-5.6, gpt-5.5, gpt-5.4: the same Chat Completions rule, which
//     "started with gpt-5.4"; gpt-5.4 defaults to none.
//     https://community.openai.com/t/gpt-5-6-chat-completion-reasoning-effort-bug-behavior-change/1386454
//   - gpt-5.1 and earlier: "gpt-5.1 defaults to none [...] Tool calls are
//     supported for all reasoning values in gpt-5.1. All models before
//     gpt-5.1 default to medium reasoning effort, and do not support none."
//     (the API reference's ReasoningEffort text)
type openAIModel struct {
	family  string
	efforts []string // accepted reasoning efforts
	// effort is the API's default when the request sends none.
	effort string
	// chatToolsNeedNone: Chat Completions refuses function tools unless
	// the effective effort is none.
	chatToolsNeedNone bool
}

var (
	oaiEffortsNoNone = []string{"low", "medium", "high", "xhigh", "max"}
	oaiEffortsToMax  = []string{"none", "low", "medium", "high", "xhigh", "max"}
	oaiEffortsXhigh  = []string{"none", "low", "medium", "high", "xhigh"}
)

var openAIModels = []openAIModel{
	{family: "gpt-6-astra", efforts: oaiEffortsNoNone, effort: "medium", chatToolsNeedNone: true},
	{family: "gpt-6.1-sol", efforts: oaiEffortsNoNone, effort: "medium", chatToolsNeedNone: true},
	{family: "gpt-6.2-astra", efforts: oaiEffortsNoNone, effort: "medium", chatToolsNeedNone: true},
	{family: "gpt-6.2-sol", efforts: oaiEffortsNoNone, effort: "medium", chatToolsNeedNone: true},
	{family: "gpt-6", efforts: oaiEffortsToMax, effort: "medium", chatToolsNeedNone: true},
	{family: "gpt-5.6", efforts: oaiEffortsToMax, effort: "medium", chatToolsNeedNone: true},
	{family: "gpt-5.5", efforts: oaiEffortsXhigh, effort: "medium", chatToolsNeedNone: true},
	{family: "gpt-5.4", efforts: oaiEffortsXhigh, effort: "none", chatToolsNeedNone: true},
	{family: "gpt-5.1", efforts: []string{"none", "low", "medium", "high"}, effort: "none"},
	{family: "gpt-5", efforts: []string{"minimal", "low", "medium", "high"}, effort: "medium"},
}

// allEfforts is the API's enum: "Currently supported values are none,
// minimal, low, medium, high, xhigh, and max" (shared.ReasoningEffort in
// the API reference).
var openAIEfforts = []string{"none", "minimal", "low", "medium", "high", "xhigh", "max"}

func openAIModelOf(model string) (openAIModel, bool) {
	var best openAIModel
	for _, m := range openAIModels {
		if strings.HasPrefix(model, m.family) && len(m.family) > len(best.family) {
			best = m
		}
	}
	return best, best.family != ""
}

// refusal is a contract violation: the status and the error body.
type oaiRefusal struct {
	status int
	body   string
}

// apiError is OpenAI's error body: {"error": {"message", "type", "param",
// "code"}}; an empty param or code is null.
func oaiError(msg, param, code string) string {
	e := map[string]any{"message": msg, "type": "invalid_request_error", "param": nil, "code": nil}
	if param != "" {
		e["param"] = param
	}
	if code != "" {
		e["code"] = code
	}
	b, _ := json.Marshal(map[string]any{"error": e})
	return string(b)
}

func oaiBadRequest(msg, param, code string) *oaiRefusal {
	return &oaiRefusal{status: http.StatusBadRequest, body: oaiError(msg, param, code)}
}

// quoteList renders values as the API's messages do: 'a', 'b', and 'c'.
func oaiQuoteList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = "'" + v + "'"
	}
	switch len(q) {
	case 0:
		return ""
	case 1:
		return q[0]
	case 2:
		return q[0] + " and " + q[1]
	}
	return strings.Join(q[:len(q)-1], ", ") + ", and " + q[len(q)-1]
}

// checkEffort refuses an effort outside the API's enum, or one the model
// does not accept. param is reasoning_effort (Chat) or reasoning.effort
// (Responses). The messages are the API's:
// "Unsupported value: 'minimal' is not supported with the 'gpt-5.1' model.
// Supported values are: 'none', 'low', 'medium', and 'high'."
// (https://github.com/openai/openai-agents-python/issues/2089)
func oaiCheckEffort(model, effort, param string) *oaiRefusal {
	if effort == "" {
		return nil
	}
	if !slices.Contains(openAIEfforts, effort) {
		return oaiBadRequest(fmt.Sprintf("Invalid value: '%s'. Supported values are: %s.", effort, oaiQuoteList(openAIEfforts)), param, "invalid_value")
	}
	if m, ok := openAIModelOf(model); ok && !slices.Contains(m.efforts, effort) {
		return oaiBadRequest(fmt.Sprintf("Unsupported value: '%s' is not supported with the '%s' model. Supported values are: %s.",
			effort, model, oaiQuoteList(m.efforts)), param, "unsupported_value")
	}
	return nil
}

// effectiveEffort is the effort a request runs at: what it sent, else the
// model's default ("" for a model the table does not know).
func oaiEffort(model, sent string) string {
	if sent != "" {
		return sent
	}
	m, _ := openAIModelOf(model)
	return m.effort
}

// checkSampling refuses sampling parameters on a reasoning model whose
// effort is not none: "When reasoning effort is not none, remove
// temperature, top_p, and top_logprobs; also remove logprobs from Chat
// Completions requests"
// (https://developers.openai.com/api/docs/guides/deployment-checklist).
// The message is the API's: "Unsupported parameter: 'temperature' is not
// supported with this model." (https://github.com/appatalks/eva-agent/issues/83)
func oaiCheckSampling(body map[string]any, model, effort string, names ...string) *oaiRefusal {
	if _, ok := openAIModelOf(model); !ok || effort == "none" || effort == "" {
		return nil
	}
	for _, n := range names {
		if _, ok := body[n]; ok {
			return oaiBadRequest(fmt.Sprintf("Unsupported parameter: '%s' is not supported with this model.", n), n, "unsupported_parameter")
		}
	}
	return nil
}

// chatRefusal is what OpenAI's Chat Completions refuses of a request.
func oaiChatRefusal(body map[string]any) *oaiRefusal {
	model, _ := body["model"].(string)
	sent, _ := body["reasoning_effort"].(string)
	if r := oaiCheckEffort(model, sent, "reasoning_effort"); r != nil {
		return r
	}
	effort := oaiEffort(model, sent)
	// "Function tools with reasoning_effort are not supported for
	// gpt-5.6-luna in /v1/chat/completions. To use function tools, use
	// /v1/responses or set reasoning_effort to 'none'."
	// (https://github.com/itzcrazykns/vane/issues/1173); GPT-6 Luna:
	// "Chat Completions supports function calling only with
	// reasoning_effort set to none"
	// (https://developers.openai.com/api/docs/models/gpt-6-luna). The
	// default effort counts: gpt-6-luna refuses tools with no
	// reasoning_effort sent at all.
	if m, ok := openAIModelOf(model); ok && m.chatToolsNeedNone && effort != "none" {
		if tools, _ := body["tools"].([]any); len(tools) > 0 {
			return oaiBadRequest(fmt.Sprintf("Function tools with reasoning_effort are not supported for %s in /v1/chat/completions. To use function tools, use /v1/responses or set reasoning_effort to 'none'.", model),
				"reasoning_effort", "")
		}
	}
	return oaiCheckSampling(body, model, effort, "temperature", "top_p", "top_logprobs", "logprobs")
}

// checkStrictSchema refuses a strict function whose schema strict mode
// does not accept: every object needs additionalProperties false and every
// property in required.
// https://platform.openai.com/docs/guides/function-calling?strict-mode=enabled#strict-mode
// https://platform.openai.com/docs/guides/structured-outputs?api-mode=responses#all-fields-must-be-required
func oaiCheckStrict(name string, i int, schema map[string]any) *oaiRefusal {
	msg := func(ctx, what string) *oaiRefusal {
		return oaiBadRequest(fmt.Sprintf("Invalid schema for function '%s': In context=(%s), %s", name, ctx, what),
			fmt.Sprintf("tools[%d].parameters", i), "invalid_function_parameters")
	}
	var walk func(s map[string]any, ctx string) *oaiRefusal
	walk = func(s map[string]any, ctx string) *oaiRefusal {
		if s["type"] == "object" || s["properties"] != nil {
			if s["additionalProperties"] != false {
				return msg(ctx, "'additionalProperties' is required to be supplied and to be false.")
			}
			props, _ := s["properties"].(map[string]any)
			req, _ := s["required"].([]any)
			keys := make([]string, 0, len(props))
			for k := range props {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				if !slices.Contains(req, any(k)) {
					return msg(ctx, fmt.Sprintf("'required' is required to be supplied and to be an array including every key in properties. Missing '%s'.", k))
				}
			}
			for _, k := range keys {
				if sub, ok := props[k].(map[string]any); ok {
					if r := walk(sub, oaiJoinCtx(ctx, "'properties', '"+k+"'")); r != nil {
						return r
					}
				}
			}
		}
		if items, ok := s["items"].(map[string]any); ok {
			return walk(items, oaiJoinCtx(ctx, "'items'"))
		}
		return nil
	}
	return walk(schema, "")
}

func oaiJoinCtx(ctx, more string) string {
	if ctx == "" {
		return more
	}
	return ctx + ", " + more
}
