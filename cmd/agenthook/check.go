package main

import (
	"context"
	"fmt"
	"io"

	"github.com/agenthook/agenthook/internal/config"
	"github.com/agenthook/agenthook/internal/route"
)

// check validates the config the way serve would and prints the route table.
func check(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("check", stderr)
	configPath := fs.String("config", "", "YAML config file (default: zero-config seed routes)")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*configPath, getenv)
	if err != nil {
		return err
	}
	routes, err := route.New(cfg)
	if err != nil {
		return err
	}
	source := *configPath
	if source == "" {
		source = "zero-config defaults"
	}
	fmt.Fprintf(stdout, "config OK (%s): provider %s, model %s, store %s, %d webhook secret(s)\n\n",
		source, cfg.Agent.Provider, cfg.Agent.Model, redactStore(cfg.Store), len(cfg.Stripe.WebhookSecrets))
	if err := routes.Print(stdout); err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	if err := routes.PrintRequests(stdout, cfg.Agent.Provider, cfg.Agent.Model); err != nil {
		return err
	}
	if len(cfg.Stripe.WebhookSecrets) == 0 {
		fmt.Fprintln(stdout, "\nwarning: no webhook secret: serve will refuse to start until STRIPE_WEBHOOK_SECRET (or stripe.webhook_secrets) is set")
	}
	return nil
}
