package modeltest

import (
	"regexp"
	"strings"
)

// modelSpec is what the fake knows of one Claude model family: the request
// settings the Messages API accepts for it and how it answers. The fake
// decides by the request's model id; a model it does not know gets the old
// lenient behaviour (no thinking, every setting accepted), so tests with
// made-up model names keep working.
//
// Sources (one row each below):
//   - current lineup, prices, max output, default effort:
//     https://platform.claude.com/docs/about-claude/models/overview
//   - thinking types accepted and refused per model:
//     https://platform.claude.com/docs/en/build-with-claude/thinking-troubleshooting
//   - forced tool use refused on the 5.5-class models:
//     https://platform.claude.com/docs/en/api/errors#forced-tool-use-not-supported
//     https://platform.claude.com/docs/en/models/sonnet-5-5/migration-guide#forced-tool-use
//   - effort levels per model: https://platform.claude.com/docs/en/build-with-claude/effort
//   - prefix check: https://platform.claude.com/docs/en/build-with-claude/preserved-thinking
type modelSpec struct {
	Family string
	// ForcedToolChoice: tool_choice any/tool is accepted (and thinking is
	// then skipped: "the response starts with a tool call").
	ForcedToolChoice bool
	// Thinking is "always" (cannot be turned off), "on" (on by default,
	// "disabled" accepted) or "off" (off unless the request asks).
	Thinking string
	// Adaptive, Extended: thinking.type "adaptive" / "enabled" accepted.
	Adaptive, Extended bool
	// DisabledUpToHigh: "disabled" only at effort high or below (Opus 5,
	// Haiku 5.5).
	DisabledUpToHigh bool
	// BetweenTools: thinking.type "between_tools" accepted (Sonnet 5.5
	// only), and "disabled" refused with a message pointing to it.
	BetweenTools bool
	// Efforts accepted in output_config.effort; nil: the field is refused.
	Efforts       []string
	DefaultEffort string
	MaxOutput     int
	// PrefixCheck: replayed thinking blocks are bound to the conversation
	// before them (enforced, as for accounts created after 2026-08-31).
	PrefixCheck bool
	// NoSampling: non-default temperature, top_p, top_k refused.
	NoSampling bool
	// NoPrefill: a last assistant turn (prefill) refused (Claude 4.6 and later).
	NoPrefill bool
	// Display is the default thinking.display.
	Display string
}

var (
	allEfforts   = []string{"low", "medium", "high", "xhigh", "max"}
	noXhigh      = []string{"low", "medium", "high", "max"}
	opus45Effort = []string{"low", "medium", "high"}
)

