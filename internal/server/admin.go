package server

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/agenthook/agenthook/internal/config"

	"github.com/agenthook/agenthook/internal/route"
	"github.com/agenthook/agenthook/internal/store"
)

func handleHealthz(st *store.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := st.Ping(r.Context()); err != nil {
			writeError(w, http.StatusServiceUnavailable, "store does not answer: "+err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

func handleReadyz(ready func() bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ready() {
			writeError(w, http.StatusServiceUnavailable, "workers are not running yet")
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

// handleEventGet returns one event with its journal and model totals.
func handleEventGet(st *store.Store, prices *config.Prices) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := st.Event(r.Context(), r.PathValue("id"))
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, http.StatusNotFound, "no event with this id: check the id (evt_…) or whether retention removed it")
			return
		}
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, newEventDetail(ev, prices))
	})
}

// handleEventReplay queues a finished event again, routed by the current
// config: that is how a new route applies to events that came before it.
// An event whose journal says it made writes is replayed only with
// {"allow_writes": true} (409 otherwise): the journal refuses an identical
// write, but the fresh conversation may decide a different one.
func handleEventReplay(log *slog.Logger, st *store.Store, routes *route.Table) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		var body struct {
			AllowWrites bool `json:"allow_writes"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil && !errors.Is(err, io.EOF) {
			writeError(w, http.StatusBadRequest, `the body must be empty or JSON like {"allow_writes": true}: `+err.Error())
			return
		}
		ev, err := st.Event(r.Context(), id)
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, http.StatusNotFound, "no event with this id: check the id (evt_…) or whether retention removed it")
			return
		}
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		var name string
		if rt, ok := routes.Match(ev.Type); ok {
			name = rt.Name
		}
		made := writesMade(ev)
		if len(made) > 0 && !body.AllowWrites {
			writeError(w, http.StatusConflict, made.refusal())
			return
		}
		if err := st.Replay(r.Context(), id, name); err != nil {
			if errors.Is(err, store.ErrNotReplayable) {
				writeError(w, http.StatusConflict, err.Error())
				return
			}
			writeError(w, http.StatusUnprocessableEntity, err.Error())
			return
		}
		log.Info("replay", "id", id, "type", ev.Type, "previous_status", ev.Status, "route", name, "writes", len(made))
		// writes: how many writes the event made before, which the replay
		// may make again (or different ones).
		writeJSON(w, http.StatusAccepted, map[string]any{"status": string(store.StatusQueued), "id": id, "writes": len(made)})
	})
}
