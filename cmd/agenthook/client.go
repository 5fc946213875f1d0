package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// adminClient calls a running agenthook's admin API (/api/), with
// AGENTHOOK_ADMIN_TOKEN as the bearer token when it is set.
type adminClient struct {
	base  string
	token string
	http  *http.Client
}

func newAdminClient(server string, getenv func(string) string) *adminClient {
	return &adminClient{
		base:  strings.TrimRight(server, "/"),
		token: getenv("AGENTHOOK_ADMIN_TOKEN"),
		http:  &http.Client{Timeout: 2 * time.Minute},
	}
}

// call sends in as JSON (unless nil) and returns the body of a 2xx answer.
// Any other answer is an error carrying the server's message, which says
// what to do.
func (c *adminClient) call(ctx context.Context, method, path string, query url.Values, in any) ([]byte, error) {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("bad --server %q: %w (use a URL such as %s)", c.base, err, defaultServer)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err // it repeats the method and URL
		}
		return nil, fmt.Errorf("%s %s: %w (is agenthook serve running there? point --server at it)", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", method, u, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return nil, fmt.Errorf("%s %s: %d: %s", method, u, resp.StatusCode, msg)
	}
	return b, nil
}

// getJSON GETs path and decodes the answer into out.
func (c *adminClient) getJSON(ctx context.Context, path string, query url.Values, out any) ([]byte, error) {
	b, err := c.call(ctx, http.MethodGet, path, query, nil)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return nil, fmt.Errorf("GET %s: unexpected answer (is --server an agenthook?): %w", path, err)
	}
	return b, nil
}

// filterFlags are the event filter shared by `events list` and `replay`.
type filterFlags struct {
	status, typ, route, since, until, q string
}

func (f *filterFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.status, "status", "", "only events in these statuses, comma-separated (ignored, queued, running, retrying, done, dead, filtered, awaiting_approval, deferred)")
	fs.StringVar(&f.typ, "type", "", "only events of this exact type, e.g. charge.dispute.created")
	fs.StringVar(&f.route, "route", "", "only events of this route")
	fs.StringVar(&f.since, "since", "", "only events received since: RFC3339, or a duration back from now (24h, 7d)")
	fs.StringVar(&f.until, "until", "", "only events received before: RFC3339, or a duration back from now")
	fs.StringVar(&f.q, "q", "", "only events whose id contains this text")
}

func (f *filterFlags) empty() bool { return *f == filterFlags{} }

// query is the filter as GET /api/events parameters.
func (f *filterFlags) query() url.Values {
	v := url.Values{}
	for k, s := range f.fields() {
		v.Set(k, s)
	}
	return v
}

// fields is the filter as the JSON fields of POST /api/replay.
func (f *filterFlags) fields() map[string]string {
	m := map[string]string{}
	for k, s := range map[string]string{"status": f.status, "type": f.typ, "route": f.route, "since": f.since, "until": f.until, "q": f.q} {
		if s != "" {
			m[k] = s
		}
	}
	return m
}

// writeIndented writes a JSON answer indented, for --json.
func writeIndented(w io.Writer, b []byte) error {
	var out bytes.Buffer
	if err := json.Indent(&out, bytes.TrimSpace(b), "", "  "); err != nil {
		return fmt.Errorf("unexpected answer (is --server an agenthook?): %w", err)
	}
	out.WriteByte('\n')
	_, err := w.Write(out.Bytes())
	return err
}
