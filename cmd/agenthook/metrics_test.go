package main

import (
	"net/http"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/agenthook/agenthook/internal/modeltest"
)

// serve wires the metrics into intake and the dispatcher, and guards
// /metrics with the admin token.
func TestServeMetrics(t *testing.T) {
	fake := modeltest.NewAnthropic()
	defer fake.Close()
	env := baseEnv(fake)
	env["AGENTHOOK_ADMIN_TOKEN"] = "admin-token-123"
	inst := startServe(t, env)
	scrape := func(token string) (int, map[string]*dto.MetricFamily) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, inst.base+"/metrics", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return resp.StatusCode, nil
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		mfs, err := p.TextToMetricFamilies(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, mfs
	}
	if code, _ := scrape(""); code != http.StatusUnauthorized {
		t.Fatalf("/metrics without the token: %d, want 401", code)
	}
	deliver(t, inst.base, "charge.dispute.created")
	counter := func(mfs map[string]*dto.MetricFamily, name, label, value string) float64 {
		for _, m := range mfs[name].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
		return 0
	}
	var mfs map[string]*dto.MetricFamily
	waitUntil(t, "the dispatch counted", func() bool {
		_, mfs = scrape("admin-token-123")
		return counter(mfs, "agenthook_dispatch_total", "outcome", "done") == 1
	})
	// One scrape is not a snapshot: the registry collects each metric on
	// its own, so the scrape that saw the dispatch may have read the token
	// counter just before the dispatcher added to it. Everything the
	// dispatch counted happened before it counted itself done, so a new
	// scrape sees all of it.
	_, mfs = scrape("admin-token-123")
	if n := counter(mfs, "agenthook_webhook_events_total", "outcome", "queued"); n != 1 {
		t.Errorf("queued deliveries: %v, want 1", n)
	}
	if n := counter(mfs, "agenthook_model_tokens_total", "route", "charge.dispute.created"); n == 0 {
		t.Error("no tokens counted for the route")
	}
	if h := mfs["agenthook_model_round_duration_seconds"].GetMetric(); len(h) != 1 || h[0].GetHistogram().GetSampleCount() != 1 {
		t.Errorf("model rounds: %v, want one anthropic round", h)
	}
	if up := mfs["agenthook_store_up"].GetMetric(); len(up) != 1 || up[0].GetGauge().GetValue() != 1 {
		t.Errorf("agenthook_store_up %v, want 1", up)
	}
}
