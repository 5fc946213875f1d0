package dispatch_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agenthook/agenthook/internal/agent"
	"github.com/agenthook/agenthook/internal/agent/anthropic"
	"github.com/agenthook/agenthook/internal/agent/openai"
	"github.com/agenthook/agenthook/internal/config"
	"github.com/agenthook/agenthook/internal/dispatch"
	"github.com/agenthook/agenthook/internal/modeltest"
	"github.com/agenthook/agenthook/internal/route"
	"github.com/agenthook/agenthook/internal/store"
	"github.com/agenthook/agenthook/internal/tool"
)

// toolServer is the user's tool service: it counts calls per tool and
// answers each with answer(tool).
type toolServer struct {
	*httptest.Server
	mu     sync.Mutex
	calls  map[string]int
	bodies []map[string]any
}

func newToolServer(t *testing.T, answer func(tool string) (int, string)) *toolServer {
	ts := &toolServer{calls: map[string]int{}}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		json.Unmarshal(raw, &body)
		name, _ := body["tool"].(string)
		ts.mu.Lock()
		ts.calls[name]++
		ts.bodies = append(ts.bodies, body)
		ts.mu.Unlock()
		code, text := answer(name)
		w.WriteHeader(code)
		io.WriteString(w, text)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *toolServer) count(name string) int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.calls[name]
}

