// Package anthropic is the Claude provider: one Messages API request with
// tool use, through the official SDK.
package anthropic

import (
	"context"
	"errors"
	"net/http"
	"strings"
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

// Decide sends one Messages request. With one tool the model is forced to
// call it; with several it must call one of them.
func (p *Provider) Decide(ctx context.Context, req agent.Request) (*agent.Decision, error) {
	params := sdk.MessageNewParams{
		Model:     sdk.Model(req.Model),
		MaxTokens: int64(req.MaxTokens),
		Messages:  []sdk.MessageParam{sdk.NewUserMessage(sdk.NewTextBlock(req.Prompt))},
	}
	if req.System != "" {
		params.System = []sdk.TextBlockParam{{Text: req.System}}
	}
	for _, t := range req.Tools {
		tp := &sdk.ToolParam{Name: t.Name, InputSchema: inputSchema(t.InputSchema)}
		if t.Description != "" {
			tp.Description = sdk.String(t.Description)
		}
		params.Tools = append(params.Tools, sdk.ToolUnionParam{OfTool: tp})
	}
	switch len(req.Tools) {
	case 0:
	case 1:
		params.ToolChoice = sdk.ToolChoiceParamOfTool(req.Tools[0].Name)
	default:
		params.ToolChoice = sdk.ToolChoiceUnionParam{OfAny: &sdk.ToolChoiceAnyParam{}}
	}

	var resp *http.Response
	msg, err := p.client.Messages.New(ctx, params, option.WithResponseInto(&resp))
	if err != nil {
		return nil, classify(err)
	}
	d := &agent.Decision{
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
		d.RequestID = resp.Header.Get("request-id")
	}
	var text []string
	for _, block := range msg.Content {
		switch block.Type {
		case "tool_use":
			if d.Tool == "" {
				tu := block.AsToolUse()
				d.Tool, d.ToolUseID, d.Input = tu.Name, tu.ID, tu.Input
			}
		case "text":
			text = append(text, block.AsText().Text)
		}
	}
	d.Text = strings.Join(text, "\n")
	return d, nil
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
			e.After = agent.ParseRetryAfter(apiErr.Response.Header.Get, time.Now())
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
