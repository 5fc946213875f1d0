package dispatch_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/agenthook/agenthook/internal/agent"
	"github.com/agenthook/agenthook/internal/config"
	"github.com/agenthook/agenthook/internal/dispatch"
	"github.com/agenthook/agenthook/internal/modeltest"
	"github.com/agenthook/agenthook/internal/policy"
	"github.com/agenthook/agenthook/internal/store"
	"github.com/agenthook/agenthook/internal/tool"
)

// policyPipeline is pipelineWith plus the policy set serve builds.
func policyPipeline(t *testing.T, cfg *config.Config, provider agent.Provider) *store.Store {
	t.Helper()
	policies, err := policy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return pipelineWith(t, cfg, provider, 3, func(d *dispatch.Dispatcher) { d.Policies = policies })
}

// The charge of the charge.dispute.created fixture, and the dispute's
// amount.
const (
	disputedCharge = "ch_3ScP4cB7WZ01zgkW3ZkD7rYk"
	disputedAmount = "1000"
)

// toolUses is a model reply calling refund once per input.
func toolUses(msgID string, inputs ...string) modeltest.Reply {
	var blocks []string
	for i, in := range inputs {
		blocks = append(blocks, `{"type":"tool_use","id":"toolu_`+msgID+string(rune('a'+i))+`","name":"refund","input":`+in+`}`)
	}
	return modeltest.Reply{Body: `{"id":"msg_` + msgID + `","type":"message","role":"assistant","model":"claude-sonnet-5",
		"content":[` + strings.Join(blocks, ",") + `],
		"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":5}}`}
}

// A model that obeys instructions planted in the dispute evidence asks
// for amount 999999 of a charge the event is not about, and for 999999 of
// the disputed charge: both are refused before anything reaches Stripe,
// journaled as refused with the rule, and the model is told. A refund of
// the event's own charge within the dispute's amount then goes through.
func TestPolicyRefusesAnInjectedRefund(t *testing.T) {
	mock, _ := url.Parse(stripeMock(t))
	rec := &recorder{}
	proxy := httputil.NewSingleHostReverseProxy(mock)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.seen = append(rec.seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Idempotency-Key"))
		rec.mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()

	legit := `{"charge":"` + disputedCharge + `","amount":` + disputedAmount + `}`
	fake := modeltest.NewAnthropic(
		toolUses("1", `{"amount":999999,"charge":"ch_3AttackerChargeNotInEvent"}`, `{"amount":999999,"charge":"`+disputedCharge+`"}`),
		toolUses("2", legit),
		modeltest.Reply{})
	defer fake.Close()
	s := policyPipeline(t, loadConfig(t, refundWriteConfig, front.URL), claude(fake))
	id := ingestFixture(t, s, "charge.dispute.created")
	ev := waitStatus(t, s, id, store.StatusDone)

	calls := stepsOf(ev, "tool_call")
	if len(calls) != 3 {
		t.Fatalf("tool calls %v", calls)
	}
	for i, rule := range []string{policy.RuleEventObjects, policy.RuleRefundAmount} {
		if c := calls[i]; c["refused"] != rule || c["executed"] != false || c["is_error"] != true {
			t.Errorf("call %d: want refused by %s, got %v", i+1, rule, c)
		}
	}
	if c := calls[2]; c["refused"] != nil || c["executed"] != true || c["is_error"] != false {
		t.Errorf("the legitimate refund did not run: %v", c)
	}
	want := tool.IdempotencyKey(id, "refund", []byte(legit))
	if w := rec.writes("/v1/refunds"); len(w) != 1 || !strings.HasSuffix(w[0], " "+want) {
		t.Fatalf("refunds that reached Stripe: %v, want only the legitimate one (key %s)", w, want)
	}
	told := string(mustJSON(lastMessage(t, fake.Requests()[1])))
	for _, s := range []string{"refused by agenthook (" + policy.RuleEventObjects + ")", "refused by agenthook (" + policy.RuleRefundAmount + ")"} {
		if !strings.Contains(told, s) {
			t.Errorf("the model was not told %q: %s", s, told)
		}
	}
}

// A tool marked writes: true with no allow: anywhere never runs.
func TestPolicyNoPolicyNoWrite(t *testing.T) {
	tools := newToolServer(t, func(string) (int, string) { return 200, `{"ok":true}` })
	fake := modeltest.NewAnthropic()
	defer fake.Close()
	cfg := loadConfig(t, `
agent: {model: claude-sonnet-5}
routes:
  - events: [charge.refunded]
    tools: [log_refund]
tools:
  log_refund:
    run: {http: {url: "${TOOLS}"}}
    writes: true
`, tools.URL)
	s := policyPipeline(t, cfg, claude(fake))
	ev := waitStatus(t, s, ingestFixture(t, s, "charge.refunded"), store.StatusDone)
	if n := tools.count("log_refund"); n != 0 {
		t.Fatalf("the write ran %d time(s) without a policy", n)
	}
	calls := stepsOf(ev, "tool_call")
	if len(calls) == 0 || calls[0]["refused"] != policy.RuleNoPolicy {
		t.Fatalf("tool calls %v", calls)
	}
}
