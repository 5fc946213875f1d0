package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/agenthook/agenthook/internal/journal"
	"github.com/agenthook/agenthook/internal/route"
	"github.com/agenthook/agenthook/internal/store"
)

// events lists and shows stored events through the admin API.
func events(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("events takes a subcommand: agenthook events list [--status dead] … or agenthook events show evt_…")
	}
	switch args[0] {
	case "list", "ls":
		return eventsList(ctx, args[1:], getenv, stdout, stderr)
	case "show", "get":
		return eventsShow(ctx, args[1:], getenv, stdout, stderr)
	default:
		return fmt.Errorf("unknown events subcommand %q: use list or show", args[0])
	}
}

func eventsList(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("events list", stderr)
	server := fs.String("server", defaultServer, "agenthook base URL")
	var filter filterFlags
	filter.register(fs)
	limit := fs.Int("limit", 50, "events per page (1–500)")
	cursor := fs.String("cursor", "", "continue a listing: the cursor the previous page printed")
	asJSON := fs.Bool("json", false, "print the API's JSON answer")
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("events list takes only flags, not %q: filter with --status, --type, --route, --since, --until or --q", rest[0])
	}
	q := filter.query()
	q.Set("limit", strconv.Itoa(*limit))
	if *cursor != "" {
		q.Set("cursor", *cursor)
	}
	var page store.Page
	raw, err := newAdminClient(*server, getenv).getJSON(ctx, "/api/events", q, &page)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeIndented(stdout, raw)
	}
	if len(page.Events) == 0 {
		fmt.Fprintln(stderr, "no events match")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RECEIVED (UTC)\tID\tTYPE\tSTATUS\tROUTE\tATTEMPTS\tTOKENS IN/OUT\tLAST ERROR")
	for _, e := range page.Events {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d/%d\t%s\n", e.ReceivedAt.UTC().Format(time.DateTime), e.ID, e.Type, e.Status,
			orDash(e.Route), e.Attempts, e.TokensIn, e.TokensOut, orDash(route.Abbreviate(e.LastError, 60)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if page.NextCursor != "" {
		fmt.Fprintf(stderr, "more events: add --cursor %s for the next page\n", page.NextCursor)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// eventDetail is GET /api/events/{id}, as the server writes it.
type eventDetail struct {
	store.Event
	Totals store.Totals `json:"totals"`
}

func eventsShow(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("events show", stderr)
	server := fs.String("server", defaultServer, "agenthook base URL")
	asJSON := fs.Bool("json", false, "print the API's JSON answer (the whole journal)")
	ids, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(ids) != 1 {
		return errors.New("events show takes one event id: agenthook events show evt_…")
	}
	var ev eventDetail
	raw, err := newAdminClient(*server, getenv).getJSON(ctx, "/api/events/"+url.PathEscape(ids[0]), nil, &ev)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeIndented(stdout, raw)
	}
	return printTimeline(stdout, &ev)
}

// printTimeline writes an event and its journal for people.
func printTimeline(w io.Writer, ev *eventDetail) error {
	mode := "test mode"
	if ev.Livemode {
		mode = "live mode"
	}
	fmt.Fprintf(w, "%s  %s\n", ev.ID, ev.Type)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  status\t%s after %s\n", ev.Status, plural(ev.Attempts, "attempt"))
	fmt.Fprintf(tw, "  route\t%s\n", orDash(ev.Route))
	fmt.Fprintf(tw, "  received\t%s (created %s, %s)\n", ev.ReceivedAt.UTC().Format("2006-01-02 15:04:05.000 MST"),
		time.Unix(ev.Created, 0).UTC().Format("2006-01-02 15:04:05 MST"), mode)
	t := ev.Totals
	fmt.Fprintf(tw, "  model\t%s: %d tokens in, %d out (thinking %d), cache read %d, cache write %d; %s\n", plural(t.ModelRequests, "request"),
		t.TokensIn, t.TokensOut, t.ThinkingTokens, t.CacheRead, t.CacheWrite, time.Duration(t.ModelLatencyMS)*time.Millisecond)
	if ev.LastError != "" {
		fmt.Fprintf(tw, "  last error\t%s\n", ev.LastError)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(ev.Steps) == 0 {
		fmt.Fprintln(w, "\nno journal yet")
		return nil
	}
	fmt.Fprintln(w, "\njournal")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  SEQ\tAFTER\tATTEMPT\tSTEP\tDETAIL")
	for _, s := range ev.Steps {
		kind, detail := describeStep(s.Kind, s.Data)
		after := s.At.Sub(ev.ReceivedAt).Round(time.Millisecond)
		fmt.Fprintf(tw, "  %d\t+%s\t%d\t%s\t%s\n", s.Seq, after, s.Attempt, kind, detail)
	}
	return tw.Flush()
}

// describeStep turns one journal step into a short name and one line. It
// never shows a thinking block's content or signature: only that the model
// thought, and how many tokens it took.
func describeStep(kind string, data json.RawMessage) (string, string) {
	step, err := journal.Decode(journal.Entry{Kind: kind, Data: data})
	if err != nil {
		return kind, route.Abbreviate(string(data), 120)
	}
	switch d := step.(type) {
	case *journal.ModelRequest:
		if d.Error != "" {
			return "model", fmt.Sprintf("round %d, %s: failed after %dms: %s", d.Round, orDash(d.Model), d.LatencyMS, d.Error)
		}
		s := fmt.Sprintf("round %d, %s: %d in, %d out, cache read %d, write %d, %dms", d.Round, orDash(d.Model),
			d.InputTokens, d.OutputTokens, d.CacheReadInputTokens, d.CacheCreationInputTokens, d.LatencyMS)
		if d.ThinkingTokens > 0 {
			s += fmt.Sprintf("; thinking %d of the %d out", d.ThinkingTokens, d.OutputTokens)
		}
		if d.Effort != "" {
			s += ", effort " + d.Effort
		}
		return "model", s
	case *journal.Decision:
		var parts []string
		if d.Thinking > 0 {
			parts = append(parts, fmt.Sprintf("thought (%s, not shown)", plural(d.Thinking, "block")))
		}
		for _, b := range d.Content {
			switch b.Type {
			case journal.ToolUseBlock:
				parts = append(parts, b.Name+" "+route.Abbreviate(string(b.Input), 80))
			case journal.TextBlock:
				if t := route.Abbreviate(b.Text, 80); t != "" {
					parts = append(parts, fmt.Sprintf("says %q", t))
				}
			}
		}
		if len(journal.ToolUses(d.Content)) == 0 {
			parts = append(parts, "no tool call")
		}
		return "decision", fmt.Sprintf("round %d: %s (stop %s)", d.Round, strings.Join(parts, "; "), orDash(d.StopReason))
	case *journal.Corrective:
		return "corrective", fmt.Sprintf("after round %d: asked again for a tool call", d.Round)
	case *journal.ToolCall:
		how := "recorded only"
		switch {
		case d.Invalid:
			how = "invalid input, not run"
		case d.Executed:
			how = fmt.Sprintf("ran in %dms", d.LatencyMS)
		}
		if d.IsError && !d.Invalid {
			how += ", error"
		}
		return "tool", fmt.Sprintf("%s %s → %s (%s)", d.Tool, route.Abbreviate(string(d.Input), 60), route.Abbreviate(d.Result, 80), how)
	case *journal.ApprovalRequested:
		return "approval", fmt.Sprintf("%s %s waits for an operator", d.Tool, route.Abbreviate(string(d.Input), 60))
	case *journal.Approval:
		verb := "denied"
		if d.Approved {
			verb = "approved"
		}
		s := fmt.Sprintf("%s %s by %s", d.ToolUseID, verb, orDash(d.By))
		if d.Reason != "" {
			s += ": " + d.Reason
		}
		return "approval", route.Abbreviate(s, 160)
	case *journal.Outcome:
		s := fmt.Sprintf("%s after %s: %d in, %d out", d.Stop, plural(d.Rounds, "round"), d.Usage.InputTokens, d.Usage.OutputTokens)
		if d.Usage.ThinkingTokens > 0 {
			s += fmt.Sprintf(" (thinking %d)", d.Usage.ThinkingTokens)
		}
		if d.Corrective {
			s += ", after a corrective round"
		}
		return "outcome", s
	case *journal.Error:
		s := d.Error
		if d.StatusCode != 0 {
			s = fmt.Sprintf("%d: %s", d.StatusCode, s)
		}
		if d.Retryable {
			s += " (will retry)"
		} else {
			s += " (permanent)"
		}
		return "error", route.Abbreviate(s, 160)
	case *journal.Filtered:
		if d.Error != "" {
			return "filtered", fmt.Sprintf("route %s: when %s failed: %s", d.Route, d.When, d.Error)
		}
		return "filtered", fmt.Sprintf("route %s: when %s is false", d.Route, d.When)
	case *journal.Replay:
		return "replay", fmt.Sprintf("was %s; route %s", d.PreviousStatus, orDash(d.Route))
	case *journal.Interrupted:
		return "interrupted", route.Abbreviate(d.Error, 160)
	}
	return kind, route.Abbreviate(string(data), 120)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
