package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/agenthook/agenthook/internal/metrics"
	"github.com/agenthook/agenthook/internal/route"
	"github.com/agenthook/agenthook/internal/store"
	"github.com/agenthook/agenthook/internal/stripeevent"
)

// handleWebhook receives Stripe's POST: it verifies the signature against the
// raw bytes, parses the envelope, picks the route, and stores the event (with
// its job, in one commit) before answering. Nothing that fails verification
// is stored, dispatched or logged beyond its reason.
func handleWebhook(log *slog.Logger, v *stripeevent.Verifier, routes *route.Table, st *store.Store, maxBody int64, m *metrics.Metrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		defer func() { m.Intake(time.Since(start)) }()
		reject := func(status int, reason string, err error) {
			log.Warn("webhook rejected", "status", status, "reason", reason, "err", err.Error(), "remote", r.RemoteAddr)
			m.Rejected(reason)
			writeError(w, status, err.Error())
		}
		body, err := readBody(w, r, maxBody)
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				reject(http.StatusRequestEntityTooLarge, metrics.ReasonTooLarge,
					fmt.Errorf("body larger than %d bytes: Stripe events are far smaller; raise max_body_bytes if this one is genuine", maxBody))
				return
			}
			reject(http.StatusBadRequest, metrics.ReasonMalformed, fmt.Errorf("could not read the body: %w", err))
			return
		}
		if err := v.Verify(body, r.Header.Get(stripeevent.SignatureHeader)); err != nil {
			reason := metrics.ReasonBadSignature
			if errors.Is(err, stripeevent.ErrTooOld) || errors.Is(err, stripeevent.ErrTooNew) {
				reason = metrics.ReasonStaleTimestamp
			}
			reject(http.StatusBadRequest, reason, err)
			return
		}
		ev, err := stripeevent.Parse(body)
		if err != nil {
			reject(http.StatusBadRequest, metrics.ReasonMalformed, err)
			return
		}
		in := store.Incoming{ID: ev.ID, Type: ev.Type, Created: ev.Created, Livemode: ev.Livemode, Payload: body}
		if rt, ok := routes.Match(ev.Type); ok {
			in.Route, in.OrderKey = rt.Name, rt.Key(body)
		}
		out, err := st.Ingest(r.Context(), in)
		if err != nil {
			log.Error("webhook not stored", "id", ev.ID, "type", ev.Type, "err", err)
			m.Received(ev.Type, metrics.ReceivedError)
			writeError(w, http.StatusServiceUnavailable, "could not store the event; it was not acknowledged, so Stripe will retry it. Check the server log and disk.")
			return
		}
		m.Received(ev.Type, string(out))
		writeJSON(w, http.StatusOK, map[string]string{"status": string(out), "id": ev.ID})
		log.Info("webhook", "id", ev.ID, "type", ev.Type, "status", out, "route", in.Route,
			"latency_ms", float64(time.Since(start).Microseconds())/1000)
	})
}

// readBody reads the request body, refusing more than limit bytes. When the
// sender declares the length, as Stripe does, the body is read into a
// buffer of that size at once instead of io.ReadAll's growing copies.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	rd := http.MaxBytesReader(w, r.Body, limit)
	n := r.ContentLength
	if n < 0 || n > limit {
		return io.ReadAll(rd)
	}
	// net/http ends the body at Content-Length and reports a shorter one
	// as an unexpected EOF.
	body := make([]byte, n)
	if _, err := io.ReadFull(rd, body); err != nil {
		return nil, err
	}
	return body, nil
}

// handleWebhookMethod answers any method but POST on the webhook path, as
// the mux would (405 with Allow), and counts it.
func handleWebhookMethod(m *metrics.Metrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Rejected(metrics.ReasonMethod)
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "method not allowed: Stripe delivers events with POST")
	})
}
