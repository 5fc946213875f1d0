package journal_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/agenthook/agenthook/internal/journal"
)

// Every step type survives its JSON: what the loop appends is what every
// reader decodes.
func TestDecodeRoundTrip(t *testing.T) {
	steps := []journal.Step{
		&journal.ModelRequest{Round: 1, Provider: "anthropic", Model: "claude-sonnet-5-5", Tools: []string{"a"}, ToolChoice: "auto",
			Effort: "medium", Thinking: "adaptive", MaxTokens: 16000, Messages: 1, LatencyMS: 12, Prompt: "p", Summary: "s",
			RequestID: "req_1", Usage: journal.Usage{InputTokens: 1, OutputTokens: 30, ThinkingTokens: 20, CacheReadInputTokens: 3, CacheCreationInputTokens: 4}},
		&journal.Decision{Round: 1, StopReason: "tool_use", Content: []journal.Block{
			{Type: "thinking", Raw: json.RawMessage(`{"type":"thinking","thinking":"","signature":"c2ln"}`)},
			{Type: "tool_use", ID: "toolu_1", Name: "a", Input: json.RawMessage(`{"x":1}`), Raw: json.RawMessage(`{"type":"tool_use","id":"toolu_1","name":"a","input":{"x":1}}`)},
		}, Tool: "a", ToolUseID: "toolu_1", Input: json.RawMessage(`{"x":1}`), Calls: []string{"a"}, Thinking: 1},
		&journal.Corrective{Round: 1, Text: "call a tool"},
		&journal.ToolCall{Round: 1, Tool: "a", ToolUseID: "toolu_1", Input: json.RawMessage(`{"x":1}`), Executed: true, Result: "ok", LatencyMS: 3},
		&journal.ToolCall{Round: 2, Tool: "a", ToolUseID: "toolu_2", Result: "invalid", IsError: true, Invalid: true},
		&journal.ApprovalRequested{Round: 1, Tool: "a", ToolUseID: "toolu_1", Input: json.RawMessage(`{}`), Text: "why"},
		&journal.Approval{Round: 1, Tool: "a", ToolUseID: "toolu_1", Approved: true, By: "cli"},
		&journal.Error{Round: 2, Error: "boom", Retryable: true, StatusCode: 529, RetryAfterMS: 1000, RequestID: "req_2", StopReason: "refusal"},
		&journal.Outcome{Stop: "end_turn", Rounds: 2, Usage: journal.Usage{InputTokens: 5}, Corrective: true},
		&journal.Filtered{Route: "r", When: "false", Error: "e"},
		&journal.Replay{PreviousStatus: "dead", Route: "r"},
		&journal.Interrupted{Error: "killed"},
	}
	for _, s := range steps {
		data, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := journal.Decode(journal.Entry{Kind: s.Kind(), Data: data})
		if err != nil {
			t.Fatalf("%s: %v", s.Kind(), err)
		}
		if !reflect.DeepEqual(got, s) {
			t.Errorf("%s: decoded %#v, want %#v", s.Kind(), got, s)
		}
	}
}

// A kind written by a newer version is kept as it is, not an error.
func TestDecodeUnknownKind(t *testing.T) {
	got, err := journal.Decode(journal.Entry{Kind: "from_the_future", Data: json.RawMessage(`{"a":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	u, ok := got.(*journal.Unknown)
	if !ok || u.Kind() != "from_the_future" || string(u.Data) != `{"a":1}` {
		t.Fatalf("got %#v", got)
	}
	if b, _ := json.Marshal(u); string(b) != `{"a":1}` {
		t.Errorf("re-encoded as %s", b)
	}
	if _, err := journal.Decode(journal.Entry{Kind: journal.KindDecision, Data: json.RawMessage(`{"round":"x"}`)}); err == nil {
		t.Error("a decision with a string round decoded without error")
	}
}

// What a person may see of a decision carries no signature, no redacted
// thinking and no thought, and keeps the rest.
func TestPublicHidesThinking(t *testing.T) {
	d := &journal.Decision{Round: 1, StopReason: "tool_use", Thinking: 2, Content: []journal.Block{
		{Type: "thinking", Text: "secret thought", Raw: json.RawMessage(`{"type":"thinking","thinking":"secret thought","signature":"SIGNATURE"}`)},
		{Type: "redacted_thinking", Raw: json.RawMessage(`{"type":"redacted_thinking","data":"REDACTEDDATA"}`)},
		{Type: "text", Text: "visible reasoning", Raw: json.RawMessage(`{"type":"text","text":"visible reasoning"}`)},
		{Type: "tool_use", ID: "toolu_1", Name: "refund", Input: json.RawMessage(`{"amount":5}`)},
	}}
	data, _ := json.Marshal(d)
	pub := string(journal.Public(journal.Entry{Kind: d.Kind(), Data: data}))
	for _, secret := range []string{"SIGNATURE", "REDACTEDDATA", "secret thought", `"raw"`} {
		if strings.Contains(pub, secret) {
			t.Errorf("public decision shows %q: %s", secret, pub)
		}
	}
	for _, kept := range []string{"visible reasoning", "toolu_1", `"amount":5`, `"thinking":2`, `"type":"redacted_thinking"`} {
		if !strings.Contains(pub, kept) {
			t.Errorf("public decision lost %q: %s", kept, pub)
		}
	}
	other := json.RawMessage(`{"round":1,"tool":"a"}`)
	if got := journal.Public(journal.Entry{Kind: journal.KindToolCall, Data: other}); string(got) != string(other) {
		t.Errorf("a tool_call changed: %s", got)
	}
}

func TestSinceReplay(t *testing.T) {
	es := []journal.Entry{{Kind: "decision"}, {Kind: "replay"}, {Kind: "model_request"}, {Kind: "replay"}, {Kind: "decision"}, {Kind: "tool_call"}}
	got := journal.SinceReplay(es)
	if len(got) != 2 || got[0].Kind != "decision" || got[1].Kind != "tool_call" {
		t.Fatalf("got %v", got)
	}
	if got := journal.SinceReplay(es[:1]); len(got) != 1 {
		t.Fatalf("no replay: got %v", got)
	}
}
