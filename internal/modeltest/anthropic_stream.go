package modeltest

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// writeStream sends msg as server-sent events, as the Messages API streams
// with stream: true (https://docs.anthropic.com/en/api/messages-streaming): message_start, then per block content_block_start, its
// deltas (text_delta, thinking_delta, signature_delta, input_json_delta) and
// content_block_stop, then message_delta with the stop reason and the usage,
// and message_stop. "When streaming, the signature is added via a
// signature_delta inside a content_block_delta event just before the
// content_block_stop event."
// https://docs.aws.amazon.com/bedrock/latest/userguide/claude-messages-thinking-encryption.html
// (Anthropic's text on Bedrock; the event names are the SDK's, generated
// from the API spec.)
func writeStream(w http.ResponseWriter, msg map[string]any) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	send := func(typ string, data map[string]any) {
		data["type"] = typ
		b, _ := json.Marshal(data)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", typ, b)
	}
	usage, _ := msg["usage"].(map[string]any)
	start := map[string]any{}
	for k, v := range msg {
		start[k] = v
	}
	startUsage := map[string]any{}
	for k, v := range usage {
		startUsage[k] = v
	}
	startUsage["output_tokens"] = 1
	start["content"], start["stop_reason"], start["stop_sequence"], start["stop_details"], start["usage"] = []any{}, nil, nil, nil, startUsage
	send("message_start", map[string]any{"message": start})
	blocks, _ := msg["content"].([]map[string]any)
	for i, b := range blocks {
		open := map[string]any{}
		for k, v := range b {
			open[k] = v
		}
		var deltas []map[string]any
		switch b["type"] {
		case "text":
			open["text"] = ""
			deltas = append(deltas, map[string]any{"type": "text_delta", "text": b["text"]})
		case "thinking":
			open["thinking"], open["signature"] = "", ""
			if t, _ := b["thinking"].(string); t != "" {
				deltas = append(deltas, map[string]any{"type": "thinking_delta", "thinking": t})
			}
			deltas = append(deltas, map[string]any{"type": "signature_delta", "signature": b["signature"]})
		case "tool_use":
			open["input"] = map[string]any{}
			in, _ := json.Marshal(b["input"])
			deltas = append(deltas, map[string]any{"type": "input_json_delta", "partial_json": string(in)})
		}
		send("content_block_start", map[string]any{"index": i, "content_block": open})
		for _, d := range deltas {
			send("content_block_delta", map[string]any{"index": i, "delta": d})
		}
		send("content_block_stop", map[string]any{"index": i})
	}
	send("message_delta", map[string]any{
		"delta": map[string]any{"stop_reason": msg["stop_reason"], "stop_sequence": msg["stop_sequence"], "stop_details": msg["stop_details"]},
		"usage": usage,
	})
	send("message_stop", map[string]any{})
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}
