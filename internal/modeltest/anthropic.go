package modeltest

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
)

// Beta headers the fake reads.
const (
	// "Both the field and the input_transformations array require the
	// thinking-binding-controls-2026-08-01 beta header."
	// https://platform.claude.com/docs/en/build-with-claude/preserved-thinking
	betaBinding = "thinking-binding-controls-2026-08-01"
	// display "updates" is beta, thinking-display-updates-2026-08-18.
	// https://platform.claude.com/docs/en/models/sonnet-5-5/migration-guide#text-between-tool-calls
	betaDisplayUpdates = "thinking-display-updates-2026-08-18"
)

// serveAnthropic answers POST /v1/messages (and /v1/messages/count_tokens).
func (s *Fake) serveAnthropic(w http.ResponseWriter, r *http.Request) {
	countTokens := r.URL.Path == "/v1/messages/count_tokens"
	if r.Method != http.MethodPost || (r.URL.Path != "/v1/messages" && !countTokens) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, errorJSON("not_found_error", "The requested resource could not be found.", "req_fake_none"))
		return
	}
	rep, body, status, ok := s.answer(w, r, "request-id")
	if !ok {
		return
	}
	id := w.Header().Get("request-id")
	if rep.Body != "" {
		w.WriteHeader(status)
		io.WriteString(w, rep.Body)
		return
	}
	if status != http.StatusOK {
		s.settle(id, status, &APIError{Type: errorType(status), Message: fmt.Sprintf("fake %d %s", status, errorType(status))})
		w.WriteHeader(status)
		io.WriteString(w, errorBody(status, id))
		return
	}
	q := parseRequest(body, r.Header)
	st := &state{}
	if body == nil {
		s.refuseWith(w, id, q, bad("There was an issue with the format or content of your request. The body is not a JSON object."))
		return
	}
	if e := s.validate(q, st, countTokens); e != nil {
		s.refuseWith(w, id, q, e)
		return
	}
	if countTokens {
		w.WriteHeader(http.StatusOK)
		b, _ := json.Marshal(map[string]any{"input_tokens": inputTokens(q)})
		w.Write(b)
		return
	}
	msg := s.reply(q, st, rep, id)
	if q.raw["stream"] == true {
		writeStream(w, msg)
		return
	}
	w.WriteHeader(http.StatusOK)
	b, _ := json.Marshal(msg)
	w.Write(b)
}

// refuseWith answers e and records the refusal.
func (s *Fake) refuseWith(w http.ResponseWriter, id string, q *request, e *APIError) {
	// Recorded before the answer goes out, so a test sees it once its call returns.
	s.refuse(Refusal{RequestID: id, Model: q.Model, Status: http.StatusBadRequest, Type: e.Type, Message: e.Message})
	w.WriteHeader(http.StatusBadRequest)
	io.WriteString(w, errorJSON(e.Type, e.Message, id))
}

func bad(format string, args ...any) *APIError {
	return &APIError{Type: "invalid_request_error", Message: fmt.Sprintf(format, args...)}
}

// request is the part of a Messages request body the fake reads.
type request struct {
	raw      map[string]any
	header   http.Header
	Model    string
	spec     modelSpec
	known    bool
	Messages []message
	Tools    []map[string]any
}

type message struct {
	Role   string
	Blocks []map[string]any
}

// state is what validation worked out for the reply.
type state struct {
	thinking    string // the thinking type in effect: adaptive, enabled, disabled, between_tools, "" (off)
	effort      string
	display     string
	forced      string // tool_choice any/tool, or ""
	choiceNone  bool
	prevSig     string // hash of the last readable thinking block sent back, "" none
	transforms  []any  // input_transformations entries
	pauseResume bool   // the last message is a paused turn the fake issued
}

func parseRequest(body map[string]any, h http.Header) *request {
	q := &request{raw: body, header: h}
	q.Model, _ = body["model"].(string)
	q.spec, q.known = specOf(q.Model)
	msgs, _ := body["messages"].([]any)
	for _, m := range msgs {
		mm, _ := m.(map[string]any)
		role, _ := mm["role"].(string)
		q.Messages = append(q.Messages, message{Role: role, Blocks: blocksOf(mm["content"])})
	}
	tools, _ := body["tools"].([]any)
	for _, t := range tools {
		if tm, ok := t.(map[string]any); ok {
			q.Tools = append(q.Tools, tm)
		}
	}
	return q
}

