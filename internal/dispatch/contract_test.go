package dispatch_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/agenthook/agenthook/internal/agent/openai"
	"github.com/agenthook/agenthook/internal/config"
	"github.com/agenthook/agenthook/internal/modeltest"
	"github.com/agenthook/agenthook/internal/store"
)

// These tests hold agenthook to the Messages API's documented contract for
// the current models, against the fake in internal/modeltest, which
// refuses what the real API refuses (see its doc comments for the pages).
// Each one fails when agenthook breaks the rule it names.

// modelConfig is the zero config with the model set.
func modelConfig(model string) *config.Config {
	return config.Default(func(k string) string {
		if k == "AGENTHOOK_MODEL" {
			return model
		}
		return ""
	})
}

func noRefusals(t *testing.T, fake *modeltest.Server) {
	t.Helper()
	if n := fake.RefusalCount(); n != 0 {
		t.Fatalf("the fake refused %d request(s), as the real API would: %+v", n, fake.Refusals())
	}
}

// Zero config with the default model: every seed event ends done with its
// tool decided, and no request is refused. Rule: forced tool use is refused
// on the 5.5-class models.
func TestSeedEventsDecideOnTheDefaultModel(t *testing.T) {
	for _, model := range []string{config.DefaultModel, "claude-opus-5-5"} {
		t.Run(model, func(t *testing.T) {
			fake := modeltest.NewAnthropic()
			defer fake.Close()
			s := pipelineWith(t, modelConfig(model), claude(fake), 3)
			seeds := map[string]string{
				"charge.dispute.created":        "handle_dispute",
				"invoice.payment_failed":        "retry_failed_payment",
				"customer.subscription.deleted": "churn_outreach",
				"charge.refunded":               "log_refund",
			}
			for typ, tool := range seeds {
				id := ingestFixture(t, s, typ)
				ev := waitStatus(t, s, id, store.StatusDone)
				calls := stepsOf(ev, "tool_call")
				if len(calls) != 1 || calls[0]["tool"] != tool || calls[0]["is_error"] != false {
					t.Errorf("%s: tool calls %v, want one valid %s", typ, calls, tool)
				}
			}
			noRefusals(t, fake)
			for _, r := range fake.Requests() {
				if c := r.Body["tool_choice"].(map[string]any); c["type"] != "auto" {
					t.Fatalf("%s sent tool_choice %v", model, c)
				}
			}
		})
	}
}

// An older model accepts forced tool use, and agenthook forces the route's
// one tool there.
func TestOlderModelForcesTheTool(t *testing.T) {
	fake := modeltest.NewAnthropic()
	defer fake.Close()
	s := pipelineWith(t, modelConfig("claude-sonnet-5"), claude(fake), 3)
	id := ingestFixture(t, s, "charge.dispute.created")
	waitStatus(t, s, id, store.StatusDone)
	noRefusals(t, fake)
	reqs := fake.Requests()
	if c := reqs[0].Body["tool_choice"].(map[string]any); c["type"] != "tool" || c["name"] != "handle_dispute" {
		t.Fatalf("tool_choice %v, want the one tool forced on claude-sonnet-5", c)
	}
	if _, sent := reqs[0].Body["thinking"]; sent {
		t.Errorf("thinking %v sent with a forced tool (it is skipped then)", reqs[0].Body["thinking"])
	}
}

// assistantTurns returns the assistant messages of a request, as sent.
func assistantTurns(t *testing.T, r modeltest.Request) [][]any {
	t.Helper()
	var out [][]any
	for _, m := range r.Body["messages"].([]any) {
		msg := m.(map[string]any)
		if msg["role"] == "assistant" {
			out = append(out, msg["content"].([]any))
		}
	}
	return out
}

