// Package server is agenthook's HTTP surface: Stripe's webhook intake, the
// health probes and the admin API. It never calls a model: intake verifies,
// stores and answers; everything slow happens in the workers.
package server

import (
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/agenthook/agenthook/internal/route"
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
// carry it as a Bearer token; without one, only loopback clients are served,
// so a fresh install never exposes its journal to the network.
func adminOnly(token string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="agenthook"`)
				writeError(w, http.StatusUnauthorized, "missing or wrong admin token: send Authorization: Bearer $AGENTHOOK_ADMIN_TOKEN")
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if !isLoopback(r.RemoteAddr) {
			writeError(w, http.StatusForbidden, "the admin API answers only loopback clients while AGENTHOOK_ADMIN_TOKEN is unset: set it to allow remote access")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func isLoopback(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