// blocksOf is a message's content as blocks; a string is one text block.
func blocksOf(content any) []map[string]any {
	switch c := content.(type) {
	case string:
		return []map[string]any{{"type": "text", "text": c}}
	case []any:
		out := make([]map[string]any, 0, len(c))
		for _, b := range c {
			if bm, ok := b.(map[string]any); ok {
				out = append(out, bm)
			}
		}
		return out
	}
	return nil
}

func (q *request) beta(name string) bool {
	for _, v := range q.header.Values("anthropic-beta") {
		for _, b := range strings.Split(v, ",") {
			if strings.TrimSpace(b) == name {
				return true
			}
		}
	}
	return false
}

func (q *request) obj(key string) map[string]any {
	m, _ := q.raw[key].(map[string]any)
	return m
}

// customTools are the tools the model can call with tool_use (client
// tools: no type, or type "custom").
func (q *request) customTools() []map[string]any {
	var out []map[string]any
	for _, t := range q.Tools {
		if typ, _ := t["type"].(string); typ == "" || typ == "custom" {
			out = append(out, t)
		}
	}
	return out
}

// feedsToolResults reports whether the last message carries tool_result
// blocks: the loop is feeding results back.
func (q *request) feedsToolResults() bool {
	if len(q.Messages) == 0 {
		return false
	}
	last := q.Messages[len(q.Messages)-1]
	return last.Role == "user" && hasType(last.Blocks, "tool_result")
}

func hasType(blocks []map[string]any, typ string) bool {
	for _, b := range blocks {
		if b["type"] == typ {
			return true
		}
	}
	return false
}

func isThinking(b map[string]any) bool {
	return b["type"] == "thinking" || b["type"] == "redacted_thinking"
}

// validate refuses what the Messages API refuses, with its message. For a
// model the fake does not know only the structural checks run.
func (s *Fake) validate(q *request, st *state, countTokens bool) *APIError {
	if q.Model == "" {
		return bad("model: Field required")
	}
	if !countTokens {
		mt, has := q.raw["max_tokens"]
		f, num := mt.(float64)
		switch {
		case !has:
			return bad("max_tokens: Field required")
		case !num || f != math.Trunc(f):
			return bad("max_tokens: Input should be a valid integer")
		case f < 1:
			return bad("max_tokens: Input should be greater than or equal to 1")
		case q.known && int(f) > q.spec.MaxOutput:
			// Max output per model: https://platform.claude.com/docs/about-claude/models/overview
			return bad("max_tokens: %d > %d, which is the maximum allowed number of output tokens for %s", int(f), q.spec.MaxOutput, q.Model)
		}
	}
	if _, has := q.raw["messages"]; !has {
		return bad("messages: Field required")
	}
	if len(q.Messages) == 0 {
		return bad("messages: at least one message is required")
	}
	for i, m := range q.Messages {
		if m.Role != "user" && m.Role != "assistant" && !(m.Role == "system" && i > 0) {
			return bad("messages.%d.role: Input should be 'user' or 'assistant'", i)
		}
	}
	if !q.known {
		return nil
	}
	for _, check := range []func(*request, *state) *APIError{
		checkEffort, checkThinking, checkSampling, checkToolChoice, checkStrictTools,
	} {
		if e := check(q, st); e != nil {
			return e
		}
	}
	st.pauseResume = s.pausedTurn(q)
	if e := checkPrefill(q, st); e != nil {
		return e
	}
	if e := checkToolPairs(q, st); e != nil {
		return e
	}
	return s.checkThinkingBlocks(q, st)
}

// checkEffort: output_config.effort must be a level the model accepts.
// Levels per model: https://platform.claude.com/docs/en/build-with-claude/effort
// (all five on the 5.5-class models: "Claude Sonnet 5.5 has five effort
// levels: low, medium, high, xhigh, and max. The default on the Claude API
// is high." https://platform.claude.com/docs/en/models/sonnet-5-5/migration-guide#recommended-changes;
// "its default on this model is medium" https://platform.claude.com/docs/en/models/opus-5-5/whats-new-opus-5-5).
// The wording of the refusal is not in the docs; it is the API's as
// reported by its users ("output_config.effort: Input should be 'low',
// 'medium', 'high', 'xhigh' or 'max'").
func checkEffort(q *request, st *state) *APIError {
	st.effort = q.spec.DefaultEffort
	oc := q.obj("output_config")
	e, has := oc["effort"]
	if !has {
		return nil
	}
	if q.spec.Efforts == nil {
		return bad("output_config.effort: Extra inputs are not permitted")
	}
	v, _ := e.(string)
	if !slices.Contains(q.spec.Efforts, v) {
		return bad("output_config.effort: Input should be %s", quoteList(q.spec.Efforts))
	}
	st.effort = v
	return nil
}

