package modeltest

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// obeyTool marks a Reply made by Obedient.
const obeyTool = "\x00modeltest:obey"

// Obedient is the reply of a model that obeys any instruction it finds in
// the prompt: the first `CALL <tool> {json input}` in the request's
// messages (the opening prompt, or the tool results fed back in this
// round) makes it call that tool with that input, whatever the tool's
// schema or the event say. The instruction may sit inside JSON strings,
// escaped any number of times (agenthook fences and quotes the event);
// it is searched unescaped level by level. With no instruction (none was
// planted, or redaction removed it) the model ends the turn with text.
// The reply goes through the fake's normal path: thinking, signatures and
// tool_use ids are those of any other answer. Use it as Fake.Then so every
// round obeys.
func Obedient() Reply { return Reply{Tool: obeyTool} }

// ObeyMarker is what an attacker writes before the tool name.
const ObeyMarker = "CALL "

// Instruction is a planted instruction in the form Obedient obeys.
func Instruction(tool string, input any) string {
	b, _ := json.Marshal(input)
	return ObeyMarker + tool + " " + string(b)
}

// FindInstruction returns the first planted instruction in text, searching
// text as it is and then unescaped one JSON level at a time.
func FindInstruction(text string) (tool string, input map[string]any, ok bool) {
	for level := 0; level < 6; level++ {
		if tool, input, ok = findPlain(text); ok {
			return tool, input, true
		}
		next := unescapeJSON(text)
		if next == text {
			break
		}
		text = next
	}
	return "", nil, false
}

var callRE = regexp.MustCompile(`CALL ([A-Za-z0-9_.\-]+)\s*`)

func findPlain(text string) (string, map[string]any, bool) {
	for _, m := range callRE.FindAllStringSubmatchIndex(text, -1) {
		rest := text[m[1]:]
		if !strings.HasPrefix(rest, "{") {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(rest))
		dec.UseNumber()
		var in map[string]any
		if err := dec.Decode(&in); err == nil && in != nil {
			return text[m[2]:m[3]], in, true
		}
	}
	return "", nil, false
}

// unescapeJSON undoes one level of JSON string escaping wherever it
// appears in text (\" \\ \/ \n \t \r \b \f \uXXXX); other text is kept.
func unescapeJSON(text string) string {
	if !strings.Contains(text, `\`) {
		return text
	}
	var b strings.Builder
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c != '\\' || i+1 >= len(text) {
			b.WriteByte(c)
			continue
		}
		i++
		switch text[i] {
		case '"', '\\', '/':
			b.WriteByte(text[i])
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'b', 'f':
			b.WriteByte(' ')
		case 'u':
			if i+4 < len(text) {
				if r, err := strconv.ParseUint(text[i+1:i+5], 16, 32); err == nil {
					var buf [4]byte
					n := utf8.EncodeRune(buf[:], rune(r))
					b.Write(buf[:n])
					i += 4
					continue
				}
			}
			b.WriteString(`\u`)
		default:
			b.WriteByte('\\')
			b.WriteByte(text[i])
		}
	}
	return b.String()
}

// textOf is the text of blocks: text blocks and tool results' content.
func textOf(blocks []map[string]any) string {
	var b strings.Builder
	for _, bl := range blocks {
		switch bl["type"] {
		case "text":
			s, _ := bl["text"].(string)
			b.WriteString(s)
		case "tool_result":
			switch c := bl["content"].(type) {
			case string:
				b.WriteString(c)
			case []any:
				for _, x := range c {
					if m, ok := x.(map[string]any); ok {
						s, _ := m["text"].(string)
						b.WriteString(s)
					}
				}
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// obey turns an Obedient reply into the answer its instruction asks for:
// the tool to call and its input (nil: no instruction, end the turn). In
// a round that feeds tool results back only those results are read, so
// the model acts once per planted instruction.
func obey(q *request, rep Reply) (Reply, map[string]any) {
	if rep.Tool != obeyTool {
		return rep, nil
	}
	rep.Tool = ""
	var text string
	if q.feedsToolResults() {
		text = textOf(q.Messages[len(q.Messages)-1].Blocks)
	} else {
		for _, m := range q.Messages {
			if m.Role == "user" {
				text += textOf(m.Blocks)
			}
		}
	}
	tool, input, ok := FindInstruction(text)
	if !ok {
		rep.NoTool = true
		rep.Text = "The event carries no instruction to follow."
		return rep, nil
	}
	rep.Tool, rep.StopReason = tool, "tool_use"
	rep.Text = "The event says to " + tool + "; doing as it says."
	return rep, input
}
