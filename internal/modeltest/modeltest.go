// Package modeltest runs fake model APIs on loopback for tests: the official
// SDKs talk to them over real HTTP. Each request gets the next scripted
// reply; when the script runs out the fake answers with a tool call for the
// first tool offered, or, when the request feeds tool results back, with
// end_turn.
//
// The Anthropic fake (anthropic*.go) keeps the Messages API's documented
// contract for the Claude models it knows (see anthropic_models.go): it
// refuses with the documented 400 what the real API refuses (forced tool
// choice on the 5.5-class models, thinking settings a model does not take,
// effort values, strict schemas outside the supported subset, thinking
// blocks dropped, edited or replayed under another conversation), and it
// answers in the documented shape (thinking blocks with signatures bound to
// the model and the conversation, usage with thinking tokens, stop
// reasons). A model id it does not know gets the old lenient behaviour.
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
	// StopReason for a 200 answer. "" calls a tool, or ends the turn with
	// text when the request feeds tool results back. "tool_use" always calls
	// a tool; "end_turn" answers with text only; "max_tokens" and
	// "model_context_window_exceeded" cut the content; "stop_sequence" cuts
	// the text at the request's first stop sequence; "pause_turn" answers
	// with the content so far, to be sent back as it is to continue;
	// "refusal" declines, with stop_details. Any other value is sent as it
	// is on a tool call.
	StopReason string
	// NoTool: the model declines to call a tool and ends the turn with text
	// (what a model may do under tool_choice auto).
	NoTool bool
	// Text replaces the answer's text block.
	Text string
	// Tool names the tool to call; default the one tool_choice forces, else
	// the first tool offered.
	Tool string
	// Redacted adds a redacted_thinking block after the thinking block (on
	// a reply that thinks).
	Redacted bool
	// ThinkingTokens replaces the thinking tokens the reply spends (on a
	// reply that thinks); 0 spends the fake's amount for the effort.
	ThinkingTokens int
}

// Request is what the fake received.
type Request struct {
	At     time.Time
	Header http.Header
	Body   map[string]any
	Raw    []byte
	// ID is the request id the fake answered with (request-id header).
	ID string
	// Status is the HTTP status the fake answered; 0 while it is still
	// waiting or when the client gave up.
	Status int
	// Error is the error the fake answered with; nil on success.
	Error *APIError
}

// APIError is an error the fake answered with:
// {"type":"error","error":{"type":Type,"message":Message},"request_id":...}.
type APIError struct {
	Type    string
	Message string
}

func (e *APIError) Error() string { return e.Type + ": " + e.Message }

// Refusal is a request the fake refused because the real API would: a 4xx
// it chose itself, not one scripted with Reply.Status.
type Refusal struct {
	RequestID string
	Model     string
	Status    int
	Type      string
	Message   string
}

// Fake is a fake Messages API handler.
type Fake struct {
	// Then is the reply once the script has run out (default: a tool call).
	Then Reply
	// KeepRequests records requests for Requests and Refusals; off for load
	// runs.
	KeepRequests bool
	// SigningKey signs the thinking blocks the fake issues and verifies the
	// ones sent back. Nil uses a fixed key, so signatures stay valid across
	// fakes and restarts (cmd/fakemodel); a fake with another key refuses
	// them as tampered.
	SigningKey []byte
	// OnRefusal, if set, is called for each refusal (also when
	// KeepRequests is off).
	OnRefusal func(Refusal)

	mu       sync.Mutex
	script   []Reply
	requests []Request
	refusals []Refusal
	refused  int
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

// Requests returns a copy of the requests received so far, refused ones
// included.
func (s *Fake) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Refusals returns the requests the fake refused as the real API would,
// in order.
func (s *Fake) Refusals() []Refusal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Refusal(nil), s.refusals...)
}

// RefusalCount is how many requests the fake refused, counted also when
// KeepRequests is off.
func (s *Fake) RefusalCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
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
	id := fmt.Sprintf("req_fake_%d", n)
	if s.KeepRequests {
		s.requests = append(s.requests, Request{At: time.Now(), Header: r.Header.Clone(), Body: body, Raw: raw, ID: id})
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
	w.Header().Set(idHeader, id)
	status = rep.Status
	if status == 0 {
		status = http.StatusOK
	}
	s.settle(id, status, nil)
	return rep, body, status, true
}

// settle records how the request with id was answered.
func (s *Fake) settle(id string, status int, e *APIError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.requests) - 1; i >= 0; i-- {
		if s.requests[i].ID == id {
			s.requests[i].Status, s.requests[i].Error = status, e
			return
		}
	}
}

// refuse records a refusal the fake chose and reports it to OnRefusal.
func (s *Fake) refuse(rf Refusal) {
	s.settle(rf.RequestID, rf.Status, &APIError{Type: rf.Type, Message: rf.Message})
	s.mu.Lock()
	s.refused++
	if s.KeepRequests {
		s.refusals = append(s.refusals, rf)
	}
	hook := s.OnRefusal
	s.mu.Unlock()
	if hook != nil {
		hook(rf)
	}
}

// ServeHTTP answers one Messages API request (see anthropic.go).
func (s *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.serveAnthropic(w, r)
}

// errorType is the Messages API error type for an HTTP status.
// https://platform.claude.com/docs/en/api/errors
func errorType(status int) string {
	typ := map[int]string{400: "invalid_request_error", 401: "authentication_error", 402: "billing_error", 403: "permission_error",
		404: "not_found_error", 409: "conflict_error", 413: "request_too_large", 429: "rate_limit_error",
		500: "api_error", 504: "timeout_error", 529: "overloaded_error"}[status]
	if typ == "" {
		typ = "api_error"
	}
	return typ
}

// errorJSON is an error body in the documented shape: "The API always
// returns errors as JSON, with a top-level error object that always
// includes a type and message value. The response also includes a
// request_id field." https://platform.claude.com/docs/en/api/errors#error-shapes
func errorJSON(typ, msg, requestID string) string {
	b, _ := json.Marshal(map[string]any{
		"type":       "error",
		"error":      map[string]any{"type": typ, "message": msg},
		"request_id": requestID,
	})
	return string(b)
}

// errorBody is the default body of a scripted error status.
func errorBody(status int, requestID string) string {
	typ := errorType(status)
	return errorJSON(typ, fmt.Sprintf("fake %d %s", status, typ), requestID)
}
