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
	addRoutes(mux, d, console.NewSessions())
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
// carry it as a Bearer token, or the cookie of a live web console session;
// without one, only loopback clients that connect directly (no proxy
// headers) are served, so a fresh install never exposes its journal to the
// network. A state-changing request a browser marks as cross-site is
// refused, and one authenticated by the cookie must carry the console's
// header (console.CheckCSRF).
func adminOnly(token string, sessions *console.Sessions, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token != "" {
			auth := r.Header.Get("Authorization")
			got, bearer := strings.CutPrefix(auth, "Bearer ")
			ok := false
			switch {
			case bearer:
				ok = subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
			case auth == "":
				ok = sessions.Valid(console.SessionID(r)) // the web console's login
			default:
				// another scheme: refused
			}
			if !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="agenthook"`)
				writeError(w, http.StatusUnauthorized, "missing or wrong admin token, or the console session ended: send Authorization: Bearer $AGENTHOOK_ADMIN_TOKEN, or log in again at /ui/")
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
		if msg := console.LoopbackRefusal(r, "the admin API"); msg != "" {
			writeError(w, http.StatusForbidden, msg)
			return
		}
		if msg := console.CheckCSRF(r, false); msg != "" {
			writeError(w, http.StatusForbidden, msg)
			return
		}
		next.ServeHTTP(w, r)
	})
}
