package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/agenthook/agenthook/internal/agent"
	"github.com/agenthook/agenthook/internal/agent/anthropic"
	"github.com/agenthook/agenthook/internal/agent/httpagent"
	"github.com/agenthook/agenthook/internal/agent/limit"
	"github.com/agenthook/agenthook/internal/agent/offline"
	"github.com/agenthook/agenthook/internal/agent/openai"
	"github.com/agenthook/agenthook/internal/config"
	"github.com/agenthook/agenthook/internal/dispatch"
	"github.com/agenthook/agenthook/internal/metrics"
	"github.com/agenthook/agenthook/internal/policy"
	"github.com/agenthook/agenthook/internal/route"
	"github.com/agenthook/agenthook/internal/server"
	"github.com/agenthook/agenthook/internal/store"
	"github.com/agenthook/agenthook/internal/stripeevent"
	"github.com/agenthook/agenthook/internal/tool"
)

// serve wires the pipeline: server (receive) → store (durable queue) →
// dispatch (route → agent → journal), and runs until ctx ends.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", stderr)
	configPath := fs.String("config", "", "YAML config file (default: zero-config seed routes)")
	addr := fs.String("addr", "", "listen address (default :8000)")
	storeLoc := fs.String("store", "", "SQLite file or postgres:// URL for events and queue (default agenthook-data/agenthook.db)")
	rescueAfter := fs.Duration("rescue-after", 0, "with several replicas, take over a dead replica's jobs after this long (default 5m)")
	maxAttempts := fs.Int("max-attempts", 0, "attempts before an event is dead (default 8)")
	logFormat := fs.String("log-format", "", "log format: text or json (default text)")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*configPath, getenv)
	if err != nil {
		return err
	}
	set := setFlags(fs)
	if set["addr"] {
		cfg.Addr = *addr
	}
	if set["store"] {
		cfg.Store = *storeLoc
	}
	if set["max-attempts"] {
		cfg.MaxAttempts = *maxAttempts
	}
	if set["rescue-after"] {
		cfg.RescueAfter = config.Duration(*rescueAfter)
	}
	if set["log-format"] {
		cfg.LogFormat = *logFormat
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log, err := newLogger(cfg.LogFormat, stderr)
	if err != nil {
		return err
	}
	if len(cfg.Stripe.WebhookSecrets) == 0 {
		return errors.New("no webhook secret: set STRIPE_WEBHOOK_SECRET to the endpoint's signing secret (whsec_…; `stripe listen` prints one), or stripe.webhook_secrets in the config")
	}
	routes, err := route.New(cfg)
	if err != nil {
		return err
	}
	provider, err := newProvider(cfg, getenv, log)
	if err != nil {
		return err
	}
	tools, err := tool.NewSet(cfg, tool.Options{Log: log})
	if err != nil {
		return err
	}
	policies, err := policy.New(cfg)
	if err != nil {
		return err
	}
	approvals, err := cfg.Approvals()
	if err != nil {
		return err
	}
	disp := &dispatch.Dispatcher{
		Routes:         routes,
		Provider:       provider,
		Tools:          tools,
		Approval:       approvals.Decide,
		Policies:       policies,
		Model:          cfg.Agent.Model,
		System:         cfg.Agent.System,
		MaxSteps:       cfg.Agent.MaxSteps,
		MaxPromptBytes: cfg.Agent.MaxPromptBytes,
		Log:            log,
		MaxAttempts:    cfg.MaxAttempts,
	}
	st, err := store.Open(ctx, store.Options{
		Location:        cfg.Store,
		MaxAttempts:     cfg.MaxAttempts,
		Workers:         cfg.Workers,
		RetryBase:       cfg.Retry.Base.D(),
		RetryMax:        cfg.Retry.Max.D(),
		Retention:       cfg.Retention.D(),
		RescueAfter:     cfg.RescueAfter.D(),
		OrderWindow:     cfg.OrderWindow.D(),
		ApprovalTimeout: cfg.ApprovalTimeout.D(),
		Handler:         disp,
		Logger:          log,
	})
	if err != nil {
		return storeError(err, cfg.Store)
	}
	shutdownTimeout := cfg.ShutdownTimeout.D()
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout+15*time.Second)
		defer cancel()
		if err := st.Close(cctx); err != nil {
			log.Error("close store", "err", storeError(err, cfg.Store))
		}
	}()

	met := metrics.New(st)
	disp.Metrics = met // before st.Start: no dispatch has run yet
	disp.Usage = st.RouteUsage

	var ready atomic.Bool
	handler := server.New(server.Deps{
		Log:          log,
		Store:        st,
		Verifier:     &stripeevent.Verifier{Secrets: cfg.Stripe.WebhookSecrets, Tolerance: cfg.Stripe.Tolerance.D()},
		Routes:       routes,
		MaxBodyBytes: cfg.MaxBodyBytes,
		AdminToken:   getenv("AGENTHOOK_ADMIN_TOKEN"),
		Prices:       cfg.Agent.Prices,
		Ready:        ready.Load,
		Metrics:      met,
	})
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another process using the port? choose one with --addr)", cfg.Addr, err)
	}
	srv := newHTTPServer(handler, log)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(server.Limit(srv, ln, cfg.MaxConnections)) }()

	if err := st.Start(ctx); err != nil {
		srv.Close()
		return storeError(err, cfg.Store)
	}
	ready.Store(true)
	log.Info("agenthook serving", "addr", ln.Addr().String(), "store", redactStore(cfg.Store), "routes", len(routes.Routes()),
		"provider", cfg.Agent.Provider, "model", cfg.Agent.Model, "workers", cfg.Workers, "secrets", len(cfg.Stripe.WebhookSecrets),
		"max_connections", cfg.MaxConnections)

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		return fmt.Errorf("http server: %w", err)
	}
	log.Info("shutting down: intake stops, in-flight dispatches get until the deadline", "deadline", shutdownTimeout.String())
	ready.Store(false)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer wcancel()
	if err := st.Stop(wctx); err != nil {
		log.Error("stop workers", "err", err)
	}
	log.Info("stopped")
	return nil
}

