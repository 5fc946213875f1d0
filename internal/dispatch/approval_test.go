package dispatch_test

import (
	"testing"

	"github.com/agenthook/agenthook/internal/config"
	"github.com/agenthook/agenthook/internal/dispatch"
	"github.com/agenthook/agenthook/internal/modeltest"
	"github.com/agenthook/agenthook/internal/store"
)

// approvalPipeline is pipelineWith with the approval rule serve wires.
func approvalPipeline(t *testing.T, cfg *config.Config, fake *modeltest.Server) *store.Store {
	t.Helper()
	approvals, err := cfg.Approvals()
	if err != nil {
		t.Fatal(err)
	}
	return pipelineWith(t, cfg, claude(fake), 3, func(d *dispatch.Dispatcher) { d.Approval = approvals.Decide })
}

// payReply is the model calling tool with {"amount": amount}.
func payReply(useID, tool, amount string) modeltest.Reply {
	return modeltest.Reply{Body: `{"id":"msg_` + useID + `","type":"message","role":"assistant","model":"claude-sonnet-5",
		"content":[{"type":"text","text":"The evidence says to pay."},{"type":"tool_use","id":"` + useID + `","name":"` + tool + `","input":{"amount":` + amount + `}}],
		"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":5}}`}
}

const writeApprovalConfig = `
agent: {model: claude-sonnet-5}
order_window: 0s
routes:
  - events: [charge.dispute.created]
    tools: [pay]
tools:
  pay:
    description: Pay the customer.
    input_schema: {type: object, properties: {amount: {type: integer}}, required: [amount]}
    writes: true
    auto_approve: "input.amount <= 2500 && event.type == 'charge.dispute.created'"
    run: {http: {url: "${TOOLS}/pay"}}
`

// A write waits for an operator by default; auto_approve lets the calls it
// is true for run, and journals who approved them.
func TestWritesWaitUnlessAutoApproved(t *testing.T) {
	tools := newToolServer(t, func(string) (int, string) { return 200, `{"paid":true}` })
	fake := modeltest.NewAnthropic(payReply("toolu_small", "pay", "500"), modeltest.Reply{}, payReply("toolu_big", "pay", "9000"))
	defer fake.Close()
	s := approvalPipeline(t, loadConfig(t, writeApprovalConfig, tools.URL), fake)

	small := waitStatus(t, s, ingestFixture(t, s, "charge.dispute.created"), store.StatusDone)
	if n := tools.count("pay"); n != 1 {
		t.Fatalf("the auto-approved call ran %d times, want 1", n)
	}
	approvals := stepsOf(small, "approval")
	if len(approvals) != 1 || approvals[0]["by"] != config.AutoApproveBy || approvals[0]["approved"] != true ||
		approvals[0]["reason"] != "auto_approve: input.amount <= 2500 && event.type == 'charge.dispute.created'" ||
		approvals[0]["tool_use_id"] != "toolu_small" || approvals[0]["round"] != float64(1) {
		t.Fatalf("auto-approval journaled as %v", approvals)
	}
	if req := stepsOf(small, "approval_requested"); len(req) != 0 {
		t.Fatalf("an auto-approved call asked an operator: %v", req)
	}

	big := waitStatus(t, s, ingestFixture(t, s, "charge.dispute.created"), store.StatusAwaitingApproval)
	if n := tools.count("pay"); n != 1 {
		t.Fatalf("the call auto_approve does not cover ran without an operator (%d runs)", n)
	}
	pending := big.Pending()
	if len(pending) != 1 || pending[0].ToolUseID != "toolu_big" || pending[0].TextLabel != store.ReasoningLabel || pending[0].Text == "" {
		t.Fatalf("pending %+v", pending)
	}
}

// With no auto_approve, every call of a write waits; approval: never runs
// it with no operator, as the operator chose.
func TestApprovalNeverIsAnExplicitOptOut(t *testing.T) {
	for _, tc := range []struct {
		extra string
		want  store.Status
		runs  int
	}{
		{"", store.StatusAwaitingApproval, 0},
		{"    approval: never\n", store.StatusDone, 1},
	} {
		tools := newToolServer(t, func(string) (int, string) { return 200, `{"paid":true}` })
		fake := modeltest.NewAnthropic(payReply("toolu_1", "pay", "100"), modeltest.Reply{})
		cfg := `
agent: {model: claude-sonnet-5}
order_window: 0s
routes:
  - events: [charge.dispute.created]
    tools: [pay]
tools:
  pay:
    description: Pay the customer.
    input_schema: {type: object, properties: {amount: {type: integer}}, required: [amount]}
    writes: true
` + tc.extra + `    run: {http: {url: "${TOOLS}/pay"}}
`
		s := approvalPipeline(t, loadConfig(t, cfg, tools.URL), fake)
		ev := waitStatus(t, s, ingestFixture(t, s, "charge.dispute.created"), tc.want)
		if n := tools.count("pay"); n != tc.runs {
			t.Errorf("%q: ran %d times, want %d", tc.extra, n, tc.runs)
		}
		if a := stepsOf(ev, "approval"); len(a) != 0 {
			t.Errorf("%q: approval steps %v", tc.extra, a)
		}
		fake.Close()
	}
}
