// Package anthropic is the Claude provider: Messages API requests with tool
// use and prompt caching, through the official SDK.
package anthropic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/anthropics/anthropic-sdk-go/v2/packages/param"

	"github.com/agenthook/agenthook/internal/agent"
	"github.com/agenthook/agenthook/internal/secret"
)

// Options configure the provider. Empty APIKey and BaseURL leave the SDK to
// read ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL itself.
type Options struct {
	APIKey  string
	BaseURL string
	Timeout time.Duration // per request
}

// Provider calls Claude.
type Provider struct {
	client sdk.Client
}

// New returns a Claude provider. The SDK's own retries are off: the queue
// owns retries, so a rate-limited request frees its worker instead of
// sleeping in it, and every attempt is journaled.
func New(o Options) *Provider {
	opts := []option.RequestOption{option.WithMaxRetries(0)}
	if o.APIKey != "" {
		opts = append(opts, option.WithAPIKey(o.APIKey))
	}
	if o.BaseURL != "" {
		opts = append(opts, option.WithBaseURL(o.BaseURL))
	}
	if o.Timeout > 0 {
		opts = append(opts, option.WithRequestTimeout(o.Timeout))
	}
	return &Provider{client: sdk.NewClient(opts...)}
}

// Name implements agent.Provider.
func (p *Provider) Name() string { return "anthropic" }

// Send sends one Messages request carrying the whole conversation.
//
// The system prompt and the tool definitions are marked for prompt caching
// (cache_control on the system block and on the last tool, which caches
// every tool before it): they are the same for every event of a route, so
// from the second event on they are billed at the cache-read rate, and
// within one event every later round reuses them too.
//
// An assistant turn goes back exactly as it was received: each block's Raw
// JSON, byte for byte. "When you continue the conversation after a
// tool_use, you must pass the complete, unmodified assistant message back,
// including all thinking and redacted_thinking blocks"; thinking blocks are
// signed over the model and the conversation before them, so a turn rebuilt
// or filtered from its parts is refused with a 400.
// https://platform.claude.com/docs/en/build-with-claude/extended-thinking#preserving-thinking-blocks
// https://platform.claude.com/docs/en/models/sonnet-5-5/whats-new-sonnet-5-5
func (p *Provider) Send(ctx context.Context, req agent.Request) (*agent.Reply, error) {
	params := sdk.MessageNewParams{
		Model:     sdk.Model(req.Model),
		MaxTokens: int64(req.MaxTokens),
	}
	for _, m := range req.Messages {
		blocks := make([]sdk.ContentBlockParamUnion, 0, len(m.Content))
		for _, b := range m.Content {
			switch {
			case len(b.Raw) > 0 && m.Role == agent.Assistant:
				blocks = append(blocks, param.Override[sdk.ContentBlockParamUnion](b.Raw))
			case b.Type == agent.TextBlock:
				blocks = append(blocks, sdk.NewTextBlock(b.Text))
			case b.Type == agent.ToolUseBlock:
				blocks = append(blocks, sdk.NewToolUseBlock(b.ID, b.Input, b.Name))
			case b.Type == agent.ToolResultBlock:
				blocks = append(blocks, sdk.NewToolResultBlock(b.ToolUseID, b.Content, b.IsError))
			}
		}
		if m.Role == agent.Assistant {
			params.Messages = append(params.Messages, sdk.NewAssistantMessage(blocks...))
		} else {
			params.Messages = append(params.Messages, sdk.NewUserMessage(blocks...))
		}
	}
	if req.System != "" {
		params.System = []sdk.TextBlockParam{{Text: req.System, CacheControl: sdk.NewCacheControlEphemeralParam()}}
	}
	for i, t := range req.Tools {
		tp := &sdk.ToolParam{Name: t.Name, InputSchema: inputSchema(t.InputSchema)}
		if t.Description != "" {
			tp.Description = sdk.String(t.Description)
		}
		if t.Strict {
			// "Setting strict: true guarantees the tool's input matches the
			// schema." https://platform.claude.com/docs/en/build-with-claude/structured-outputs
			tp.Strict = sdk.Bool(true)
		}
		if i == len(req.Tools)-1 {
			tp.CacheControl = sdk.NewCacheControlEphemeralParam()
		}
		params.Tools = append(params.Tools, sdk.ToolUnionParam{OfTool: tp})
	}
	if len(req.Tools) > 0 {
		switch req.Choice.Mode {
		case "tool":
			params.ToolChoice = sdk.ToolChoiceParamOfTool(req.Choice.Name)
		case "any":
			params.ToolChoice = sdk.ToolChoiceUnionParam{OfAny: &sdk.ToolChoiceAnyParam{}}
		default:
			params.ToolChoice = sdk.ToolChoiceUnionParam{OfAuto: &sdk.ToolChoiceAutoParam{}}
		}
	}
	switch req.Thinking {
	case "":
	case "adaptive":
		params.Thinking = sdk.ThinkingConfigParamUnion{OfAdaptive: &sdk.ThinkingConfigAdaptiveParam{}}
	case "between_tools":
		params.Thinking = sdk.ThinkingConfigParamUnion{OfBetweenTools: &sdk.ThinkingConfigBetweenToolsParam{}}
	case "disabled":
		params.Thinking = sdk.ThinkingConfigParamUnion{OfDisabled: &sdk.ThinkingConfigDisabledParam{}}
	default:
		return nil, &agent.Error{Provider: "anthropic", Message: fmt.Sprintf("thinking %q is not a mode agenthook can send: set agent.thinking to adaptive, between_tools or disabled", req.Thinking)}
	}
	if req.Effort != "" {
		params.OutputConfig = sdk.OutputConfigParam{Effort: sdk.OutputConfigEffort(req.Effort)}
	}

	var resp *http.Response
	msg, err := p.client.Messages.New(ctx, params, option.WithResponseInto(&resp))
	if err != nil {
		return nil, classify(err)
	}
	r := &agent.Reply{
		StopReason: string(msg.StopReason),
		Model:      string(msg.Model),
		Usage: agent.Usage{
			InputTokens:              msg.Usage.InputTokens,
			OutputTokens:             msg.Usage.OutputTokens,
			CacheReadInputTokens:     msg.Usage.CacheReadInputTokens,
			CacheCreationInputTokens: msg.Usage.CacheCreationInputTokens,
			ThinkingTokens:           msg.Usage.OutputTokensDetails.ThinkingTokens,
		},
	}
	if resp != nil {
		r.RequestID = resp.Header.Get("request-id")
		r.RateLimit = rateLimit(resp.Header, time.Now())
	}
	content, err := rawContent(msg.RawJSON())
	if err != nil {
		return nil, &agent.Error{Provider: "anthropic", Retryable: true, RequestID: r.RequestID, Message: "unreadable response content: " + err.Error()}
	}
	for i, block := range msg.Content {
		b := agent.Block{Type: block.Type, Raw: content[i]}
		switch block.Type {
		case "tool_use":
			tu := block.AsToolUse()
			b.ID, b.Name, b.Input = tu.ID, tu.Name, tu.Input
		case "text":
			b.Text = block.AsText().Text
		case "thinking":
			// The text is empty at the default display; kept for the
			// journal's Raw only, never shown.
		}
		r.Content = append(r.Content, b)
	}
	return r, nil
}

