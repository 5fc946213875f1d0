package modeltest

import (
	"cmp"
	"strconv"
	"strings"
)

// Texts of the fake's answers.
const (
	textToolCall   = "Deciding from the event data."
	textDone       = "Done: the tool results are recorded."
	textNoTool     = "No tool call is needed for this event."
	textPaused     = "Working through the event; the turn was paused."
	textSummary    = "The event names the object and the action; the tool's schema says which fields to send."
	textProgress   = "Checked the tool result; calling the next tool."
	tokensToolCall = 64 // output tokens of a tool call answer (text + tool_use), as the fake always counted
	tokensText     = 12 // output tokens of a text answer
)

// reply builds a 200 answer in the documented shape: id, type, role,
// model, content, stop_reason, stop_sequence, stop_details, usage.
// https://platform.claude.com/docs/en/api/messages/create
func (s *Fake) reply(q *request, st *state, rep Reply, requestID string) map[string]any {
	rep, obeyed := obey(q, rep) // Obedient: the tool and input a planted instruction names
	results := q.feedsToolResults()
	tools := q.customTools()
	stop := rep.StopReason
	call := false
	switch stop {
	case "":
		call = !results
	case "tool_use":
		call = true
	case "end_turn", "max_tokens", "model_context_window_exceeded", "stop_sequence", "pause_turn", "refusal":
	default:
		call = true // an unknown stop reason is sent as it is on a tool call
	}
	if rep.NoTool || st.choiceNone || len(tools) == 0 && q.known {
		call = false
	}
	if st.forced != "" && (stop == "" || stop == "end_turn") {
		call = true // tool_choice any/tool: the model must call a tool
	}
	if stop == "" {
		stop = "end_turn"
		if call {
			stop = "tool_use"
		}
	}

	// Thinking: on when the model or the request turns it on; skipped when
	// tool_choice forces the call ("the response starts with a tool call").
	// With between_tools, "Its progress updates between tool calls still come
	// back as thinking blocks with their summary text. Without tools, the
	// response contains only text."
	// https://platform.claude.com/docs/en/models/sonnet-5-5/migration-guide#turn-off-up-front-thinking
	think := q.known && (st.thinking == "adaptive" || st.thinking == "enabled") && st.forced == ""
	progress := q.known && st.thinking == "between_tools" && results && call
	thinkTok := 0
	if think {
		thinkTok = cmp.Or(rep.ThinkingTokens, thinkingTokens[st.effort], thinkingTokens["high"])
		if st.thinking == "enabled" {
			b, _ := q.obj("thinking")["budget_tokens"].(float64)
			thinkTok = min(thinkTok, int(b))
		}
	}
	if progress {
		thinkTok = tokensText
	}

	var content []map[string]any
	if think {
		text := ""
		if st.display == "summarized" {
			text = textSummary
		}
		content = append(content, map[string]any{"type": "thinking", "thinking": text, "signature": ""})
		if rep.Redacted {
			content = append(content, map[string]any{"type": "redacted_thinking", "data": ""})
		}
	}
	if progress {
		content = append(content, map[string]any{"type": "thinking", "thinking": textProgress, "signature": ""})
	}
	answerTok := tokensText
	text := cmp.Or(rep.Text, textDone)
	switch {
	case call:
		text, answerTok = cmp.Or(rep.Text, textToolCall), tokensToolCall
	case rep.NoTool || !results:
		text = cmp.Or(rep.Text, textNoTool)
	}
	maxTok := int(maxTokens(q))
	var stopSeq any
	var stopDetails any
	textBlock := func(t string) { content = append(content, map[string]any{"type": "text", "text": t}) }
	cut := func(budget int) string { // the text that fits in budget tokens
		if n := budget * 4; n < len(text) {
			return text[:max(n, 0)]
		}
		return text
	}
	out := thinkTok + answerTok
	switch {
	case stop == "refusal":
		// "refusal: Claude declined to respond. Read stop_details"
		// https://platform.claude.com/docs/en/build-with-claude/handling-stop-reasons
		stopDetails = map[string]any{"type": "refusal", "category": nil, "explanation": nil}
		out = thinkTok + 1
	case stop == "pause_turn":
		// "pause_turn: ... Send the assistant content back to continue."
		textBlock(textPaused + " " + s.pauseRef(q.spec.Family, prefixOf(q, len(q.Messages))))
	case stop == "stop_sequence":
		seq := "###"
		if ss, _ := q.raw["stop_sequences"].([]any); len(ss) > 0 {
			seq, _ = ss[0].(string)
		}
		stopSeq = seq
		textBlock(text[:len(text)/2])
		out = thinkTok + answerTok/2
	case stop == "max_tokens" || stop == "model_context_window_exceeded" || q.known && out > maxTok:
		// "thinking tokens count toward max_tokens, so a long thinking pass
		// can consume the budget before the text response completes."
		// https://platform.claude.com/docs/en/build-with-claude/thinking-troubleshooting
		if stop != "model_context_window_exceeded" {
			stop = "max_tokens"
		}
		if thinkTok >= maxTok {
			thinkTok, out = maxTok, maxTok
		} else {
			budget := answerTok / 2
			if out > maxTok {
				budget = maxTok - thinkTok
			}
			if t := cut(budget); t != "" {
				textBlock(t)
			}
			out = thinkTok + budget
			out = min(maxTok, out)
		}
	default:
		textBlock(text)
		if call {
			use := s.toolCall(q, st, rep, tools)
			if obeyed != nil {
				use["input"] = obeyed
			}
			content = append(content, use)
		}
	}
	s.sign(q, st, content, requestID)

	msg := map[string]any{
		"id":            "msg_fake_" + strings.TrimPrefix(requestID, "req_fake_"),
		"type":          "message",
		"role":          "assistant",
		"model":         q.Model,
		"content":       content,
		"stop_reason":   stop,
		"stop_sequence": stopSeq,
		"stop_details":  stopDetails,
		"container":     nil,
		"usage":         usage(q, out, thinkTok),
	}
	if q.known && q.beta(betaBinding) {
		// "Under the beta header, every response from a thinking-capable model
		// carries input_transformations."
		msg["input_transformations"] = append([]any{}, st.transforms...)
	}
	if content == nil {
		msg["content"] = []any{}
	}
	return msg
}

