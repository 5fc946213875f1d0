package agent

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Capabilities is what a model accepts, as its provider documents it. The
// loop and the config read them from Models, never from a model's name.
type Capabilities struct {
	// Family is the table row that matched: a model id prefix, or "" for a
	// model the table does not know.
	Family string
	// ForcedToolChoice: the model accepts tool_choice any/tool (required on
	// OpenAI). Models that refuse it answer 400.
	ForcedToolChoice bool
	// Thinking lists the thinking modes the model accepts, the API's default
	// first; nil means the request sends no thinking setting.
	Thinking []string
	// Efforts lists the effort values the model accepts; nil means the
	// request sends no effort.
	Efforts []string
	// DefaultEffort is the API's default effort, for the README and check.
	DefaultEffort string
	// Effort is what agenthook asks for when the config says nothing.
	Effort string
	// MaxTokens is agenthook's default max_tokens for the model at Effort:
	// thinking tokens count against it, so it leaves room for them.
	MaxTokens int
}

// Known reports whether the table has a row for the model.
func (c Capabilities) Known() bool { return c.Family != "" }

// Models is the capability table: one row per model family, by provider.
// A model matches its family's id exactly, or with a snapshot date after it
// (claude-sonnet-5-5-20260928, gpt-6-luna-2026-10-01). A new model needs
// one row; a model with no row gets the safe choice (CapabilitiesOf).
//
// Anthropic. The 5.5-class models (Opus 5.5, Sonnet 5.5, Fable 5.1 and 5.2,
// Mythos 5.1 and 5.2) refuse forced tool use: "Forced tool use returns an
// error"; adaptive thinking is on by default, and "the effort parameter
// controls thinking depth"; Sonnet 5.5 turns up-front thinking off with
// between_tools (disabled is refused), Opus 5.5 cannot turn it off.
// Older models accept forced tool choice and then skip thinking.
// https://platform.claude.com/docs/en/models/sonnet-5-5/whats-new-sonnet-5-5
// https://platform.claude.com/docs/en/models/sonnet-5-5/migration-guide#forced-tool-use
// https://platform.claude.com/docs/en/build-with-claude/effort
// https://platform.claude.com/docs/about-claude/models/overview
//
// OpenAI (Responses API). Effort values and defaults per model page; the
// GPT-6 Astra and 6.1+ Sol models refuse effort none.
// https://developers.openai.com/api/docs/guides/latest-model
// https://developers.openai.com/api/docs/models/gpt-6-luna
var Models = map[string][]Capabilities{
	"anthropic": {
		claude55("claude-opus-5-5", "medium", "adaptive"),
		claude55("claude-sonnet-5-5", "high", "adaptive", "between_tools"),
		claude55("claude-fable-5-1", "high", "adaptive"),
		claude55("claude-fable-5-2", "high", "adaptive"),
		claude55("claude-mythos-5-1", "high", "adaptive"),
		claude55("claude-mythos-5-2", "high", "adaptive"),
		claudeForced("claude-haiku-5-5", claudeEfforts, "medium"),
		claudeForced("claude-fable-5", claudeEfforts, "high"),
		claudeForced("claude-mythos-5", claudeEfforts, "high"),
		claudeForced("claude-opus-5", claudeEfforts, "high"),
		claudeForced("claude-sonnet-5", claudeEfforts, "high"),
		claudeForced("claude-opus-4-8", claudeEfforts, "high"),
		claudeForced("claude-opus-4-7", claudeEfforts, "high"),
		claudeForced("claude-opus-4-6", []string{"low", "medium", "high", "max"}, "high"),
		claudeForced("claude-sonnet-4-6", []string{"low", "medium", "high", "max"}, "high"),
		claudeForced("claude-opus-4-5", []string{"low", "medium", "high"}, "high"),
		claudeForced("claude-sonnet-4-5", nil, ""),
		claudeForced("claude-haiku-4-5", nil, ""),
	},
	"openai": {
		gpt("gpt-6-astra", gptNoNone...),
		gpt("gpt-6.1-sol", gptNoNone...),
		gpt("gpt-6.2-sol", gptNoNone...),
		gpt("gpt-6.2-astra", gptNoNone...),
		gpt("gpt-6-sol", gptAll...),
		gpt("gpt-6-luna", gptAll...),
		gpt("gpt-6.1-terra", gptAll...),
		gpt("gpt-5.6-sol", gptAll...),
		gpt("gpt-5.6-terra", gptAll...),
		gpt("gpt-5.6-luna", gptAll...),
		gpt("gpt-5.5", "none", "low", "medium", "high", "xhigh"),
		gpt("gpt-5.4", "none", "low", "medium", "high", "xhigh"),
		gpt("gpt-5.1", "none", "low", "medium", "high"),
		gpt("gpt-5", "minimal", "low", "medium", "high"),
	},
}