// loadConfig reads a YAML config the way serve does, with toolURL
// substituted for ${TOOLS}.
func loadConfig(t *testing.T, yaml string, toolURL string) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agenthook.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, func(k string) string {
		if k == "TOOLS" {
			return toolURL
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// pipelineWith opens a real store whose workers run the configured loop
// with provider.
func pipelineWith(t *testing.T, cfg *config.Config, provider agent.Provider, maxAttempts int, with ...func(*dispatch.Dispatcher)) *store.Store {
	t.Helper()
	routes, err := route.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tools, err := tool.NewSet(cfg, tool.Options{RetryBase: time.Millisecond, Attempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	d := &dispatch.Dispatcher{
		Routes:         routes,
		Provider:       provider,
		Tools:          tools,
		Model:          cfg.Agent.Model,
		System:         cfg.Agent.System,
		MaxSteps:       cfg.Agent.MaxSteps,
		MaxPromptBytes: cfg.Agent.MaxPromptBytes,
	}
	for _, f := range with {
		f(d)
	}
	s, err := store.Open(context.Background(), store.Options{
		Location:     filepath.Join(t.TempDir(), "agenthook.db"),
		MaxAttempts:  maxAttempts,
		RetryBase:    5 * time.Millisecond,
		RetryMax:     50 * time.Millisecond,
		PollInterval: 20 * time.Millisecond,
		Handler:      d,
	})
	if err != nil {
		t.Fatal(err)
	}
	d.Usage = s.RouteUsage
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Close(ctx)
	})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func claude(fake *modeltest.Server) agent.Provider {
	return anthropic.New(anthropic.Options{APIKey: "sk-ant-test", BaseURL: fake.URL, Timeout: 5 * time.Second})
}

// lastMessage returns the content blocks of a request's last message.
func lastMessage(t *testing.T, req modeltest.Request) []map[string]any {
	t.Helper()
	msgs, _ := req.Body["messages"].([]any)
	if len(msgs) == 0 {
		t.Fatalf("request has no messages: %s", req.Raw)
	}
	last, _ := msgs[len(msgs)-1].(map[string]any)
	var out []map[string]any
	for _, c := range last["content"].([]any) {
		out = append(out, c.(map[string]any))
	}
	return out
}

const refundToolConfig = `
routes:
  - events: [charge.refunded]
    tools: [log_refund]
tools:
  log_refund:
    run: {http: {url: "${TOOLS}/log"}}
`

func TestLoopRunsToolAndFeedsResultBack(t *testing.T) {
	tools := newToolServer(t, func(string) (int, string) { return 200, `{"logged":true,"row":42}` })
	fake := modeltest.NewAnthropic()
	defer fake.Close()
	s := pipelineWith(t, loadConfig(t, refundToolConfig, tools.URL), claude(fake), 8)
	id := ingestFixture(t, s, "charge.refunded")
	ev := waitStatus(t, s, id, store.StatusDone)

	reqs := fake.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d model requests, want 2 (tool_use, then end_turn after the result)", len(reqs))
	}
	if tools.count("log_refund") != 1 {
		t.Fatalf("tool ran %d times, want 1", tools.count("log_refund"))
	}
	// The default model refuses forced tool use: every round is auto.
	if c := reqs[0].Body["tool_choice"].(map[string]any); c["type"] != "auto" {
		t.Errorf("round 1 tool_choice %v, want auto", c)
	}
	if c := reqs[1].Body["tool_choice"].(map[string]any); c["type"] != "auto" {
		t.Errorf("round 2 tool_choice %v, want auto", c)
	}
	if n := fake.RefusalCount(); n != 0 {
		t.Fatalf("the fake refused %d request(s): %v", n, fake.Refusals())
	}
	useID := stepsOf(ev, "decision")[0]["tool_use_id"].(string)
	res := lastMessage(t, reqs[1])
	if len(res) != 1 || res[0]["type"] != "tool_result" || res[0]["tool_use_id"] != useID ||
		!strings.Contains(string(mustJSON(res[0]["content"])), `row\":42`) {
		t.Fatalf("round 2 did not carry the tool result: %v", res)
	}
	// Prompt caching: the system prompt and the last tool carry cache_control.
	sys := reqs[0].Body["system"].([]any)[0].(map[string]any)
	toolsParam := reqs[0].Body["tools"].([]any)
	if sys["cache_control"] == nil || toolsParam[len(toolsParam)-1].(map[string]any)["cache_control"] == nil {
		t.Errorf("no cache_control on system or tools: %s", reqs[0].Raw)
	}
	// The tool got the event's ids and a stable idempotency key.
	body := tools.bodies[0]
	if body["event_id"] != id || body["tool_use_id"] != useID || body["idempotency_key"] != tool.IdempotencyKey(id, "log_refund", mustJSON(stepsOf(ev, "tool_call")[0]["input"])) {
		t.Errorf("tool call body %v", body)
	}
	calls := stepsOf(ev, "tool_call")
	if len(calls) != 1 || calls[0]["executed"] != true || !strings.Contains(calls[0]["result"].(string), `"row":42`) {
		t.Fatalf("tool_call steps %v", calls)
	}
	out := stepsOf(ev, "outcome")
	if len(out) != 1 || out[0]["stop"] != agent.StopEndTurn || out[0]["rounds"] != 2.0 {
		t.Fatalf("outcome %v", out)
	}
	rounds := stepsOf(ev, "model_request")
	if len(rounds) != 2 || rounds[1]["cache_read_input_tokens"] != 700.0 {
		t.Fatalf("model_request steps %v, want 2 with cache tokens journaled", rounds)
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// twoToolConfig routes refunds to two tools that both run, for parallel calls.
const twoToolConfig = `
routes:
  - events: [charge.refunded]
    tools: [log_refund, notify]
tools:
  log_refund:
    run: {http: {url: "${TOOLS}/log"}}
  notify:
    description: Tell the team.
    input_schema: {type: object, properties: {text: {type: string}}}
    run: {http: {url: "${TOOLS}/notify"}}
`

func TestParallelToolCallsGoBackInOneMessage(t *testing.T) {
	tools := newToolServer(t, func(name string) (int, string) { return 200, `{"tool":"` + name + `"}` })
	cfg := loadConfig(t, twoToolConfig, tools.URL)
	fake := modeltest.NewAnthropic(modeltest.Reply{Body: `{"id":"msg_1","type":"message","role":"assistant","model":"claude-test",
		"content":[{"type":"text","text":"Both."},
		  {"type":"tool_use","id":"toolu_a","name":"log_refund","input":` + validInput("log_refund") + `},
		  {"type":"tool_use","id":"toolu_b","name":"notify","input":{"text":"refund"}}],
		"stop_reason":"tool_use","usage":{"input_tokens":10,"output_tokens":5}}`})
	defer fake.Close()
	s := pipelineWith(t, cfg, claude(fake), 8)
	id := ingestFixture(t, s, "charge.refunded")
	waitStatus(t, s, id, store.StatusDone)

	reqs := fake.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d model requests, want 2", len(reqs))
	}
	if c := reqs[0].Body["tool_choice"].(map[string]any); c["type"] != "auto" {
		t.Errorf("round 1 tool_choice %v, want auto (the default model refuses any)", c)
	}
	res := lastMessage(t, reqs[1])
	if len(res) != 2 || res[0]["tool_use_id"] != "toolu_a" || res[1]["tool_use_id"] != "toolu_b" {
		t.Fatalf("tool results %v, want both, in call order, in one message", res)
	}
	if tools.count("log_refund") != 1 || tools.count("notify") != 1 {
		t.Fatalf("calls %v", tools.calls)
	}
}

func TestToolErrorGoesToTheModel(t *testing.T) {
	tools := newToolServer(t, func(string) (int, string) { return 422, `{"error":"amount mismatch"}` })
	fake := modeltest.NewAnthropic()
	defer fake.Close()
	s := pipelineWith(t, loadConfig(t, refundToolConfig, tools.URL), claude(fake), 8)
	id := ingestFixture(t, s, "charge.refunded")
	ev := waitStatus(t, s, id, store.StatusDone)
	if tools.count("log_refund") != 1 {
		t.Fatalf("a 4xx was retried: %d calls", tools.count("log_refund"))
	}
	res := lastMessage(t, fake.Requests()[1])
	if res[0]["is_error"] != true || !strings.Contains(string(mustJSON(res[0]["content"])), "amount mismatch") {
		t.Fatalf("tool_result %v, want is_error with the service's answer", res)
	}
	if c := stepsOf(ev, "tool_call"); c[0]["is_error"] != true {
		t.Fatalf("journal %v", c)
	}
}

func TestMaxStepsEndsTheLoop(t *testing.T) {
	tools := newToolServer(t, func(string) (int, string) { return 200, `{}` })
	fake := modeltest.NewAnthropic()
	fake.Then = modeltest.Reply{StopReason: "tool_use"} // the model never stops on its own
	defer fake.Close()
	cfg := loadConfig(t, strings.Replace(refundToolConfig, "tools: [log_refund]", "tools: [log_refund]\n    max_steps: 3", 1), tools.URL)
	s := pipelineWith(t, cfg, claude(fake), 8)
	id := ingestFixture(t, s, "charge.refunded")
	ev := waitStatus(t, s, id, store.StatusDone)
	if n := len(fake.Requests()); n != 3 {
		t.Fatalf("%d model rounds, want max_steps 3", n)
	}
	if tools.count("log_refund") != 3 {
		t.Fatalf("%d tool runs, want 3", tools.count("log_refund"))
	}
	if out := stepsOf(ev, "outcome"); out[0]["stop"] != agent.StopMaxSteps {
		t.Fatalf("outcome %v", out)
	}
}

func TestMaxTokensInALaterRoundIsDead(t *testing.T) {
	tools := newToolServer(t, func(string) (int, string) { return 200, `{}` })
	fake := modeltest.NewAnthropic(modeltest.Reply{}, modeltest.Reply{StopReason: "max_tokens"})
	defer fake.Close()
	s := pipelineWith(t, loadConfig(t, refundToolConfig, tools.URL), claude(fake), 8)
	id := ingestFixture(t, s, "charge.refunded")
	ev := waitStatus(t, s, id, store.StatusDead)
	d := stepsOf(ev, "decision")
	if len(d) != 2 || d[1]["truncated"] != true || !strings.Contains(ev.LastError, "max_tokens") {
		t.Fatalf("decisions %v, last_error %q", d, ev.LastError)
	}
	if len(fake.Requests()) != 2 {
		t.Fatalf("a truncation was retried: %d requests", len(fake.Requests()))
	}
}

// A failed attempt after a tool ran resumes from the journal: the model is
// not asked round 1 again and the tool does not run twice.
func TestRetryDoesNotRunAToolAgain(t *testing.T) {
	tools := newToolServer(t, func(string) (int, string) { return 200, `{"refund":"re_1"}` })
	fake := modeltest.NewAnthropic(modeltest.Reply{}, modeltest.Reply{Status: 500})
	defer fake.Close()
	s := pipelineWith(t, loadConfig(t, refundToolConfig, tools.URL), claude(fake), 8)
	id := ingestFixture(t, s, "charge.refunded")
	ev := waitStatus(t, s, id, store.StatusDone)

	if n := tools.count("log_refund"); n != 1 {
		t.Fatalf("tool ran %d times across attempts, want once", n)
	}
	reqs := fake.Requests()
	if len(reqs) != 3 || ev.Attempts != 2 {
		t.Fatalf("requests=%d attempts=%d, want round 1, a failed round 2, then round 2 again", len(reqs), ev.Attempts)
	}
	res := lastMessage(t, reqs[2])
	if res[0]["tool_use_id"] != stepsOf(ev, "decision")[0]["tool_use_id"] || !strings.Contains(string(mustJSON(res[0]["content"])), "re_1") {
		t.Fatalf("resumed round 2 lacks the journaled result: %v", res)
	}
	if calls := stepsOf(ev, "tool_call"); len(calls) != 1 {
		t.Fatalf("%d tool_call steps, want 1", len(calls))
	}
}

func TestFilteredEventCallsNoModel(t *testing.T) {
	fake := modeltest.NewAnthropic()
	defer fake.Close()
	cfg := loadConfig(t, `
routes:
  - events: [charge.refunded]
    when: data.object.amount_refunded >= 100000 && !livemode
    tools: [log_refund]
`, "")
	s := pipelineWith(t, cfg, claude(fake), 8)
	id := ingestFixture(t, s, "charge.refunded") // refunds 2000
	ev := waitStatus(t, s, id, store.StatusFiltered)
	if n := len(fake.Requests()); n != 0 {
		t.Fatalf("%d model requests for a filtered event", n)
	}
	if f := stepsOf(ev, "filtered"); len(f) != 1 || !strings.Contains(f[0]["when"].(string), "amount_refunded") {
		t.Fatalf("filtered step %v", f)
	}
}

func TestRedactedValuesNeverReachTheModel(t *testing.T) {
	fake := modeltest.NewAnthropic()
	defer fake.Close()
	cfg := loadConfig(t, `
routes:
  - events: ["customer.*", charge.refunded]
    tools: [log_refund]
    redact: [data.object.metadata]
`, "")
	s := pipelineWith(t, cfg, claude(fake), 8)
	secrets := map[string]string{}
	var journals []string
	for _, typ := range []string{"customer.created", "charge.refunded"} {
		id := ingestFixture(t, s, typ)
		ev := waitStatus(t, s, id, store.StatusDone)
		for _, st := range ev.Steps {
			journals = append(journals, string(st.Data))
		}
		var payload struct {
			Data struct {
				Object map[string]any `json:"object"`
			} `json:"data"`
		}
		json.Unmarshal(ev.Payload, &payload)
		collectPII(payload.Data.Object, secrets)
	}
	if len(secrets) == 0 {
		t.Fatal("the fixtures carry no email, name or phone to test with")
	}
	for _, r := range fake.Requests() {
		for key, v := range secrets {
			if strings.Contains(string(r.Raw), v) {
				t.Errorf("%s value %q reached the model", key, v)
			}
		}
	}
	// The journal keeps the prompt it sent: redacted too.
	sawPrompt := false
	for _, j := range journals {
		sawPrompt = sawPrompt || strings.Contains(j, `"prompt"`)
		for key, v := range secrets {
			if strings.Contains(j, v) {
				t.Errorf("%s value %q is in the journal", key, v)
			}
		}
	}
	if !sawPrompt {
		t.Error("the journal does not keep the opening prompt")
	}
}

// collectPII gathers the string values of personal keys anywhere in v.
func collectPII(v any, into map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && len(s) > 3 {
				switch k {
				case "email", "receipt_email", "name", "phone", "line1", "postal_code", "fingerprint":
					into[k] = s
				}
			}
			collectPII(e, into)
		}
	case []any:
		for _, e := range x {
			collectPII(e, into)
		}
	}
}

// The same loop through the official OpenAI SDK: parallel calls, results
// back as role=tool messages, then the model stops.
func TestLoopThroughOpenAI(t *testing.T) {
	tools := newToolServer(t, func(name string) (int, string) { return 200, `{"ok":"` + name + `"}` })
	cfg := loadConfig(t, twoToolConfig, tools.URL)
	fake := modeltest.NewOpenAI(modeltest.Reply{Body: modeltest.OpenAIBody("gpt-test", "tool_calls", "",
		modeltest.OpenAICall{ID: "call_a", Name: "log_refund", Arguments: validInput("log_refund")},
		modeltest.OpenAICall{ID: "call_b", Name: "notify", Arguments: `{"text":"refunded"}`})})
	defer fake.Close()
	s := pipelineWith(t, cfg, openai.New(openai.Options{BaseURL: fake.BaseURL(), Timeout: 5 * time.Second}), 8)
	id := ingestFixture(t, s, "charge.refunded")
	ev := waitStatus(t, s, id, store.StatusDone)

	reqs := fake.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	// A model the capability table does not know gets the safe choice.
	if reqs[0].Body["tool_choice"] != "auto" {
		t.Errorf("round 1 tool_choice %v, want auto (an unknown model)", reqs[0].Body["tool_choice"])
	}
	msgs := reqs[1].Body["messages"].([]any)
	var toolMsgs []map[string]any
	for _, m := range msgs {
		if mm := m.(map[string]any); mm["role"] == "tool" {
			toolMsgs = append(toolMsgs, mm)
		}
	}
	if len(toolMsgs) != 2 || toolMsgs[0]["tool_call_id"] != "call_a" || toolMsgs[1]["tool_call_id"] != "call_b" ||
		!strings.Contains(toolMsgs[1]["content"].(string), "notify") {
		t.Fatalf("tool messages %v", toolMsgs)
	}
	if tools.count("log_refund") != 1 || tools.count("notify") != 1 {
		t.Fatalf("tool calls %v", tools.calls)
	}
	if out := stepsOf(ev, "outcome"); out[0]["stop"] != agent.StopEndTurn {
		t.Fatalf("outcome %v", out)
	}
}

// A route over its budget defers the event, visibly, without a model call.
func TestBudgetDefersTheEvent(t *testing.T) {
	fake := modeltest.NewAnthropic()
	defer fake.Close()
	cfg := loadConfig(t, `
order_window: 0s
routes:
  - events: [charge.refunded]
    tools: [log_refund]
    budget: {events: 1, per: hour}
`, "")
	s := pipelineWith(t, cfg, claude(fake), 8)
	first := ingestFixture(t, s, "charge.refunded")
	waitStatus(t, s, first, store.StatusDone)
	second := ingestFixture(t, s, "charge.refunded")
	ev := waitStatus(t, s, second, store.StatusDeferred)
	if !strings.Contains(ev.LastError, "budget") || !strings.Contains(ev.LastError, "1 of 1 events") {
		t.Fatalf("deferred with last_error %q, want the budget reason", ev.LastError)
	}
	if n := len(fake.Requests()); n != 1 {
		t.Fatalf("%d model requests, want 1 (the second event is over budget)", n)
	}
}
