package modeltest

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

var responsesTool = []any{map[string]any{"type": "function", "name": "refund", "strict": false, "parameters": map[string]any{"type": "object"}}}

func userItem(text string) map[string]any {
	return map[string]any{"role": "user", "content": text}
}

// firstRound asks gpt-6-luna for a call statelessly and returns the
// request's input and the answer's output items.
func firstRound(t *testing.T, srv *OpenAIServer) ([]any, []any) {
	t.Helper()
	input := []any{userItem("A dispute was opened.")}
	status, out := post(t, srv, "/v1/responses", map[string]any{"model": "gpt-6-luna", "input": input, "tools": responsesTool,
		"store": false, "include": []any{"reasoning.encrypted_content"}})
	if status != 200 {
		t.Fatalf("round 1: %d %v", status, out)
	}
	return input, out["output"].([]any)
}

// secondRound sends input + output + a result for call_fake_1.
func secondRound(t *testing.T, srv *OpenAIServer, input, output []any) (int, map[string]any) {
	t.Helper()
	next := append(append(append([]any{}, input...), output...),
		map[string]any{"type": "function_call_output", "call_id": "call_fake_1", "output": "ok"})
	return post(t, srv, "/v1/responses", map[string]any{"model": "gpt-6-luna", "input": next, "tools": responsesTool, "store": false})
}

func without(items []any, typ string) []any {
	var out []any
	for _, it := range items {
		if it.(map[string]any)["type"] != typ {
			out = append(out, it)
		}
	}
	return out
}

func clone(t *testing.T, v []any) []any {
	b, _ := json.Marshal(v)
	var out []any
	json.Unmarshal(b, &out)
	return out
}

// The default answer is the documented shape: a reasoning item with id and
// encrypted_content (store false), a message with output_text, a
// function_call with call_id and arguments, status completed and usage
// with cached and reasoning tokens.
func TestResponsesAnswerShape(t *testing.T) {
	srv := NewOpenAI()
	defer srv.Close()
	_, output := firstRound(t, srv)
	if len(output) != 3 {
		t.Fatalf("output = %v", output)
	}
	rs, msg, fc := output[0].(map[string]any), output[1].(map[string]any), output[2].(map[string]any)
	if rs["type"] != "reasoning" || rs["id"] != "rs_fake_1" || !strings.HasPrefix(rs["encrypted_content"].(string), "gAAAA") {
		t.Errorf("reasoning = %v", rs)
	}
	if msg["type"] != "message" || msg["role"] != "assistant" || msg["content"].([]any)[0].(map[string]any)["type"] != "output_text" {
		t.Errorf("message = %v", msg)
	}
	if fc["type"] != "function_call" || fc["id"] != "fc_call_fake_1" || fc["call_id"] != "call_fake_1" || fc["name"] != "refund" || !json.Valid([]byte(fc["arguments"].(string))) {
		t.Errorf("function_call = %v", fc)
	}
	// Without store false or include, no encrypted content.
	srv2 := NewOpenAI()
	defer srv2.Close()
	_, out := post(t, srv2, "/v1/responses", map[string]any{"model": "gpt-6-luna", "input": "hi", "tools": responsesTool})
	if rs := out["output"].([]any)[0].(map[string]any); rs["type"] != "reasoning" || rs["encrypted_content"] != nil {
		t.Errorf("reasoning without store false or include = %v", rs)
	}
	if out["status"] != "completed" || out["usage"].(map[string]any)["output_tokens_details"].(map[string]any)["reasoning_tokens"] != float64(40) {
		t.Errorf("status %v usage %v", out["status"], out["usage"])
	}
	// Effort none: no reasoning at all.
	_, out = post(t, srv2, "/v1/responses", map[string]any{"model": "gpt-6-luna", "input": "hi", "reasoning": map[string]any{"effort": "none"}})
	if typ := out["output"].([]any)[0].(map[string]any)["type"]; typ == "reasoning" {
		t.Errorf("reasoning at effort none: %v", out["output"])
	}
}

// Carried back verbatim, the reasoning is accepted and nothing is dropped.
func TestResponsesAcceptsCarriedReasoning(t *testing.T) {
	srv := NewOpenAI()
	defer srv.Close()
	input, output := firstRound(t, srv)
	status, out := secondRound(t, srv, input, output)
	if status != 200 || out["output"].([]any)[1].(map[string]any)["content"].([]any)[0].(map[string]any)["text"] != "Done: the tool results are recorded." {
		t.Fatalf("round 2: %d %v", status, out)
	}
	if d := srv.DroppedReasoning(); len(d) != 0 {
		t.Errorf("dropped %v", d)
	}
}

