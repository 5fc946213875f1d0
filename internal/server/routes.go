package server

import "net/http"

// addRoutes maps every URL agenthook serves. It is the one place to look.
func addRoutes(mux *http.ServeMux, d Deps) {
	mux.Handle("POST /stripe/webhook", handleWebhook(d.Log, d.Verifier, d.Routes, d.Store, d.MaxBodyBytes))
	mux.Handle("GET /healthz", handleHealthz(d.Store))
	mux.Handle("GET /readyz", handleReadyz(d.Ready))
	mux.Handle("GET /api/events/{id}", adminOnly(d.AdminToken, handleEventGet(d.Store)))
	mux.Handle("POST /api/events/{id}/replay", adminOnly(d.AdminToken, handleEventReplay(d.Log, d.Store, d.Routes)))
}