var (
	claudeEfforts = []string{"low", "medium", "high", "xhigh", "max"}
	gptAll        = []string{"none", "low", "medium", "high", "xhigh", "max"}
	gptNoNone     = []string{"low", "medium", "high", "xhigh", "max"}
)

// claude55 is a row for a model that refuses forced tool use and thinks by
// default.
func claude55(family, apiEffort string, thinking ...string) Capabilities {
	return Capabilities{Family: family, Thinking: thinking, Efforts: claudeEfforts, DefaultEffort: apiEffort, Effort: "medium"}
}

// claudeForced is a row for an older model that accepts forced tool use.
// agenthook forces the tool and sends no thinking setting (a forced call
// skips thinking); efforts nil means the model takes no effort.
func claudeForced(family string, efforts []string, apiEffort string) Capabilities {
	c := Capabilities{Family: family, ForcedToolChoice: true, Thinking: []string{"adaptive", "disabled"}, Efforts: efforts, DefaultEffort: apiEffort}
	if len(efforts) > 0 {
		c.Effort = "medium"
	} else {
		c.Thinking = nil // extended thinking with a budget only, which agenthook does not send
	}
	return c
}

// gpt is a row for an OpenAI reasoning model: tool_choice required is
// accepted; the API's default effort is medium.
func gpt(family string, efforts ...string) Capabilities {
	def := "medium"
	if family == "gpt-5.4" || family == "gpt-5.1" {
		def = "none"
	}
	return Capabilities{Family: family, ForcedToolChoice: true, Efforts: efforts, DefaultEffort: def, Effort: "medium"}
}

// maxTokensByEffort leaves room for thinking at each effort. Without a
// known effort, the old default.
var maxTokensByEffort = map[string]int{"": 1024, "none": 1024, "minimal": 4096, "low": 4096, "medium": 16000, "high": 32000, "xhigh": 64000, "max": 64000}

// DefaultMaxTokens is agenthook's max_tokens for a model at an effort.
func DefaultMaxTokens(effort string) int {
	return cmp.Or(maxTokensByEffort[effort], 16000)
}

// CapabilitiesOf looks a model up. A model the table does not know gets the
// safe choice: no forced tool choice, and no thinking or effort setting,
// which an unknown model might refuse.
func CapabilitiesOf(provider, model string) Capabilities {
	for _, row := range Models[provider] {
		if rest, ok := strings.CutPrefix(model, row.Family); ok && (rest == "" || snapshot(rest)) {
			return row
		}
	}
	return Capabilities{}
}

