package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/agenthook/agenthook/internal/modeltest"
	"github.com/agenthook/agenthook/internal/tool"
)

// recordingAnthropic is a fake Messages API that also keeps the body of
// every answer it sent, by request id, so a test can compare what the model
// answered with what agenthook sent back later.
type recordingAnthropic struct {
	*modeltest.Server
	mu        sync.Mutex
	responses map[string][]byte // request id → response body
}

func newRecordingAnthropic(script ...modeltest.Reply) *recordingAnthropic {
	f := modeltest.NewFake(script...)
	ra := &recordingAnthropic{responses: map[string][]byte{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &teeWriter{ResponseWriter: w}
		f.ServeHTTP(tw, r)
		ra.mu.Lock()
		ra.responses[w.Header().Get("request-id")] = tw.buf.Bytes()
		ra.mu.Unlock()
	}))
	ra.Server = &modeltest.Server{Server: srv, Fake: f}
	return ra
}

// response is the body the fake answered the request with id.
func (ra *recordingAnthropic) response(id string) []byte {
	ra.mu.Lock()
	defer ra.mu.Unlock()
	return ra.responses[id]
}

type teeWriter struct {
	http.ResponseWriter
	buf bytes.Buffer
}

func (t *teeWriter) Write(p []byte) (int, error) {
	t.buf.Write(p)
	return t.ResponseWriter.Write(p)
}

// idempotentTools is an HTTP tool service written the way README's "Tools
// that run" says a user's service must be: it applies each Idempotency-Key
// once. The first arrival of a key records it and applies the call; a
// repeated key waits for that first call to settle and answers its stored
// result without applying anything again. The very first request blocks
// until release is closed, so a test can kill serve while it is in flight.
type idempotentTools struct {
	release chan struct{}
	arrived chan string // each request's Idempotency-Key, as it arrives

	mu       sync.Mutex
	arrivals []string
	bodies   []map[string]any
	keys     map[string]*idemCall
	applied  []string // keys whose effect happened, in order
}

type idemCall struct {
	done   chan struct{}
	result []byte
}

func newIdempotentTools() *idempotentTools {
	return &idempotentTools{release: make(chan struct{}), arrived: make(chan string, 64), keys: map[string]*idemCall{}}
}

func (s *idempotentTools) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		http.Error(w, `{"error":"Idempotency-Key required"}`, http.StatusBadRequest)
		return
	}
	var body map[string]any
	json.Unmarshal(raw, &body)
	s.mu.Lock()
	s.arrivals = append(s.arrivals, key)
	s.bodies = append(s.bodies, body)
	first := len(s.arrivals) == 1
	c, seen := s.keys[key]
	if !seen {
		c = &idemCall{done: make(chan struct{})}
		s.keys[key] = c
	}
	s.mu.Unlock()
	s.arrived <- key
	w.Header().Set("Content-Type", "application/json")
	if seen {
		// A repeated key: answer the stored result once the first call
		// settled, without running anything.
		select {
		case <-c.done:
			w.Write(c.result)
		case <-r.Context().Done():
		}
		return
	}
	if first {
		// In flight until the test lets it go. The effect happens even if
		// the caller is gone meanwhile: that is what the key is for.
		<-s.release
	}
	s.mu.Lock()
	s.applied = append(s.applied, key)
	n := len(s.applied)
	s.mu.Unlock()
	c.result = []byte(fmt.Sprintf(`{"logged":true,"refund_log":"rl_%d"}`, n))
	close(c.done)
	w.Write(c.result)
}

func (s *idempotentTools) snapshot() (arrivals, applied []string, bodies []map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.arrivals...), append([]string(nil), s.applied...), append([]map[string]any(nil), s.bodies...)
}

func waitArrival(t *testing.T, s *idempotentTools, what string, p *proc) string {
	t.Helper()
	select {
	case k := <-s.arrived:
		return k
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s\n%s", what, p.stderr.String())
	}
	return ""
}

