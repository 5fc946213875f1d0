// Package openai is the OpenAI provider, through the official SDK. It
// speaks two wire APIs:
//
//   - The Responses API (POST /v1/responses) for OpenAI itself and Azure
//     OpenAI, whatever the model. OpenAI recommends Responses for all
//     projects and serves every model with function calling there, and from
//     GPT-5.4 on Chat Completions takes function tools only with
//     reasoning_effort "none" (GPT-6 Astra and GPT-6.1 Sol not at all), so a
//     GPT-6 model with its default effort answered every tool round 400. A
//     list of "models that need Responses" would be wrong the day a new
//     model ships; Responses for all of them costs nothing. Only Responses
//     carries the model's reasoning from one tool round to the next.
//     https://developers.openai.com/api/docs/guides/deployment-checklist
//     https://developers.openai.com/api/docs/guides/migrate-to-responses
//   - Chat Completions (POST /v1/chat/completions) for OpenAI-compatible
//     servers (Ollama, vLLM, llama.cpp, LiteLLM, ...), most of which have no
//     Responses API: any base URL that is not OpenAI's or Azure's.
//
// Options.API overrides the choice either way (agent.api).
//
// Responses requests are stateless: store false, with the reasoning items'
// encrypted_content included, so OpenAI keeps nothing and a conversation
// can be resumed from the journal after a crash. Every output item of a
// reply (reasoning, message, function_call) is journaled in Block.Raw as it
// came and sent back verbatim on the next round, which is how reasoning
// survives tool calls: reasoning items must go back with the calls they
// came with.
// https://developers.openai.com/api/docs/guides/preserved-reasoning
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
	"github.com/tidwall/gjson"

	"github.com/agenthook/agenthook/internal/agent"
	"github.com/agenthook/agenthook/internal/secret"
)

// Name is the provider's name in the journal and in config.
const Name = "openai"

// ErrorPrefix starts the output of a failed tool result: neither Chat
// Completions nor Responses has an is_error flag, so the model learns of
// the failure from the text.
const ErrorPrefix = "ERROR: "

// The wire APIs, for Options.API (agent.api).
const (
	APIResponses = "responses"
	APIChat      = "chat"
)

// APIs lists the accepted values of Options.API besides "" (choose by base
// URL).
var APIs = []string{APIResponses, APIChat}

// ReasoningBlock is the block type of an OpenAI reasoning item. It carries
// no text, only Raw, and goes back to OpenAI as it came.
const ReasoningBlock = "reasoning"

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
	// API is the wire API: APIResponses, APIChat, or "" to choose by
	// BaseURL (Responses for OpenAI and Azure OpenAI, Chat Completions for
	// any other server). See CheckAPI.
	API string
}

// CheckAPI reports whether api is a value Options.API accepts.
func CheckAPI(api string) error {
	switch api {
	case "", APIResponses, APIChat:
		return nil
	}
	return fmt.Errorf("agent.api %q: use %s or %s (or leave it empty to choose by agent.base_url)", api, APIResponses, APIChat)
}

// Provider calls OpenAI's Responses API or a Chat Completions endpoint.
type Provider struct {
	client sdk.Client
	api    string // APIResponses or APIChat; anything else is refused by Send
	// legacyMaxTokens sends max_tokens beside max_completion_tokens on
	// Chat Completions; see New.
	legacyMaxTokens bool
}

// New returns an OpenAI provider. The SDK's own retries are off: the queue
// owns retries, so a rate-limited request frees its worker instead of
// sleeping in it, and every attempt is journaled.
//
// On Chat Completions MaxTokens is sent as max_completion_tokens, the field
// OpenAI requires (its reasoning models reject the deprecated max_tokens).
// Many OpenAI-compatible servers know only max_tokens (Ollama ignores
// max_completion_tokens, so the cap would silently be lost and a runaway
// answer would never be reported as truncated), so when BaseURL points
// anywhere but OpenAI or Azure OpenAI the same value is sent as max_tokens
// too; servers that know both read the same number from either. On
// Responses it is max_output_tokens.
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
	official := officialHost(o.BaseURL)
	api := o.API
	if api == "" {
		api = APIChat
		if official {
			api = APIResponses
		}
	}
	return &Provider{client: sdk.NewClient(opts...), api: api, legacyMaxTokens: !official}
}

// API is the wire API the provider uses: APIResponses or APIChat.
func (p *Provider) API() string { return p.api }

// officialHost reports whether baseURL is OpenAI's own API (or Azure
// OpenAI): the hosts that serve the Responses API and reject max_tokens
// for reasoning models.
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

// Send sends one round carrying the whole conversation.
//
// Parallel tool calls are left at the API's default (allowed): the loop
// runs the calls of one reply in parallel. The field is not sent because
// some models and compatible servers reject it. Sampling parameters
// (temperature, top_p) are never sent: OpenAI's reasoning models refuse
// them unless the effort is none.
func (p *Provider) Send(ctx context.Context, req agent.Request) (*agent.Reply, error) {
	switch p.api {
	case APIResponses:
		return p.sendResponses(ctx, req)
	case APIChat:
		return p.sendChat(ctx, req)
	}
	return nil, &agent.Error{Provider: Name, Message: CheckAPI(p.api).Error()}
}