// rawContent returns the content blocks of a Messages response exactly as
// they came, one RawMessage each, including block types this SDK version
// does not know.
func rawContent(body string) ([]json.RawMessage, error) {
	var m struct {
		Content []json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		return nil, err
	}
	return m.Content, nil
}

// inputSchema turns a JSON schema object into the SDK's parameter, keeping
// every key beside properties and required.
func inputSchema(schema map[string]any) sdk.ToolInputSchemaParam {
	var p sdk.ToolInputSchemaParam
	extra := map[string]any{}
	for k, v := range schema {
		switch k {
		case "type":
		case "properties":
			p.Properties = v
		case "required":
			switch r := v.(type) {
			case []string:
				p.Required = r
			case []any:
				for _, x := range r {
					if s, ok := x.(string); ok {
						p.Required = append(p.Required, s)
					}
				}
			}
		default:
			extra[k] = v
		}
	}
	if len(extra) > 0 {
		p.ExtraFields = extra
	}
	return p
}

// classify turns an SDK error into an *agent.Error with its retry advice.
func classify(err error) error {
	var apiErr *sdk.Error
	if errors.As(err, &apiErr) {
		e := &agent.Error{
			Provider:   "anthropic",
			StatusCode: apiErr.StatusCode,
			Retryable:  agent.RetryableStatus(apiErr.StatusCode),
			RequestID:  apiErr.RequestID,
			// A gateway may echo the request's headers: the key must not
			// reach the log or the journal.
			Message: secret.Scrub(apiErr.Message, secret.RequestCredentials(apiErr.Request)...),
		}
		if e.Message == "" {
			e.Message = http.StatusText(apiErr.StatusCode)
		}
		if apiErr.Response != nil {
			now := time.Now()
			e.After = agent.ParseRetryAfter(apiErr.Response.Header.Get, now)
			e.RateLimit = rateLimit(apiErr.Response.Header, now)
		}
		switch apiErr.StatusCode {
		case http.StatusBadRequest:
			e.Message += advice(e.Message)
		case http.StatusUnauthorized:
			e.Message += " (check ANTHROPIC_API_KEY or agent.api_key)"
		case http.StatusNotFound:
			e.Message += " (check the model name in AGENTHOOK_MODEL or agent.model, and agent.base_url)"
		}
		return e
	}
	// Timeouts, refused connections, resets: all worth another try. A
	// cancelled context (shutdown) is passed through as it is.
	if errors.Is(err, context.Canceled) {
		return err
	}
	return &agent.Error{Provider: "anthropic", Retryable: true, Message: secret.Scrub(err.Error())}
}

// advice names the config key to change for a 400 about a request setting
// the model refuses, so the operator is not left to guess.
func advice(msg string) string {
	m := strings.ToLower(msg)
	switch {
	case strings.Contains(m, "signature") || strings.Contains(m, "expected `thinking`") || strings.Contains(m, "expected thinking"):
		// The conversation itself was refused: no setting fixes that.
		return ""
	case strings.Contains(m, "tool_choice") || strings.Contains(m, "forced tool"):
		return " (set agent.tool_choice, or routes[].tool_choice, to auto)"
	case strings.Contains(m, "thinking"):
		return " (change agent.thinking, or routes[].thinking: see `agenthook check` for what this model accepts)"
	case strings.Contains(m, "effort"):
		return " (change agent.effort, or routes[].effort: see `agenthook check` for what this model accepts)"
	case strings.Contains(m, "temperature") || strings.Contains(m, "top_p") || strings.Contains(m, "top_k"):
		return " (agenthook sends no sampling parameters itself: remove them from the proxy or gateway at agent.base_url)"
	case strings.Contains(m, "max_tokens"):
		return " (change agent.max_tokens)"
	}
	return ""
}