func quoteList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = "'" + v + "'"
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// Documented thinking refusals.
// https://platform.claude.com/docs/en/build-with-claude/thinking-troubleshooting
// https://platform.claude.com/docs/en/api/errors#common-validation-errors
const (
	msgEnabledRefused  = `"thinking.type.enabled" is not supported for this model. Use "thinking.type.adaptive" and "output_config.effort" to control thinking behavior.`
	msgDisabledRefused = `"thinking.type.disabled" is not supported for this model. Use "thinking.type.adaptive" and "output_config.effort" to control thinking behavior.`
	// Sonnet 5.5's refusal of "disabled", as the current troubleshooting
	// page gives it. (The migration guide of 2026-09-29 gave an earlier
	// wording: "\"thinking.type.disabled\" is not supported for this model.
	// Use \"thinking.type.between_tools\" for the lowest thinking setting,
	// or ...".)
	msgDisabledUseBetweenTools = `To turn thinking off on this model, send "thinking": {"type": "between_tools"} instead of {"type": "disabled"}. The model does not think before responding. The short updates it writes between tool calls come back as thinking blocks.`
	msgBetweenToolsRefused     = `"thinking.type.between_tools" is not supported for this model.`
	msgAdaptiveRefused         = `adaptive thinking is not supported on this model`
)

// msgEffortThinkingOff: between_tools (Sonnet 5.5) or disabled (Haiku 5.5,
// Opus 5) at effort xhigh or max. "The message names the level the request
// sent."
func msgEffortThinkingOff(effort string) string {
	return fmt.Sprintf("output_config.effort '%s' is not supported when thinking is disabled on this model. Use effort 'high' or below, or enable thinking.", effort)
}

