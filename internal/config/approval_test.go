package config

import (
	"encoding/json"
	"testing"
)

const approvalTools = `
stripe_writes: [refund.create, invoice.void]
stripe_approval: [invoice.void]
tools:
  refund:
    description: Refund a charge.
    input_schema: {type: object, properties: {charge: {type: string}, amount: {type: integer}}}
    run: {stripe: refund.create}
  small_refund:
    description: Refund a charge, a little.
    input_schema: {type: object, properties: {charge: {type: string}, amount: {type: integer}}}
    run: {stripe: refund.create}
    auto_approve: "input.amount <= 2500 && input.charge == event.data.object.charge"
  reckless_refund:
    description: Refund with no operator.
    input_schema: {type: object, properties: {amount: {type: integer}}}
    run: {stripe: refund.create}
    approval: never
  void:
    description: Void an invoice.
    input_schema: {type: object, properties: {id: {type: string}}}
    run: {stripe: invoice.void}
  ticket:
    description: Open a ticket.
    input_schema: {type: object, properties: {title: {type: string}}}
    writes: true
    run: {command: ["/bin/true"]}
  lookup:
    description: Look a charge up.
    input_schema: {type: object, properties: {id: {type: string}}}
    run: {stripe: charge.retrieve}
  gated_lookup:
    description: Look a charge up, with a person.
    input_schema: {type: object, properties: {id: {type: string}}}
    run: {stripe: charge.retrieve}
    approval: required
`

// Every write waits for an operator unless auto_approve approves the call
// or approval: never opts out; auto_approve fails closed; approval:
// required and stripe_approval still hold.
func TestApprovalsDecide(t *testing.T) {
	cfg, err := load(t, approvalTools, env())
	if err != nil {
		t.Fatal(err)
	}
	a, err := cfg.Approvals()
	if err != nil {
		t.Fatal(err)
	}
	event := []byte(`{"id":"evt_1","type":"charge.dispute.created","data":{"object":{"id":"dp_1","charge":"ch_1","amount":3000}}}`)
	for _, tc := range []struct {
		name, tool string
		write      bool
		input      string
		event      []byte
		need       bool
		auto       string
	}{
		{"a Stripe write waits by default", "refund", true, `{"charge":"ch_1","amount":100}`, event, true, ""},
		{"a writes: true tool waits by default", "ticket", true, `{"title":"x"}`, event, true, ""},
		{"auto_approve true", "small_refund", true, `{"charge":"ch_1","amount":2500}`, event, false, "input.amount <= 2500 && input.charge == event.data.object.charge"},
		{"auto_approve false", "small_refund", true, `{"charge":"ch_1","amount":2501}`, event, true, ""},
		{"auto_approve false: another charge", "small_refund", true, `{"charge":"ch_other","amount":10}`, event, true, ""},
		{"auto_approve error: missing field", "small_refund", true, `{"charge":"ch_1"}`, event, true, ""},
		{"auto_approve error: wrong type", "small_refund", true, `{"charge":"ch_1","amount":"10"}`, event, true, ""},
		{"auto_approve error: no event", "small_refund", true, `{"charge":"ch_1","amount":10}`, nil, true, ""},
		{"auto_approve error: bad input", "small_refund", true, `not json`, event, true, ""},
		{"approval: never", "reckless_refund", true, `{"amount":999999}`, event, false, ""},
		{"stripe_approval", "void", true, `{"id":"in_1"}`, event, true, ""},
		{"a read runs", "lookup", false, `{"id":"ch_1"}`, event, false, ""},
		{"approval: required on a read", "gated_lookup", false, `{"id":"ch_1"}`, event, true, ""},
		{"an unknown write waits", "nope", true, `{}`, event, true, ""},
	} {
		need, auto := a.Decide(tc.tool, tc.write, json.RawMessage(tc.input), tc.event)
		if need != tc.need || auto != tc.auto {
			t.Errorf("%s: Decide = (%v, %q), want (%v, %q)", tc.name, need, auto, tc.need, tc.auto)
		}
	}
}

// auto_approve is compiled at start; contradictions with approval: and
// stripe_approval are errors, as is an unknown approval value.
func TestApprovalKeysAreChecked(t *testing.T) {
	tool := func(extra string) string {
		return `
stripe_writes: [refund.create]
stripe_approval: [refund.create]
tools:
  refund:
    description: Refund a charge.
    input_schema: {type: object, properties: {amount: {type: integer}}}
    run: {stripe: refund.create}
` + extra
	}
	mustFail(t, tool("    auto_approve: \"input.amount <=\"\n"), `tool "refund": auto_approve: CEL expression`, "does not compile")
	mustFail(t, tool("    auto_approve: \"input.amount\"\n    approval: required\n"), "contradict")
	mustFail(t, tool("    auto_approve: \"true\"\n    approval: never\n"), "contradict")
	mustFail(t, tool("    auto_approve: \"input.amount < 5\"\n"), "stripe_approval says always waits")
	mustFail(t, tool("    approval: never\n"), "stripe_approval says always waits")
	mustFail(t, tool("    approval: sometimes\n"), `approval is "sometimes"`, "never")
	mustFail(t, tool("    auto_approve: \"'yes'\"\n"), "not a bool")
}
