package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/user"
	"text/tabwriter"

	"github.com/agenthook/agenthook/internal/route"
	"github.com/agenthook/agenthook/internal/store"
)

// approve and deny decide a tool call waiting for an operator (a write no
// auto_approve approved, or a tool with approval: required), through the
// admin API. Without an id, approve lists
// what is pending.
func approve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return decide(ctx, "approve", args, getenv, stdout, stderr)
}

func deny(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return decide(ctx, "deny", args, getenv, stdout, stderr)
}

func decide(ctx context.Context, verb string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags(verb, stderr)
	server := fs.String("server", defaultServer, "agenthook's URL")
	toolUse := fs.String("tool-use", "", "the pending call's tool_use id (needed when the event has several)")
	reason := fs.String("reason", "", "why (required for deny: the model is told)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	c := newAdminClient(*server, getenv)
	if len(pos) == 0 && verb == "approve" {
		return listApprovals(ctx, c, *asJSON, stdout)
	}
	if len(pos) != 1 {
		return fmt.Errorf("%s takes one event id, e.g. agenthook %s evt_… --tool-use toolu_…; `agenthook approve` alone lists what is pending", verb, verb)
	}
	if verb == "deny" && *reason == "" {
		return errors.New(`deny needs --reason: the model is told "denied by an operator: REASON"`)
	}
	by := "cli"
	if u, err := user.Current(); err == nil && u.Username != "" {
		by = "cli:" + u.Username
	}
	b, err := c.call(ctx, http.MethodPost, "/api/events/"+url.PathEscape(pos[0])+"/"+verb, nil,
		map[string]string{"tool_use_id": *toolUse, "reason": *reason, "by": by})
	if err != nil {
		return err
	}
	if *asJSON {
		return writeIndented(stdout, b)
	}
	past := map[string]string{"approve": "approved", "deny": "denied"}[verb]
	fmt.Fprintf(stdout, "%s %s; the event is queued and its agent loop resumes\n", pos[0], past)
	return nil
}

func listApprovals(ctx context.Context, c *adminClient, asJSON bool, stdout io.Writer) error {
	var out struct {
		Approvals []store.Pending `json:"approvals"`
	}
	b, err := c.getJSON(ctx, "/api/approvals", nil, &out)
	if err != nil {
		return err
	}
	if asJSON {
		return writeIndented(stdout, b)
	}
	if len(out.Approvals) == 0 {
		fmt.Fprintln(stdout, "no tool calls are waiting for approval")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "EVENT\tTYPE\tTOOL\tTOOL_USE\tINPUT")
	for _, a := range out.Approvals {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.EventID, a.EventType, a.Tool, a.ToolUseID, route.Abbreviate(string(a.Input), 80))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// The model's reasoning is shown for what it is: written after reading
	// text a customer or cardholder controls.
	for _, a := range out.Approvals {
		if a.Text == "" {
			continue
		}
		label := a.TextLabel
		if label == "" {
			label = store.ReasoningLabel
		}
		fmt.Fprintf(stdout, "\n%s %s — %s:\n  %s\n", a.EventID, a.ToolUseID, label, route.Abbreviate(a.Text, 400))
	}
	return nil
}
