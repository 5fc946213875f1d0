package modeltest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
)

// Thinking blocks are tied to the model and the conversation:
//
//	"Starting with Claude Fable 5.1, when a thinking or redacted_thinking
//	block comes back in a request, the API checks the block's signature
//	for two things: The model can read the block. [...] If the current
//	model can't read a block, the API drops it from that request without
//	an error. [...] Nothing before the thinking block has changed. The
//	top-level system prompt, tools, and messages before the block are its
//	prefix. If the prefix differs from what you sent when the block was
//	produced, that block and every later thinking block are invalid, and
//	the API rejects the request with a 400 error or drops the invalid
//	blocks, whichever you choose."
//	"Earlier thinking blocks aren't in the prefix, but each thinking block
//	records which thinking block came before it, across turns. You can
//	remove thinking blocks from the start of the history (oldest first),
//	from the end, or all of them. What fails is a gap."
//	"Request parameters outside those three fields [...] aren't part of
//	the prefix check, and neither are cache_control markers."
//
// https://platform.claude.com/docs/en/build-with-claude/preserved-thinking
//
// The fake signs statelessly: a signature is base64 of a small JSON record
// (model family, the block's place, hashes of the system prompt, the tools,
// the messages before its turn with thinking left out, the blocks before it
// in its turn, the whole turn, its thinking text, the previous thinking
// block) followed by an HMAC of it under the fake's key. A fake with the
// same key verifies it after a restart.

var defaultKey = []byte("agenthook/modeltest fake Messages API signing key v1")

func (s *Fake) key() []byte {
	if len(s.SigningKey) > 0 {
		return s.SigningKey
	}
	return defaultKey
}

const macLen = 16

// sigMeta is what a signature records.
type sigMeta struct {
	V int    `json:"v"`
	K string `json:"k"` // "thinking" or "redacted_thinking"
	M string `json:"m"` // model family
	I int    `json:"i"` // index of the block in its turn
	T string `json:"t"` // hash of the thinking text
	S string `json:"s"` // hash of the system prompt
	L string `json:"l"` // hash of the tools
	G string `json:"g"` // hash of the messages before the turn, thinking left out
	B string `json:"b"` // hash of the blocks before this one in the turn, thinking left out
	U string `json:"u"` // hash of the whole turn as issued (signatures and tool ids left out)
	R string `json:"r"` // hash of the previous thinking block's signature, "" for the first
	P bool   `json:"p,omitempty"`
	N string `json:"n"` // the request id: every signature differs
}

func (s *Fake) encodeSig(m sigMeta) string {
	m.V = 1
	raw, _ := json.Marshal(m)
	h := hmac.New(sha256.New, s.key())
	h.Write(raw)
	return base64.StdEncoding.EncodeToString(append(raw, h.Sum(nil)[:macLen]...))
}

// decodeSig verifies a signature; ok is false for one the fake did not
// issue under its key (empty, truncated, altered).
func (s *Fake) decodeSig(sig string) (sigMeta, bool) {
	var m sigMeta
	b, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(b) <= macLen {
		return m, false
	}
	raw, got := b[:len(b)-macLen], b[len(b)-macLen:]
	h := hmac.New(sha256.New, s.key())
	h.Write(raw)
	if !hmac.Equal(got, h.Sum(nil)[:macLen]) || json.Unmarshal(raw, &m) != nil || m.V != 1 {
		return m, false
	}
	return m, true
}

func (s *Fake) tag(n int, parts ...string) string {
	h := hmac.New(sha256.New, s.key())
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s|", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil)[:n])
}

func hashOf(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func hashText(s string) string { return hashOf(s) }

// withoutCache drops cache_control markers, which the prefix check ignores.
func withoutCache(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			if k != "cache_control" {
				out[k] = withoutCache(val)
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = withoutCache(val)
		}
		return out
	case []map[string]any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = withoutCache(val)
		}
		return out
	}
	return v
}

func canonSystem(sys any) any {
	switch s := sys.(type) {
	case string:
		if s == "" {
			return nil
		}
		return []any{map[string]any{"type": "text", "text": s}}
	case []any:
		out := make([]any, 0, len(s))
		for _, b := range s {
			bm, _ := b.(map[string]any)
			out = append(out, canonBlock(bm, false))
		}
		return out
	}
	return nil
}

