package server

import (
	"net/http"

	"github.com/agenthook/agenthook/internal/server/console"
)

// addRoutes maps every URL agenthook serves. It is the one place to look.
// sessions are the web console's logins, which /api/ and /metrics accept.
func addRoutes(mux *http.ServeMux, d Deps, sessions *console.Sessions) {
	mux.Handle("POST /stripe/webhook", handleWebhook(d.Log, d.Verifier, d.Routes, d.Store, d.MaxBodyBytes, d.Metrics))
	mux.Handle("/stripe/webhook", handleWebhookMethod(d.Metrics))
	mux.Handle("GET /healthz", handleHealthz(d.Store))
	mux.Handle("GET /readyz", handleReadyz(d.Ready))
	mux.Handle("GET /api/events", adminOnly(d.AdminToken, sessions, handleEventList(d.Store)))
	mux.Handle("GET /api/events/{id}", adminOnly(d.AdminToken, sessions, handleEventGet(d.Store, d.Prices)))
	mux.Handle("POST /api/events/{id}/replay", adminOnly(d.AdminToken, sessions, handleEventReplay(d.Log, d.Store, d.Routes)))
	mux.Handle("POST /api/replay", adminOnly(d.AdminToken, sessions, handleReplayMany(d.Log, d.Store, d.Routes)))
	mux.Handle("GET /api/approvals", adminOnly(d.AdminToken, sessions, handleApprovals(d.Store)))
	mux.Handle("POST /api/events/{id}/approve", adminOnly(d.AdminToken, sessions, handleDecide(d.Store, true)))
	mux.Handle("POST /api/events/{id}/deny", adminOnly(d.AdminToken, sessions, handleDecide(d.Store, false)))
	mux.Handle("GET /metrics", adminOnly(d.AdminToken, sessions, d.Metrics.Handler()))
	mux.Handle("/ui/", console.Handler(console.Options{Token: d.AdminToken, Sessions: sessions, Log: d.Log}))
}
