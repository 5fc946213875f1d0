package httpagent

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agenthook/agenthook/internal/agent"
)

const secret = "ahsec_test_secret"

// verify checks an Agenthook-Signature header the way an agent would:
// HMAC-SHA256 over "<t>.<body>" with the shared secret, t within five
// minutes of now. It is written here, independently of stripeevent.
func verify(header string, body []byte, secret string, now time.Time) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return fmt.Errorf("malformed element %q", part)
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("bad t %q", ts)
	}
	if d := now.Sub(time.Unix(t, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("t is %s away", d)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + string(body)))
	want := mac.Sum(nil)
	for _, s := range sigs {
		got, err := hex.DecodeString(s)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no v1 signature matches")
}

// fakeAgent is a user's agent: it verifies every request and answers from
// a script.
type fakeAgent struct {
	*httptest.Server
	secret string

	mu      sync.Mutex
	rounds  []Round
	raw     [][]byte
	headers []http.Header
	script  []answer
}

type answer struct {
	status  int
	body    string
	headers map[string]string
}

func newAgent(t *testing.T, secret string, script ...answer) *fakeAgent {
	a := &fakeAgent{secret: secret, script: script}
	a.Server = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.Close)
	return a
}

// got returns what the agent received so far.
func (a *fakeAgent) got() (rounds []Round, raw [][]byte, headers []http.Header) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Round(nil), a.rounds...), append([][]byte(nil), a.raw...), append([]http.Header(nil), a.headers...)
}