// responseContent returns the content of the fake's answer to a request,
// as the journal's decision stored it (raw).
func journaledRaw(t *testing.T, ev *store.Event, round int) []any {
	t.Helper()
	for _, d := range stepsOf(ev, "decision") {
		if d["round"] == float64(round) {
			var raws []any
			for _, b := range d["content"].([]any) {
				raw := b.(map[string]any)["raw"]
				if raw == nil {
					t.Fatalf("round %d block without its raw form: %v", round, b)
				}
				raws = append(raws, raw)
			}
			return raws
		}
	}
	t.Fatalf("no decision for round %d", round)
	return nil
}

// A route whose tool runs completes its second round, with the assistant
// turn sent back exactly as received: thinking blocks and their signatures
// in place. Rule: the assistant turn comes back unmodified.
func TestSecondRoundSendsTheTurnBackVerbatim(t *testing.T) {
	tools := newToolServer(t, func(string) (int, string) { return 200, `{"logged":true}` })
	fake := modeltest.NewAnthropic(modeltest.Reply{Redacted: true})
	defer fake.Close()
	s := pipelineWith(t, loadConfig(t, refundToolConfig, tools.URL), claude(fake), 3)
	id := ingestFixture(t, s, "charge.refunded")
	ev := waitStatus(t, s, id, store.StatusDone)
	noRefusals(t, fake)
	reqs := fake.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	sent := assistantTurns(t, reqs[1])
	if len(sent) != 1 {
		t.Fatalf("round 2 carries %d assistant turns, want 1", len(sent))
	}
	want := journaledRaw(t, ev, 1)
	if !bytes.Equal(mustJSON(sent[0]), mustJSON(want)) {
		t.Fatalf("round 2 sent the turn back changed:\n got %s\nwant %s", mustJSON(sent[0]), mustJSON(want))
	}
	kinds := []string{}
	for _, b := range sent[0] {
		kinds = append(kinds, b.(map[string]any)["type"].(string))
	}
	if strings.Join(kinds, ",") != "thinking,redacted_thinking,text,tool_use" && !strings.HasPrefix(strings.Join(kinds, ","), "thinking,redacted_thinking") {
		t.Fatalf("block order %v, want the thinking blocks first, as received", kinds)
	}
	if tools.count("log_refund") != 1 {
		t.Fatalf("tool ran %d times", tools.count("log_refund"))
	}
}

// An attempt that resumes from the journal (round 2 failed with a 500)
// sends round 1's turn back from the journal exactly as received, and the
// API accepts it.
func TestResumedAttemptSendsTheJournaledTurn(t *testing.T) {
	tools := newToolServer(t, func(string) (int, string) { return 200, `{"refund":"re_1"}` })
	fake := modeltest.NewAnthropic(modeltest.Reply{}, modeltest.Reply{Status: 500})
	defer fake.Close()
	s := pipelineWith(t, loadConfig(t, refundToolConfig, tools.URL), claude(fake), 3)
	id := ingestFixture(t, s, "charge.refunded")
	ev := waitStatus(t, s, id, store.StatusDone)
	noRefusals(t, fake)
	reqs := fake.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want round 1, a failed round 2, round 2 again", len(reqs))
	}
	want := mustJSON(journaledRaw(t, ev, 1))
	for _, i := range []int{1, 2} {
		if got := mustJSON(assistantTurns(t, reqs[i])[0]); !bytes.Equal(got, want) {
			t.Fatalf("request %d sent the turn back changed:\n got %s\nwant %s", i+1, got, want)
		}
	}
	// The opening message is the journaled one, byte for byte.
	first := func(r modeltest.Request) []byte { return mustJSON(r.Body["messages"].([]any)[0]) }
	if !bytes.Equal(first(reqs[0]), first(reqs[2])) {
		t.Fatal("the resumed attempt changed the opening message")
	}
	if tools.count("log_refund") != 1 {
		t.Fatalf("tool ran %d times across attempts, want once", tools.count("log_refund"))
	}
}