// models is the fake's capability table, exact families (a trailing
// -YYYYMMDD snapshot date is ignored).
var models = map[string]modelSpec{
	// 5.5-class: forced tool use refused, thinking always on (Sonnet 5.5:
	// on, turned off only with between_tools), prefix check enforced.
	"claude-opus-5-5": {ForcedToolChoice: false, Thinking: "always", Adaptive: true,
		Efforts: allEfforts, DefaultEffort: "medium", MaxOutput: 128000, PrefixCheck: true, NoSampling: true, NoPrefill: true, Display: "omitted"},
	"claude-sonnet-5-5": {ForcedToolChoice: false, Thinking: "on", Adaptive: true, BetweenTools: true,
		Efforts: allEfforts, DefaultEffort: "high", MaxOutput: 128000, PrefixCheck: true, NoSampling: true, NoPrefill: true, Display: "omitted"},
	"claude-fable-5-1": {ForcedToolChoice: false, Thinking: "always", Adaptive: true,
		Efforts: allEfforts, DefaultEffort: "high", MaxOutput: 128000, PrefixCheck: true, NoSampling: true, NoPrefill: true, Display: "omitted"},
	// "Claude Mythos 5.1 and models before Claude Fable 5.1 don't run the
	// prefix check." (preserved-thinking)
	"claude-mythos-5-1": {ForcedToolChoice: false, Thinking: "always", Adaptive: true,
		Efforts: allEfforts, DefaultEffort: "high", MaxOutput: 128000, PrefixCheck: false, NoSampling: true, NoPrefill: true, Display: "omitted"},
	// Fable/Mythos 5.2 appear only in the docs' supported-model lists (effort,
	// prefix check); treated like Fable 5.1. An assumption: no page read
	// describes them.
	"claude-fable-5-2": {ForcedToolChoice: false, Thinking: "always", Adaptive: true,
		Efforts: allEfforts, DefaultEffort: "high", MaxOutput: 128000, PrefixCheck: true, NoSampling: true, NoPrefill: true, Display: "omitted"},
	"claude-mythos-5-2": {ForcedToolChoice: false, Thinking: "always", Adaptive: true,
		Efforts: allEfforts, DefaultEffort: "high", MaxOutput: 128000, PrefixCheck: true, NoSampling: true, NoPrefill: true, Display: "omitted"},

	// Older models that still accept forced tool choice.
	"claude-haiku-5-5": {ForcedToolChoice: true, Thinking: "on", Adaptive: true, DisabledUpToHigh: true,
		Efforts: allEfforts, DefaultEffort: "medium", MaxOutput: 128000, PrefixCheck: true, NoSampling: true, NoPrefill: true, Display: "omitted"},
	"claude-fable-5": {ForcedToolChoice: true, Thinking: "always", Adaptive: true,
		Efforts: allEfforts, DefaultEffort: "high", MaxOutput: 128000, NoSampling: true, NoPrefill: true, Display: "omitted"},
	"claude-mythos-5": {ForcedToolChoice: true, Thinking: "always", Adaptive: true,
		Efforts: allEfforts, DefaultEffort: "high", MaxOutput: 128000, NoSampling: true, NoPrefill: true, Display: "omitted"},
	"claude-opus-5": {ForcedToolChoice: true, Thinking: "on", Adaptive: true, DisabledUpToHigh: true,
		Efforts: allEfforts, DefaultEffort: "high", MaxOutput: 128000, NoSampling: true, NoPrefill: true, Display: "omitted"},
	"claude-sonnet-5": {ForcedToolChoice: true, Thinking: "on", Adaptive: true,
		Efforts: allEfforts, DefaultEffort: "high", MaxOutput: 128000, NoSampling: true, NoPrefill: true, Display: "omitted"},
	"claude-opus-4-8": {ForcedToolChoice: true, Thinking: "off", Adaptive: true,
		Efforts: allEfforts, DefaultEffort: "high", MaxOutput: 128000, NoSampling: true, NoPrefill: true, Display: "omitted"},
	"claude-opus-4-7": {ForcedToolChoice: true, Thinking: "off", Adaptive: true,
		Efforts: allEfforts, DefaultEffort: "high", MaxOutput: 128000, NoSampling: true, NoPrefill: true, Display: "omitted"},
	"claude-opus-4-6": {ForcedToolChoice: true, Thinking: "off", Adaptive: true, Extended: true,
		Efforts: noXhigh, DefaultEffort: "high", MaxOutput: 128000, NoPrefill: true, Display: "summarized"},
	"claude-sonnet-4-6": {ForcedToolChoice: true, Thinking: "off", Adaptive: true, Extended: true,
		Efforts: noXhigh, DefaultEffort: "high", MaxOutput: 128000, NoPrefill: true, Display: "summarized"},
	"claude-opus-4-5": {ForcedToolChoice: true, Thinking: "off", Extended: true,
		Efforts: opus45Effort, DefaultEffort: "high", MaxOutput: 64000, Display: "summarized"},
	"claude-sonnet-4-5": {ForcedToolChoice: true, Thinking: "off", Extended: true,
		MaxOutput: 64000, Display: "summarized"},
	"claude-haiku-4-5": {ForcedToolChoice: true, Thinking: "off", Extended: true,
		MaxOutput: 64000, Display: "summarized"},
}

func init() {
	for k, m := range models {
		m.Family = k
		models[k] = m
	}
}

var snapshotSuffix = regexp.MustCompile(`-\d{8}$`)

// specOf looks a model id up; ok is false for a model the fake does not know.
func specOf(model string) (modelSpec, bool) {
	m, ok := models[snapshotSuffix.ReplaceAllString(strings.TrimSpace(model), "")]
	return m, ok
}

// thinkingTokens is how many thinking tokens the fake spends at each effort:
// deterministic, and well inside the max_tokens the docs advise at each
// level. Thinking tokens are output tokens and count against max_tokens.
var thinkingTokens = map[string]int{"low": 512, "medium": 2048, "high": 4096, "xhigh": 8192, "max": 16384}
