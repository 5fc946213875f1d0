// Package modeltest runs a fake Anthropic Messages API on loopback for
// tests: the official SDK talks to it over real HTTP. Each request gets the
// next scripted reply; when the script runs out the fake answers with a
// tool call for the first tool offered, or, when the request feeds tool
// results back, with end_turn.
package modeltest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// Reply is one scripted answer.
type Reply struct {
	Status  int               // 0 means 200 with a tool call
	Headers map[string]string // e.g. retry-after
	Body    string            // raw body; empty picks a default for Status
	Delay   time.Duration     // wait before answering (or until the request is cancelled)
	Block   chan struct{}     // if set, wait until closed (or the request is cancelled)
	// StopReason for a 200 answer; default "tool_use".
	StopReason string
}

// Request is what the fake received.
type Request struct {
	At     time.Time
	Header http.Header
	Body   map[string]any
	Raw    []byte
}

// Fake is a fake Messages API handler.
type Fake struct {
	// Then is the reply once the script has run out (default: a tool call).
	Then Reply
	// KeepRequests records requests for Requests; off for load runs.
	KeepRequests bool

	mu       sync.Mutex
	script   []Reply
	requests []Request
	count    int
	started  chan struct{} // receives a value each time a request arrives
}

// NewFake returns a handler that answers POST /v1/messages from script.
func NewFake(script ...Reply) *Fake {
	return &Fake{script: script, started: make(chan struct{}, 1024), KeepRequests: true}
}

// Server is a Fake listening on loopback.
type Server struct {
	*httptest.Server
	*Fake
}

// NewAnthropic starts a fake that answers POST /v1/messages from script.
func NewAnthropic(script ...Reply) *Server {
	f := NewFake(script...)
	return &Server{Server: httptest.NewServer(f), Fake: f}
}

// Requests returns a copy of the requests received so far.
func (s *Fake) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Started is signalled once per request as it arrives.
func (s *Fake) Started() <-chan struct{} { return s.started }

// answer does what every fake API does with a request: records it, takes
// the next scripted reply, signals Started, waits out the reply's Block and
// Delay (ok is false if the client gave up meanwhile), and sets the reply's
// headers and a request id under idHeader. The caller writes the status and
// the body in its API's shape.
func (s *Fake) answer(w http.ResponseWriter, r *http.Request, idHeader string) (rep Reply, body map[string]any, status int, ok bool) {
	raw, _ := io.ReadAll(r.Body)
	json.Unmarshal(raw, &body)
	s.mu.Lock()
	s.count++
	n := s.count
	if s.KeepRequests {
		s.requests = append(s.requests, Request{At: time.Now(), Header: r.Header.Clone(), Body: body, Raw: raw})
	}
	rep = s.Then
	if len(s.script) > 0 {
		rep, s.script = s.script[0], s.script[1:]
	}
	s.mu.Unlock()
	select {
	case s.started <- struct{}{}:
	default:
	}

	if rep.Block != nil {
		select {
		case <-rep.Block:
		case <-r.Context().Done():
			return rep, body, 0, false
		}
	}
	if rep.Delay > 0 {
		select {
		case <-time.After(rep.Delay):
		case <-r.Context().Done():
			return rep, body, 0, false
		}
	}
	for k, v := range rep.Headers {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(idHeader, fmt.Sprintf("req_fake_%d", n))
	status = rep.Status
	if status == 0 {
		status = http.StatusOK
	}
	return rep, body, status, true
}

// ServeHTTP answers one request.
func (s *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/messages" {
		http.Error(w, `{"type":"error","error":{"type":"not_found_error","message":"no such route"}}`, http.StatusNotFound)
		return
	}
	rep, body, status, ok := s.answer(w, r, "request-id")
	if !ok {
		return
	}
	w.WriteHeader(status)
	if rep.Body != "" {
		io.WriteString(w, rep.Body)
		return
	}
	if status != http.StatusOK {
		io.WriteString(w, errorBody(status))
		return
	}
	if rep.StopReason == "" && hasToolResults(body) {
		io.WriteString(w, endTurn(body))
		return
	}
	io.WriteString(w, toolUse(body, rep.StopReason))
}

// hasToolResults reports whether the request's last message carries
// tool_result blocks: the loop is feeding results back.
func hasToolResults(req map[string]any) bool {
	msgs, _ := req["messages"].([]any)
	if len(msgs) == 0 {
		return false
	}
	last, _ := msgs[len(msgs)-1].(map[string]any)
	content, _ := last["content"].([]any)
	for _, c := range content {
		if b, _ := c.(map[string]any); b["type"] == "tool_result" {
			return true
		}
	}
	return false
}

// endTurn answers a round that fed tool results back: the model is done.
func endTurn(req map[string]any) string {
	msg := map[string]any{
		"id": "msg_fake_end", "type": "message", "role": "assistant", "model": req["model"],
		"content":     []any{map[string]any{"type": "text", "text": "Done: the tool results are recorded."}},
		"stop_reason": "end_turn", "stop_sequence": nil,
		"usage": map[string]any{"input_tokens": 950, "output_tokens": 12, "cache_read_input_tokens": 700, "cache_creation_input_tokens": 0},
	}
	b, _ := json.Marshal(msg)
	return string(b)
}

func errorBody(status int) string {
	typ := map[int]string{400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
		404: "not_found_error", 429: "rate_limit_error", 529: "overloaded_error"}[status]
	if typ == "" {
		typ = "api_error"
	}
	return fmt.Sprintf(`{"type":"error","error":{"type":%q,"message":"fake %d %s"}}`, typ, status, typ)
}

// toolUse answers with a call to the first tool in the request, with an
// input that carries the seed fields.
func toolUse(req map[string]any, stopReason string) string {
	name := "none"
	if tools, ok := req["tools"].([]any); ok && len(tools) > 0 {
		if t, ok := tools[0].(map[string]any); ok {
			name, _ = t["name"].(string)
		}
	}
	if stopReason == "" {
		stopReason = "tool_use"
	}
	msg := map[string]any{
		"id": "msg_fake", "type": "message", "role": "assistant", "model": req["model"],
		"content": []any{
			map[string]any{"type": "text", "text": "Deciding from the event data."},
			map[string]any{"type": "tool_use", "id": "toolu_fake_1", "name": name,
				"input": map[string]any{"stripe_id": "obj_from_event", "amount": 1000, "customer": "cus_x", "reason": "fraudulent", "action": "accept"}},
		},
		"stop_reason": stopReason, "stop_sequence": nil,
		"usage": map[string]any{"input_tokens": 812, "output_tokens": 64, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0},
	}
	b, _ := json.Marshal(msg)
	return string(b)
}
