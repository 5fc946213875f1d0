package modeltest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// post sends body to the fake's path and returns the status and the
// decoded answer.
func post(t *testing.T, srv *OpenAIServer, path string, body map[string]any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(srv.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("answer is not JSON: %s", raw)
	}
	return resp.StatusCode, out
}

// wantError checks an OpenAI error answer.
func wantError(t *testing.T, status int, out map[string]any, wantStatus int, wantMsg, wantParam string) {
	t.Helper()
	e, _ := out["error"].(map[string]any)
	if status != wantStatus || e == nil {
		t.Fatalf("status %d answer %v, want %d with an error", status, out, wantStatus)
	}
	if msg, _ := e["message"].(string); !strings.Contains(msg, wantMsg) {
		t.Errorf("message %q does not contain %q", msg, wantMsg)
	}
	if e["type"] != "invalid_request_error" {
		t.Errorf("type = %v", e["type"])
	}
	if wantParam != "" && e["param"] != wantParam {
		t.Errorf("param = %v, want %s", e["param"], wantParam)
	}
}

var chatTool = []any{map[string]any{"type": "function", "function": map[string]any{"name": "refund", "parameters": map[string]any{"type": "object"}}}}

func chatBody(model string, extra map[string]any) map[string]any {
	b := map[string]any{"model": model, "messages": []any{map[string]any{"role": "user", "content": "hi"}}, "tools": chatTool}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

// Chat Completions refuses function tools from GPT-5.4-and-later models
// unless the effort is none, counting the model's default.
// https://developers.openai.com/api/docs/models/gpt-6-luna
func TestChatToolsNeedEffortNone(t *testing.T) {
	srv := NewOpenAI()
	defer srv.Close()
	const luna = "Function tools with reasoning_effort are not supported for gpt-6-luna in /v1/chat/completions. To use function tools, use /v1/responses or set reasoning_effort to 'none'."
	status, out := post(t, srv, "/v1/chat/completions", chatBody("gpt-6-luna", nil))
	wantError(t, status, out, 400, luna, "reasoning_effort")
	if e := out["error"].(map[string]any); e["message"] != luna || e["code"] != nil {
		t.Errorf("error = %v, want exactly the API's message and a null code", e)
	}
	status, out = post(t, srv, "/v1/chat/completions", chatBody("gpt-5.6-sol", map[string]any{"reasoning_effort": "low"}))
	wantError(t, status, out, 400, "not supported for gpt-5.6-sol in /v1/chat/completions", "reasoning_effort")

	for _, ok := range []map[string]any{
		chatBody("gpt-6-luna", map[string]any{"reasoning_effort": "none"}),
		chatBody("gpt-5.4", nil), // its default is none
		chatBody("gpt-5.1", map[string]any{"reasoning_effort": "high"}),
		chatBody("llama3.1", map[string]any{"reasoning_effort": "high"}), // a compatible server's model
		{"model": "gpt-6-luna", "messages": []any{map[string]any{"role": "user", "content": "hi"}}},
	} {
		if status, out := post(t, srv, "/v1/chat/completions", ok); status != 200 {
			t.Errorf("%v refused: %d %v", ok, status, out)
		}
	}
}

// A GPT-6 model that does not accept none refuses it, in the API's words.
func TestEffortNoneRefused(t *testing.T) {
	srv := NewOpenAI()
	defer srv.Close()
	const want = "Unsupported value: 'none' is not supported with the 'gpt-6-astra' model. Supported values are: 'low', 'medium', 'high', 'xhigh', and 'max'."
	status, out := post(t, srv, "/v1/chat/completions", chatBody("gpt-6-astra", map[string]any{"reasoning_effort": "none"}))
	wantError(t, status, out, 400, want, "reasoning_effort")
	status, out = post(t, srv, "/v1/responses", map[string]any{"model": "gpt-6.1-sol", "input": "hi", "reasoning": map[string]any{"effort": "none"}})
	wantError(t, status, out, 400, "'none' is not supported with the 'gpt-6.1-sol' model", "reasoning.effort")
	if code := out["error"].(map[string]any)["code"]; code != "unsupported_value" {
		t.Errorf("code = %v", code)
	}
	// And gpt-6-luna takes none, but not minimal.
	if status, out := post(t, srv, "/v1/responses", map[string]any{"model": "gpt-6-luna", "input": "hi", "reasoning": map[string]any{"effort": "none"}}); status != 200 {
		t.Errorf("gpt-6-luna refused none: %v", out)
	}
	status, out = post(t, srv, "/v1/responses", map[string]any{"model": "gpt-6-luna", "input": "hi", "reasoning": map[string]any{"effort": "minimal"}})
	wantError(t, status, out, 400, "'minimal' is not supported with the 'gpt-6-luna' model", "reasoning.effort")
}

// An effort outside the API's enum is refused for any model.
func TestUnknownEffortRefused(t *testing.T) {
	srv := NewOpenAI()
	defer srv.Close()
	status, out := post(t, srv, "/v1/chat/completions", chatBody("any-model", map[string]any{"reasoning_effort": "turbo"}))
	wantError(t, status, out, 400, "Invalid value: 'turbo'", "reasoning_effort")
	status, out = post(t, srv, "/v1/responses", map[string]any{"model": "any-model", "input": "hi", "reasoning": map[string]any{"effort": "turbo"}})
	wantError(t, status, out, 400, "Invalid value: 'turbo'", "reasoning.effort")
}

// Sampling parameters are refused unless the effort is none.
// https://developers.openai.com/api/docs/guides/deployment-checklist
func TestSamplingNeedsEffortNone(t *testing.T) {
	srv := NewOpenAI()
	defer srv.Close()
	status, out := post(t, srv, "/v1/chat/completions", map[string]any{"model": "gpt-6-luna", "messages": []any{}, "temperature": 0.2})
	wantError(t, status, out, 400, "Unsupported parameter: 'temperature' is not supported with this model.", "temperature")
	status, out = post(t, srv, "/v1/responses", map[string]any{"model": "gpt-6-sol", "input": "hi", "top_p": 0.5, "reasoning": map[string]any{"effort": "low"}})
	wantError(t, status, out, 400, "'top_p' is not supported", "top_p")
	for path, body := range map[string]map[string]any{
		"/v1/chat/completions": {"model": "gpt-6-luna", "messages": []any{}, "temperature": 0.2, "reasoning_effort": "none"},
		"/v1/responses":        {"model": "gpt-6-luna", "input": "hi", "temperature": 0.2, "reasoning": map[string]any{"effort": "none"}},
	} {
		if status, out := post(t, srv, path, body); status != 200 {
			t.Errorf("%s with effort none refused: %v", path, out)
		}
	}
	if status, out := post(t, srv, "/v1/chat/completions", map[string]any{"model": "llama3.1", "messages": []any{}, "temperature": 0.2}); status != 200 {
		t.Errorf("a compatible server's model refused temperature: %v", out)
	}
}

// A scripted error is answered as scripted, even for a request the
// contract refuses: the script says what the server does.
func TestScriptedErrorWins(t *testing.T) {
	srv := NewOpenAI(Reply{Status: 429})
	defer srv.Close()
	status, _ := post(t, srv, "/v1/chat/completions", chatBody("gpt-6-luna", nil))
	if status != 429 {
		t.Errorf("status %d, want the scripted 429", status)
	}
}

// The existing helpers keep their shape.
func TestChatDefaults(t *testing.T) {
	srv := NewOpenAI()
	defer srv.Close()
	if srv.BaseURL() != srv.URL+"/v1" {
		t.Errorf("BaseURL = %q", srv.BaseURL())
	}
	status, out := post(t, srv, "/v1/chat/completions", chatBody("gpt-test", nil))
	if status != 200 || out["object"] != "chat.completion" {
		t.Fatalf("answer %d %v", status, out)
	}
	msg := out["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)
	call := msg["tool_calls"].([]any)[0].(map[string]any)
	if call["id"] != "call_fake_1" || call["function"].(map[string]any)["name"] != "refund" {
		t.Errorf("call = %v", call)
	}
	status, out = post(t, srv, "/v1/embeddings", map[string]any{})
	wantError(t, status, out, 404, "no such route", "")
}
