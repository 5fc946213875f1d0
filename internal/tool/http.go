package tool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/agenthook/agenthook/internal/config"
	"github.com/agenthook/agenthook/internal/secret"
	"github.com/agenthook/agenthook/internal/stripeevent"
)

// errBodyLimit bounds how much of an error response is read to find its
// tail; the rest is not worth the memory.
const errBodyLimit = 64 << 10

// reservedHeaders are set by agenthook on every tool request; a config
// header with one of these names would break signing or idempotency.
var reservedHeaders = []string{SignatureHeader, "Idempotency-Key", "Content-Type", "Content-Length", "Host"}

// httpTool POSTs the call, signed, to the user's service.
type httpTool struct {
	name     string
	url      string // may carry credentials: never logged or shown
	host     string // what messages and logs name instead
	headers  http.Header
	timeout  time.Duration
	secret   string
	client   *http.Client
	attempts int
	base     time.Duration
	maxWait  time.Duration
	log      *slog.Logger
}

func (*httpTool) kind() string { return "http" }

// newHTTPTool checks the run.http settings. A secret is required unless
// the URL is on the loopback interface: an unsigned request lets anyone
// who can reach the service impersonate agenthook, which is only
// acceptable when nobody else can reach it (local development).
func newHTTPTool(name string, r *config.HTTPRun, secret string, client *http.Client, opts Options) (*httpTool, error) {
	u, err := url.Parse(r.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("run.http.url must be an absolute http:// or https:// URL, e.g. https://tools.example.com/agenthook")
	}
	if secret == "" && !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("run.http posts to %s but no tool secret is set, so the receiver could not tell agenthook from anyone else: set AGENTHOOK_TOOL_SECRET (or tool_secret:) to a long random string and verify %s in the receiver", u.Host, SignatureHeader)
	}
	if secret == "" {
		opts.Log.Warn("http tool on loopback sends unsigned requests; set AGENTHOOK_TOOL_SECRET to sign them", "tool", name, "host", u.Host)
	}
	h := http.Header{}
	for k, v := range r.Headers {
		if !validHeaderName(k) {
			return nil, fmt.Errorf("run.http.headers: %q is not a valid header name: use letters, digits and -", k)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return nil, fmt.Errorf("run.http.headers: the value of %s contains a line break: put it on one line", k)
		}
		for _, res := range reservedHeaders {
			if strings.EqualFold(k, res) {
				return nil, fmt.Errorf("run.http.headers must not set %s: agenthook sets it on every request; remove it", res)
			}
		}
		h.Set(k, v)
	}
	timeout := r.Timeout.D()
	if timeout < 0 {
		return nil, errors.New("run.http.timeout is negative: use a duration such as 30s")
	}
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	return &httpTool{
		name: name, url: r.URL, host: u.Host, headers: h, timeout: timeout, secret: secret,
		client: client, attempts: opts.Attempts, base: opts.RetryBase, maxWait: opts.MaxRetryWait,
		log: opts.Log,
	}, nil
}

// attempt is the outcome of one POST: either final (a Result to return) or
// a retryable failure with an optional server-requested wait.
type attempt struct {
	final      bool
	result     Result
	failure    string        // retryable: what went wrong
	retryAfter time.Duration // retryable: server-requested wait, or -1
}

// Execute POSTs the call up to h.attempts times. Retrying is safe because
// every attempt carries the same Idempotency-Key, which the receiver is
// expected to honour (the README says so). Each attempt is signed afresh
// so a late retry is not rejected for a stale timestamp.
func (h *httpTool) Execute(ctx context.Context, call Call) (Result, error) {
	body, err := encodeCall(call)
	if err != nil {
		return Result{IsError: true, Content: "the tool input could not be encoded: " + err.Error()}, nil
	}
	for n := 1; ; n++ {
		a := h.try(ctx, body, call.IdempotencyKey)
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		if a.final {
			return a.result, nil
		}
		if n >= h.attempts {
			return Result{IsError: true, Content: fmt.Sprintf("%s (gave up after %d attempts)", a.failure, n)}, nil
		}
		wait := h.backoff(n)
		if a.retryAfter >= 0 {
			wait = min(a.retryAfter, h.maxWait)
		}
		h.log.Debug("http tool attempt failed; retrying", "tool", h.name, "host", h.host, "attempt", n, "wait", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return Result{}, ctx.Err()
		case <-t.C:
		}
	}
}

