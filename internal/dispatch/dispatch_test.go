package dispatch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agenthook/agenthook/internal/config"
	"github.com/agenthook/agenthook/internal/modeltest"
	"github.com/agenthook/agenthook/internal/store"
	"github.com/agenthook/agenthook/internal/store/storetest"
	"github.com/agenthook/agenthook/internal/stripeevent"
)

// pipeline opens a real store whose workers dispatch the zero-config
// routes through the real Anthropic SDK to the fake.
func pipeline(t *testing.T, fake *modeltest.Server, maxAttempts int) *store.Store {
	t.Helper()
	return pipelineWith(t, config.Default(func(string) string { return "" }), claude(fake), maxAttempts)
}

func ingestFixture(t *testing.T, s *store.Store, typ string) string {
	t.Helper()
	body, id, err := stripeevent.NewEvent(typ, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ev, err := stripeevent.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Ingest(context.Background(), store.Incoming{ID: id, Type: ev.Type, Created: ev.Created, Route: typ, Payload: body})
	if err != nil || out != store.Queued {
		t.Fatalf("ingest: %q %v", out, err)
	}
	return id
}

func waitStatus(t *testing.T, s *store.Store, id string, want store.Status) *store.Event {
	t.Helper()
	var ev *store.Event
	storetest.Eventually(t, 20*time.Second, func() (bool, string) {
		var err error
		if ev, err = s.Event(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		return ev.Status == want, fmt.Sprintf("event %s: status %s, want %s; last_error %q", id, ev.Status, want, ev.LastError)
	})
	return ev
}

func stepsOf(ev *store.Event, kind string) []map[string]any {
	var out []map[string]any
	for _, st := range ev.Steps {
		if st.Kind == kind {
			var m map[string]any
			json.Unmarshal(st.Data, &m)
			out = append(out, m)
		}
	}
	return out
}

func TestRetriesThroughSDKThenDecision(t *testing.T) {
	fake := modeltest.NewAnthropic(
		modeltest.Reply{Status: 529},
		modeltest.Reply{Status: 429, Headers: map[string]string{"retry-after": "1"}},
		modeltest.Reply{Status: 500},
		modeltest.Reply{}, // tool call
	)
	defer fake.Close()
	s := pipeline(t, fake, 8)
	id := ingestFixture(t, s, "charge.dispute.created")
	ev := waitStatus(t, s, id, store.StatusDone)

	reqs := fake.Requests()
	if len(reqs) != 4 || ev.Attempts != 4 {
		t.Fatalf("requests=%d attempts=%d, want 4 each (the SDK must not retry on its own)", len(reqs), ev.Attempts)
	}
	if gap := reqs[2].At.Sub(reqs[1].At); gap < time.Second {
		t.Fatalf("retried %v after a 429 with retry-after: 1", gap)
	}
	errs := stepsOf(ev, "error")
	if len(errs) != 3 || errs[0]["status_code"] != 529.0 || errs[1]["retry_after_ms"] != 1000.0 || errs[2]["status_code"] != 500.0 {
		t.Fatalf("error steps %v", errs)
	}
	decisions := stepsOf(ev, "decision")
	if len(decisions) != 1 || decisions[0]["tool"] != "handle_dispute" || decisions[0]["stop_reason"] != "tool_use" {
		t.Fatalf("decision %v", decisions)
	}
	reqSteps := stepsOf(ev, "model_request")
	last := reqSteps[len(reqSteps)-1]
	// Thinking tokens are journaled as the part of the output they are.
	out, _ := last["output_tokens"].(float64)
	thinking, _ := last["thinking_tokens"].(float64)
	if last["input_tokens"] != 812.0 || thinking <= 0 || out <= thinking || last["summary"] == "" || last["effort"] != "medium" {
		t.Fatalf("model_request step %v", last)
	}
	// The default model refuses forced tool use: the choice is auto, with
	// thinking and the effort said explicitly; the prompt carries the event.
	body := reqs[3].Body
	choice, _ := body["tool_choice"].(map[string]any)
	if choice["type"] != "auto" {
		t.Fatalf("tool_choice %v, want auto for %s", body["tool_choice"], body["model"])
	}
	if th, _ := body["thinking"].(map[string]any); th["type"] != "adaptive" {
		t.Fatalf("thinking %v, want adaptive", body["thinking"])
	}
	if oc, _ := body["output_config"].(map[string]any); oc["effort"] != "medium" {
		t.Fatalf("output_config %v, want effort medium", body["output_config"])
	}
	if n := fake.RefusalCount(); n != 0 {
		t.Fatalf("the fake refused %d request(s): %v", n, fake.Refusals())
	}
	raw := string(reqs[3].Raw)
	if !strings.Contains(raw, id) || !strings.Contains(raw, "dp_1Pgc71B7WZ01zgkWMevJiAUx") {
		t.Fatalf("prompt lacks the event id or the dispute id")
	}
	// SDK v2 sends the key as a bearer token; older ones used X-Api-Key.
	if h := reqs[3].Header; h.Get("Authorization") != "Bearer sk-ant-test" && h.Get("X-Api-Key") != "sk-ant-test" {
		t.Fatalf("api key not sent: headers %v", h)
	}
}

func TestClientErrorIsDeadAtOnce(t *testing.T) {
	for _, code := range []int{400, 401, 403, 404} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			fake := modeltest.NewAnthropic(modeltest.Reply{Status: code})
			defer fake.Close()
			s := pipeline(t, fake, 8)
			id := ingestFixture(t, s, "invoice.payment_failed")
			ev := waitStatus(t, s, id, store.StatusDead)
			if ev.Attempts != 1 || len(fake.Requests()) != 1 {
				t.Fatalf("attempts=%d requests=%d, want 1", ev.Attempts, len(fake.Requests()))
			}
			if !strings.Contains(ev.LastError, "fake") {
				t.Fatalf("last_error %q lacks the API's message", ev.LastError)
			}
		})
	}
}