// A model that answers without a tool call gets one corrective round; the
// journal says so and the event is done with its decision.
func TestCorrectiveRoundAfterNoToolCall(t *testing.T) {
	fake := modeltest.NewAnthropic(modeltest.Reply{NoTool: true})
	defer fake.Close()
	s := pipelineWith(t, modelConfig(config.DefaultModel), claude(fake), 3)
	id := ingestFixture(t, s, "charge.dispute.created")
	ev := waitStatus(t, s, id, store.StatusDone)
	noRefusals(t, fake)
	if c := stepsOf(ev, "corrective"); len(c) != 1 || !strings.Contains(c[0]["text"].(string), "handle_dispute") {
		t.Fatalf("corrective steps %v", c)
	}
	if out := stepsOf(ev, "outcome"); len(out) != 1 || out[0]["corrective"] != true {
		t.Fatalf("outcome %v, want corrective journaled", out)
	}
	if calls := stepsOf(ev, "tool_call"); len(calls) != 1 || calls[0]["tool"] != "handle_dispute" {
		t.Fatalf("tool calls %v", calls)
	}
	reqs := fake.Requests()
	last := lastMessage(t, reqs[1])
	if len(reqs) != 2 || last[0]["type"] != "text" || !strings.Contains(last[0]["text"].(string), "call one of") {
		t.Fatalf("round 2 is not the corrective message: %v", last)
	}
}

// Still no tool call after the corrective round: the event ends
// no_decision, never a silent done, and a replay runs it again.
func TestNoDecisionIsAStatus(t *testing.T) {
	fake := modeltest.NewAnthropic(modeltest.Reply{NoTool: true, Text: "I would rather not decide."}, modeltest.Reply{NoTool: true})
	defer fake.Close()
	s := pipelineWith(t, modelConfig(config.DefaultModel), claude(fake), 3)
	id := ingestFixture(t, s, "charge.dispute.created")
	ev := waitStatus(t, s, id, store.StatusNoDecision)
	noRefusals(t, fake)
	if !strings.Contains(ev.LastError, "called no tool") || !strings.Contains(ev.LastError, "replay") {
		t.Fatalf("last_error %q", ev.LastError)
	}
	if len(fake.Requests()) != 2 {
		t.Fatalf("%d requests, want 2 (one corrective round only)", len(fake.Requests()))
	}
	if err := s.Replay(context.Background(), id, ""); err != nil {
		t.Fatal(err)
	}
	ev = waitStatus(t, s, id, store.StatusDone)
	if calls := stepsOf(ev, "tool_call"); len(calls) != 1 {
		t.Fatalf("after the replay: tool calls %v", calls)
	}
}

// Stop reasons: refusal and model_context_window_exceeded end the event
// dead with the reason; pause_turn is sent back and the model continues.
func TestStopReasons(t *testing.T) {
	t.Run("refusal", func(t *testing.T) {
		fake := modeltest.NewAnthropic(modeltest.Reply{StopReason: "refusal"})
		defer fake.Close()
		s := pipelineWith(t, modelConfig(config.DefaultModel), claude(fake), 3)
		ev := waitStatus(t, s, ingestFixture(t, s, "charge.dispute.created"), store.StatusDead)
		if !strings.Contains(ev.LastError, "refused") || len(fake.Requests()) != 1 {
			t.Fatalf("last_error %q after %d requests", ev.LastError, len(fake.Requests()))
		}
	})
	t.Run("model_context_window_exceeded", func(t *testing.T) {
		fake := modeltest.NewAnthropic(modeltest.Reply{StopReason: "model_context_window_exceeded"})
		defer fake.Close()
		s := pipelineWith(t, modelConfig(config.DefaultModel), claude(fake), 3)
		ev := waitStatus(t, s, ingestFixture(t, s, "charge.dispute.created"), store.StatusDead)
		if !strings.Contains(ev.LastError, "max_prompt_bytes") || len(fake.Requests()) != 1 {
			t.Fatalf("last_error %q after %d requests", ev.LastError, len(fake.Requests()))
		}
	})
	t.Run("pause_turn", func(t *testing.T) {
		fake := modeltest.NewAnthropic(modeltest.Reply{StopReason: "pause_turn"})
		defer fake.Close()
		s := pipelineWith(t, modelConfig(config.DefaultModel), claude(fake), 3)
		ev := waitStatus(t, s, ingestFixture(t, s, "charge.dispute.created"), store.StatusDone)
		noRefusals(t, fake)
		reqs := fake.Requests()
		if len(reqs) != 2 {
			t.Fatalf("%d requests, want the paused turn and its continuation", len(reqs))
		}
		msgs := reqs[1].Body["messages"].([]any)
		if last := msgs[len(msgs)-1].(map[string]any); last["role"] != "assistant" {
			t.Fatalf("the continuation does not end with the paused turn: %v", last)
		}
		if !bytes.Equal(mustJSON(assistantTurns(t, reqs[1])[0]), mustJSON(journaledRaw(t, ev, 1))) {
			t.Fatal("the paused turn was not sent back as received")
		}
	})
}

