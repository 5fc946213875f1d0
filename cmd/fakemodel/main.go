// Command fakemodel serves a fake Anthropic Messages API for load runs and
// local experiments: every request is answered, after --delay, with a call to
// the first tool offered. Point agenthook at it with ANTHROPIC_BASE_URL.
//
//	go run ./cmd/fakemodel --addr 127.0.0.1:9100 --delay 800ms
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/agenthook/agenthook/internal/modeltest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "fakemodel:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:9100", "listen address")
	delay := flag.Duration("delay", 800*time.Millisecond, "latency of every answer")
	flag.Parse()
	f := modeltest.NewFake()
	f.KeepRequests = false
	f.Then = modeltest.Reply{Delay: *delay}
	srv := &http.Server{Addr: *addr, Handler: f, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	fmt.Fprintf(os.Stderr, "fake Messages API on http://%s (delay %s)\n", *addr, *delay)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
