package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/agenthook/agenthook/internal/journal"
	"github.com/agenthook/agenthook/internal/route"
	"github.com/agenthook/agenthook/internal/store"
	"github.com/agenthook/agenthook/internal/stripeevent"
	"github.com/agenthook/agenthook/internal/tool"
)

// demo runs the whole pipeline on this machine with nothing to set up: a
// real serve on a free loopback port, a temporary embedded store, the
// fixture events sent over real HTTP with real signatures, and demo tools
// (HTTP handlers inside this process) so the loop can be seen end to end.
// It uses Claude when ANTHROPIC_API_KEY is set and the offline provider
// otherwise, so it needs no key, no config and no network.
func demo(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stderr)
	timeout := fs.Duration("timeout", 2*time.Minute, "give up if the events are not finished by then")
	verbose := fs.Bool("v", false, "show serve's log")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	dir, err := os.MkdirTemp("", "agenthook-demo-")
	if err != nil {
		return fmt.Errorf("demo: temporary folder: %w", err)
	}
	defer os.RemoveAll(dir)
	webhookSecret, toolSecret := "whsec_demo_"+randomHex(12), randomHex(16)

	// The demo tools: a loopback HTTP service that checks the signature the
	// way a user's service would, and answers like a small ticketing system.
	tools, err := startDemoTools(toolSecret)
	if err != nil {
		return err
	}
	defer tools.Close()

	provider := "offline"
	if getenv("ANTHROPIC_API_KEY") != "" {
		provider = "anthropic"
	}
	cfgPath := filepath.Join(dir, "agenthook.yaml")
	if err := os.WriteFile(cfgPath, []byte(demoConfig(provider, tools.URL)), 0o600); err != nil {
		return fmt.Errorf("demo: write config: %w", err)
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		return err
	}
	env := func(k string) string {
		switch k {
		case "STRIPE_WEBHOOK_SECRET":
			return webhookSecret
		case "AGENTHOOK_TOOL_SECRET":
			return toolSecret
		case "AGENTHOOK_ADMIN_TOKEN":
			return "" // the demo's admin API answers loopback only
		}
		return getenv(k)
	}
	serveLog := io.Discard
	if *verbose {
		serveLog = stderr
	}
	serveCtx, stopServe := context.WithCancel(context.WithoutCancel(ctx))
	served := make(chan error, 1)
	go func() {
		served <- serve(serveCtx, []string{"--config", cfgPath, "--addr", addr, "--store", filepath.Join(dir, "agenthook.db")}, env, io.Discard, serveLog)
	}()
	defer func() {
		stopServe()
		<-served
	}()
	base := "http://" + addr
	if err := waitReady(ctx, base, served); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "agenthook demo: serve on %s, provider %s, store in %s\n", base, provider, dir)

	types := stripeevent.FixtureTypes()
	ids := make([]string, len(types))
	for i, typ := range types {
		body, id, err := stripeevent.NewEvent(typ, time.Now())
		if err != nil {
			return err
		}
		status, answer, err := postSigned(ctx, http.DefaultClient, base+"/stripe/webhook", body, webhookSecret)
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return fmt.Errorf("demo: webhook answered %d for %s: %s", status, typ, answer)
		}
		ids[i] = id
	}
	fmt.Fprintf(stdout, "sent %d signed events; waiting for the agent…\n\n", len(ids))

	events := make([]demoEvent, len(ids))
	for i, id := range ids {
		ev, err := waitFinished(ctx, base, id)
		if err != nil {
			return err
		}
		events[i] = ev
	}
	printDemo(stdout, events)
	fmt.Fprintf(stdout, "\ntool service received %d signed calls\n", tools.calls.Load())
	for _, ev := range events {
		if ev.Status == store.StatusDead || ev.Status == store.StatusNoDecision {
			return fmt.Errorf("demo: %s (%s) ended %s: %s", ev.ID, ev.Type, ev.Status, ev.LastError)
		}
	}
	return nil
}

