package server

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/agenthook/agenthook/internal/store"
)

// handleApprovals lists the tool calls waiting for an operator.
func handleApprovals(st *store.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pending, err := st.Approvals(r.Context())
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "could not read the approvals: "+err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"approvals": pending})
	})
}

// handleDecide approves (approve true) or denies a pending tool call. The
// body names the call ({"tool_use_id": …}; optional when one is pending)
// and, for a denial, the reason the model will be told.
func handleDecide(st *store.Store, approve bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			ToolUseID string `json:"tool_use_id"`
			Reason    string `json:"reason"`
			By        string `json:"by"`
		}
		dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil && !errors.Is(err, io.EOF) {
			writeError(w, http.StatusBadRequest, `the body must be JSON like {"tool_use_id":"toolu_…","reason":"…"}: `+err.Error())
			return
		}
		body.Reason = strings.TrimSpace(body.Reason)
		if !approve && body.Reason == "" {
			writeError(w, http.StatusBadRequest, `a denial needs a reason: the model is told "denied by an operator: REASON"`)
			return
		}
		by := body.By
		if by == "" {
			by = "api"
		}
		err := st.Decide(r.Context(), r.PathValue("id"), body.ToolUseID, approve, body.Reason, by)
		switch {
		case errors.Is(err, store.ErrNotFound):
			writeError(w, http.StatusNotFound, "no event with this id: check the id (evt_…)")
		case errors.Is(err, store.ErrNotPending):
			writeError(w, http.StatusConflict, err.Error())
		case err != nil:
			writeError(w, http.StatusServiceUnavailable, "could not record the decision: "+err.Error())
		default:
			writeJSON(w, http.StatusOK, map[string]string{"status": string(store.StatusQueued), "id": r.PathValue("id")})
		}
	})
}
