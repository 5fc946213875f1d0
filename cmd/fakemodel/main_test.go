package main

// fakemodel serves the Messages API contract of internal/modeltest
// (https://platform.claude.com/docs/en/api/messages) and the rate-limit
// headers of https://platform.claude.com/docs/en/api/rate-limits.

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/agenthook/agenthook/internal/modeltest"
)

func post(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url+"/v1/messages", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// The standalone fake keeps the contract: a request the real API refuses is
// refused and counted under "invalid"; the rate limit still answers 429.
func TestContractAndStats(t *testing.T) {
	f := modeltest.NewFake()
	f.KeepRequests = false
	var seen []modeltest.Refusal
	f.OnRefusal = func(r modeltest.Refusal) { seen = append(seen, r) }
	h := newLimited(f, 2, 2)
	h.invalid = f.RefusalCount
	srv := httptest.NewServer(h)
	defer srv.Close()

	const tools = `"tools":[{"name":"refund","input_schema":{"type":"object","properties":{"stripe_id":{"type":"string"}}}}]`
	code, body := post(t, srv.URL, `{"model":"claude-sonnet-5-5","max_tokens":16000,"tool_choice":{"type":"any"},`+tools+`,"messages":[{"role":"user","content":"hi"}]}`)
	errObj, _ := body["error"].(map[string]any)
	if code != 400 || errObj["message"] != `tool_choice: type "tool" and "any" are not supported for this model.` || body["request_id"] == nil {
		t.Fatalf("forced tool choice: %d %v", code, body)
	}
	code, body = post(t, srv.URL, `{"model":"claude-sonnet-5-5","max_tokens":16000,`+tools+`,"messages":[{"role":"user","content":"hi"}]}`)
	content, _ := body["content"].([]any)
	if first, _ := content[0].(map[string]any); code != 200 || first["type"] != "thinking" || body["stop_reason"] != "tool_use" {
		t.Fatalf("auto: %d %v", code, body)
	}
	code, body = post(t, srv.URL, `{"model":"claude-sonnet-5-5","max_tokens":16000,"messages":[{"role":"user","content":"hi"}]}`)
	if code != 429 || body["request_id"] == nil {
		t.Fatalf("over the limit: %d %v", code, body)
	}

	resp, err := http.Get(srv.URL + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st stats
	json.NewDecoder(resp.Body).Decode(&st)
	if st.Requests != 3 || st.OK != 2 || st.Refused != 1 || st.Invalid != 1 || len(seen) != 1 {
		t.Fatalf("stats %+v, refusals %v", st, seen)
	}
}
