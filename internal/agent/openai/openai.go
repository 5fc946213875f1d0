// Package openai is the OpenAI provider: Chat Completions requests with
// function tools, through the official SDK. With a base URL it talks to any
// OpenAI-compatible server (Ollama, vLLM, llama.cpp, LiteLLM, ...).
package openai

import (
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

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
	"github.com/tidwall/gjson"

	"github.com/agenthook/agenthook/internal/agent"
)

// Name is the provider's name in the journal and in config.
const Name = "openai"

// ErrorPrefix starts the content of a tool message that carries a failed
// tool result: Chat Completions has no is_error flag, so the model learns
// of the failure from the text.
const ErrorPrefix = "ERROR: "

// Options configure the provider.
type Options struct {
	// APIKey is sent as a bearer token. It is authoritative: the caller
	// passes the value of OPENAI_API_KEY (or agent.api_key), and an empty
	// key sends no Authorization header at all, which is what local
	// servers such as Ollama and vLLM expect. The SDK's own reading of
	// OPENAI_API_KEY is overridden either way.
	APIKey string
	// BaseURL points the provider at an OpenAI-compatible server, e.g.
	// http://localhost:11434/v1 for Ollama. Empty means the SDK default
	// (OPENAI_BASE_URL if set, else https://api.openai.com/v1).
	BaseURL string
	// Timeout bounds one request; 0 leaves the SDK default.
	Timeout time.Duration
}

// Provider calls a Chat Completions endpoint.
type Provider struct {
	client sdk.Client
	// legacyMaxTokens sends max_tokens beside max_completion_tokens; see
	// New.
	legacyMaxTokens bool
}

// New returns an OpenAI provider. The SDK's own retries are off: the queue
// owns retries, so a rate-limited request frees its worker instead of
// sleeping in it, and every attempt is journaled.
//
// MaxTokens is sent as max_completion_tokens, the field OpenAI requires
// (its reasoning models reject the deprecated max_tokens). Many
// OpenAI-compatible servers know only max_tokens (Ollama ignores
// max_completion_tokens, so the cap would silently be lost and a runaway
// answer would never be reported as truncated), so when BaseURL points
// anywhere but OpenAI or Azure OpenAI the same value is sent as max_tokens
// too; servers that know both read the same number from either.
func New(o Options) *Provider {
	opts := []option.RequestOption{
		option.WithMaxRetries(0),
		option.WithAPIKey(o.APIKey),
	}
	if o.BaseURL != "" {
		opts = append(opts, option.WithBaseURL(o.BaseURL))
	}
	if o.Timeout > 0 {
		opts = append(opts, option.WithRequestTimeout(o.Timeout))
	}
	return &Provider{client: sdk.NewClient(opts...), legacyMaxTokens: !officialHost(o.BaseURL)}
}

// officialHost reports whether baseURL is OpenAI's own API (or Azure
// OpenAI), which rejects max_tokens for reasoning models.
func officialHost(baseURL string) bool {
	if baseURL == "" {
		return true
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		return false
	}
	h := strings.ToLower(u.Hostname())
	return h == "openai.com" || strings.HasSuffix(h, ".openai.com") || strings.HasSuffix(h, ".openai.azure.com")
}

// Name implements agent.Provider.
func (p *Provider) Name() string { return Name }

// Send sends one Chat Completions request carrying the whole conversation.
//
// Parallel tool calls are left at the API's default (allowed): the loop
// runs the calls of one reply in parallel. The field is not sent because
// some models and compatible servers reject it.
func (p *Provider) Send(ctx context.Context, req agent.Request) (*agent.Reply, error) {
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
	for _, t := range req.Tools {
		fn := shared.FunctionDefinitionParam{Name: t.Name, Parameters: parameters(t.InputSchema)}
		if t.Description != "" {
			fn.Description = sdk.String(t.Description)
		}
		params.Tools = append(params.Tools, sdk.ChatCompletionFunctionTool(fn))
	}
	if len(req.Tools) > 0 {
		params.ToolChoice = toolChoice(req.Choice)
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
	reply := convertReply(c, roundSeed(req))
	if reply.Model == "" {
		reply.Model = req.Model
	}
	reply.RequestID = requestID(resp)
	if resp != nil {
		reply.RateLimit = rateLimit(resp.Header, time.Now())
	}
	return reply, nil
}

// messages maps the neutral conversation to Chat Completions messages.
//
// The system prompt is a "system" message, not "developer": every
// compatible server knows system, and OpenAI treats it as developer for
// the models that want that. A user message's tool_result blocks become
// role "tool" messages, which must directly follow the assistant message
// holding the calls, so they come before any text of the same turn.
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
				content := b.Content
				if b.IsError {
					content = ErrorPrefix + content
				}
				out = append(out, sdk.ToolMessage(content, b.ToolUseID))
			}
		}
		if len(texts) > 0 {
			out = append(out, sdk.UserMessage(strings.Join(texts, "\n\n")))
		}
	}
	return out
}

// arguments is the arguments string of a journaled tool_use: its input,
// which is always JSON ({} when empty).
func arguments(input json.RawMessage) string {
	if len(input) == 0 {
		return "{}"
	}
	return string(input)
}

// parameters is a tool's JSON schema as function parameters. OpenAI wants
// an object schema, so a schema without a type gets "type": "object"; the
// route's map is copied, never changed.
func parameters(schema map[string]any) shared.FunctionParameters {
	if schema == nil {
		return shared.FunctionParameters{"type": "object", "properties": map[string]any{}}
	}
	p := make(shared.FunctionParameters, len(schema)+1)
	for k, v := range schema {
		p[k] = v
	}
	if _, ok := p["type"]; !ok {
		p["type"] = "object"
	}
	return p
}

