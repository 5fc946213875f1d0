package dispatch_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agenthook/agenthook/internal/modeltest"
	"github.com/agenthook/agenthook/internal/store"
	"github.com/agenthook/agenthook/internal/store/storetest"
	"github.com/agenthook/agenthook/internal/tool"
)

// stripeMock starts Stripe's own API mock (stripe-mock) on loopback and
// returns its URL. It skips when the binary is not installed.
func stripeMock(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("stripe-mock")
	if err != nil {
		out, _ := exec.Command("go", "env", "GOPATH").Output()
		bin = filepath.Join(strings.TrimSpace(string(out)), "bin", "stripe-mock")
		if _, err := os.Stat(bin); err != nil {
			t.Skip("stripe-mock is not installed: go install github.com/stripe/stripe-mock@v0.203.0 (.ci/run does)")
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "-http-addr", addr)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	base := "http://" + addr
	storetest.Eventually(t, 30*time.Second, func() (bool, string) {
		req, _ := http.NewRequest("GET", base+"/v1/charges/ch_1", nil)
		req.Header.Set("Authorization", "Bearer sk_test_123")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, "stripe-mock does not answer: " + err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, "stripe-mock answered " + resp.Status
	})
	return base
}

// recorder forwards to stripe-mock and keeps every request's method, path
// and Idempotency-Key.
type recorder struct {
	mu   sync.Mutex
	seen []string // "POST /v1/refunds agenthook-…"
}

func (r *recorder) writes(path string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, s := range r.seen {
		if strings.HasPrefix(s, "POST "+path+" ") {
			out = append(out, s)
		}
	}
	return out
}

const refundWriteConfig = `
agent: {model: claude-sonnet-5}
stripe: {api_key: sk_test_123, api_base: "${TOOLS}"}
stripe_writes: [refund.create]
routes:
  - events: [charge.dispute.created]
    tools: [refund]
tools:
  refund:
    description: Refund a charge.
    input_schema: {type: object, properties: {charge: {type: string}, amount: {type: integer}}, required: [charge]}
    run: {stripe: refund.create}
`

// refundReply is the model deciding a refund; each reply has its own
// tool_use id, as a replayed conversation's would.
func refundReply(useID string) modeltest.Reply {
	return modeltest.Reply{Body: `{"id":"msg_` + useID + `","type":"message","role":"assistant","model":"claude-sonnet-5",
		"content":[{"type":"tool_use","id":"` + useID + `","name":"refund","input":{"amount":500,"charge":"ch_1"}}],
		"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":5}}`}
}

// A write runs once per event, against Stripe's own mock: its idempotency
// key comes from the event, the tool and the input (not the tool_use id),
// and a replay that decides the same refund again is refused by the
// journal, so one refund reaches Stripe, not two.
func TestReplayDoesNotRepeatAWrite(t *testing.T) {
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

	fake := modeltest.NewAnthropic(refundReply("toolu_first"), modeltest.Reply{}, refundReply("toolu_replayed"), modeltest.Reply{})
	defer fake.Close()
	s := pipelineWith(t, loadConfig(t, refundWriteConfig, front.URL), claude(fake), 3)
	id := ingestFixture(t, s, "charge.dispute.created")
	ev := waitStatus(t, s, id, store.StatusDone)
	if calls := stepsOf(ev, "tool_call"); len(calls) != 1 || calls[0]["executed"] != true || calls[0]["is_error"] != false || calls[0]["write"] != true {
		t.Fatalf("first attempt: tool calls %v", calls)
	}
	want := tool.IdempotencyKey(id, "refund", []byte(`{"charge":"ch_1","amount":500}`))
	if w := rec.writes("/v1/refunds"); len(w) != 1 || !strings.HasSuffix(w[0], " "+want) {
		t.Fatalf("refunds sent %v, want one with key %s", w, want)
	}

	if err := s.Replay(context.Background(), id, ""); err != nil {
		t.Fatal(err)
	}
	ev = waitStatus(t, s, id, store.StatusDone)
	if w := rec.writes("/v1/refunds"); len(w) != 1 {
		t.Fatalf("after the replay, %d refunds reached Stripe, want 1: %v", len(w), w)
	}
	calls := stepsOf(ev, "tool_call")
	last := calls[len(calls)-1]
	if last["refused"] != "one_write_per_event" || last["executed"] != false || last["tool_use_id"] != "toolu_replayed" {
		t.Fatalf("the replayed refund was not refused: %v", last)
	}
	res := lastMessage(t, fake.Requests()[3])
	if !strings.Contains(string(mustJSON(res[0]["content"])), "not repeated") || res[0]["is_error"] != true {
		t.Fatalf("the model was not told: %v", res)
	}
}

// A tool's result is redacted before the model sees it: a charge's
// billing name and email, a PaymentIntent's client_secret. What a decision
// needs (the amount, the id) stays.
func TestToolResultIsRedactedForTheModel(t *testing.T) {
	result := `{"id":"ch_1","object":"charge","amount":2000,"billing_details":{"name":"Jenny Rosen","email":"jenny@example.com"},` +
		`"payment_method_details":{"card":{"fingerprint":"Xt5EWLLDS7FJjR1c","last4":"4242"}},"client_secret":"pi_1_secret_abc"}`
	tools := newToolServer(t, func(string) (int, string) { return 200, result })
	fake := modeltest.NewAnthropic()
	defer fake.Close()
	s := pipelineWith(t, loadConfig(t, refundToolConfig, tools.URL), claude(fake), 3)
	ev := waitStatus(t, s, ingestFixture(t, s, "charge.refunded"), store.StatusDone)
	sent := string(mustJSON(lastMessage(t, fake.Requests()[1])))
	for _, leak := range []string{"Jenny Rosen", "jenny@example.com", "Xt5EWLLDS7FJjR1c", "pi_1_secret_abc"} {
		if strings.Contains(sent, leak) {
			t.Errorf("the model saw %q: %s", leak, sent)
		}
	}
	for _, kept := range []string{"ch_1", "2000", "4242"} {
		if !strings.Contains(sent, kept) {
			t.Errorf("the model lost %q: %s", kept, sent)
		}
	}
	if calls := stepsOf(ev, "tool_call"); len(calls) != 1 || strings.Contains(calls[0]["result"].(string), "Jenny Rosen") {
		t.Fatalf("journaled result %v", calls)
	}
}
