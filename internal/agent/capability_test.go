package agent_test

import (
	"strings"
	"testing"

	"github.com/agenthook/agenthook/internal/agent"
)

func TestCapabilitiesOf(t *testing.T) {
	cases := []struct {
		provider, model, family string
		forced                  bool
	}{
		{"anthropic", "claude-sonnet-5-5", "claude-sonnet-5-5", false},
		{"anthropic", "claude-sonnet-5-5-20260928", "claude-sonnet-5-5", false},
		{"anthropic", "claude-opus-5-5", "claude-opus-5-5", false},
		{"anthropic", "claude-sonnet-5", "claude-sonnet-5", true},
		{"anthropic", "claude-sonnet-5-20260301", "claude-sonnet-5", true},
		{"anthropic", "claude-haiku-5-5", "claude-haiku-5-5", true},
		{"anthropic", "claude-sonnet-5-7", "", false}, // a model the table does not know is not forced
		{"anthropic", "claude-sonnet-5-5-fast", "", false},
		{"anthropic", "some-new-model", "", false},
		{"openai", "gpt-6-luna", "gpt-6-luna", true},
		{"openai", "gpt-6-luna-2026-10-01", "gpt-6-luna", true},
		{"openai", "claude-sonnet-5", "", false}, // the provider decides the table
	}
	for _, c := range cases {
		got := agent.CapabilitiesOf(c.provider, c.model)
		if got.Family != c.family || got.ForcedToolChoice != c.forced {
			t.Errorf("%s %s: family %q forced %v, want %q %v", c.provider, c.model, got.Family, got.ForcedToolChoice, c.family, c.forced)
		}
	}
}

// The defaults a route gets: no forcing where the model refuses it, forcing
// where it is accepted, an unknown model gets auto and nothing it might
// refuse, and max_tokens leaves room for thinking.
func TestSettingsWithDefaults(t *testing.T) {
	s := agent.Settings{}.WithDefaults(agent.CapabilitiesOf("anthropic", "claude-sonnet-5-5"), 1)
	if s.ToolChoice != "auto" || s.Effort != "medium" || s.Thinking != "adaptive" || s.MaxTokens < 8000 {
		t.Errorf("sonnet 5.5: %+v", s)
	}
	s = agent.Settings{}.WithDefaults(agent.CapabilitiesOf("anthropic", "claude-sonnet-5"), 1)
	if s.ToolChoice != "tool" {
		t.Errorf("sonnet 5, one tool: tool_choice %q, want tool", s.ToolChoice)
	}
	if s := (agent.Settings{}).WithDefaults(agent.CapabilitiesOf("anthropic", "claude-sonnet-5"), 3); s.ToolChoice != "any" {
		t.Errorf("sonnet 5, three tools: tool_choice %q, want any", s.ToolChoice)
	}
	s = agent.Settings{}.WithDefaults(agent.CapabilitiesOf("anthropic", "claude-unknown-9"), 1)
	if s.ToolChoice != "auto" || s.Effort != "" || s.Thinking != "" || s.MaxTokens == 0 {
		t.Errorf("unknown model: %+v", s)
	}
	// An explicit setting wins over the table, and a route's over the agent's.
	s = agent.Settings{Effort: "low", MaxTokens: 2000}.Over(agent.Settings{Effort: "high"}).WithDefaults(agent.CapabilitiesOf("anthropic", "claude-opus-5-5"), 1)
	if s.Effort != "high" || s.MaxTokens != 2000 {
		t.Errorf("overrides: %+v", s)
	}
}

func TestSettingsCheck(t *testing.T) {
	sonnet55 := agent.CapabilitiesOf("anthropic", "claude-sonnet-5-5")
	opus55 := agent.CapabilitiesOf("anthropic", "claude-opus-5-5")
	cases := []struct {
		s     agent.Settings
		caps  agent.Capabilities
		tools int
		want  string // "" for no error; else a prefix
	}{
		{agent.Settings{ToolChoice: "any"}, sonnet55, 2, "tool_choice any: claude-sonnet-5-5 refuses forced tool use"},
		{agent.Settings{ToolChoice: "tool"}, sonnet55, 1, "tool_choice tool: claude-sonnet-5-5 refuses"},
		{agent.Settings{ToolChoice: "tool"}, agent.CapabilitiesOf("anthropic", "claude-sonnet-5"), 2, "tool_choice tool needs a route with exactly one tool"},
		{agent.Settings{ToolChoice: "sometimes"}, sonnet55, 1, "tool_choice \"sometimes\""},
		{agent.Settings{ToolChoice: "any"}, agent.CapabilitiesOf("anthropic", "claude-sonnet-5"), 2, ""},
		{agent.Settings{Thinking: "disabled"}, sonnet55, 1, "thinking disabled: claude-sonnet-5-5 accepts [adaptive between_tools]"},
		{agent.Settings{Thinking: "between_tools"}, sonnet55, 1, ""},
		{agent.Settings{Thinking: "between_tools"}, opus55, 1, "thinking between_tools"},
		{agent.Settings{Effort: "extreme"}, sonnet55, 1, "effort extreme"},
		{agent.Settings{Effort: "max"}, sonnet55, 1, ""},
		{agent.Settings{Effort: "anything", Thinking: "anything", ToolChoice: "any"}, agent.Capabilities{}, 1, ""}, // unknown model: the API decides
	}
	for _, c := range cases {
		err := c.s.Check(c.caps, c.caps.Family, c.tools)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v on %s: %v", c.s, c.caps.Family, err)
		case c.want != "" && (err == nil || !strings.HasPrefix(err.Error(), c.want)):
			t.Errorf("%+v on %s: error %v, want one starting %q", c.s, c.caps.Family, err, c.want)
		}
	}
}