// Timeouts of serve's HTTP server, for a webhook receiver: Stripe sends
// its headers and a body of a few KiB at once and is answered in
// milliseconds, so a connection that is slower than this is a client to
// let go, not to wait for. Together with max_connections (server.Limit)
// they bound what idle and slow connections can hold.
const (
	readHeaderTimeout = 5 * time.Second  // from accept to the end of the headers
	readTimeout       = 30 * time.Second // the whole request, body included (max_body_bytes)
	writeTimeout      = 30 * time.Second // from the end of the headers to the end of the answer
	idleTimeout       = 60 * time.Second // a keep-alive connection between requests
	maxHeaderBytes    = 64 << 10
)

// newHTTPServer is serve's http.Server around handler.
func newHTTPServer(handler http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// newProvider builds the configured model provider, wrapped so that the
// whole process respects the provider's rate limits (agent.concurrency,
// pacing by its rate-limit headers, one pause for every worker after a
// 429/529). Keys come from the config or the provider's usual variable,
// passed through getenv so run() has no hidden process state.
func newProvider(cfg *config.Config, getenv func(string) string, log *slog.Logger) (agent.Provider, error) {
	p, err := newModelProvider(cfg, getenv, log)
	if err != nil {
		return nil, err
	}
	return limit.New(p, limit.Options{Concurrency: cfg.Agent.Concurrency, Log: log}), nil
}

func newModelProvider(cfg *config.Config, getenv func(string) string, log *slog.Logger) (agent.Provider, error) {
	a := cfg.Agent
	switch a.Provider {
	case "anthropic":
		key := cmp.Or(a.APIKey, getenv("ANTHROPIC_API_KEY"))
		if key == "" {
			log.Warn("ANTHROPIC_API_KEY is not set: model requests will fail with 401 and events will go dead; set it, or agent.api_key, or use agent.provider: offline")
		}
		return anthropic.New(anthropic.Options{
			APIKey:  key,
			BaseURL: cmp.Or(a.BaseURL, getenv("ANTHROPIC_BASE_URL")),
			Timeout: a.Timeout.D(),
		}), nil
	case "openai":
		return openai.New(openai.Options{
			APIKey:  cmp.Or(a.APIKey, getenv("OPENAI_API_KEY")),
			BaseURL: cmp.Or(a.BaseURL, getenv("OPENAI_BASE_URL")),
			Timeout: a.Timeout.D(),
			API:     a.API,
		}), nil
	case "http":
		if cfg.ToolSecret == "" {
			log.Warn("the http agent gets unsigned requests: set AGENTHOOK_TOOL_SECRET (or tool_secret) so it can check they come from agenthook")
		}
		return httpagent.New(httpagent.Options{URL: a.BaseURL, Secret: cfg.ToolSecret, Timeout: a.Timeout.D()}), nil
	case "offline":
		return offline.New(), nil
	}
	return nil, fmt.Errorf("agent.provider %q is not supported: use anthropic, openai, http or offline", a.Provider)
}

func newLogger(format string, w io.Writer) (*slog.Logger, error) {
	switch format {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	default:
		return nil, fmt.Errorf("unknown log format %q: use text or json", format)
	}
}
