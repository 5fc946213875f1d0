package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

const defaultServer = "http://localhost:8000"

// replay asks a running agenthook to queue events again.
func replay(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("replay", stderr)
	server := fs.String("server", defaultServer, "agenthook base URL")
	ids, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return errors.New("replay takes one or more event ids: agenthook replay evt_…")
	}
	client := &http.Client{Timeout: 30 * time.Second}
	var failed int
	for _, id := range ids {
		u := strings.TrimRight(*server, "/") + "/api/events/" + url.PathEscape(id) + "/replay"
		status, body, err := adminDo(ctx, client, http.MethodPost, u, getenv("AGENTHOOK_ADMIN_TOKEN"))
		if err != nil {
			return err
		}
		if status/100 != 2 {
			failed++
			fmt.Fprintf(stderr, "%s: %d %s\n", id, status, strings.TrimSpace(string(body)))
			continue
		}
		fmt.Fprintf(stdout, "%s: queued\n", id)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d replays failed", failed, len(ids))
	}
	return nil
}

// adminDo calls the admin API with the token, if any.
func adminDo(ctx context.Context, client *http.Client, method, u, token string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return 0, nil, fmt.Errorf("bad --server: %w", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w (is agenthook serve running there?)", method, u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, body, err
}