// finish fills what every reply carries from the HTTP response.
func finish(reply *agent.Reply, req agent.Request, resp *http.Response) *agent.Reply {
	if reply.Model == "" {
		reply.Model = req.Model
	}
	reply.RequestID = requestID(resp)
	if resp != nil {
		reply.RateLimit = rateLimit(resp.Header, time.Now())
	}
	return reply
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
func parameters(schema map[string]any) map[string]any {
	if schema == nil {
		return map[string]any{"type": "object", "properties": map[string]any{}}
	}
	p := make(map[string]any, len(schema)+1)
	for k, v := range schema {
		p[k] = v
	}
	if _, ok := p["type"]; !ok {
		p["type"] = "object"
	}
	return p
}

// toolOutput is a tool result as the model reads it.
func toolOutput(b agent.Block) string {
	if b.IsError {
		return ErrorPrefix + b.Content
	}
	return b.Content
}

// input turns a call's arguments string into a tool_use input.
//
// Arguments that are not valid JSON (models do produce those) are kept as
// {"_raw": "<arguments>"}: the journal stores inputs as JSON, and the tool
// then fails its schema check and tells the model, which can try again,
// instead of the whole event failing. Empty arguments are {}.
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

// callID is a deterministic id for a call that came without one (some
// compatible servers omit it), so a resent round journals the same id.
func callID(seed string, i int, name, args string) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%d\x00%s\x00%s", seed, i, name, args)))
	return fmt.Sprintf("call_%d_%s", i+1, hex.EncodeToString(h[:6]))
}

// netUsage is the neutral usage from OpenAI's counts. OpenAI's input count
// includes cached and cache-written tokens while the neutral InputTokens
// (like Anthropic's input_tokens) does not, so they are moved out of it.
// Reasoning tokens are part of the output count and stay there.
func netUsage(input, cached, written, output, reasoning int64) agent.Usage {
	in := input - cached - written
	if in < 0 {
		in = 0
	}
	return agent.Usage{
		InputTokens:              in,
		OutputTokens:             output,
		CacheReadInputTokens:     cached,
		CacheCreationInputTokens: written,
		ThinkingTokens:           reasoning,
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
		// A server or gateway may echo the request's headers: the key
		// must not reach the log or the journal.
		req := apiErr.Request
		if req == nil && resp != nil {
			req = resp.Request
		}
		e.Message = secret.Scrub(e.Message, secret.RequestCredentials(req)...)
		if resp != nil {
			now := time.Now()
			e.After = agent.ParseRetryAfter(resp.Header.Get, now)
			e.RateLimit = rateLimit(resp.Header, now)
		}
		e.Message += advice(apiErr.StatusCode, apiErr.Param, apiErr.Code, e.Message)
		return e
	}
	// Timeouts, refused connections, resets: all worth another try. A
	// cancelled context (shutdown) is passed through as it is.
	if errors.Is(err, context.Canceled) {
		return err
	}
	msg := secret.Scrub(err.Error())
	if errors.Is(err, context.DeadlineExceeded) {
		msg = "no answer in time: raise agent.timeout if the model is slow (" + msg + ")"
	}
	return &agent.Error{Provider: Name, Retryable: true, RequestID: requestID(resp), Message: msg}
}

// advice names the config key that fixes a refused request, from the
// error's status, param, code and message ("" when there is none).
func advice(status int, param, code, msg string) string {
	lower := strings.ToLower(msg)
	switch {
	case status == http.StatusUnauthorized:
		return " (check OPENAI_API_KEY or agent.api_key; a local server usually needs none)"
	case status == http.StatusNotFound && strings.Contains(lower, "not persisted"):
		return " (a reasoning item went back by id without its encrypted_content; replay the event)"
	case status == http.StatusNotFound:
		return " (check the model name in AGENTHOOK_MODEL or agent.model, and that agent.base_url ends in /v1 for an OpenAI-compatible server)"
	case status != http.StatusBadRequest && status != http.StatusUnprocessableEntity:
		return ""
	case strings.Contains(lower, "function tools with reasoning_effort"):
		// https://developers.openai.com/api/docs/models/gpt-6-luna
		return " (Chat Completions takes function tools from this model only with reasoning effort none: set agent.api: responses, or agent.effort: none)"
	case param == "tool_choice" || strings.Contains(lower, "tool_choice") || strings.Contains(lower, "tool choice"):
		return " (change agent.tool_choice: auto lets the model choose)"
	case strings.Contains(lower, "without its required 'reasoning' item"):
		return " (a journaled turn went back without its reasoning item; replay the event)"
	case code == "invalid_encrypted_content":
		return " (the journaled reasoning does not verify: it was altered, or was issued to another API key or organization)"
	case strings.Contains(param, "effort") || strings.Contains(lower, "reasoning_effort") || strings.Contains(lower, "reasoning.effort"):
		return " (change agent.effort to a value this model accepts)"
	case param == "temperature" || param == "top_p" || strings.Contains(lower, "'temperature'") || strings.Contains(lower, "'top_p'"):
		// https://developers.openai.com/api/docs/guides/deployment-checklist
		return " (sampling parameters are refused unless agent.effort is none; agenthook sends none, so a proxy added them)"
	}
	return ""
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
