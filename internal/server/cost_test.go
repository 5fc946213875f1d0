package server

import (
	"testing"

	"github.com/agenthook/agenthook/internal/config"
	"github.com/agenthook/agenthook/internal/store"
)

func TestEventCostFromPrices(t *testing.T) {
	ev := &store.Event{Record: store.Record{ID: "evt_cost"}, Steps: []store.Step{{Kind: "model_request",
		Data: []byte(`{"input_tokens":1000000,"output_tokens":100000,"cache_read_input_tokens":2000000,"cache_creation_input_tokens":0}`)}}}
	d := newEventDetail(ev, &config.Prices{Input: 3, Output: 15, CacheRead: 0.3, CacheWrite: 3.75})
	if d.CostUSD == nil || *d.CostUSD < 5.099 || *d.CostUSD > 5.101 {
		t.Fatalf("cost = %v, want 3 + 1.5 + 0.6 = 5.1", d.CostUSD)
	}
	if newEventDetail(ev, nil).CostUSD != nil {
		t.Fatal("a cost without prices")
	}
}