// demoConfig routes the four seed events to the seed tools, each executed by
// the demo tool service, and adds two routes that show a wildcard and a
// filter.
func demoConfig(provider, toolsURL string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "agent:\n  provider: %s\n", provider)
	b.WriteString(`routes:
  - events: [charge.dispute.created]
    tools: [handle_dispute]
  - events: [invoice.payment_failed]
    tools: [retry_failed_payment]
  - events: [customer.subscription.deleted]
    tools: [churn_outreach]
  - events: [charge.refunded]
    tools: [log_refund]
  - name: large-payment-failures
    events: [payment_intent.payment_failed]
    when: data.object.amount >= 100000
    tools: [flag_payment]
  - name: other-disputes
    events: ["charge.dispute.*"]
    tools: [flag_payment]
tools:
  flag_payment:
    description: Flag a payment or dispute for a person to look at, with a one-line reason.
    input_schema:
      type: object
      properties:
        stripe_id: {type: string}
        amount: {type: integer}
        reason: {type: string}
      required: [stripe_id, reason]
    input_from:
      reason: type
`)
	for _, name := range []string{"flag_payment", "handle_dispute", "retry_failed_payment", "churn_outreach", "log_refund"} {
		if name == "flag_payment" {
			fmt.Fprintf(&b, "    run: {http: {url: %q, timeout: 5s}}\n", toolsURL+"/tools/"+name)
			continue
		}
		fmt.Fprintf(&b, "  %s:\n    run: {http: {url: %q, timeout: 5s}}\n", name, toolsURL+"/tools/"+name)
	}
	return b.String()
}

type demoTools struct {
	*http.Server
	URL   string
	calls atomic.Int64
}

func startDemoTools(secret string) (*demoTools, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: start the tool service: %w", err)
	}
	t := &demoTools{URL: "http://" + ln.Addr().String()}
	// Agenthook-Signature is Stripe's scheme, so Stripe's verifier checks it.
	verifier := &stripeevent.Verifier{Secrets: []string{secret}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /tools/{name}", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil || verifier.Verify(body, r.Header.Get(tool.SignatureHeader)) != nil {
			http.Error(w, `{"error":"bad signature"}`, http.StatusUnauthorized)
			return
		}
		n := t.calls.Add(1)
		var call struct {
			Tool  string         `json:"tool"`
			Input map[string]any `json:"input"`
		}
		json.Unmarshal(body, &call)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"ok":     true,
			"ticket": fmt.Sprintf("DEMO-%d", n),
			"done":   demoAction(call.Tool, call.Input),
		})
	})
	t.Server = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go t.Serve(ln)
	return t, nil
}

func demoAction(tool string, input map[string]any) string {
	for _, k := range []string{"action", "category"} {
		if v, ok := input[k].(string); ok && v != "" {
			return tool + ": " + v
		}
	}
	return tool + ": recorded"
}

func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("demo: find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func waitReady(ctx context.Context, base string, served <-chan error) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-served:
			return fmt.Errorf("demo: serve stopped: %w", err)
		case <-ctx.Done():
			return fmt.Errorf("demo: serve did not become ready: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// demoEvent is an event as GET /api/events/{id} answers it.
type demoEvent struct {
	store.Event
	Totals store.Totals `json:"totals"`
}

var finished = []store.Status{store.StatusDone, store.StatusDead, store.StatusIgnored, store.StatusFiltered, store.StatusNoDecision}

func waitFinished(ctx context.Context, base, id string) (demoEvent, error) {
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	var ev demoEvent
	for {
		resp, err := http.Get(base + "/api/events/" + id)
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&ev)
			resp.Body.Close()
			if err == nil && slices.Contains(finished, ev.Status) {
				return ev, nil
			}
		}
		select {
		case <-ctx.Done():
			return ev, fmt.Errorf("demo: %s (%s) is still %q: %w", id, ev.Type, ev.Status, ctx.Err())
		case <-tick.C:
		}
	}
}

func printDemo(w io.Writer, events []demoEvent) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "EVENT\tROUTE\tTOOL CALL\tRESULT\tSTATUS\tTOKENS in/out (thinking)")
	for _, ev := range events {
		call, result := "-", "-"
		for _, e := range ev.Entries() {
			if e.Kind != journal.KindToolCall || call != "-" {
				continue
			}
			step, err := journal.Decode(e)
			if err != nil {
				continue
			}
			d := step.(*journal.ToolCall)
			call = d.Tool + " " + route.Abbreviate(string(d.Input), 60)
			result = route.Abbreviate(d.Result, 40)
			if d.IsError {
				result = "error: " + result
			}
		}
		rt := ev.Route
		if rt == "" {
			rt = "-"
		}
		t := ev.Totals
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d/%d (%d)\n", ev.Type, rt, call, result, ev.Status, t.TokensIn, t.TokensOut, t.ThinkingTokens)
	}
	tw.Flush()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand documents it)
	return hex.EncodeToString(b)
}