// usage in the documented shape. output_tokens includes thinking; "Breakdown
// of output tokens by category. output_tokens remains the inclusive,
// authoritative total" (output_tokens_details.thinking_tokens, in the SDK's
// Usage, generated from the API spec). Input counts are the fake's fixed
// numbers.
func usage(q *request, out, thinking int) map[string]any {
	cacheRead := 0
	if q.feedsToolResults() {
		cacheRead = 700
	}
	return map[string]any{
		"input_tokens":                inputTokens(q),
		"output_tokens":               out,
		"cache_creation_input_tokens": 0,
		"cache_read_input_tokens":     cacheRead,
		"cache_creation":              map[string]any{"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
		"output_tokens_details":       map[string]any{"thinking_tokens": thinking},
		"server_tool_use":             nil,
		"service_tier":                "standard",
	}
}

// toolCall is the tool_use block: the tool tool_choice forces, or the one
// the reply names, or the first offered, with an input generated from its
// schema.
func (s *Fake) toolCall(q *request, st *state, rep Reply, tools []map[string]any) map[string]any {
	name := rep.Tool
	if tc := q.obj("tool_choice"); name == "" && st.forced == "tool" {
		name, _ = tc["name"].(string)
	}
	var tool map[string]any
	for _, t := range tools {
		if name == "" || t["name"] == name {
			tool = t
			break
		}
	}
	if tool == nil {
		if name == "" {
			name = "none"
		}
		tool = map[string]any{"name": name}
	}
	schema, _ := tool["input_schema"].(map[string]any)
	n, _ := tool["name"].(string)
	return map[string]any{"type": "tool_use", "id": "", "name": n, "input": toolInput(schema)}
}

// sign fills in the signatures of the thinking blocks and the ids of the
// tool_use blocks of a turn about to be sent.
func (s *Fake) sign(q *request, st *state, content []map[string]any, requestID string) {
	if !q.known {
		n := 0
		for _, b := range content {
			if b["type"] == "tool_use" {
				n++
				b["id"] = "toolu_fake_" + strconv.Itoa(n)
			}
		}
		return
	}
	family := q.spec.Family
	p := prefixOf(q, len(q.Messages))
	turn := skeletonHash(content)
	prev := st.prevSig
	thought := hasThinking(content)
	n := 0
	for j, b := range content {
		switch b["type"] {
		case "thinking", "redacted_thinking":
			typ := b["type"].(string)
			text, _ := b["thinking"].(string)
			sig := s.encodeSig(sigMeta{K: typ, M: family, I: j, T: hashText(text), S: p.S, L: p.L, G: p.G,
				B: hashOf(canonBlocks(content[:j])), U: turn, R: prev, N: requestID})
			if typ == "thinking" {
				b["signature"] = sig
			} else {
				b["data"] = sig
			}
			prev = hashText(sig)
		case "tool_use":
			n++
			b["id"] = s.toolUseID(family, n, thought, p)
		}
	}
}
