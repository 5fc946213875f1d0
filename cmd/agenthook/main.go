// Command agenthook turns Stripe webhook events into AI-agent tool calls.
//
// Subcommands:
//
//	demo      run the whole pipeline offline on fixture events
//	serve     receive, store, route and dispatch events
//	trigger   send one realistic signed event to a running agenthook
//	approve   approve a tool call waiting for an operator (deny: refuse it)
//	migrate   bring the store's schema up to date
//	check     validate the config and print the route table
//	events    list events and show one's journal (through the admin API)
//	replay    queue finished events again (through the admin API)
//	loadtest  measure intake with signed, distinct events
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "agenthook:", err)
		os.Exit(1)
	}
}

const usage = `agenthook turns Stripe webhook events into AI-agent tool calls.

Usage:
  agenthook demo     [--timeout 2m] [-v]   (offline; uses Claude when ANTHROPIC_API_KEY is set)
  agenthook serve    [--config FILE] [--addr HOST:PORT] [--store PATH] [--max-attempts N] [--rescue-after 5m] [--log-format text|json]
  agenthook trigger  TYPE [--url URL]      (agenthook trigger --list shows the types)
  agenthook check    [--config FILE]
  agenthook approve  [ID [--tool-use TOOLUSE_ID]] [--server URL]   (no ID: list pending calls)
  agenthook deny     ID --reason TEXT [--tool-use TOOLUSE_ID] [--server URL]
  agenthook migrate  [--config FILE] [--store PATH|postgres://…]
  agenthook events   list [--status S] [--type T] [--route R] [--since 24h] [--until T] [--q TEXT] [--limit N] [--cursor C] [--json] [--server URL]
  agenthook events   show ID [--json] [--server URL]
  agenthook replay   ID... [--json] [--server URL]
  agenthook replay   --status dead [--since 24h] [--type T] [--route R] [--until T] [--q TEXT] [--json] [--server URL]
  agenthook loadtest [--url URL] [--n N] [--c C] [--dup-rate F]

Environment:
  STRIPE_WEBHOOK_SECRET   webhook signing secret(s), comma-separated during a rotation
  ANTHROPIC_API_KEY       Claude API key (read by the SDK); ANTHROPIC_BASE_URL overrides the endpoint
  AGENTHOOK_MODEL         model to use (default from the config, else a current Claude model)
  AGENTHOOK_ADMIN_TOKEN   bearer token for /api/ (unset: loopback clients only)
`

// run is the whole program: main only supplies the process's context,
// arguments, environment and output, so tests can drive every command.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("no command given")
	}
	cmd, rest := args[1], args[2:]
	switch cmd {
	case "demo":
		return demo(ctx, rest, getenv, stdout, stderr)
	case "serve":
		return serve(ctx, rest, getenv, stdout, stderr)
	case "trigger":
		return trigger(ctx, rest, getenv, stdout, stderr)
	case "check":
		return check(ctx, rest, getenv, stdout, stderr)
	case "approve":
		return approve(ctx, rest, getenv, stdout, stderr)
	case "deny":
		return deny(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return migrate(ctx, rest, getenv, stdout, stderr)
	case "events":
		return events(ctx, rest, getenv, stdout, stderr)
	case "replay":
		return replay(ctx, rest, getenv, stdout, stderr)
	case "loadtest":
		return loadtest(ctx, rest, getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q: see the usage above", cmd)
	}
}