// snapshot reports whether rest is a snapshot date suffix: "-" followed by
// digits and dashes (-20260928, -2026-10-01).
func snapshot(rest string) bool {
	if len(rest) < 7 || rest[0] != '-' {
		return false
	}
	for _, r := range rest[1:] {
		if (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}

// Settings is how a route's requests are made: the tool choice of the first
// round, the thinking mode, the effort and max_tokens. Empty fields are
// filled by WithDefaults.
type Settings struct {
	// ToolChoice is "auto", or "any" (the model must call one of the
	// route's tools) or "tool" (it must call the route's one tool); the
	// last two are forced tool use.
	ToolChoice string
	Thinking   string
	Effort     string
	MaxTokens  int
}

// ToolChoices lists the accepted values of agent.tool_choice.
var ToolChoices = []string{"auto", "any", "tool"}

// Over returns s with the fields o sets replaced: a route's settings over
// the agent's.
func (s Settings) Over(o Settings) Settings {
	return Settings{
		ToolChoice: cmp.Or(o.ToolChoice, s.ToolChoice),
		Thinking:   cmp.Or(o.Thinking, s.Thinking),
		Effort:     cmp.Or(o.Effort, s.Effort),
		MaxTokens:  cmp.Or(o.MaxTokens, s.MaxTokens),
	}
}

// WithDefaults fills what s leaves empty from the model's capabilities:
// forced tool choice where the model accepts it (auto elsewhere), the
// effort agenthook picks for the model, and a max_tokens with room for
// thinking at that effort. Each default is declared here once.
func (s Settings) WithDefaults(c Capabilities, tools int) Settings {
	if s.ToolChoice == "" {
		s.ToolChoice = "auto"
		if c.ForcedToolChoice {
			s.ToolChoice = "any"
			if tools == 1 {
				s.ToolChoice = "tool"
			}
		}
	}
	if s.Effort == "" {
		s.Effort = c.Effort
	}
	if s.Thinking == "" && len(c.Thinking) > 0 && !c.ForcedToolChoice {
		// Said explicitly, so the journal shows what was asked for.
		s.Thinking = c.Thinking[0]
	}
	if s.MaxTokens == 0 {
		s.MaxTokens = DefaultMaxTokens(s.Effort)
	}
	return s
}

// Check reports settings the model is documented to refuse; each message
// starts with the setting's config key. tools is the route's tool count, 0
// when not known. For a model the table does not know it checks only the
// values themselves: the API has the last word.
func (s Settings) Check(c Capabilities, model string, tools int) error {
	if s.ToolChoice != "" && !slices.Contains(ToolChoices, s.ToolChoice) {
		return fmt.Errorf("tool_choice %q: use one of %v", s.ToolChoice, ToolChoices)
	}
	if s.ToolChoice == "tool" && tools > 1 { // 0: not known yet
		return fmt.Errorf("tool_choice tool needs a route with exactly one tool (this one has %d): use any or auto", tools)
	}
	if forced := s.ToolChoice == "any" || s.ToolChoice == "tool"; forced && c.Known() && !c.ForcedToolChoice {
		return fmt.Errorf("tool_choice %s: %s refuses forced tool use (400); use tool_choice auto", s.ToolChoice, model)
	}
	if s.Thinking != "" && c.Known() && !slices.Contains(c.Thinking, s.Thinking) {
		if len(c.Thinking) == 0 {
			return fmt.Errorf("thinking %s: agenthook sends no thinking setting to %s; leave thinking unset", s.Thinking, model)
		}
		return fmt.Errorf("thinking %s: %s accepts %v", s.Thinking, model, c.Thinking)
	}
	if s.Effort != "" && c.Known() && !slices.Contains(c.Efforts, s.Effort) {
		if len(c.Efforts) == 0 {
			return fmt.Errorf("effort %s: %s takes no effort setting; leave effort unset", s.Effort, model)
		}
		return fmt.Errorf("effort %s: %s accepts %v", s.Effort, model, c.Efforts)
	}
	return nil
}

// Choice is the first round's tool choice for the route's tools.
func (s Settings) Choice(tools []Tool) Choice {
	switch {
	case s.ToolChoice == "tool" && len(tools) == 1:
		return Choice{Mode: "tool", Name: tools[0].Name}
	case s.ToolChoice == "any" || s.ToolChoice == "tool":
		return Choice{Mode: "any"}
	}
	return Choice{Mode: "auto"}
}