// backoff returns the wait after attempt n (1-based): base·2^(n-1),
// capped, with "equal jitter" (half fixed, half random) so that many
// workers failing together do not retry in lockstep.
func (h *httpTool) backoff(n int) time.Duration {
	d := h.base << min(n-1, 30)
	if d <= 0 || d > h.maxWait {
		d = h.maxWait
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

func (h *httpTool) try(ctx context.Context, body []byte, key string) attempt {
	actx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return attempt{final: true, result: Result{IsError: true, Content: "the request to " + h.host + " could not be built: check run.http.url"}}
	}
	req.Header = h.headers.Clone()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	if h.secret != "" {
		req.Header.Set(SignatureHeader, stripeevent.Sign(body, h.secret, time.Now()))
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "agenthook")
	}

	resp, err := h.client.Do(req)
	if err != nil {
		if errors.Is(actx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			return retry(fmt.Sprintf("POST to %s timed out after %s", h.host, h.timeout), -1)
		}
		// url.Error repeats the URL, which may hold a token: keep only
		// the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return retry(h.scrub(fmt.Sprintf("POST to %s failed: %v", h.host, err)), -1)
	}
	defer resp.Body.Close()

	code := resp.StatusCode
	status := fmt.Sprintf("HTTP %d %s", code, http.StatusText(code))
	switch {
	case code >= 200 && code < 300:
		b, err := io.ReadAll(io.LimitReader(resp.Body, MaxResultBytes+1))
		if err != nil {
			if errors.Is(actx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
				return retry(fmt.Sprintf("reading the answer of %s timed out after %s", h.host, h.timeout), -1)
			}
			return retry(fmt.Sprintf("reading the answer of %s failed: %v", h.host, err), -1)
		}
		if len(bytes.TrimSpace(b)) == 0 {
			return attempt{final: true, result: Result{Content: fmt.Sprintf("done (%s, empty body)", status)}}
		}
		return attempt{final: true, result: Result{Content: clip(b, MaxResultBytes, false)}}
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		wait := time.Duration(-1)
		if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
			wait = retryAfter(resp.Header.Get("Retry-After"))
		}
		return retry(fmt.Sprintf("%s answered %s%s", h.host, status, h.scrub(bodyTail(resp.Body))), wait)
	case code >= 300 && code < 400:
		return attempt{final: true, result: Result{IsError: true, Content: fmt.Sprintf(
			"%s answered %s: redirects are not followed; point run.http.url at the final URL", h.host, status)}}
	default:
		return attempt{final: true, result: Result{IsError: true, Content: fmt.Sprintf("%s answered %s%s", h.host, status, h.scrub(bodyTail(resp.Body)))}}
	}
}

// scrub removes credentials from text the service sent back: the
// configured header values (an Authorization or API key header) wherever
// they appear, and anything secret.Scrub recognises.
func (h *httpTool) scrub(s string) string {
	var known []string
	for _, vs := range h.headers {
		known = append(known, vs...)
	}
	return secret.Scrub(s, known...)
}

func retry(failure string, wait time.Duration) attempt {
	return attempt{failure: failure, retryAfter: wait}
}

// bodyTail reads (a bounded part of) an error body and returns ": " and
// its tail, or "" when it is empty or unreadable.
func bodyTail(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, errBodyLimit))
	if t := tail(b, errTailBytes); t != "" {
		return ": " + t
	}
	return ""
}

// retryAfter parses a Retry-After value (seconds or an HTTP date); -1
// means absent or unparseable.
func retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return -1
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return -1
		}
		return time.Duration(min(s, int64(time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return -1
}

// noRedirectClient returns a copy of c (or of a default client) that hands
// 3xx answers back instead of following them.
func noRedirectClient(c *http.Client) *http.Client {
	var cp http.Client
	if c != nil {
		cp = *c
	}
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
