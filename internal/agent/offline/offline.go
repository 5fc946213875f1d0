// Package offline is a provider that calls no model. It fills the tool
// input from the event by the tool's input_from expressions (CEL, the same
// language as a route's when:), so it is deterministic, free and needs no
// key: for the demo, for tests of the tools themselves, and for teams that
// want fixed rules before they want a model.
package offline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/agenthook/agenthook/internal/agent"
	"github.com/agenthook/agenthook/internal/route"
)

// Provider is the offline provider. The zero value is ready to use.
type Provider struct {
	exprs sync.Map // source → *route.Expr or error
}

// New returns an offline provider.
func New() *Provider { return &Provider{} }

// Name implements agent.Provider.
func (p *Provider) Name() string { return "offline" }

// defaultFrom is used for the common seed fields of a tool that has no
// input_from entry for them.
var defaultFrom = map[string]string{
	"stripe_id": "data.object.id",
	"amount":    "data.object.amount",
	"currency":  "data.object.currency",
	"customer":  "data.object.customer",
	"reason":    "data.object.reason",
}

// Send answers the first round with one call to the chosen tool, and any
// later round (the tool results are in) with a short end_turn summary.
func (p *Provider) Send(ctx context.Context, req agent.Request) (*agent.Reply, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	reply := &agent.Reply{Model: "offline"}
	if results := lastResults(req.Messages); len(results) > 0 {
		var parts []string
		for _, r := range results {
			state := "ok"
			if r.IsError {
				state = "error"
			}
			parts = append(parts, fmt.Sprintf("%s: %s", state, route.Abbreviate(r.Content, 120)))
		}
		reply.StopReason = agent.EndTurn
		reply.Content = []agent.Block{{Type: agent.TextBlock, Text: "offline: tool results received (" + strings.Join(parts, "; ") + ")"}}
		return reply, nil
	}
	if len(req.Tools) == 0 {
		reply.StopReason = agent.EndTurn
		reply.Content = []agent.Block{{Type: agent.TextBlock, Text: "offline: no tools offered"}}
		return reply, nil
	}
	tool := req.Tools[0]
	if req.Choice.Mode == "tool" {
		for _, t := range req.Tools {
			if t.Name == req.Choice.Name {
				tool = t
			}
		}
	}
	input, notes := p.input(tool, req.Event.Payload)
	raw, err := json.Marshal(input)
	if err != nil {
		return nil, &agent.Error{Provider: "offline", Message: fmt.Sprintf("encode input for %s: %v", tool.Name, err)}
	}
	sum := sha256.Sum256([]byte(req.Event.ID + "\x00" + tool.Name + "\x00" + fmt.Sprint(len(req.Messages))))
	text := "offline: input filled from the event by input_from"
	if len(notes) > 0 {
		text += " (" + strings.Join(notes, "; ") + ")"
	}
	reply.StopReason = agent.ToolUse
	reply.Content = []agent.Block{
		{Type: agent.TextBlock, Text: text},
		{Type: agent.ToolUseBlock, ID: "toolu_offline_" + hex.EncodeToString(sum[:8]), Name: tool.Name, Input: raw},
	}
	return reply, nil
}

// input evaluates the tool's input_from over the event, then fills any
// required field still missing with a zero value of its schema type (the
// first enum value for an enum), so the input always satisfies the schema's
// required list. notes says which fields could not be read.
func (p *Provider) input(tool agent.Tool, payload []byte) (map[string]any, []string) {
	props, _ := tool.InputSchema["properties"].(map[string]any)
	from := map[string]string{}
	for k, v := range defaultFrom {
		if _, ok := props[k]; ok {
			from[k] = v
		}
	}
	maps.Copy(from, tool.InputFrom)
	input := map[string]any{}
	var notes []string
	for _, field := range slices.Sorted(maps.Keys(from)) {
		v, err := p.eval(from[field], payload)
		if err != nil {
			notes = append(notes, fmt.Sprintf("%s: %v", field, err))
			continue
		}
		if v != nil {
			input[field] = v
		}
	}
	for _, field := range required(tool.InputSchema) {
		if _, ok := input[field]; !ok {
			input[field] = zero(props[field])
		}
	}
	return input, notes
}

func (p *Provider) eval(src string, payload []byte) (any, error) {
	c, ok := p.exprs.Load(src)
	if !ok {
		e, err := route.CompileExpr(src)
		if err != nil {
			c = err
		} else {
			c = e
		}
		p.exprs.Store(src, c)
	}
	if err, ok := c.(error); ok {
		return nil, err
	}
	return c.(*route.Expr).Eval(payload)
}

func required(schema map[string]any) []string {
	switch r := schema["required"].(type) {
	case []string:
		return r
	case []any:
		var out []string
		for _, x := range r {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func zero(prop any) any {
	m, _ := prop.(map[string]any)
	switch e := m["enum"].(type) {
	case []string:
		if len(e) > 0 {
			return e[0]
		}
	case []any:
		if len(e) > 0 {
			return e[0]
		}
	}
	switch m["type"] {
	case "integer", "number":
		return 0
	case "boolean":
		return false
	case "array":
		return []any{}
	case "object":
		return map[string]any{}
	}
	return ""
}

func lastResults(msgs []agent.Message) []agent.Block {
	if len(msgs) == 0 {
		return nil
	}
	var out []agent.Block
	for _, b := range msgs[len(msgs)-1].Content {
		if b.Type == agent.ToolResultBlock {
			out = append(out, b)
		}
	}
	return out
}
