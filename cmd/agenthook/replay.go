package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

const defaultServer = "http://localhost:8000"

// replayResult is the answer of POST /api/replay, and what `replay --json`
// prints in both modes.
type replayResult struct {
	Replayed   []string  `json:"replayed"`
	Skipped    []skipped `json:"skipped"`
	Matched    int       `json:"matched"`
	NextCursor string    `json:"next_cursor"`
	// Writes counts the writes the replayed events made before: a replay
	// may make them, or different ones, again.
	Writes int `json:"writes"`
}

type skipped struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// replay asks a running agenthook to queue events again: the ones named, or
// the ones a filter selects.
func replay(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("replay", stderr)
	server := fs.String("server", defaultServer, "agenthook base URL")
	var filter filterFlags
	filter.register(fs)
	batch := fs.Int("batch", 50, "events replayed per request when replaying by filter (1–500)")
	asJSON := fs.Bool("json", false, `print {"replayed": [ids], "skipped": [{"id", "reason"}], "writes": N} as JSON`)
	allowWrites := fs.Bool("allow-writes", false, "also replay events that made writes (refunds, cancellations, …): the fresh conversation may make different ones")
	ids, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(ids) > 0 && !filter.empty():
		return errors.New("replay takes event ids or filter flags, not both: agenthook replay evt_… or agenthook replay --status dead --since 24h")
	case len(ids) == 0 && filter.empty():
		return errors.New("replay takes one or more event ids (agenthook replay evt_…) or a filter (agenthook replay --status dead --since 24h)")
	case len(ids) > 0:
		return replayIDs(ctx, ids, *server, *asJSON, *allowWrites, getenv, stdout, stderr)
	}
	if *batch < 1 || *batch > 500 {
		return fmt.Errorf("--batch %d: use 1 to 500", *batch)
	}
	return replayFilter(ctx, &filter, *batch, *server, *asJSON, *allowWrites, getenv, stdout, stderr)
}

func replayIDs(ctx context.Context, ids []string, server string, asJSON, allowWrites bool, getenv func(string) string, stdout, stderr io.Writer) error {
	client := &http.Client{Timeout: 30 * time.Second}
	res := replayResult{Replayed: []string{}}
	var reqBody []byte
	if allowWrites {
		reqBody = []byte(`{"allow_writes":true}`)
	}
	for _, id := range ids {
		u := strings.TrimRight(server, "/") + "/api/events/" + url.PathEscape(id) + "/replay"
		status, body, err := adminDo(ctx, client, http.MethodPost, u, getenv("AGENTHOOK_ADMIN_TOKEN"), reqBody)
		if err != nil {
			return err
		}
		if status/100 != 2 {
			reason := strings.TrimSpace(string(body))
			var e struct {
				Error string `json:"error"`
			}
			if json.Unmarshal(body, &e) == nil && e.Error != "" {
				reason = e.Error
			}
			reason = fmt.Sprintf("%d %s", status, reason)
			res.Skipped = append(res.Skipped, skipped{id, reason})
			if !asJSON {
				fmt.Fprintf(stderr, "%s: %s\n", id, reason)
			}
			continue
		}
		var ans struct {
			Writes int `json:"writes"`
		}
		json.Unmarshal(body, &ans)
		res.Replayed = append(res.Replayed, id)
		res.Writes += ans.Writes
		if !asJSON {
			fmt.Fprintf(stdout, "%s: queued%s\n", id, mayRepeat(ans.Writes))
		}
	}
	if asJSON {
		if err := printReplayJSON(stdout, &res); err != nil {
			return err
		}
	}
	if n := len(res.Skipped); n > 0 {
		return fmt.Errorf("%d of %d replays failed", n, len(ids))
	}
	return nil
}

// replayFilter replays what the filter selects, a batch per request,
// following the cursor, with a progress bar on stderr when there are many.
func replayFilter(ctx context.Context, filter *filterFlags, batch int, server string, asJSON, allowWrites bool, getenv func(string) string, stdout, stderr io.Writer) error {
	client := newAdminClient(server, getenv)
	body := map[string]any{"limit": batch}
	if allowWrites {
		body["allow_writes"] = true
	}
	for k, v := range filter.fields() {
		body[k] = v
	}
	all := replayResult{Replayed: []string{}}
	var done atomic.Int64
	stopBar := func() {}
	for first := true; ; first = false {
		b, err := client.call(ctx, http.MethodPost, "/api/replay", nil, body)
		if err != nil {
			stopBar()
			return fmt.Errorf("%w (replayed %d before this)", err, len(all.Replayed))
		}
		var res replayResult
		if err := json.Unmarshal(b, &res); err != nil {
			stopBar()
			return fmt.Errorf("POST /api/replay: unexpected answer (is --server an agenthook?): %w", err)
		}
		if first {
			all.Matched = res.Matched
			if res.Matched > batch {
				// Many: a bar on stderr while the batches go (on a terminal only).
				stopBar = progress(stderr, &done, res.Matched)
			}
		}
		all.Replayed = append(all.Replayed, res.Replayed...)
		all.Skipped = append(all.Skipped, res.Skipped...)
		all.Writes += res.Writes
		done.Store(int64(min(len(all.Replayed)+len(all.Skipped), all.Matched)))
		if res.NextCursor == "" {
			break
		}
		body["cursor"] = res.NextCursor
	}
	stopBar()
	if asJSON {
		return printReplayJSON(stdout, &all)
	}
	for _, id := range all.Replayed {
		fmt.Fprintf(stdout, "%s: queued\n", id)
	}
	for _, s := range all.Skipped {
		fmt.Fprintf(stdout, "%s: skipped: %s\n", s.ID, s.Reason)
	}
	if all.Matched == 0 {
		fmt.Fprintln(stderr, "no events match")
		return nil
	}
	fmt.Fprintf(stderr, "replayed %d, skipped %d%s\n", len(all.Replayed), len(all.Skipped), mayRepeat(all.Writes))
	return nil
}

// mayRepeat tells how many writes the replayed events made before.
func mayRepeat(writes int) string {
	if writes == 0 {
		return ""
	}
	return fmt.Sprintf(" (made %d write(s) before: the replay may repeat up to %d, or make different ones; an identical write is refused by the journal)", writes, writes)
}

func printReplayJSON(w io.Writer, r *replayResult) error {
	out := struct {
		Replayed []string  `json:"replayed"`
		Skipped  []skipped `json:"skipped"`
		Writes   int       `json:"writes"`
	}{r.Replayed, r.Skipped, r.Writes}
	if out.Skipped == nil {
		out.Skipped = []skipped{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// adminDo calls the admin API with the token, if any.
func adminDo(ctx context.Context, client *http.Client, method, u, token string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("bad --server: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w (is agenthook serve running there?)", method, u, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, answer, err
}