// canonBlock is a block reduced to what identifies it, so the same block
// sent back through another client path (raw JSON, the SDK's ToParam)
// compares equal. skeleton leaves out signatures and tool_use ids.
func canonBlock(b map[string]any, skeleton bool) any {
	typ, _ := b["type"].(string)
	switch typ {
	case "text":
		out := map[string]any{"type": typ, "text": b["text"]}
		if c, ok := b["citations"].([]any); ok && len(c) > 0 {
			out["citations"] = withoutCache(c)
		}
		return out
	case "tool_use":
		out := map[string]any{"type": typ, "name": b["name"], "input": b["input"]}
		if !skeleton {
			out["id"] = b["id"]
		}
		return out
	case "tool_result":
		out := map[string]any{"type": typ, "tool_use_id": b["tool_use_id"], "is_error": b["is_error"] == true}
		var content []any
		for _, c := range blocksOf(b["content"]) {
			content = append(content, canonBlock(c, false))
		}
		out["content"] = content
		return out
	case "thinking":
		out := map[string]any{"type": typ, "thinking": b["thinking"]}
		if !skeleton {
			out["signature"] = b["signature"]
		}
		return out
	case "redacted_thinking":
		out := map[string]any{"type": typ}
		if !skeleton {
			out["data"] = b["data"]
		}
		return out
	}
	return withoutCache(b)
}

// canonBlocks is blocks without thinking (the prefix leaves thinking out).
func canonBlocks(blocks []map[string]any) []any {
	out := []any{}
	for _, b := range blocks {
		if !isThinking(b) {
			out = append(out, canonBlock(b, false))
		}
	}
	return out
}

func skeletonHash(blocks []map[string]any) string {
	out := make([]any, len(blocks))
	for i, b := range blocks {
		out[i] = canonBlock(b, true)
	}
	return hashOf(out)
}

// prefix is the part of a request before a turn: hashes of the system
// prompt, the tools and the messages before message k, thinking left out.
type prefix struct{ S, L, G string }

func prefixOf(q *request, k int) prefix {
	msgs := make([]any, 0, k)
	for _, m := range q.Messages[:k] {
		msgs = append(msgs, map[string]any{"role": m.Role, "content": canonBlocks(m.Blocks)})
	}
	return prefix{S: hashOf(canonSystem(q.raw["system"])), L: hashOf(withoutCache(q.raw["tools"])), G: hashOf(msgs)}
}

// toolUseID is the id of the n-th tool_use of a turn the fake issues:
// toolu_fake_<n>_<t|n><tag>, t when the turn had thinking. The tag binds
// the id to the model and the prefix, so the fake knows a turn it issued
// with thinking even when every thinking block was dropped from it.
func (s *Fake) toolUseID(family string, n int, thought bool, p prefix) string {
	flag := "n"
	if thought {
		flag = "t"
	}
	return fmt.Sprintf("toolu_fake_%d_%s%s", n, flag, s.tag(6, "toolu", family, flag, strconv.Itoa(n), p.S, p.L, p.G))
}

var toolUseIDPattern = regexp.MustCompile(`^toolu_fake_(\d+)_([tn])([0-9a-f]{12})$`)

// issuedWithThinking reports whether id is a tool_use id the fake issued
// for this model and prefix on a turn that had thinking.
func (s *Fake) issuedWithThinking(id, family string, p prefix) bool {
	m := toolUseIDPattern.FindStringSubmatch(id)
	if m == nil || m[2] != "t" {
		return false
	}
	n, _ := strconv.Atoi(m[1])
	return hmac.Equal([]byte(s.toolUseID(family, n, true, p)), []byte(id))
}

// pauseRef marks the text of a paused turn, so the fake tells the turn sent
// back to continue from a prefill.
func (s *Fake) pauseRef(family string, p prefix) string {
	return "[pause_turn ref " + s.tag(6, "pause", family, p.S, p.L, p.G) + "]"
}

// pausedTurn reports whether the last message is a turn the fake paused.
func (s *Fake) pausedTurn(q *request) bool {
	k := len(q.Messages) - 1
	last := q.Messages[k]
	if last.Role != "assistant" {
		return false
	}
	ref := s.pauseRef(q.spec.Family, prefixOf(q, k))
	for _, b := range last.Blocks {
		if t, _ := b["text"].(string); b["type"] == "text" && len(t) >= len(ref) && t[len(t)-len(ref):] == ref {
			return true
		}
	}
	return false
}

// Documented refusals of replayed thinking blocks.
const (
	// "If the most recent assistant message contains thinking or
	// redacted_thinking blocks that were edited, reordered, filtered out, or
	// reconstructed before being sent back to the API, the request returns
	// a 400 invalid_request_error. The error message starts with the
	// position of the offending block (for example, messages.1.content.0)"
	// https://platform.claude.com/docs/en/api/errors#thinking-blocks-cannot-be-modified
	msgModified = "`thinking` or `redacted_thinking` blocks in the latest assistant message cannot be modified. These blocks must remain as they were in the original response."
	// "If the message stops after Invalid `signature` in `thinking` block,
	// the signature itself didn't verify: it was truncated, altered, or sent
	// back empty" https://platform.claude.com/docs/en/build-with-claude/thinking-troubleshooting#error-thinking-block-signature
	msgBadSignature = "Invalid `signature` in `thinking` block"
	// The prefix check: https://platform.claude.com/docs/en/build-with-claude/preserved-thinking#prefix-check
	msgOtherConversation = "Invalid `signature` in `thinking` block. The block is bound to a different conversation. Remove the block, or set `thinking.block_binding.prefix_mismatch_behavior` to \"drop_block\"."
	msgNeedsBeta         = " That setting requires the `thinking-binding-controls-2026-08-01` value in the `anthropic-beta` header."
	// Dropping the thinking of the turn being continued:
	// "Expected `thinking` or `redacted_thinking`, but found `tool_use`.
	// When `thinking` is enabled, a final `assistant` message must start
	// with a thinking block (preceding the lastmost set of `tool_use` and
	// `tool_result` blocks)."
	// https://platform.claude.com/docs/en/build-with-claude/extended-thinking (toggling thinking modes)
	msgExpectedThinking = "Expected `thinking` or `redacted_thinking`, but found `%s`. When `thinking` is enabled, a final `assistant` message must start with a thinking block (preceding the lastmost set of `tool_use` and `tool_result` blocks)."
)