func (a *fakeAgent) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	if err := verify(r.Header.Get(SignatureHeader), body, a.secret, time.Now()); err != nil {
		http.Error(w, "bad signature: "+err.Error(), http.StatusUnauthorized)
		return
	}
	var rd Round
	if err := json.Unmarshal(body, &rd); err != nil {
		http.Error(w, "bad round: "+err.Error(), http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	a.rounds = append(a.rounds, rd)
	a.raw = append(a.raw, body)
	a.headers = append(a.headers, r.Header.Clone())
	n := len(a.rounds)
	var ans answer
	if len(a.script) > 0 {
		ans, a.script = a.script[0], a.script[1:]
	} else {
		ans = answer{status: http.StatusInternalServerError, body: "script ran out"}
	}
	a.mu.Unlock()
	for k, v := range ans.headers {
		w.Header().Set(k, v)
	}
	w.Header().Set("X-Request-Id", fmt.Sprintf("agent_req_%d", n))
	if ans.status == 0 {
		ans.status = http.StatusOK
	}
	w.WriteHeader(ans.status)
	io.WriteString(w, ans.body)
}

var tools = []agent.Tool{
	{Name: "refund", Description: "Refund a charge", InputSchema: map[string]any{
		"type": "object", "properties": map[string]any{"charge": map[string]any{"type": "string"}},
	}, InputFrom: map[string]string{"charge": "event.data.object.charge"}},
	{Name: "notify", InputSchema: map[string]any{"type": "object"}},
}

func request(msgs ...agent.Message) agent.Request {
	if len(msgs) == 0 {
		msgs = []agent.Message{{Role: agent.User, Content: []agent.Block{{Type: agent.TextBlock, Text: "A dispute was opened."}}}}
	}
	return agent.Request{
		Model: "my-agent-v2", System: "You handle disputes.", Messages: msgs, Tools: tools,
		Choice: agent.Choice{Mode: "tool", Name: "refund"}, MaxTokens: 1024,
		Event: agent.Event{ID: "evt_1", Type: "charge.dispute.created", Payload: json.RawMessage(`{"id":"evt_1","data":{"object":{"charge":"ch_1"}}}`)},
	}
}

func TestToolCallsThenResult(t *testing.T) {
	a := newAgent(t, secret,
		answer{body: `{"tool_calls": [
			{"id": "a1", "name": "refund", "input": {"charge": "ch_1"}},
			{"name": "notify", "input": {"text": "refunded ch_1"}}
		], "usage": {"input_tokens": 100, "output_tokens": 20}, "model": "agent-build-7"}`},
		answer{body: `{"result": {"refunded": true, "amount": 1000}}`},
	)
	p := New(Options{URL: a.URL + "/hook?v=1", Secret: secret, Timeout: 5 * time.Second})
	ctx := context.Background()

	req := request()
	r1, err := p.Send(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name() != "http" || r1.StopReason != agent.ToolUse || r1.Model != "agent-build-7" || r1.RequestID != "agent_req_1" {
		t.Errorf("reply = %+v", r1)
	}
	if r1.Usage != (agent.Usage{InputTokens: 100, OutputTokens: 20}) {
		t.Errorf("usage = %+v", r1.Usage)
	}
	uses := r1.ToolUses()
	if len(uses) != 2 || len(r1.Content) != 2 {
		t.Fatalf("content = %+v", r1.Content)
	}
	if uses[0].ID != "a1" || uses[0].Name != "refund" || string(uses[0].Input) != `{"charge":"ch_1"}` {
		t.Errorf("first call = %+v", uses[0])
	}
	if !strings.HasPrefix(uses[1].ID, "call_2_") || uses[1].Name != "notify" || string(uses[1].Input) != `{"text":"refunded ch_1"}` {
		t.Errorf("second call = %+v", uses[1])
	}

	// What the agent received.
	rounds, raws, headers := a.got()
	rd := rounds[0]
	if rd.Event.ID != "evt_1" || rd.Event.Type != "charge.dispute.created" || string(rd.Event.Payload) != string(req.Event.Payload) {
		t.Errorf("event = %+v", rd.Event)
	}
	if rd.Model != "my-agent-v2" || rd.System != "You handle disputes." || rd.ToolChoice != "tool:refund" {
		t.Errorf("round = %+v", rd)
	}
	if len(rd.Messages) != 1 || rd.Messages[0].Role != agent.User || rd.Messages[0].Content[0].Text != "A dispute was opened." {
		t.Errorf("messages = %+v", rd.Messages)
	}
	if len(rd.Tools) != 2 || rd.Tools[0].Name != "refund" || rd.Tools[0].Description != "Refund a charge" ||
		rd.Tools[0].InputSchema["type"] != "object" || rd.Tools[1].Name != "notify" {
		t.Errorf("tools = %+v", rd.Tools)
	}
	if strings.Contains(string(raws[0]), "input_from") || strings.Contains(string(raws[0]), "InputFrom") {
		t.Errorf("internal input_from leaked to the agent: %s", raws[0])
	}
	h := headers[0]
	if h.Get("Content-Type") != "application/json" || h.Get("Agenthook-Event-Id") != "evt_1" {
		t.Errorf("headers = %v", h)
	}

	// Round 2: the calls and their results go back.
	msgs := append(req.Messages,
		agent.Message{Role: agent.Assistant, Content: r1.Content},
		agent.Message{Role: agent.User, Content: []agent.Block{
			{Type: agent.ToolResultBlock, ToolUseID: "a1", Content: `{"status":"succeeded"}`},
			{Type: agent.ToolResultBlock, ToolUseID: uses[1].ID, Content: "slack is down", IsError: true},
		}})
	req2 := request(msgs...)
	req2.Choice = agent.Choice{Mode: "auto"}
	r2, err := p.Send(ctx, req2)
	if err != nil {
		t.Fatal(err)
	}
	if r2.StopReason != agent.EndTurn || len(r2.ToolUses()) != 0 || r2.Text() != `{"refunded":true,"amount":1000}` {
		t.Errorf("final reply = %+v", r2)
	}
	if r2.Model != "my-agent-v2" {
		t.Errorf("model without one in the answer = %q, want the configured one", r2.Model)
	}
	rounds, _, _ = a.got()
	rd2 := rounds[1]
	if rd2.ToolChoice != "auto" || len(rd2.Messages) != 3 {
		t.Fatalf("round 2 = %+v", rd2)
	}
	asst, res := rd2.Messages[1], rd2.Messages[2]
	if asst.Role != agent.Assistant || len(asst.Content) != 2 || asst.Content[1].Type != agent.ToolUseBlock || asst.Content[1].ID != uses[1].ID {
		t.Errorf("assistant message = %+v", asst)
	}
	if res.Role != agent.User || len(res.Content) != 2 || res.Content[0].ToolUseID != "a1" || res.Content[0].Content != `{"status":"succeeded"}` ||
		!res.Content[1].IsError || res.Content[1].Content != "slack is down" {
		t.Errorf("results message = %+v", res)
	}
}

func TestResultShapes(t *testing.T) {
	for body, want := range map[string]string{
		`{"result": "Refunded ch_1."}`: "Refunded ch_1.",
		`{"result": 42}`:               "42",
		`{"result": [1, 2]}`:           "[1,2]",
		`{"result": null}`:             "",
	} {
		a := newAgent(t, secret, answer{body: body})
		r, err := New(Options{URL: a.URL, Secret: secret}).Send(context.Background(), request())
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if r.StopReason != agent.EndTurn || r.Text() != want {
			t.Errorf("%s gave %+v, want end_turn with text %q", body, r, want)
		}
	}
}

func TestInputForms(t *testing.T) {
	a := newAgent(t, secret, answer{body: `{"tool_calls": [
		{"name": "refund", "input": "{\"charge\": \"ch_1\"}"},
		{"name": "notify"}
	]}`})
	r, err := New(Options{URL: a.URL, Secret: secret}).Send(context.Background(), request())
	if err != nil {
		t.Fatal(err)
	}
	uses := r.ToolUses()
	if len(uses) != 2 || string(uses[0].Input) != `{"charge":"ch_1"}` || string(uses[1].Input) != "{}" {
		t.Errorf("uses = %+v", uses)
	}
}

func TestGeneratedIDsAreDeterministic(t *testing.T) {
	const body = `{"tool_calls": [{"name": "notify", "input": {"text": "x"}}, {"name": "notify", "input": {"text": "x"}}]}`
	a := newAgent(t, secret, answer{body: body}, answer{body: body}, answer{body: body}, answer{body: body})
	p := New(Options{URL: a.URL, Secret: secret})
	ids := func(req agent.Request) []string {
		t.Helper()
		r, err := p.Send(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, u := range r.ToolUses() {
			out = append(out, u.ID)
		}
		return out
	}
	first := ids(request())
	again := ids(request())
	if len(first) != 2 || first[0] == first[1] {
		t.Fatalf("ids of two identical calls must differ: %v", first)
	}
	if first[0] != again[0] || first[1] != again[1] {
		t.Errorf("the same round gave ids %v then %v", first, again)
	}
	other := request()
	other.Event.ID = "evt_2"
	if o := ids(other); o[0] == first[0] {
		t.Errorf("another event gave the same id %q", o[0])
	}
	later := request(request().Messages[0], agent.Message{Role: agent.Assistant, Content: []agent.Block{{Type: agent.TextBlock, Text: "hm"}}},
		agent.Message{Role: agent.User, Content: []agent.Block{{Type: agent.TextBlock, Text: "go on"}}})
	if l := ids(later); l[0] == first[0] {
		t.Errorf("a later round gave the same id %q", l[0])
	}
}

func TestStatusErrors(t *testing.T) {
	long := strings.Repeat("x", 2000) + " the end of a long error"
	cases := []struct {
		name      string
		ans       answer
		retryable bool
		after     time.Duration
		want      []string
	}{
		{"429", answer{status: 429, body: "slow down", headers: map[string]string{"Retry-After": "3"}}, true, 3 * time.Second, []string{"HTTP 429", "slow down"}},
		{"503", answer{status: 503, body: "overloaded", headers: map[string]string{"retry-after-ms": "250"}}, true, 250 * time.Millisecond, []string{"overloaded"}},
		{"400", answer{status: 400, body: `{"error": "field charge missing"}`}, false, 0, []string{"HTTP 400", "field charge missing"}},
		{"422 long", answer{status: 422, body: long}, false, 0, []string{"...", "the end of a long error"}},
		{"404", answer{status: 404, body: "no such path"}, false, 0, []string{"no such path", "check agent.base_url"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := newAgent(t, secret, c.ans)
			_, err := New(Options{URL: a.URL, Secret: secret}).Send(context.Background(), request())
			var ae *agent.Error
			if !errors.As(err, &ae) {
				t.Fatalf("error %v (%T) is not *agent.Error", err, err)
			}
			if ae.Retryable != c.retryable || ae.After != c.after || ae.StatusCode != c.ans.status || ae.RequestID != "agent_req_1" {
				t.Errorf("error = %+v, want retryable %v after %s", ae, c.retryable, c.after)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if len(ae.Message) > 700 {
				t.Errorf("message is %d bytes; only the tail of the body belongs in it", len(ae.Message))
			}
		})
	}
}

func TestWrongSecretIsRefused(t *testing.T) {
	a := newAgent(t, secret, answer{body: `{"result": "should not get here"}`})
	_, err := New(Options{URL: a.URL, Secret: "ahsec_other"}).Send(context.Background(), request())
	var ae *agent.Error
	if !errors.As(err, &ae) || ae.StatusCode != 401 || ae.Retryable {
		t.Fatalf("wrong secret gave %v, want a permanent 401", err)
	}
	if !strings.Contains(ae.Message, "no v1 signature matches") || !strings.Contains(ae.Message, "tool_secret") {
		t.Errorf("message %q should carry the agent's reason and name tool_secret", ae.Message)
	}
	if strings.Contains(ae.Message, "ahsec_other") || strings.Contains(ae.Message, secret) {
		t.Errorf("message leaks a secret: %q", ae.Message)
	}
	if rounds, _, _ := a.got(); len(rounds) != 0 {
		t.Error("the agent accepted a request signed with the wrong secret")
	}
}

func TestSignatureIsOverTheExactBody(t *testing.T) {
	fixed := time.Unix(1767225600, 0)
	var header string
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header = r.Header.Get(SignatureHeader)
		body, _ = io.ReadAll(r.Body)
		io.WriteString(w, `{"result": "ok"}`)
	}))
	defer srv.Close()
	if _, err := New(Options{URL: srv.URL, Secret: secret, Now: func() time.Time { return fixed }}).Send(context.Background(), request()); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(header, "t=1767225600,v1=") {
		t.Errorf("header %q does not carry the signing time", header)
	}
	if err := verify(header, body, secret, fixed); err != nil {
		t.Errorf("signature does not verify: %v", err)
	}
	if err := verify(header, append(body, ' '), secret, fixed); err == nil {
		t.Error("signature verifies over a changed body")
	}
	if err := verify(header, body, secret, fixed.Add(10*time.Minute)); err == nil {
		t.Error("a stale signature verifies")
	}
}

func TestNoSecretSendsNoSignature(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Values(SignatureHeader)
		io.WriteString(w, `{"result": "ok"}`)
	}))
	defer srv.Close()
	if _, err := New(Options{URL: srv.URL}).Send(context.Background(), request()); err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("signature sent without a secret: %q", got)
	}
}