// An input that does not match the tool's schema is never executed: the
// model gets an is_error result naming the field, and may call again.
func TestInvalidInputIsNotExecuted(t *testing.T) {
	tools := newToolServer(t, func(string) (int, string) { return 200, `{"logged":true}` })
	bad := `{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-5",
		"content":[{"type":"tool_use","id":"toolu_bad","name":"log_refund","input":{"stripe_id":"ch_1","amount":"12","currency":"usd","customer":"","reason":"x","category":"other","note":"n","extra":"planted"}}],
		"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":5}}`
	fake := modeltest.NewAnthropic(modeltest.Reply{Body: bad})
	defer fake.Close()
	cfg := loadConfig(t, "agent: {model: claude-sonnet-5}\n"+refundToolConfig, tools.URL)
	s := pipelineWith(t, cfg, claude(fake), 3)
	ev := waitStatus(t, s, ingestFixture(t, s, "charge.refunded"), store.StatusDone)
	noRefusals(t, fake)
	calls := stepsOf(ev, "tool_call")
	if len(calls) < 1 || calls[0]["invalid"] != true || calls[0]["executed"] != false {
		t.Fatalf("tool calls %v, want the first refused as invalid", calls)
	}
	res := lastMessage(t, fake.Requests()[1])
	text := string(mustJSON(res[0]["content"]))
	if res[0]["is_error"] != true || !strings.Contains(text, "amount") || !strings.Contains(text, "extra") {
		t.Fatalf("round 2 result %v, want an is_error naming amount and extra", res)
	}
	// The fake's own second answer is valid, and that one ran; the invalid
	// one never reached the tool.
	for _, b := range tools.bodies {
		if in, _ := json.Marshal(b["input"]); strings.Contains(string(in), "planted") {
			t.Fatalf("the invalid input reached the tool: %s", in)
		}
	}
}

// A 400 that names a request setting says which config key to change.
func TestBadRequestNamesTheConfigKey(t *testing.T) {
	body := `{"type":"error","error":{"type":"invalid_request_error","message":"tool_choice: forced tool use is not supported with this model"},"request_id":"req_1"}`
	fake := modeltest.NewAnthropic(modeltest.Reply{Status: 400, Body: body})
	defer fake.Close()
	s := pipelineWith(t, modelConfig(config.DefaultModel), claude(fake), 3)
	ev := waitStatus(t, s, ingestFixture(t, s, "charge.dispute.created"), store.StatusDead)
	if !strings.Contains(ev.LastError, "agent.tool_choice") {
		t.Fatalf("last_error %q names no config key", ev.LastError)
	}
}

// openaiConfig is the refund route with a tool that runs, on OpenAI.
func openaiConfig(t *testing.T, model, toolsURL string) *config.Config {
	return loadConfig(t, "agent: {provider: openai, model: "+model+"}\n"+refundToolConfig, toolsURL)
}