func TestMaxAttemptsThenDead(t *testing.T) {
	fake := modeltest.NewAnthropic(modeltest.Reply{Status: 529}, modeltest.Reply{Status: 529}, modeltest.Reply{Status: 529})
	defer fake.Close()
	s := pipeline(t, fake, 3)
	id := ingestFixture(t, s, "customer.subscription.deleted")
	ev := waitStatus(t, s, id, store.StatusDead)
	if ev.Attempts != 3 || len(fake.Requests()) != 3 {
		t.Fatalf("attempts=%d requests=%d, want 3", ev.Attempts, len(fake.Requests()))
	}
}

func TestMaxTokensIsATruncationNotASuccess(t *testing.T) {
	fake := modeltest.NewAnthropic(modeltest.Reply{StopReason: "max_tokens"})
	defer fake.Close()
	s := pipeline(t, fake, 8)
	id := ingestFixture(t, s, "charge.refunded")
	ev := waitStatus(t, s, id, store.StatusDead)
	d := stepsOf(ev, "decision")
	if len(d) != 1 || d[0]["truncated"] != true {
		t.Fatalf("decision %v, want truncated", d)
	}
}

// validInput is an input each seed tool's schema accepts (the loop checks
// every input before anything runs), and {"q":"x"} for a test's own tools.
func validInput(tool string) string {
	common := `"stripe_id":"obj_1","amount":1000,"currency":"usd","customer":"cus_1","reason":"fraudulent"`
	switch tool {
	case "handle_dispute":
		return `{` + common + `,"action":"escalate_to_human","evidence_summary":"unclear","confidence":0.5}`
	case "retry_failed_payment":
		return `{` + common + `,"action":"retry_later","retry_in_hours":24}`
	case "churn_outreach":
		return `{` + common + `,"action":"feedback_survey","message":"Why did you leave?"}`
	case "log_refund":
		return `{` + common + `,"category":"customer_request","note":"full refund"}`
	}
	return `{"q":"x"}`
}
