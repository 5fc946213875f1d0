package journal

import (
	"encoding/json"
	"strings"
)

// Role is who wrote a message.
type Role string

const (
	User      Role = "user"
	Assistant Role = "assistant"
)

// Block kinds. A provider may return kinds beyond these (its own reasoning
// items, block types added after this version); such a block keeps its Raw
// form and is sent back as it came.
const (
	TextBlock             = "text"
	ToolUseBlock          = "tool_use"
	ToolResultBlock       = "tool_result"
	ThinkingBlock         = "thinking"
	RedactedThinkingBlock = "redacted_thinking"
	// ReasoningBlock is an OpenAI reasoning item: the model's thinking,
	// carried between turns in its Raw form only.
	ReasoningBlock = "reasoning"
)

// Block is one piece of a message, in a provider-neutral form that is also
// what the journal stores: a resumed attempt rebuilds its conversation from
// these.
type Block struct {
	Type string `json:"type"`
	Text string `json:"text,omitempty"`
	// tool_use
	ID    string          `json:"id,omitempty"`
	Name  string          `json:"name,omitempty"`
	Input json.RawMessage `json:"input,omitempty"`
	// tool_result
	ToolUseID string `json:"tool_use_id,omitempty"`
	Content   string `json:"content,omitempty"`
	IsError   bool   `json:"is_error,omitempty"`
	// Raw is the block exactly as the provider returned it, for blocks of an
	// assistant turn. The provider that produced it sends it back byte for
	// byte: thinking blocks are signed over the conversation, and a turn
	// rebuilt from the fields above would be refused. Raw is the only place
	// a signature or redacted thinking lives; Public drops it.
	Raw json.RawMessage `json:"raw,omitempty"`
}

// Message is one turn of the conversation.
type Message struct {
	Role    Role    `json:"role"`
	Content []Block `json:"content"`
}

// Conversation is the whole exchange with the model, in order: the opening
// user message, then each assistant turn as received and each user turn
// that answered it (tool results, a corrective message).
type Conversation []Message

// Thinking reports whether b is the model's thinking, whose content is
// never shown.
func (b Block) Thinking() bool {
	return b.Type == ThinkingBlock || b.Type == RedactedThinkingBlock || b.Type == ReasoningBlock
}

// Public is b as it may be shown to a person: without its Raw form (which
// holds signatures and redacted thinking), and, for thinking, without any
// text.
func (b Block) Public() Block {
	b.Raw = nil
	if b.Thinking() {
		b.Text = ""
	}
	return b
}

// ToolUses returns the tool_use blocks of blocks, in order.
func ToolUses(blocks []Block) []Block {
	var out []Block
	for _, b := range blocks {
		if b.Type == ToolUseBlock {
			out = append(out, b)
		}
	}
	return out
}

// Text returns the text blocks of blocks joined by newlines. Thinking is not
// text.
func Text(blocks []Block) string {
	var parts []string
	for _, b := range blocks {
		if b.Type == TextBlock && b.Text != "" {
			parts = append(parts, b.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// CountThinking counts the thinking and redacted_thinking blocks of blocks.
func CountThinking(blocks []Block) int {
	n := 0
	for _, b := range blocks {
		if b.Thinking() {
			n++
		}
	}
	return n
}