// A function_call item sent with its id but without its reasoning item is
// refused. https://github.com/cline/cline/issues/12242
func TestResponsesRefusesCallWithoutItsReasoning(t *testing.T) {
	srv := NewOpenAI()
	defer srv.Close()
	input, output := firstRound(t, srv)
	status, out := secondRound(t, srv, input, without(output, "reasoning"))
	wantError(t, status, out, 400, "Item 'fc_call_fake_1' of type 'function_call' was provided without its required 'reasoning' item: 'rs_fake_1'.", "input")
}

// Reasoning dropped with calls rebuilt without their ids is tolerated and
// recorded. https://developers.openai.com/api/docs/guides/preserved-reasoning
func TestResponsesRecordsDroppedReasoning(t *testing.T) {
	srv := NewOpenAI()
	defer srv.Close()
	input, output := firstRound(t, srv)
	output = clone(t, without(output, "reasoning"))
	for _, it := range output {
		delete(it.(map[string]any), "id")
	}
	if status, out := secondRound(t, srv, input, output); status != 200 {
		t.Fatalf("round 2 refused: %v", out)
	}
	want := []DroppedReasoning{{ID: "rs_fake_1", Why: "not sent back"}}
	if d := srv.DroppedReasoning(); !reflect.DeepEqual(d, want) {
		t.Errorf("dropped = %v, want %v", d, want)
	}
}

// Reasoning whose prefix changed is tolerated and recorded.
func TestResponsesRecordsChangedPrefix(t *testing.T) {
	srv := NewOpenAI()
	defer srv.Close()
	_, output := firstRound(t, srv)
	if status, out := secondRound(t, srv, []any{userItem("A dispute was closed.")}, output); status != 200 {
		t.Fatalf("round 2 refused: %v", out)
	}
	want := []DroppedReasoning{{ID: "rs_fake_1", Why: "prefix changed"}}
	if d := srv.DroppedReasoning(); !reflect.DeepEqual(d, want) {
		t.Errorf("dropped = %v, want %v", d, want)
	}
}

// Altered encrypted content does not verify.
// https://github.com/openai/codex/issues/8119
func TestResponsesRefusesAlteredEncryptedContent(t *testing.T) {
	srv := NewOpenAI()
	defer srv.Close()
	input, output := firstRound(t, srv)
	output = clone(t, output)
	rs := output[0].(map[string]any)
	enc := rs["encrypted_content"].(string)
	// Change one character of the signature to another: replacing the tail
	// with a fixed "AA" left it unchanged when it already ended so (1 in 256).
	i := len(enc) - 10
	c := byte('A')
	if enc[i] == 'A' {
		c = 'B'
	}
	rs["encrypted_content"] = enc[:i] + string(c) + enc[i+1:]
	status, out := secondRound(t, srv, input, output)
	wantError(t, status, out, 400, "could not be verified.", "")
	if out["error"].(map[string]any)["code"] != "invalid_encrypted_content" {
		t.Errorf("code = %v", out["error"])
	}
	// Nor does another fake's (another organization's) reasoning.
	other := NewOpenAI()
	defer other.Close()
	input, output = firstRound(t, other)
	status, out = secondRound(t, srv, input, output)
	wantError(t, status, out, 400, "could not be verified.", "")
}

// A reasoning item by id alone is not found under store false.
// https://github.com/anomalyco/opencode/pull/2480
func TestResponsesRefusesReasoningByIDWhenNotStored(t *testing.T) {
	srv := NewOpenAI()
	defer srv.Close()
	input, output := firstRound(t, srv)
	output = clone(t, output)
	delete(output[0].(map[string]any), "encrypted_content")
	status, out := secondRound(t, srv, input, output)
	wantError(t, status, out, 404, "Items are not persisted when `store` is set to false.", "")
}

// A reasoning item must be followed by the item it led to.
// https://github.com/continuedev/continue/issues/8933
func TestResponsesRefusesTrailingReasoning(t *testing.T) {
	srv := NewOpenAI()
	defer srv.Close()
	input, output := firstRound(t, srv)
	next := append(append([]any{}, input...), output[0])
	status, out := post(t, srv, "/v1/responses", map[string]any{"model": "gpt-6-luna", "input": next, "store": false})
	wantError(t, status, out, 400, "Item 'rs_fake_1' of type 'reasoning' was provided without its required following item.", "input")
}

