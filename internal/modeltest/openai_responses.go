package modeltest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
)

// DroppedReasoning is a reasoning item the fake issued that a later
// request did not carry back in a form the model could use. OpenAI does
// not refuse such a request: "If you edit, shorten, or insert a message in
// that prefix, the API drops the affected reasoning. The request can
// continue with the conversation you provide, and the model can generate
// new reasoning." (https://developers.openai.com/api/docs/guides/preserved-reasoning)
// So neither does the fake; it records the loss for tests to assert.
type DroppedReasoning struct {
	ID string // the reasoning item's id, rs_...
	// Why: "not sent back" (a call it came with went back without it) or
	// "prefix changed" (the conversation before it is not the one it was
	// issued after).
	Why string
}

// DroppedReasoning returns the reasoning the fake's Responses API has
// dropped so far, in order.
func (s *OpenAIFake) DroppedReasoning() []DroppedReasoning {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.dropped)
}

// serveResponses answers one Responses API request.
//
// For a 200 answer without a Body: when the request feeds tool results
// back (its last input item is a function_call_output) and no StopReason
// is scripted, a message ("Done: the tool results are recorded."), status
// completed; otherwise a message ("Deciding from the event data.") and a
// function_call to the first tool offered, with the Chat Completions
// fake's input. Reply.StopReason: end_turn is the message alone,
// max_tokens (or max_output_tokens) status incomplete with
// incomplete_details.reason max_output_tokens, content_filter status
// incomplete with reason content_filter, refusal a message whose content
// is a refusal item.
//
// A reasoning model (one the contract table knows, at an effort other
// than none, or any model asked for an effort other than none) starts its
// output with a reasoning item, and when the request has store false or
// includes reasoning.encrypted_content, the item carries encrypted_content
// signed by this fake over the conversation before it. A later request
// must send it back as it came: the fake refuses altered encrypted content,
// a reasoning item sent by id alone under store false, a reasoning item with
// nothing after it, and a function_call item sent with its id but without
// the reasoning item issued with it, in the API's words. Reasoning dropped
// in the ways OpenAI tolerates is recorded (DroppedReasoning).
func (s *OpenAIFake) serveResponses(w http.ResponseWriter, r *http.Request) {
	rep, body, status, ok := s.answer(w, r, "x-request-id")
	if !ok {
		return
	}
	if status == http.StatusOK {
		ref, dropped := s.responsesRefusal(body)
		if ref != nil {
			w.WriteHeader(ref.status)
			io.WriteString(w, ref.body)
			return
		}
		s.mu.Lock()
		s.dropped = append(s.dropped, dropped...)
		s.mu.Unlock()
	}
	w.WriteHeader(status)
	switch {
	case rep.Body != "":
		io.WriteString(w, rep.Body)
	case status != http.StatusOK:
		io.WriteString(w, openAIError(status, ""))
	default:
		io.WriteString(w, s.responsesAnswer(body, rep.StopReason))
	}
}

// responsesRefusal is what the Responses API refuses of a request, or the
// reasoning it would drop without refusing.
func (s *OpenAIFake) responsesRefusal(body map[string]any) (*oaiRefusal, []DroppedReasoning) {
	model, _ := body["model"].(string)
	// "Unsupported parameter: 'reasoning_effort'. In the Responses API,
	// this parameter has moved to 'reasoning.effort'."
	// (https://github.com/OpenHands/software-agent-sdk/issues/755)
	if _, ok := body["reasoning_effort"]; ok {
		return oaiBadRequest("Unsupported parameter: 'reasoning_effort'. In the Responses API, this parameter has moved to 'reasoning.effort'. Try again with the new parameter. See the API documentation for more information: https://platform.openai.com/docs/api-reference/responses/create.",
			"", "unsupported_parameter"), nil
	}
	reasoning, _ := body["reasoning"].(map[string]any)
	sent, _ := reasoning["effort"].(string)
	if r := oaiCheckEffort(model, sent, "reasoning.effort"); r != nil {
		return r, nil
	}
	if r := oaiCheckSampling(body, model, oaiEffort(model, sent), "temperature", "top_p", "top_logprobs"); r != nil {
		return r, nil
	}
	tools, _ := body["tools"].([]any)
	for i, t := range tools {
		tool, _ := t.(map[string]any)
		if tool["type"] != "function" || tool["strict"] != true {
			continue
		}
		name, _ := tool["name"].(string)
		schema, _ := tool["parameters"].(map[string]any)
		if r := oaiCheckStrict(name, i, schema); r != nil {
			return r, nil
		}
	}
	return s.checkItems(body)
}