// TestKillDuringToolCallResumesWithThinking kills serve with SIGKILL while
// round 1's HTTP tool call is in flight, on a model whose every answer opens
// with a signed thinking block (claude-sonnet-5-5, the default). The
// restarted process resumes from the journal: it does not ask round 1
// again, sends the tool call again with the same Idempotency-Key (the
// idempotent service applies it once), and sends round 2 with round 1's
// assistant turn exactly as the model issued it, which the fake's signature
// and prefix checks accept.
func TestKillDuringToolCallResumesWithThinking(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	tools := newIdempotentTools()
	toolSrv := httptest.NewServer(tools)
	defer toolSrv.Close()
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(tools.release) }) }
	defer release() // before toolSrv.Close, which waits for the blocked handler

	fake := newRecordingAnthropic()
	defer fake.Close()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "agenthook.yaml")
	writeFile(t, cfgPath, "tools:\n  log_refund:\n    run: {http: {url: \""+toolSrv.URL+"/log\"}}\n")
	env := baseEnv(fake.Server)
	env["AGENTHOOK_MODEL"] = "claude-sonnet-5-5"
	storePath := filepath.Join(dir, "agenthook.db")

	p1 := startProc(t, env, storePath, "--config", cfgPath)
	id := deliver(t, p1.base, "charge.refunded")
	key1 := waitArrival(t, tools, "round 1's tool call", p1)
	if n := len(fake.Requests()); n != 1 {
		t.Fatalf("model requests before the kill = %d, want 1", n)
	}
	if err := p1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p1.done
	p1.done <- nil

	p2 := startProc(t, env, storePath, "--config", cfgPath)
	key2 := waitArrival(t, tools, "the resumed tool call", p2)
	if key2 != key1 {
		t.Fatalf("the resumed tool call carries Idempotency-Key %q, the cut one %q: want the same key", key2, key1)
	}
	// The resend waits on the first call, which settles now.
	release()
	var ev map[string]any
	waitUntil(t, "the event finished after restart", func() bool {
		_, ev = getEvent(t, p2.base, id, "")
		return ev["status"] == "done" || ev["status"] == "dead" || ev["status"] == "no_decision"
	})
	if n := fake.RefusalCount(); n != 0 || ev["status"] != "done" {
		t.Fatalf("event %v (last_error %v); the fake refused %d request(s): %+v", ev["status"], ev["last_error"], n, fake.Refusals())
	}
	reqs := fake.Requests()
	if len(reqs) != 2 {
		t.Fatalf("model requests = %d, want 2: round 1 once, round 2 once (round 1 is not asked again)", len(reqs))
	}
	for i, rq := range reqs {
		if rq.Body["model"] != "claude-sonnet-5-5" || rq.Status != 200 {
			t.Fatalf("request %d: model %v, status %d; want claude-sonnet-5-5 answered 200", i+1, rq.Body["model"], rq.Status)
		}
	}
	if msgs, _ := reqs[0].Body["messages"].([]any); len(msgs) != 1 {
		t.Fatalf("request 1 has %d messages, want 1 (round 1)", len(msgs))
	}

	// The tool's effect happened once, under one key.
	arrivals, applied, bodies := tools.snapshot()
	if len(applied) != 1 || len(arrivals) != 2 {
		t.Fatalf("tool service: %d arrivals %v, %d applied %v; want 2 arrivals (the cut call and its resend) and 1 applied", len(arrivals), arrivals, len(applied), applied)
	}
	distinct := map[string]bool{}
	for _, k := range applied {
		distinct[k] = true
	}
	if len(distinct) != 1 {
		t.Fatalf("distinct idempotency keys executed = %d, want 1", len(distinct))
	}

	// Round 1's answer, as the fake sent it.
	var resp1 struct {
		Content    []json.RawMessage `json:"content"`
		StopReason string            `json:"stop_reason"`
	}
	if err := json.Unmarshal(fake.response(reqs[0].ID), &resp1); err != nil {
		t.Fatalf("round 1's response: %v", err)
	}
	if resp1.StopReason != "tool_use" || len(resp1.Content) == 0 {
		t.Fatalf("round 1's response: stop_reason %q, %d blocks", resp1.StopReason, len(resp1.Content))
	}
	var first struct{ Type, Signature string }
	json.Unmarshal(resp1.Content[0], &first)
	if first.Type != "thinking" || first.Signature == "" {
		t.Fatalf("round 1's answer opens with %s, want a signed thinking block", resp1.Content[0])
	}
	var toolUse struct {
		Type, ID, Name string
		Input          json.RawMessage
	}
	json.Unmarshal(resp1.Content[len(resp1.Content)-1], &toolUse)
	if toolUse.Type != "tool_use" {
		t.Fatalf("round 1's answer ends with %s, want a tool_use", resp1.Content[len(resp1.Content)-1])
	}
	if want := tool.IdempotencyKey(id, toolUse.Name, toolUse.Input); key1 != want {
		t.Fatalf("Idempotency-Key %q, want %q (event %s, tool_use %s)", key1, want, id, toolUse.ID)
	}
	for i, b := range bodies {
		if b["idempotency_key"] != key1 || b["tool_use_id"] != toolUse.ID || b["event_id"] != id {
			t.Fatalf("tool request %d body: key %v, tool_use_id %v, event_id %v", i+1, b["idempotency_key"], b["tool_use_id"], b["event_id"])
		}
	}

	// Round 2 carries round 1's assistant turn byte for byte.
	var req2 struct {
		Messages []struct {
			Role    string            `json:"role"`
			Content []json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(reqs[1].Raw, &req2); err != nil {
		t.Fatal(err)
	}
	if len(req2.Messages) != 3 || req2.Messages[1].Role != "assistant" || req2.Messages[2].Role != "user" {
		t.Fatalf("round 2 sends %d messages, want user, assistant (round 1), user (tool result): %s", len(req2.Messages), reqs[1].Raw)
	}
	sent := req2.Messages[1].Content
	if len(sent) != len(resp1.Content) {
		t.Fatalf("round 2's assistant turn has %d blocks, round 1's answer had %d:\nsent   %s\nissued %s", len(sent), len(resp1.Content), sent, resp1.Content)
	}
	for i := range sent {
		if !bytes.Equal(sent[i], resp1.Content[i]) {
			t.Fatalf("round 2's assistant block %d differs from round 1's answer:\nsent   %s\nissued %s", i, sent[i], resp1.Content[i])
		}
	}
	var result struct {
		Type      string `json:"type"`
		ToolUseID string `json:"tool_use_id"`
	}
	json.Unmarshal(req2.Messages[2].Content[0], &result)
	if result.Type != "tool_result" || result.ToolUseID != toolUse.ID || !bytes.Contains(req2.Messages[2].Content[0], []byte("rl_1")) {
		t.Fatalf("round 2's tool result %s, want the stored result of %s", req2.Messages[2].Content[0], toolUse.ID)
	}

	// The journal: round 1 asked once, one executed tool_call, the cut
	// attempt marked, and the decision of round 1 the one the model issued.
	var kinds []string
	var executed, roundOneRequests int
	var decisions []map[string]any
	for _, s := range ev["steps"].([]any) {
		st := s.(map[string]any)
		kind := st["kind"].(string)
		kinds = append(kinds, kind)
		data, _ := st["data"].(map[string]any)
		switch kind {
		case "tool_call":
			if data["executed"] == true {
				executed++
			}
		case "model_request":
			if data["round"] == 1.0 {
				roundOneRequests++
			}
		case "decision":
			decisions = append(decisions, data)
		}
	}
	if executed != 1 || roundOneRequests != 1 || len(decisions) != 2 || !slices.Contains(kinds, "interrupted") {
		t.Fatalf("journal %v: %d executed tool_call, %d round-1 model_request, %d decisions; want 1, 1, 2 and an interrupted step", kinds, executed, roundOneRequests, len(decisions))
	}
	t.Logf("journal: %v", kinds)
	d1 := decisions[0]
	if d1["round"] != 1.0 || d1["tool_use_id"] != toolUse.ID || d1["thinking"] != 1.0 {
		t.Fatalf("round 1's decision %v, want round 1, tool_use %s, one thinking block", d1, toolUse.ID)
	}
	content, _ := d1["content"].([]any)
	if len(content) != len(resp1.Content) {
		t.Fatalf("round 1's decision has %d blocks, the answer had %d", len(content), len(resp1.Content))
	}
	for i, b := range content {
		bm := b.(map[string]any)
		if _, has := bm["raw"]; has {
			t.Fatalf("the API shows a decision block's raw form: %v", bm)
		}
		var issued struct{ Type string }
		json.Unmarshal(resp1.Content[i], &issued)
		if bm["type"] != issued.Type {
			t.Fatalf("decision block %d is %v, the answer's is %s", i, bm["type"], issued.Type)
		}
	}
}

// TestZeroConfigDefaultModelDecidesEverySeedEvent runs serve with no config
// and no AGENTHOOK_MODEL, so the model is the default, claude-sonnet-5-5,
// which the fake holds to the real contract (forced tool choice refused,
// signed thinking on every answer). Each seed event sent through the real
// webhook must end done with its seed tool decided, and nothing refused.
func TestZeroConfigDefaultModelDecidesEverySeedEvent(t *testing.T) {
	fake := modeltest.NewAnthropic()
	defer fake.Close()
	env := baseEnv(fake)
	delete(env, "AGENTHOOK_MODEL")
	inst := startServe(t, env)
	seeds := []struct{ typ, tool string }{
		{"charge.dispute.created", "handle_dispute"},
		{"invoice.payment_failed", "retry_failed_payment"},
		{"customer.subscription.deleted", "churn_outreach"},
		{"charge.refunded", "log_refund"},
	}
	ids := make([]string, len(seeds))
	for i, s := range seeds {
		ids[i] = deliver(t, inst.base, s.typ)
	}
	for i, s := range seeds {
		var ev map[string]any
		waitUntil(t, s.typ+" finished", func() bool {
			_, ev = getEvent(t, inst.base, ids[i], "")
			return ev["status"] == "done" || ev["status"] == "dead" || ev["status"] == "no_decision"
		})
		if ev["status"] != "done" {
			t.Fatalf("%s ended %v: %v; refusals %+v", s.typ, ev["status"], ev["last_error"], fake.Refusals())
		}
		var calls []string
		var thinking float64
		for _, st := range ev["steps"].([]any) {
			step := st.(map[string]any)
			data, _ := step["data"].(map[string]any)
			switch step["kind"] {
			case "tool_call":
				calls = append(calls, fmt.Sprint(data["tool"]))
			case "decision":
				th, _ := data["thinking"].(float64)
				thinking += th
			case "model_request":
				if data["model"] != "claude-sonnet-5-5" || data["tool_choice"] != "auto" || data["thinking"] != "adaptive" || data["effort"] != "medium" {
					t.Errorf("%s: model_request %v, want claude-sonnet-5-5, tool_choice auto, thinking adaptive, effort medium", s.typ, data)
				}
			}
		}
		if len(calls) != 1 || calls[0] != s.tool {
			t.Errorf("%s: tool calls %v, want one %s", s.typ, calls, s.tool)
		}
		if thinking < 1 {
			t.Errorf("%s: the decision journals no thinking block; the default model thinks on every answer", s.typ)
		}
	}
	if n := fake.RefusalCount(); n != 0 {
		t.Fatalf("the fake refused %d request(s): %+v", n, fake.Refusals())
	}
	for i, rq := range fake.Requests() {
		if rq.Body["model"] != "claude-sonnet-5-5" {
			t.Errorf("request %d: model %v, want the default claude-sonnet-5-5", i+1, rq.Body["model"])
		}
		if tc, _ := rq.Body["tool_choice"].(map[string]any); tc["type"] != "auto" {
			t.Errorf("request %d: tool_choice %v, want auto (the default model refuses forced tool use)", i+1, rq.Body["tool_choice"])
		}
	}
}