// toolChoice maps auto/any/tool to "auto", "required" and a named function.
func toolChoice(c agent.Choice) sdk.ChatCompletionToolChoiceOptionUnionParam {
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

// convertReply maps the first choice to a neutral reply.
//
// Arguments that are not valid JSON (models do produce those) are kept as
// {"_raw": "<arguments>"}: the journal stores inputs as JSON, and the tool
// then fails its schema check and tells the model, which can try again,
// instead of the whole event failing. Empty arguments are {}. A call
// without an id (some compatible servers omit it) gets a deterministic one
// from the round and its position, so a resent round journals the same id.
func convertReply(c *sdk.ChatCompletion, seed string) *agent.Reply {
	ch := c.Choices[0]
	r := &agent.Reply{Model: c.Model, Usage: usage(c.Usage)}
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
	switch ch.FinishReason {
	case "length":
		r.StopReason = agent.MaxTokens
	case "tool_calls", "function_call":
		r.StopReason = agent.ToolUse
	case "stop":
		// Some compatible servers say stop even when they return calls.
		r.StopReason = agent.EndTurn
		if len(r.ToolUses()) > 0 {
			r.StopReason = agent.ToolUse
		}
	default: // content_filter, or a server's own reason
		r.StopReason = agent.EndTurn
		if len(r.ToolUses()) > 0 {
			r.StopReason = agent.ToolUse
		}
	}
	return r
}

// input turns a call's arguments string into a tool_use input.
func input(args string) json.RawMessage {
	s := strings.TrimSpace(args)
	if s == "" {
		return json.RawMessage("{}")
	}
	if json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(map[string]string{"_raw": args})
	return b
}

// roundSeed identifies a round for generated call ids: the event and
// how far the conversation has got.
func roundSeed(req agent.Request) string {
	return fmt.Sprintf("%s/%d", req.Event.ID, len(req.Messages))
}

func callID(seed string, i int, name, args string) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%d\x00%s\x00%s", seed, i, name, args)))
	return fmt.Sprintf("call_%d_%s", i+1, hex.EncodeToString(h[:6]))
}

// usage maps token counts. prompt_tokens includes cached tokens while the
// neutral InputTokens (like Anthropic's input_tokens) does not, so cached
// and cache-written tokens are moved out of it.
func usage(u sdk.CompletionUsage) agent.Usage {
	cached := u.PromptTokensDetails.CachedTokens
	written := u.PromptTokensDetails.CacheWriteTokens
	in := u.PromptTokens - cached - written
	if in < 0 {
		in = 0
	}
	return agent.Usage{
		InputTokens:              in,
		OutputTokens:             u.CompletionTokens,
		CacheReadInputTokens:     cached,
		CacheCreationInputTokens: written,
	}
}

func requestID(resp *http.Response) string {
	if resp == nil {
		return ""
	}
	return resp.Header.Get("x-request-id")
}

// classify turns an SDK error into an *agent.Error with its retry advice.
// resp is the HTTP response if one arrived.
func classify(err error, resp *http.Response) error {
	var apiErr *sdk.Error
	if errors.As(err, &apiErr) {
		if apiErr.Response != nil {
			resp = apiErr.Response
		}
		e := &agent.Error{
			Provider:   Name,
			StatusCode: apiErr.StatusCode,
			Retryable:  agent.RetryableStatus(apiErr.StatusCode),
			RequestID:  requestID(resp),
			Message:    apiErr.Message,
		}
		if e.Message == "" {
			e.Message = bodyMessage(resp)
		}
		if e.Message == "" {
			e.Message = http.StatusText(apiErr.StatusCode)
		}
		if resp != nil {
			now := time.Now()
			e.After = agent.ParseRetryAfter(resp.Header.Get, now)
			e.RateLimit = rateLimit(resp.Header, now)
		}
		switch apiErr.StatusCode {
		case http.StatusUnauthorized:
			e.Message += " (check OPENAI_API_KEY or agent.api_key; a local server usually needs none)"
		case http.StatusNotFound:
			e.Message += " (check the model name in AGENTHOOK_MODEL or agent.model, and that agent.base_url ends in /v1 for an OpenAI-compatible server)"
		}
		return e
	}
	// Timeouts, refused connections, resets: all worth another try. A
	// cancelled context (shutdown) is passed through as it is.
	if errors.Is(err, context.Canceled) {
		return err
	}
	msg := err.Error()
	if errors.Is(err, context.DeadlineExceeded) {
		msg = "no answer in time: raise agent.timeout if the model is slow (" + msg + ")"
	}
	return &agent.Error{Provider: Name, Retryable: true, RequestID: requestID(resp), Message: msg}
}

// bodyMessage reads the message of an error body that is not OpenAI's
// {"error": {"message": ...}}: vLLM's {"message": ...}, a bare
// {"error": "..."}, or the tail of a plain-text body.
func bodyMessage(resp *http.Response) string {
	if resp == nil || resp.Body == nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	for _, path := range []string{"error.message", "message", "error", "detail"} {
		if v := gjson.GetBytes(b, path); v.Type == gjson.String && v.Str != "" {
			return v.Str
		}
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = "..." + s[len(s)-300:]
	}
	return s
}