// checkItems walks the input items the way the API checks them. The
// refusals, in the API's words:
//
//   - "The encrypted content gAAA...DQ== could not be verified." (code
//     invalid_encrypted_content; https://github.com/openai/codex/issues/8119)
//   - "Item with id 'rs_…' not found. Items are not persisted when `store`
//     is set to false. Try again with `store` set to true, or remove this
//     item from your input." (404; https://github.com/anomalyco/opencode/pull/2480,
//     https://github.com/github/copilot-sdk/issues/615)
//   - "Item 'rs_…' of type 'reasoning' was provided without its required
//     following item." (https://github.com/continuedev/continue/issues/8933)
//   - "Item 'fc_…' of type 'function_call' was provided without its
//     required 'reasoning' item: 'rs_…'." (https://github.com/cline/cline/issues/12242)
//   - "No tool call found for function call output with call_id call_…."
//     (https://github.com/continuedev/continue/issues/10092)
func (s *OpenAIFake) checkItems(body map[string]any) (*oaiRefusal, []DroppedReasoning) {
	items, _ := body["input"].([]any)
	instructions, _ := body["instructions"].(string)
	stored := body["store"] != false // the API's default is true
	s.mu.Lock()
	defer s.mu.Unlock()
	calls := map[string]bool{}
	sentRS := map[string]bool{}
	var dropped []DroppedReasoning
	drop := func(id, why string) {
		for _, d := range dropped {
			if d.ID == id {
				return
			}
		}
		dropped = append(dropped, DroppedReasoning{ID: id, Why: why})
	}
	for i, it := range items {
		item, _ := it.(map[string]any)
		typ, _ := item["type"].(string)
		id, _ := item["id"].(string)
		switch typ {
		case "reasoning":
			if i == len(items)-1 {
				return oaiBadRequest(fmt.Sprintf("Item '%s' of type 'reasoning' was provided without its required following item.", id), "input", ""), nil
			}
			enc, _ := item["encrypted_content"].(string)
			if enc == "" {
				if !stored {
					return &oaiRefusal{status: http.StatusNotFound, body: oaiError(fmt.Sprintf(
						"Item with id '%s' not found. Items are not persisted when `store` is set to false. Try again with `store` set to true, or remove this item from your input.", id), "input", "")}, nil
				}
				sentRS[id] = true // a stored item: the fake keeps none, so takes it on trust
				continue
			}
			p, ok := s.verify(enc)
			if !ok || p.ID != id {
				return oaiBadRequest(fmt.Sprintf("The encrypted content %s could not be verified.", oaiAbbreviate(enc)), "", "invalid_encrypted_content"), nil
			}
			if p.Prefix != oaiPrefixHash(instructions, items[:i]) {
				drop(id, "prefix changed")
			}
			sentRS[id] = true
		case "function_call":
			callID, _ := item["call_id"].(string)
			if rs, ok := s.fcRS[id]; ok && id != "" && !sentRS[rs] {
				return oaiBadRequest(fmt.Sprintf("Item '%s' of type 'function_call' was provided without its required 'reasoning' item: '%s'.", id, rs), "input", ""), nil
			}
			if rs, ok := s.callRS[callID]; ok && !sentRS[rs] {
				drop(rs, "not sent back")
			}
			calls[callID] = true
		case "function_call_output":
			callID, _ := item["call_id"].(string)
			if !calls[callID] {
				return oaiBadRequest(fmt.Sprintf("No tool call found for function call output with call_id %s.", callID), "input", ""), nil
			}
		}
	}
	return nil, dropped
}