func TestMalformedAnswers(t *testing.T) {
	earlier := request().Messages[0]
	prior := []agent.Message{earlier,
		{Role: agent.Assistant, Content: []agent.Block{{Type: agent.ToolUseBlock, ID: "used_1", Name: "notify", Input: json.RawMessage(`{}`)}}},
		{Role: agent.User, Content: []agent.Block{{Type: agent.ToolResultBlock, ToolUseID: "used_1", Content: "ok"}}},
	}
	cases := []struct {
		name, body, want string
		msgs             []agent.Message
	}{
		{"empty", "", `{"tool_calls"`, nil},
		{"not json", "done!", "not a JSON object", nil},
		{"array", `[{"name": "refund"}]`, "not a JSON object", nil},
		{"broken json", `{"result": `, "not valid JSON", nil},
		{"neither", `{"answer": "yes"}`, "neither result nor tool_calls", nil},
		{"both", `{"result": 1, "tool_calls": []}`, "not both", nil},
		{"calls not array", `{"tool_calls": {"name": "refund"}}`, "must be an array", nil},
		{"no calls", `{"tool_calls": []}`, `answer {"result": ...} instead`, nil},
		{"no name", `{"tool_calls": [{"input": {}}]}`, `tool_calls[0] has no "name"`, nil},
		{"input not object", `{"tool_calls": [{"name": "refund", "input": [1]}]}`, `"input" must be a JSON object`, nil},
		{"input string not object", `{"tool_calls": [{"name": "refund", "input": "ch_1"}]}`, `"input" must be a JSON object`, nil},
		{"duplicate ids", `{"tool_calls": [{"id": "x", "name": "refund"}, {"id": "x", "name": "notify"}]}`, `repeats the id "x"`, nil},
		{"id from an earlier round", `{"tool_calls": [{"id": "used_1", "name": "notify"}]}`, `repeats the id "used_1"`, prior},
		{"usage wrong", `{"result": "ok", "usage": "lots"}`, `"usage" must be`, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := newAgent(t, secret, answer{body: c.body})
			_, err := New(Options{URL: a.URL, Secret: secret}).Send(context.Background(), request(c.msgs...))
			var ae *agent.Error
			if !errors.As(err, &ae) {
				t.Fatalf("%q gave %v (%T), want *agent.Error", c.body, err, err)
			}
			if ae.Retryable {
				t.Errorf("a malformed answer must be permanent: %+v", ae)
			}
			if !strings.Contains(ae.Message, c.want) {
				t.Errorf("message %q does not contain %q", ae.Message, c.want)
			}
		})
	}
}