// A tool result must answer a call in the input.
// https://github.com/continuedev/continue/issues/10092
func TestResponsesRefusesUnmatchedCallOutput(t *testing.T) {
	srv := NewOpenAI()
	defer srv.Close()
	status, out := post(t, srv, "/v1/responses", map[string]any{"model": "gpt-test", "input": []any{
		userItem("hi"),
		map[string]any{"type": "function_call", "call_id": "call_a", "name": "refund", "arguments": "{}"},
		map[string]any{"type": "function_call_output", "call_id": "call_b", "output": "ok"},
	}})
	wantError(t, status, out, 400, "No tool call found for function call output with call_id call_b.", "input")
	// Even over a scripted answer.
	srv2 := NewOpenAI(Reply{Body: OpenAIResponseBody("gpt-test", "", "", "ok")})
	defer srv2.Close()
	status, out = post(t, srv2, "/v1/responses", map[string]any{"model": "gpt-test", "input": []any{
		map[string]any{"type": "function_call_output", "call_id": "call_b", "output": "ok"},
	}})
	wantError(t, status, out, 400, "No tool call found", "input")
}

// Responses has no top-level reasoning_effort.
// https://github.com/OpenHands/software-agent-sdk/issues/755
func TestResponsesRefusesChatEffortName(t *testing.T) {
	srv := NewOpenAI()
	defer srv.Close()
	status, out := post(t, srv, "/v1/responses", map[string]any{"model": "gpt-6-luna", "input": "hi", "reasoning_effort": "low"})
	wantError(t, status, out, 400, "this parameter has moved to 'reasoning.effort'", "")
}

// A strict function's schema must be one strict mode accepts.
// https://platform.openai.com/docs/guides/function-calling?strict-mode=enabled#strict-mode
func TestResponsesStrictSchema(t *testing.T) {
	srv := NewOpenAI()
	defer srv.Close()
	tool := func(schema map[string]any) []any {
		return []any{map[string]any{"type": "function", "name": "notify", "strict": true, "parameters": schema}}
	}
	props := map[string]any{"text": map[string]any{"type": "string"}}
	status, out := post(t, srv, "/v1/responses", map[string]any{"model": "gpt-test", "input": "hi",
		"tools": tool(map[string]any{"type": "object", "properties": props, "required": []any{"text"}})})
	wantError(t, status, out, 400, "Invalid schema for function 'notify': In context=(), 'additionalProperties' is required to be supplied and to be false.", "tools[0].parameters")
	status, out = post(t, srv, "/v1/responses", map[string]any{"model": "gpt-test", "input": "hi",
		"tools": tool(map[string]any{"type": "object", "properties": props, "additionalProperties": false})})
	wantError(t, status, out, 400, "'required' is required to be supplied and to be an array including every key in properties. Missing 'text'.", "tools[0].parameters")
	status, out = post(t, srv, "/v1/responses", map[string]any{"model": "gpt-test", "input": "hi",
		"tools": tool(map[string]any{"type": "object", "properties": props, "required": []any{"text"}, "additionalProperties": false})})
	if status != 200 {
		t.Errorf("a strict schema was refused: %v", out)
	}
}

// Scripted stop reasons in the Responses vocabulary.
func TestResponsesScriptedStops(t *testing.T) {
	for _, c := range []struct {
		stop, status, reason string
	}{
		{"max_tokens", "incomplete", "max_output_tokens"},
		{"content_filter", "incomplete", "content_filter"},
		{"end_turn", "completed", ""},
		{"refusal", "completed", ""},
	} {
		srv := NewOpenAI(Reply{StopReason: c.stop})
		_, out := post(t, srv, "/v1/responses", map[string]any{"model": "gpt-test", "input": "hi", "tools": responsesTool})
		srv.Close()
		if out["status"] != c.status {
			t.Errorf("%s: status %v", c.stop, out["status"])
		}
		if c.reason != "" && out["incomplete_details"].(map[string]any)["reason"] != c.reason {
			t.Errorf("%s: incomplete_details %v", c.stop, out["incomplete_details"])
		}
		raw, _ := json.Marshal(out["output"])
		if strings.Contains(string(raw), "function_call") {
			t.Errorf("%s: a call in %s", c.stop, raw)
		}
		if c.stop == "refusal" && !strings.Contains(string(raw), `"type":"refusal"`) {
			t.Errorf("refusal: no refusal item in %s", raw)
		}
	}
	body := OpenAIResponseBody("m", "", "max_output_tokens", "")
	var r map[string]any
	json.Unmarshal([]byte(body), &r)
	if r["status"] != "incomplete" || r["object"] != "response" {
		t.Errorf("OpenAIResponseBody = %s", body)
	}
}
