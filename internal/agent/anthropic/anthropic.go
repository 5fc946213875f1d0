// Package anthropic is the Claude provider: Messages API requests with tool
// use and prompt caching, through the official SDK.
package anthropic

import (
	"context"
	"errors"
	"net/http"
	"time"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/agenthook/agenthook/internal/agent"
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
func (p *Provider) Send(ctx context.Context, req agent.Request) (*agent.Reply, error) {
	params := sdk.MessageNewParams{
		Model:     sdk.Model(req.Model),
		MaxTokens: int64(req.MaxTokens),
	}
	for _, m := range req.Messages {
		blocks := make([]sdk.ContentBlockParamUnion, 0, len(m.Content))
		for _, b := range m.Content {
			switch b.Type {
			case agent.TextBlock:
				blocks = append(blocks, sdk.NewTextBlock(b.Text))
			case agent.ToolUseBlock:
				blocks = append(blocks, sdk.NewToolUseBlock(b.ID, b.Input, b.Name))
			case agent.ToolResultBlock:
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
		},
	}
	if resp != nil {
		r.RequestID = resp.Header.Get("request-id")
		r.RateLimit = rateLimit(resp.Header, time.Now())
	}
	for _, block := range msg.Content {
		switch block.Type {
		case "tool_use":
			tu := block.AsToolUse()
			r.Content = append(r.Content, agent.Block{Type: agent.ToolUseBlock, ID: tu.ID, Name: tu.Name, Input: tu.Input})
		case "text":
			r.Content = append(r.Content, agent.Block{Type: agent.TextBlock, Text: block.AsText().Text})
		}
	}
	return r, nil
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
			Message:    apiErr.Message,
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
	return &agent.Error{Provider: "anthropic", Retryable: true, Message: err.Error()}
}