func TestTimeoutIsRetryable(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	_, err := New(Options{URL: srv.URL, Secret: secret, Timeout: 50 * time.Millisecond}).Send(context.Background(), request())
	var ae *agent.Error
	if !errors.As(err, &ae) || !ae.Retryable || !strings.Contains(ae.Message, "agent.timeout") || !strings.Contains(ae.Message, "50ms") {
		t.Fatalf("timeout gave %v, want a retryable error naming agent.timeout", err)
	}
}

func TestCancelPassesThrough(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := New(Options{URL: srv.URL, Secret: secret}).Send(ctx, request())
		errc <- err
	}()
	<-started
	cancel()
	err := <-errc
	if !errors.Is(err, context.Canceled) || errors.As(err, new(*agent.Error)) {
		t.Fatalf("cancel gave %v (%T), want context.Canceled as it is", err, err)
	}
}

func TestUnreachableIsRetryableAndHidesTheURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/hook?token=tok_secret_in_url"
	srv.Close()
	_, err := New(Options{URL: url, Secret: secret}).Send(context.Background(), request())
	var ae *agent.Error
	if !errors.As(err, &ae) || !ae.Retryable || ae.StatusCode != 0 || !strings.Contains(ae.Message, "check agent.base_url") {
		t.Fatalf("unreachable agent gave %v, want a retryable error naming agent.base_url", err)
	}
	if strings.Contains(ae.Message, "tok_secret_in_url") {
		t.Errorf("error leaks the URL's token: %q", ae.Message)
	}
}
