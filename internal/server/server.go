// Package server is agenthook's HTTP surface: Stripe's webhook intake, the
// health probes and the admin API. It never calls a model: intake verifies,
// stores and answers; everything slow happens in the workers.
package server

import (
	"github.com/agenthook/agenthook/internal/config"

	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	"github.com/agenthook/agenthook/internal/metrics"
	"github.com/agenthook/agenthook/internal/route"
	"github.com/agenthook/agenthook/internal/server/console"
	"github.com/agenthook/agenthook/internal/store"
	"github.com/agenthook/agenthook/internal/stripeevent"
)

// Deps are what the server needs.
type Deps struct {
	Log          *slog.Logger
	Store        *store.Store
	Verifier     *stripeevent.Verifier
	Routes       *route.Table
	MaxBodyBytes int64
	// AdminToken guards /api/. Empty means loopback clients only.
	AdminToken string
	// Ready reports whether the workers run (for /readyz).
	Ready func() bool
	// Metrics counts intake and serves GET /metrics (guarded like /api/).
	// Nil means no metrics: /metrics answers 404.
	Metrics *metrics.Metrics
	// Prices turn an event's tokens into a cost in the API (nil: no cost).
	Prices *config.Prices
}

// New returns the agenthook HTTP handler.
func New(d Deps) http.Handler {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Ready == nil {
		d.Ready = func() bool { return true }
	}
	mux := http.NewServeMux()
	addRoutes(mux, d)
	return mux
}

// writeJSON writes v as the response body with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError writes {"error": msg}. msg must say what to do.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// adminOnly guards the admin API. With a token configured every request must
// carry it as a Bearer token, or as the web console's login cookie; without
// one, only loopback clients are served, so a fresh install never exposes its
// journal to the network. A state-changing request a browser marks as
// cross-site is refused, and one authenticated by the cookie must carry the
// console's header (console.CheckCSRF).
func adminOnly(token string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token != "" {
			auth := r.Header.Get("Authorization")
			got, bearer := strings.CutPrefix(auth, "Bearer ")
			switch {
			case bearer:
			case auth == "":
				got = console.SessionToken(r) // the web console's login
			default:
				got = "" // another scheme: refused
			}
			if subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="agenthook"`)
				writeError(w, http.StatusUnauthorized, "missing or wrong admin token: send Authorization: Bearer $AGENTHOOK_ADMIN_TOKEN")
				return
			}
			if !bearer {
				if msg := console.CheckCSRF(r, true); msg != "" {
					writeError(w, http.StatusForbidden, msg)
					return
				}
			}
			next.ServeHTTP(w, r)
			return
		}
		if !console.LocalRequest(r) {
			writeError(w, http.StatusForbidden, "the admin API answers only loopback clients (at localhost or 127.0.0.1) while AGENTHOOK_ADMIN_TOKEN is unset: set it to allow remote access")
			return
		}
		if msg := console.CheckCSRF(r, false); msg != "" {
			writeError(w, http.StatusForbidden, msg)
			return
		}
		next.ServeHTTP(w, r)
	})
}
