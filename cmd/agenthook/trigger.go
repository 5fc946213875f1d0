package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/agenthook/agenthook/internal/stripeevent"
)

const defaultWebhookURL = "http://localhost:8000/stripe/webhook"

// trigger sends one realistic, correctly signed event, like `stripe trigger`
// but offline: the payload is an embedded fixture with a fresh id.
func trigger(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("trigger", stderr)
	url := fs.String("url", defaultWebhookURL, "webhook URL of a running agenthook")
	list := fs.Bool("list", false, "list the event types that can be triggered")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if *list {
		for _, t := range stripeevent.FixtureTypes() {
			fmt.Fprintln(stdout, t)
		}
		return nil
	}
	if len(pos) != 1 {
		return fmt.Errorf("trigger takes one event type, for example: agenthook trigger charge.dispute.created (types: %s)",
			strings.Join(stripeevent.FixtureTypes(), ", "))
	}
	secret := firstSecret(getenv)
	if secret == "" {
		return errors.New("no signing secret: set STRIPE_WEBHOOK_SECRET to the secret the server uses")
	}
	body, id, err := stripeevent.NewEvent(pos[0], time.Now())
	if err != nil {
		return err
	}
	status, answer, err := postSigned(ctx, http.DefaultClient, *url, body, secret)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s %s → %d %s\n", pos[0], id, status, strings.TrimSpace(string(answer)))
	if status/100 != 2 {
		return fmt.Errorf("agenthook answered %d for %s", status, id)
	}
	return nil
}

// firstSecret returns the first of the comma-separated STRIPE_WEBHOOK_SECRET.
func firstSecret(getenv func(string) string) string {
	for s := range strings.SplitSeq(getenv("STRIPE_WEBHOOK_SECRET"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}

// postSigned POSTs body with a Stripe-Signature made now with secret.
func postSigned(ctx context.Context, client *http.Client, url string, body []byte, secret string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("bad --url %q: %w", url, err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "agenthook-trigger (like Stripe/1.0)")
	req.Header.Set(stripeevent.SignatureHeader, stripeevent.Sign(body, secret, time.Now()))
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("send to %s: %w (is agenthook serve running there?)", url, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("read answer from %s: %w", url, err)
	}
	return resp.StatusCode, answer, nil
}
