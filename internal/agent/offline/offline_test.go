package offline_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/agenthook/agenthook/internal/agent"
	"github.com/agenthook/agenthook/internal/agent/offline"
	"github.com/agenthook/agenthook/internal/config"
	"github.com/agenthook/agenthook/internal/stripeevent"
)

func seedTool(t *testing.T, name string) agent.Tool {
	t.Helper()
	ct, ok := config.Default(func(string) string { return "" }).Tools[name]
	if !ok {
		t.Fatalf("no seed tool %s", name)
	}
	return agent.Tool{Name: name, Description: ct.Description, InputSchema: ct.InputSchema, InputFrom: ct.InputFrom}
}

func request(t *testing.T, typ string, tool agent.Tool) agent.Request {
	t.Helper()
	payload, err := stripeevent.Fixture(typ)
	if err != nil {
		t.Fatal(err)
	}
	return agent.Request{
		Tools:    []agent.Tool{tool},
		Choice:   agent.Choice{Mode: "tool", Name: tool.Name},
		Messages: []agent.Message{{Role: agent.User, Content: []agent.Block{{Type: agent.TextBlock, Text: "prompt"}}}},
		Event:    agent.Event{ID: "evt_1", Type: typ, Payload: payload},
	}
}

func TestSeedToolInputsFromTheEvent(t *testing.T) {
	p := offline.New()
	for _, tc := range []struct {
		typ, tool string
		want      map[string]any
	}{
		{"charge.dispute.created", "handle_dispute", map[string]any{
			"stripe_id": "dp_1Pgc71B7WZ01zgkWMevJiAUx", "amount": 1000.0, "currency": "usd", "reason": "fraudulent",
			"action": "escalate_to_human", "customer": "", // a dispute has no customer field: the empty default
		}},
		{"invoice.payment_failed", "retry_failed_payment", map[string]any{
			"stripe_id": "in_1Pgc6tB7WZ01zgkWu9fdqL6I", "amount": 2000.0, "customer": "cus_QXg1o8vcGmoR32",
			"action": "retry_later", "retry_in_hours": 24.0, "reason": "subscription_cycle",
		}},
		{"customer.subscription.deleted", "churn_outreach", map[string]any{
			"stripe_id": "sub_1Pgc6rB7WZ01zgkWNy0Cn5nw", "reason": "cancellation_requested", "action": "feedback_survey",
		}},
		{"charge.refunded", "log_refund", map[string]any{
			"stripe_id": "ch_1PgafuB7WZ01zgkWXYmPNZs8", "amount": 2000.0, "category": "other", "note": "Full refund.",
		}},
	} {
		t.Run(tc.tool, func(t *testing.T) {
			tool := seedTool(t, tc.tool)
			reply, err := p.Send(context.Background(), request(t, tc.typ, tool))
			if err != nil {
				t.Fatal(err)
			}
			uses := reply.ToolUses()
			if reply.StopReason != agent.ToolUse || len(uses) != 1 || uses[0].Name != tc.tool {
				t.Fatalf("reply %+v", reply)
			}
			var in map[string]any
			if err := json.Unmarshal(uses[0].Input, &in); err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.want {
				if in[k] != v {
					t.Errorf("input[%s] = %v (%T), want %v", k, in[k], in[k], v)
				}
			}
			// Every required field is present, so the input satisfies the schema.
			for _, r := range tool.InputSchema["required"].([]string) {
				if _, ok := in[r]; !ok {
					t.Errorf("required field %s missing from %v", r, in)
				}
			}
			// Deterministic: the same event gives the same call.
			again, _ := p.Send(context.Background(), request(t, tc.typ, tool))
			if string(again.ToolUses()[0].Input) != string(uses[0].Input) || again.ToolUses()[0].ID != uses[0].ID {
				t.Error("two sends of one event differ")
			}
		})
	}
}

func TestEndsTurnOnceResultsAreBack(t *testing.T) {
	req := request(t, "charge.refunded", seedTool(t, "log_refund"))
	req.Messages = append(req.Messages,
		agent.Message{Role: agent.Assistant, Content: []agent.Block{{Type: agent.ToolUseBlock, ID: "toolu_1", Name: "log_refund", Input: json.RawMessage(`{}`)}}},
		agent.Message{Role: agent.User, Content: []agent.Block{{Type: agent.ToolResultBlock, ToolUseID: "toolu_1", Content: "row 42", IsError: true}}})
	reply, err := offline.New().Send(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if reply.StopReason != agent.EndTurn || len(reply.ToolUses()) != 0 || reply.Text() == "" {
		t.Fatalf("reply %+v, want end_turn with a summary", reply)
	}
}
