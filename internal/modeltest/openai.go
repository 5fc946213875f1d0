package modeltest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
)

// OpenAIFake is a fake OpenAI API handler: Chat Completions (POST
// /v1/chat/completions) and the Responses API (POST /v1/responses). It
// shares Fake's script, request log and Started signal; only the wire
// format differs.
//
// For a 200 Chat Completions answer without a Body it calls the first tool
// offered, with the same input as the Anthropic fake, or, when the request
// feeds tool results back (its last message has role "tool") and no
// StopReason is scripted, finishes with finish_reason stop.
// Reply.StopReason sets finish_reason, in either vocabulary:
// tool_use/end_turn/max_tokens map to tool_calls/stop/length, anything
// else is sent as it is. The Responses API's answers are described at
// serveResponses.
//
// Both endpoints refuse what OpenAI documents it refuses (openai_contract.go,
// each rule with its source), whatever the script says, unless the scripted
// reply is itself an error: a reasoning effort the model does not accept,
// function tools on Chat Completions with a GPT-5.4-or-later model whose
// effort is not none, sampling parameters with an effort other than none,
// and, on Responses, reasoning or tool-call items that do not match what
// this fake issued.
type OpenAIFake struct {
	*Fake

	mu      sync.Mutex
	key     []byte            // signs the fake's encrypted reasoning
	n       int               // Responses answers so far, for item ids
	fcRS    map[string]string // function_call item id -> the reasoning item issued with it
	callRS  map[string]string // call_id -> the reasoning item issued with it
	dropped []DroppedReasoning
}

// OpenAIServer is an OpenAIFake listening on loopback. Point a provider at
// BaseURL().
type OpenAIServer struct {
	*httptest.Server
	*OpenAIFake
}

// NewOpenAI starts a fake that answers POST /v1/chat/completions and POST
// /v1/responses from script.
func NewOpenAI(script ...Reply) *OpenAIServer {
	f := &OpenAIFake{Fake: NewFake(script...)}
	return &OpenAIServer{Server: httptest.NewServer(f), OpenAIFake: f}
}

// BaseURL is the base URL an OpenAI client uses: the server's URL + "/v1".
func (s *OpenAIServer) BaseURL() string { return s.URL + "/v1" }

// ServeHTTP answers one request.
func (s *OpenAIFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/chat/completions":
		s.serveChat(w, r)
	case r.Method == http.MethodPost && r.URL.Path == "/v1/responses":
		s.serveResponses(w, r)
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, openAIError(http.StatusNotFound, "no such route: "+r.Method+" "+r.URL.Path))
	}
}

// serveChat answers one Chat Completions request.
func (s *OpenAIFake) serveChat(w http.ResponseWriter, r *http.Request) {
	rep, body, status, ok := s.answer(w, r, "x-request-id")
	if !ok {
		return
	}
	if status == http.StatusOK {
		if ref := oaiChatRefusal(body); ref != nil {
			w.WriteHeader(ref.status)
			io.WriteString(w, ref.body)
			return
		}
	}
	w.WriteHeader(status)
	switch {
	case rep.Body != "":
		io.WriteString(w, rep.Body)
	case status != http.StatusOK:
		io.WriteString(w, openAIError(status, ""))
	case rep.StopReason == "" && lastRole(body) == "tool":
		// The loop is feeding tool results back: the model is done.
		model, _ := body["model"].(string)
		io.WriteString(w, OpenAIBody(model, "stop", "Done: the tool results are recorded."))
	default:
		name, args := "none", oaiArguments
		if tools, ok := body["tools"].([]any); ok && len(tools) > 0 {
			if t, ok := tools[0].(map[string]any); ok {
				if fn, ok := t["function"].(map[string]any); ok {
					name, _ = fn["name"].(string)
					args = oaiToolArguments(fn["parameters"])
				}
			}
		}
		model, _ := body["model"].(string)
		io.WriteString(w, OpenAIBody(model, finishReason(rep.StopReason), "Deciding from the event data.",
			OpenAICall{ID: "call_fake_1", Name: name, Arguments: args}))
	}
}

// oaiToolArguments generates a call's arguments from the function's
// parameters schema, as the Anthropic fake does (toolInput); a tool with no
// schema gets oaiArguments.
func oaiToolArguments(parameters any) string {
	schema, ok := parameters.(map[string]any)
	if !ok {
		return oaiArguments
	}
	b, err := json.Marshal(toolInput(schema))
	if err != nil {
		return oaiArguments
	}
	return string(b)
}

// oaiArguments is the default call's input, the Anthropic fake's seed
// fields.
const oaiArguments = `{"stripe_id":"obj_from_event","amount":1000,"customer":"cus_x","reason":"fraudulent","action":"accept"}`

// OpenAICall is one tool call in an OpenAIBody answer.
type OpenAICall struct {
	ID        string // omitted from the JSON when empty
	Name      string
	Arguments string // sent verbatim, valid JSON or not
}

// OpenAIBody returns a chat.completion answer with one choice: text (null
// when empty), the calls and finish_reason, and a fixed usage of 812
// prompt tokens (200 of them cached) and 64 completion tokens.
func OpenAIBody(model, finishReason, text string, calls ...OpenAICall) string {
	msg := map[string]any{"role": "assistant", "content": nil, "refusal": nil}
	if text != "" {
		msg["content"] = text
	}
	if len(calls) > 0 {
		tcs := make([]any, len(calls))
		for i, c := range calls {
			tc := map[string]any{"type": "function", "function": map[string]any{"name": c.Name, "arguments": c.Arguments}}
			if c.ID != "" {
				tc["id"] = c.ID
			}
			tcs[i] = tc
		}
		msg["tool_calls"] = tcs
	}
	b, _ := json.Marshal(map[string]any{
		"id": "chatcmpl_fake", "object": "chat.completion", "created": 1767225600, "model": model,
		"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": finishReason, "logprobs": nil}},
		"usage": map[string]any{"prompt_tokens": 812, "completion_tokens": 64, "total_tokens": 876,
			"prompt_tokens_details": map[string]any{"cached_tokens": 200}},
	})
	return string(b)
}

func finishReason(stop string) string {
	switch stop {
	case "", "tool_use":
		return "tool_calls"
	case "end_turn":
		return "stop"
	case "max_tokens":
		return "length"
	default:
		return stop
	}
}

func openAIError(status int, msg string) string {
	typ := map[int]string{400: "invalid_request_error", 401: "invalid_request_error", 403: "permission_error",
		404: "invalid_request_error", 429: "rate_limit_exceeded"}[status]
	if typ == "" {
		typ = "server_error"
	}
	if msg == "" {
		msg = fmt.Sprintf("fake %d %s", status, typ)
	}
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": nil}})
	return string(b)
}

// lastRole is the role of a request's last message.
func lastRole(req map[string]any) string {
	msgs, _ := req["messages"].([]any)
	if len(msgs) == 0 {
		return ""
	}
	last, _ := msgs[len(msgs)-1].(map[string]any)
	role, _ := last["role"].(string)
	return role
}