// checkThinking: the thinking types each model accepts.
//   - Opus 5.5, Fable 5.x, Mythos 5.x: adaptive only, always on; enabled and
//     disabled refused. https://platform.claude.com/docs/en/models/opus-5-5/whats-new-opus-5-5#thinking-cant-be-disabled
//   - Sonnet 5.5: adaptive and between_tools; "On Claude Sonnet 5.5,
//     disabled returns a 400 invalid_request_error"; "between_tools ... It's
//     accepted at low, medium, and high effort. At xhigh or max, it returns a
//     400 error"; "between_tools takes no other field: display,
//     budget_tokens, or block_binding sent with it returns a 400 error".
//     https://platform.claude.com/docs/en/models/sonnet-5-5/migration-guide#turn-off-up-front-thinking
//   - Haiku 5.5 and Opus 5 accept disabled at effort high or below.
//     https://platform.claude.com/docs/en/build-with-claude/thinking-troubleshooting
//   - "Only Claude Sonnet 5.5 accepts between_tools" (same page).
func checkThinking(q *request, st *state) *APIError {
	sp := q.spec
	st.display = sp.Display
	th, present := q.raw["thinking"].(map[string]any)
	if _, has := q.raw["thinking"]; has && !present {
		return bad("thinking: Input should be a valid dictionary or object to extract fields from")
	}
	typ := ""
	if present {
		typ, _ = th["type"].(string)
		if typ == "" {
			return bad("thinking.type: Field required")
		}
	}
	if bb, has := th["block_binding"]; has {
		// "Sending thinking.block_binding without the
		// thinking-binding-controls-2026-08-01 beta header returns a 400
		// invalid_request_error whose message ends in: block_binding: Extra
		// inputs are not permitted" https://platform.claude.com/docs/en/api/errors
		if !q.beta(betaBinding) {
			return bad("thinking.%s.block_binding: Extra inputs are not permitted", typ)
		}
		bm, _ := bb.(map[string]any)
		if v, has := bm["prefix_mismatch_behavior"]; has && v != "error" && v != "drop_block" {
			return bad("thinking.%s.block_binding.prefix_mismatch_behavior: Input should be 'error' or 'drop_block'", typ)
		}
	}
	high := st.effort == "xhigh" || st.effort == "max"
	switch typ {
	case "":
		if sp.Thinking != "off" {
			st.thinking = "adaptive"
		}
	case "adaptive":
		if !sp.Adaptive {
			return bad("%s", msgAdaptiveRefused)
		}
		st.thinking = typ
	case "enabled":
		if !sp.Extended {
			return bad("%s", msgEnabledRefused)
		}
		b, has := th["budget_tokens"].(float64)
		switch {
		case !has:
			return bad("thinking.enabled.budget_tokens: Field required")
		case b < 1024:
			return bad("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
		case b >= maxTokens(q) && !q.beta("interleaved-thinking-2025-05-14"):
			return bad("`max_tokens` must be greater than `thinking.budget_tokens`.")
		}
		st.thinking = typ
	case "disabled":
		switch {
		case sp.BetweenTools:
			return bad("%s", msgDisabledUseBetweenTools)
		case sp.Thinking == "always":
			return bad("%s", msgDisabledRefused)
		case sp.DisabledUpToHigh && high:
			return bad("%s", msgEffortThinkingOff(st.effort))
		}
		st.thinking = ""
	case "between_tools":
		if !sp.BetweenTools {
			return bad("%s", msgBetweenToolsRefused)
		}
		if high {
			return bad("%s", msgEffortThinkingOff(st.effort))
		}
		for k := range th {
			if k != "type" {
				return bad("thinking.between_tools.%s: Extra inputs are not permitted", k)
			}
		}
		st.thinking = typ
	default:
		return bad("thinking: Input tag '%s' found using 'type' does not match any of the expected tags: 'adaptive', 'between_tools', 'disabled', 'enabled'", typ)
	}
	if d, has := th["display"]; has {
		// display is "summarized", "omitted", or "updates" (beta).
		// https://platform.claude.com/docs/en/build-with-claude/thinking-troubleshooting#the-thinking-field-is-empty-in-the-response
		switch d {
		case "summarized", "omitted":
		case "updates":
			if !q.beta(betaDisplayUpdates) {
				return bad("thinking.%s.display: Input should be 'summarized' or 'omitted' (\"updates\" requires the %s beta header)", typ, betaDisplayUpdates)
			}
		default:
			return bad("thinking.%s.display: Input should be 'summarized' or 'omitted'", typ)
		}
		st.display, _ = d.(string)
	}
	return nil
}

func maxTokens(q *request) float64 {
	f, _ := q.raw["max_tokens"].(float64)
	return f
}

// checkSampling: "Setting temperature, top_p, or top_k to a non-default
// value returns a 400 error." https://platform.claude.com/docs/en/models/sonnet-5-5/overview
// ("Omit temperature, top_p, and top_k, or leave them at their defaults:
// any other value is rejected." https://platform.claude.com/docs/en/models/opus-5-5/migration-guide)
// The docs give no wording for the error; this one is the fake's.
func checkSampling(q *request, _ *state) *APIError {
	if !q.spec.NoSampling {
		return nil
	}
	for _, k := range []string{"temperature", "top_p"} {
		if v, has := q.raw[k]; has && v != 1.0 {
			return bad("%s: non-default values are not supported for this model; omit %s", k, k)
		}
	}
	if _, has := q.raw["top_k"]; has {
		return bad("top_k: not supported for this model; omit top_k")
	}
	return nil
}

// msgForcedToolChoice is the documented refusal of tool_choice any/tool on
// Claude Opus 5.5, Sonnet 5.5, Fable 5.1 and Mythos 5.1.
// https://platform.claude.com/docs/en/api/errors#forced-tool-use-not-supported
// https://platform.claude.com/docs/en/models/sonnet-5-5/migration-guide#forced-tool-use
const msgForcedToolChoice = `tool_choice: type "tool" and "any" are not supported for this model.`

// checkToolChoice: forced tool use is refused on the 5.5-class models;
// older models accept it ("tool_choice options that force tool use return
// an error with manual extended thinking (thinking: {type: "enabled"});
// adaptive thinking supports forced tool use",
// https://platform.claude.com/docs/en/build-with-claude/thinking-tool-workflows),
// and then skip thinking: "Forced tool_choice ... also returns no thinking
// block: the response starts with a tool call."
// https://platform.claude.com/docs/en/build-with-claude/thinking-troubleshooting
func checkToolChoice(q *request, st *state) *APIError {
	tc, has := q.raw["tool_choice"].(map[string]any)
	if !has {
		return nil
	}
	typ, _ := tc["type"].(string)
	switch typ {
	case "auto":
	case "none":
		st.choiceNone = true
	case "any", "tool":
		if !q.spec.ForcedToolChoice {
			return bad("%s", msgForcedToolChoice)
		}
		if st.thinking == "enabled" {
			// The API's wording, as its users report it; the docs say only
			// that it "returns an error".
			return bad("Thinking may not be enabled when tool_choice forces tool use.")
		}
		if len(q.customTools()) == 0 {
			return bad("tool_choice: type %q requires tools", typ)
		}
		if typ == "tool" {
			name, _ := tc["name"].(string)
			found := false
			for _, t := range q.customTools() {
				if t["name"] == name {
					found = true
				}
			}
			if !found {
				return bad("tool_choice.name: no tool named %q in tools", name)
			}
		}
		st.forced = typ
	default:
		return bad("tool_choice: Input tag '%s' found using 'type' does not match any of the expected tags: 'auto', 'any', 'tool', 'none'", typ)
	}
	return nil
}

// checkPrefill: "Claude 4.6 and later models ... do not support prefilling
// assistant messages." https://platform.claude.com/docs/en/api/errors#prefill-not-supported
// A paused turn sent back to continue (stop_reason pause_turn: "Send the
// assistant content back to continue") is not a prefill.
func checkPrefill(q *request, st *state) *APIError {
	last := q.Messages[len(q.Messages)-1]
	if !q.spec.NoPrefill || last.Role != "assistant" || st.pauseResume || !hasType(last.Blocks, "text") {
		return nil
	}
	return bad("This model does not support assistant message prefill. The conversation must end with a user message.")
}

// checkToolPairs: every tool_use has its tool_result in the next message,
// and every tool_result answers a tool_use of the previous one. The docs
// read say "Run the tool and return the result"; the wording of these
// refusals is the API's as its users report it.
func checkToolPairs(q *request, st *state) *APIError {
	for i, m := range q.Messages {
		if m.Role == "assistant" {
			var ids []string
			for _, b := range m.Blocks {
				if b["type"] == "tool_use" {
					id, _ := b["id"].(string)
					ids = append(ids, id)
				}
			}
			if len(ids) == 0 {
				continue
			}
			answered := map[string]bool{}
			if i+1 < len(q.Messages) && q.Messages[i+1].Role == "user" {
				for _, b := range q.Messages[i+1].Blocks {
					if b["type"] == "tool_result" {
						id, _ := b["tool_use_id"].(string)
						answered[id] = true
					}
				}
			}
			var missing []string
			for _, id := range ids {
				if !answered[id] {
					missing = append(missing, id)
				}
			}
			if len(missing) > 0 {
				return bad("messages.%d: `tool_use` ids were found without `tool_result` blocks immediately after: %s. Each `tool_use` block must have a corresponding `tool_result` block in the next message.", i, strings.Join(missing, ", "))
			}
		}
		if m.Role == "user" {
			asked := map[string]bool{}
			if i > 0 && q.Messages[i-1].Role == "assistant" {
				for _, b := range q.Messages[i-1].Blocks {
					if b["type"] == "tool_use" {
						id, _ := b["id"].(string)
						asked[id] = true
					}
				}
			}
			for j, b := range m.Blocks {
				if b["type"] != "tool_result" {
					continue
				}
				if id, _ := b["tool_use_id"].(string); !asked[id] {
					return bad("messages.%d.content.%d: unexpected `tool_use_id` found in `tool_result` blocks: %s. Each `tool_result` block must have a corresponding `tool_use` block in the previous message.", i, j, id)
				}
			}
		}
	}
	return nil
}

// inputTokens is the fake's input token count: fixed, as the fake always
// answered (812 for a first round, 950 when tool results come back).
func inputTokens(q *request) int {
	if q.feedsToolResults() {
		return 950
	}
	return 812
}