// agent.provider openai with a current reasoning model ends done through
// the Responses API: two rounds, the reasoning item carried back, nothing
// refused or dropped.
func TestOpenAIReasoningModelOnResponses(t *testing.T) {
	tools := newToolServer(t, func(string) (int, string) { return 200, `{"logged":true}` })
	fake := modeltest.NewOpenAI()
	defer fake.Close()
	cfg := openaiConfig(t, "gpt-6-luna", tools.URL)
	p := openai.New(openai.Options{BaseURL: fake.BaseURL(), API: openai.APIResponses, Timeout: 5 * time.Second})
	s := pipelineWith(t, cfg, p, 3)
	ev := waitStatus(t, s, ingestFixture(t, s, "charge.refunded"), store.StatusDone)
	if n := fake.RefusalCount(); n != 0 {
		t.Fatalf("the fake refused %d request(s): %+v", n, fake.Refusals())
	}
	if d := fake.DroppedReasoning(); len(d) != 0 {
		t.Fatalf("reasoning dropped between rounds: %+v", d)
	}
	reqs := fake.Requests()
	if len(reqs) != 2 || tools.count("log_refund") != 1 {
		t.Logf("tool calls %v", stepsOf(ev, "tool_call"))
		t.Fatalf("%d requests, %d tool runs; want 2 and 1", len(reqs), tools.count("log_refund"))
	}
	if r, _ := reqs[0].Body["reasoning"].(map[string]any); r["effort"] != "medium" {
		t.Fatalf("reasoning %v, want effort medium", reqs[0].Body["reasoning"])
	}
	if rounds := stepsOf(ev, "model_request"); len(rounds) != 2 {
		t.Fatalf("model_request steps %v", rounds)
	}
}

// The same model on Chat Completions is refused as OpenAI refuses it, and
// the error says which config key to change.
func TestOpenAIReasoningModelOnChatIsRefused(t *testing.T) {
	fake := modeltest.NewOpenAI()
	defer fake.Close()
	cfg := openaiConfig(t, "gpt-6-luna", "http://127.0.0.1:1")
	p := openai.New(openai.Options{BaseURL: fake.BaseURL(), API: openai.APIChat, Timeout: 5 * time.Second})
	s := pipelineWith(t, cfg, p, 3)
	ev := waitStatus(t, s, ingestFixture(t, s, "charge.refunded"), store.StatusDead)
	if !strings.Contains(ev.LastError, "Function tools with reasoning_effort are not supported for gpt-6-luna") || !strings.Contains(ev.LastError, "agent.api") {
		t.Fatalf("last_error %q", ev.LastError)
	}
}

// A model whose only call was refused (its input did not match the schema)
// and that then stops has decided nothing: the corrective round, then
// no_decision, not done.
func TestOnlyInvalidCallsIsNoDecision(t *testing.T) {
	tools := newToolServer(t, func(string) (int, string) { return 200, `{"logged":true}` })
	bad := `{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-5",
		"content":[{"type":"tool_use","id":"toolu_bad","name":"log_refund","input":{"amount":"12"}}],
		"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":5}}`
	fake := modeltest.NewAnthropic(modeltest.Reply{Body: bad}, modeltest.Reply{NoTool: true}, modeltest.Reply{NoTool: true})
	defer fake.Close()
	cfg := loadConfig(t, "agent: {model: claude-sonnet-5}\n"+refundToolConfig, tools.URL)
	s := pipelineWith(t, cfg, claude(fake), 3)
	ev := waitStatus(t, s, ingestFixture(t, s, "charge.refunded"), store.StatusNoDecision)
	if len(stepsOf(ev, "corrective")) != 1 || tools.count("log_refund") != 0 || len(fake.Requests()) != 3 {
		t.Fatalf("corrective %v, tool runs %d, requests %d", stepsOf(ev, "corrective"), tools.count("log_refund"), len(fake.Requests()))
	}
}