// checkThinkingBlocks verifies every thinking and redacted_thinking block
// sent back, in order, and that the turn being continued kept its thinking.
// It leaves in st the last readable block (the next block's predecessor)
// and the input_transformations entries of blocks it dropped.
func (s *Fake) checkThinkingBlocks(q *request, st *state) *APIError {
	family := q.spec.Family
	lastAsst := -1
	for k, m := range q.Messages {
		if m.Role == "assistant" {
			lastAsst = k
		}
	}
	bb, _ := q.obj("thinking")["block_binding"].(map[string]any)
	dropBlock := bb["prefix_mismatch_behavior"] == "drop_block" && q.beta(betaBinding)
	dropping, first := false, true
	drop := func(path, reason string) {
		st.transforms = append(st.transforms, map[string]any{"type": "thinking_dropped", "path": path, "reason": reason})
	}
	for k, m := range q.Messages {
		if m.Role != "assistant" || !hasThinking(m.Blocks) {
			continue
		}
		p := prefixOf(q, k)
		turn := skeletonHash(m.Blocks)
		for j, b := range m.Blocks {
			if !isThinking(b) {
				continue
			}
			path := fmt.Sprintf("messages.%d.content.%d", k, j)
			typ, _ := b["type"].(string)
			field := "signature"
			if typ == "redacted_thinking" {
				field = "data"
			}
			sig, _ := b[field].(string)
			meta, ok := s.decodeSig(sig)
			if !ok || meta.K != typ {
				if typ == "redacted_thinking" {
					return bad("%s: Invalid `data` in `redacted_thinking` block", path)
				}
				return bad("%s: %s", path, msgBadSignature)
			}
			if meta.M != family {
				// The fake lets no model read another's blocks; the API
				// lets some (Fable 5.1 reads Opus 5.5 on the Claude API).
				drop(path, "model_binding_mismatch")
				continue
			}
			if dropping {
				drop(path, "prefix_binding_mismatch")
				continue
			}
			if text, _ := b["thinking"].(string); typ == "thinking" && meta.T != hashText(text) {
				return bad("%s: %s", path, msgModified)
			}
			what := ""
			switch {
			case !first && meta.R != st.prevSig:
				what = "An earlier thinking block is missing or out of order."
			case meta.S != p.S:
				what = "The `system` prompt differs from when the block was created."
			case meta.L != p.L:
				what = "The `tools` list differs from when the block was created."
			case meta.G != p.G:
				what = "An earlier message differs from when the block was created."
			case k != lastAsst && meta.B != hashOf(canonBlocks(m.Blocks[:j])):
				// (In the latest turn a change before the block is an edit
				// of the turn, refused below.)
				what = "Content before the block in its turn differs from when the block was created."
			}
			if what != "" && q.spec.PrefixCheck {
				if dropBlock {
					dropping = true
					drop(path, "prefix_binding_mismatch")
					continue
				}
				msg := path + ": " + msgOtherConversation
				if !q.beta(betaBinding) {
					msg += msgNeedsBeta
				}
				return bad("%s %s", msg, what)
			}
			if k == lastAsst && (meta.U != turn || meta.I != j) {
				return bad("%s: %s", path, msgModified)
			}
			first = false
			st.prevSig = hashText(sig)
		}
	}
	// The turn being continued with tool results must keep its thinking.
	if lastAsst >= 0 && lastAsst+1 < len(q.Messages) && st.thinking != "" && st.thinking != "between_tools" && st.forced == "" {
		m := q.Messages[lastAsst]
		if !hasThinking(m.Blocks) && len(m.Blocks) > 0 {
			p := prefixOf(q, lastAsst)
			for _, b := range m.Blocks {
				if id, _ := b["id"].(string); b["type"] == "tool_use" && s.issuedWithThinking(id, family, p) {
					return bad("messages.%d.content.0.type: "+msgExpectedThinking, lastAsst, m.Blocks[0]["type"])
				}
			}
		}
	}
	return nil
}

func hasThinking(blocks []map[string]any) bool {
	for _, b := range blocks {
		if isThinking(b) {
			return true
		}
	}
	return false
}