// abbreviate shortens encrypted content as the API's message does:
// gAAA...DQ==.
func oaiAbbreviate(enc string) string {
	if len(enc) <= 8 {
		return enc
	}
	return enc[:4] + "..." + enc[len(enc)-4:]
}

// sealed is what the fake's encrypted content says: the item and the
// conversation before it.
type oaiSealed struct {
	ID     string `json:"id"`
	Prefix string `json:"prefix"`
}

func (s *OpenAIFake) keyLocked() []byte {
	if s.key == nil {
		s.key = make([]byte, 32)
		rand.Read(s.key)
		s.fcRS, s.callRS = map[string]string{}, map[string]string{}
	}
	return s.key
}

// seal is encrypted_content for a reasoning item: the payload and its
// HMAC. Callers hold s.mu.
func (s *OpenAIFake) seal(p oaiSealed) string {
	payload, _ := json.Marshal(p)
	m := hmac.New(sha256.New, s.keyLocked())
	m.Write(payload)
	return "gAAAA" + base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// verify opens encrypted content this fake sealed. Callers hold s.mu.
func (s *OpenAIFake) verify(enc string) (oaiSealed, bool) {
	var p oaiSealed
	rest, ok := strings.CutPrefix(enc, "gAAAA")
	i := strings.LastIndexByte(rest, '.')
	if !ok || i < 0 {
		return p, false
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(rest[:i])
	sum, err2 := base64.RawURLEncoding.DecodeString(rest[i+1:])
	if err1 != nil || err2 != nil {
		return p, false
	}
	m := hmac.New(sha256.New, s.keyLocked())
	m.Write(payload)
	if !hmac.Equal(sum, m.Sum(nil)) || json.Unmarshal(payload, &p) != nil {
		return p, false
	}
	return p, true
}

// prefixHash identifies the conversation before an item: the instructions
// and the input items, compared as JSON values (key order and spacing do
// not matter).
func oaiPrefixHash(instructions string, items []any) string {
	b, _ := json.Marshal([]any{instructions, items})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// reasoningModel reports whether the fake's model reasons on this request.
func oaiReasons(model, sent string) bool {
	if _, ok := openAIModelOf(model); ok {
		return oaiEffort(model, sent) != "none"
	}
	return sent != "" && sent != "none"
}

// responsesAnswer is the fake's own answer to an accepted request.
func (s *OpenAIFake) responsesAnswer(body map[string]any, stopReason string) string {
	model, _ := body["model"].(string)
	reasoning, _ := body["reasoning"].(map[string]any)
	sent, _ := reasoning["effort"].(string)
	items, _ := body["input"].([]any)
	instructions, _ := body["instructions"].(string)
	include, _ := body["include"].([]any)
	encrypted := body["store"] == false || slices.Contains(include, any("reasoning.encrypted_content"))

	s.mu.Lock()
	defer s.mu.Unlock()
	s.keyLocked()
	s.n++
	n := s.n
	var output []any
	rsID := ""
	if oaiReasons(model, sent) {
		rsID = fmt.Sprintf("rs_fake_%d", n)
		item := map[string]any{"type": "reasoning", "id": rsID, "summary": []any{}}
		if encrypted {
			item["encrypted_content"] = s.seal(oaiSealed{ID: rsID, Prefix: oaiPrefixHash(instructions, items)})
		}
		output = append(output, item)
	}
	status, reason := "completed", ""
	text := "Deciding from the event data."
	call := true
	switch stopReason {
	case "":
		if oaiLastItemType(items) == "function_call_output" {
			text, call = "Done: the tool results are recorded.", false
		}
	case "tool_use":
	case "end_turn":
		call = false
	case "max_tokens", "max_output_tokens":
		status, reason, text, call = "incomplete", "max_output_tokens", "", false
	case "content_filter":
		status, reason, text, call = "incomplete", "content_filter", "", false
	case "refusal":
		call = false
		output = append(output, map[string]any{"type": "message", "id": fmt.Sprintf("msg_fake_%d", n), "status": "completed", "role": "assistant",
			"content": []any{map[string]any{"type": "refusal", "refusal": "I can't help with that."}}})
		text = ""
	default:
		call = false
	}
	if text != "" {
		output = append(output, oaiOutputMessage(fmt.Sprintf("msg_fake_%d", n), text))
	}
	if call {
		name, args := "none", oaiArguments
		if tools, _ := body["tools"].([]any); len(tools) > 0 {
			if t, ok := tools[0].(map[string]any); ok {
				name, _ = t["name"].(string)
				args = oaiToolArguments(t["parameters"])
			}
		}
		fc := OpenAICall{ID: fmt.Sprintf("call_fake_%d", n), Name: name, Arguments: args}
		output = append(output, oaiFunctionCall(fc))
		if rsID != "" {
			s.fcRS["fc_"+fc.ID] = rsID
			s.callRS[fc.ID] = rsID
		}
	}
	reasoningTokens := 0
	if rsID != "" {
		reasoningTokens = 40
	}
	return oaiResponseJSON(fmt.Sprintf("resp_fake_%d", n), model, status, reason, output, reasoningTokens, body)
}

func oaiLastItemType(items []any) string {
	if len(items) == 0 {
		return ""
	}
	last, _ := items[len(items)-1].(map[string]any)
	t, _ := last["type"].(string)
	return t
}

func oaiOutputMessage(id, text string) map[string]any {
	return map[string]any{"type": "message", "id": id, "status": "completed", "role": "assistant",
		"content": []any{map[string]any{"type": "output_text", "text": text, "annotations": []any{}}}}
}

// functionCallItem is a function_call output item; its id is "fc_" + the
// call id, and both are left out when c.ID is empty.
func oaiFunctionCall(c OpenAICall) map[string]any {
	item := map[string]any{"type": "function_call", "name": c.Name, "arguments": c.Arguments, "status": "completed"}
	if c.ID != "" {
		item["id"] = "fc_" + c.ID
		item["call_id"] = c.ID
	}
	return item
}

// responseJSON is a response object with a fixed usage: 812 input tokens
// (200 of them cached) and 64 output tokens (reasoningTokens of them
// reasoning). req, when set, is echoed as the API does (tools,
// tool_choice, store, reasoning).
func oaiResponseJSON(id, model, status, reason string, output []any, reasoningTokens int, req map[string]any) string {
	if output == nil {
		output = []any{}
	}
	r := map[string]any{
		"id": id, "object": "response", "created_at": 1767225600, "status": status, "model": model,
		"error": nil, "incomplete_details": nil, "output": output, "parallel_tool_calls": true,
		"previous_response_id": nil, "truncation": "disabled", "metadata": map[string]any{},
		"text":  map[string]any{"format": map[string]any{"type": "text"}},
		"tools": []any{}, "tool_choice": "auto", "store": true,
		"usage": map[string]any{"input_tokens": 812, "input_tokens_details": map[string]any{"cached_tokens": 200},
			"output_tokens": 64, "output_tokens_details": map[string]any{"reasoning_tokens": reasoningTokens}, "total_tokens": 876},
	}
	if reason != "" {
		r["incomplete_details"] = map[string]any{"reason": reason}
	}
	for _, k := range []string{"tools", "tool_choice", "store", "reasoning", "instructions", "max_output_tokens"} {
		if v, ok := req[k]; ok {
			r[k] = v
		}
	}
	b, _ := json.Marshal(r)
	return string(b)
}

// OpenAIResponseBody returns a Responses API answer for a script: status
// ("completed" when empty; "incomplete" with incomplete_details.reason when
// reason is set), a message holding text (none when text is empty), and a
// function_call item per call (id "fc_"+ID, call_id ID; both omitted when
// ID is empty). It carries no reasoning item: only the fake's own answers
// do, signed over the conversation. Usage is the default answers'.
func OpenAIResponseBody(model, status, reason, text string, calls ...OpenAICall) string {
	if status == "" {
		status = "completed"
		if reason != "" {
			status = "incomplete"
		}
	}
	var output []any
	if text != "" {
		output = append(output, oaiOutputMessage("msg_scripted", text))
	}
	for _, c := range calls {
		output = append(output, oaiFunctionCall(c))
	}
	return oaiResponseJSON("resp_scripted", model, status, reason, output, 0, nil)
}
