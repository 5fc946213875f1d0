package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agenthook/agenthook/internal/modeltest"
	"github.com/agenthook/agenthook/internal/store/storetest"
	"github.com/agenthook/agenthook/internal/stripeevent"
)

const testSecret = "whsec_test_agenthook_secret"

// syncBuffer is a goroutine-safe bytes.Buffer for captured output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type instance struct {
	base   string
	stderr *syncBuffer
	env    map[string]string
}

// startServe runs `agenthook serve` in-process through run() and waits until
// /readyz answers. It stops when the test ends.
func startServe(t *testing.T, env map[string]string, extra ...string) *instance {
	t.Helper()
	addr := freeAddr(t)
	args := append([]string{"agenthook", "serve", "--addr", addr, "--store", filepath.Join(t.TempDir(), "data", "agenthook.db")}, extra...)
	getenv := func(k string) string { return env[k] }
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, getenv, io.Discard, stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("serve did not stop within 30s")
		}
	})
	inst := &instance{base: "http://" + addr, stderr: stderr, env: env}
	waitUntil(t, "serve ready", func() bool {
		select {
		case err := <-done:
			t.Fatalf("serve exited early: %v\n%s", err, stderr.String())
		default:
		}
		resp, err := http.Get(inst.base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return inst
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	storetest.Eventually(t, 30*time.Second, func() (bool, string) { return cond(), "timed out waiting for " + what })
}

func post(t *testing.T, url string, body []byte, sig string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if sig != "" {
		req.Header.Set("Stripe-Signature", sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// deliver posts a fresh, signed event of type typ to the instance at base,
// fails the test unless it is stored as queued, and returns its id.
func deliver(t *testing.T, base, typ string) string {
	t.Helper()
	body, id, err := stripeevent.NewEvent(typ, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if code, m := post(t, base+"/stripe/webhook", body, stripeevent.Sign(body, testSecret, time.Now())); code != 200 || m["status"] != "queued" {
		t.Fatalf("deliver %s: %d %v", typ, code, m)
	}
	return id
}

func getEvent(t *testing.T, base, id, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/api/events/"+id, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// baseEnv runs serve against fake on the default model (no AGENTHOOK_MODEL:
// claude-sonnet-5-5), which the fake holds to the real contract: forced
// tool choice refused, a signed thinking block opening every answer, and a
// continued conversation refused unless its assistant turns come back as
// issued.
func baseEnv(fake *modeltest.Server) map[string]string {
	return map[string]string{
		"STRIPE_WEBHOOK_SECRET": "whsec_old_rotated_out," + testSecret,
		"ANTHROPIC_API_KEY":     "sk-ant-test",
		"ANTHROPIC_BASE_URL":    fake.URL,
	}
}

func TestServeWebhookAnswers(t *testing.T) {
	fake := modeltest.NewAnthropic()
	defer fake.Close()
	inst := startServe(t, baseEnv(fake))
	url := inst.base + "/stripe/webhook"
	now := time.Now()

	body, id, err := stripeevent.NewEvent("charge.dispute.created", now)
	if err != nil {
		t.Fatal(err)
	}
	sig := stripeevent.Sign(body, testSecret, now)
	if code, m := post(t, url, body, sig); code != 200 || m["status"] != "queued" || m["id"] != id {
		t.Fatalf("first delivery: %d %v", code, m)
	}
	if code, m := post(t, url, body, sig); code != 200 || m["status"] != "duplicate" || m["id"] != id {
		t.Fatalf("redelivery: %d %v", code, m)
	}
	ignoredBody, ignoredID, _ := stripeevent.NewEvent("customer.created", now)
	if code, m := post(t, url, ignoredBody, stripeevent.Sign(ignoredBody, testSecret, now)); code != 200 || m["status"] != "ignored" {
		t.Fatalf("unmapped: %d %v", code, m)
	}

	rejects := []struct {
		name string
		body []byte
		sig  string
	}{
		{"no signature", body, ""},
		{"wrong secret", body, stripeevent.Sign(body, "whsec_wrong", now)},
		{"too old", body, stripeevent.Sign(body, testSecret, now.Add(-6*time.Minute))},
		{"too new", body, stripeevent.Sign(body, testSecret, now.Add(6*time.Minute))},
		{"tampered", append([]byte(" "), body...), sig},
		{"malformed json", []byte(`{"id": "evt_x",`), stripeevent.Sign([]byte(`{"id": "evt_x",`), testSecret, now)},
		{"missing type", []byte(`{"id":"evt_notype"}`), stripeevent.Sign([]byte(`{"id":"evt_notype"}`), testSecret, now)},
		{"missing id", []byte(`{"type":"charge.refunded"}`), stripeevent.Sign([]byte(`{"type":"charge.refunded"}`), testSecret, now)},
	}
	for _, r := range rejects {
		code, m := post(t, url, r.body, r.sig)
		if code != 400 || m["error"] == "" || m["error"] == nil {
			t.Errorf("%s: %d %v, want 400 with an error", r.name, code, m)
		}
	}
	// Nothing rejected was stored.
	if code, _ := getEvent(t, inst.base, "evt_notype", ""); code != 404 {
		t.Errorf("a rejected event was stored: GET answered %d", code)
	}

	big := bytes.Repeat([]byte("x"), 2<<20+1)
	if code, _ := post(t, url, big, stripeevent.Sign(big, testSecret, now)); code != 413 {
		t.Errorf("oversized body: %d, want 413", code)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("GET webhook: %d, want 405", resp.StatusCode)
	}

	// The mapped event is dispatched and its decision journaled.
	var ev map[string]any
	waitUntil(t, "dispatch done", func() bool {
		_, ev = getEvent(t, inst.base, id, "")
		return ev["status"] == "done"
	})
	for _, k := range []string{"id", "type", "created", "status", "attempts", "last_error", "steps"} {
		if _, ok := ev[k]; !ok {
			t.Errorf("event JSON lacks %q: %v", k, ev)
		}
	}
	steps, _ := ev["steps"].([]any)
	var kinds []string
	for _, s := range steps {
		kinds = append(kinds, s.(map[string]any)["kind"].(string))
	}
	if strings.Join(kinds, ",") != "model_request,decision,tool_call,outcome" {
		t.Fatalf("journal kinds %v", kinds)
	}
	if _, ign := getEvent(t, inst.base, ignoredID, ""); ign["status"] != "ignored" {
		t.Fatalf("ignored event status %v", ign["status"])
	}
	if reqs := fake.Requests(); len(reqs) != 1 || reqs[0].Body["model"] != "claude-sonnet-5-5" {
		t.Fatalf("model requests %d, model %v", len(reqs), reqs[0].Body["model"])
	}
	// Logs name events but carry no secret and no payload.
	logs := inst.stderr.String()
	if !strings.Contains(logs, id) || strings.Contains(logs, testSecret) || strings.Contains(logs, "sk-ant-test") || strings.Contains(logs, "dp_1Pgc71B7WZ01zgkWMevJiAUx") {
		t.Fatalf("log lines leak a secret or payload, or miss the event id:\n%s", logs)
	}
}

func TestAdminAuth(t *testing.T) {
	fake := modeltest.NewAnthropic()
	defer fake.Close()
	env := baseEnv(fake)
	env["AGENTHOOK_ADMIN_TOKEN"] = "admin-token-123"
	inst := startServe(t, env)
	if code, _ := getEvent(t, inst.base, "evt_unknown", ""); code != 401 {
		t.Fatalf("no token: %d, want 401", code)
	}
	if code, _ := getEvent(t, inst.base, "evt_unknown", "wrong"); code != 401 {
		t.Fatalf("wrong token: %d, want 401", code)
	}
	if code, _ := getEvent(t, inst.base, "evt_unknown", "admin-token-123"); code != 404 {
		t.Fatalf("right token, unknown id: %d, want 404", code)
	}
}

func TestTriggerEndToEnd(t *testing.T) {
	fake := modeltest.NewAnthropic()
	defer fake.Close()
	env := baseEnv(fake)
	inst := startServe(t, env)
	getenv := func(k string) string { return env[k] }
	var ids []string
	for _, typ := range []string{"invoice.payment_failed", "invoice.payment_failed", "refund.created"} {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"agenthook", "trigger", typ, "--url", inst.base + "/stripe/webhook"}, getenv, &out, io.Discard); err != nil {
			t.Fatalf("trigger %s: %v", typ, err)
		}
		fields := strings.Fields(out.String())
		if len(fields) < 4 || !strings.HasPrefix(fields[1], "evt_") || fields[3] != "200" {
			t.Fatalf("trigger output %q", out.String())
		}
		ids = append(ids, fields[1])
	}
	if ids[0] == ids[1] {
		t.Fatalf("two triggers sent the same id %s", ids[0])
	}
	for _, id := range ids[:2] {
		waitUntil(t, "triggered event done", func() bool {
			_, ev := getEvent(t, inst.base, id, "")
			return ev["status"] == "done"
		})
	}
	if _, ev := getEvent(t, inst.base, ids[2], ""); ev["status"] != "ignored" {
		t.Fatalf("refund.created status %v, want ignored", ev["status"])
	}
	// A trigger signed with another secret is refused, and trigger says so.
	bad := map[string]string{"STRIPE_WEBHOOK_SECRET": "whsec_other"}
	err := run(context.Background(), []string{"agenthook", "trigger", "charge.refunded", "--url", inst.base + "/stripe/webhook"},
		func(k string) string { return bad[k] }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("trigger with the wrong secret: %v", err)
	}
}

func TestReplayCommand(t *testing.T) {
	fake := modeltest.NewAnthropic(modeltest.Reply{Status: 400})
	defer fake.Close()
	env := baseEnv(fake)
	inst := startServe(t, env)
	getenv := func(k string) string { return env[k] }
	id := deliver(t, inst.base, "charge.refunded")
	waitUntil(t, "dead", func() bool { _, ev := getEvent(t, inst.base, id, ""); return ev["status"] == "dead" })
	var out bytes.Buffer
	if err := run(context.Background(), []string{"agenthook", "replay", id, "--server", inst.base}, getenv, &out, io.Discard); err != nil {
		t.Fatalf("replay: %v", err)
	}
	waitUntil(t, "done after replay", func() bool { _, ev := getEvent(t, inst.base, id, ""); return ev["status"] == "done" })
	if err := run(context.Background(), []string{"agenthook", "replay", "evt_missing", "--server", inst.base}, getenv, io.Discard, io.Discard); err == nil {
		t.Fatal("replay of an unknown id succeeded")
	}
}

func TestCheck(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"agenthook", "check"}, func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"charge.dispute.created", "handle_dispute", "invoice.payment_failed", "retry_failed_payment",
		"customer.subscription.deleted", "churn_outreach", "charge.refunded", "log_refund"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("check output lacks %s:\n%s", want, out.String())
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	writeFile(t, bad, "routes:\n  - events: [charge.refunded]\n    tools: [no_such_tool]\n")
	err := run(context.Background(), []string{"agenthook", "check", "--config", bad}, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "no_such_tool") {
		t.Fatalf("check of a route with an undefined tool: %v", err)
	}
	writeFile(t, bad, "adress: \":8000\"\n")
	err = run(context.Background(), []string{"agenthook", "check", "--config", bad}, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "adress") {
		t.Fatalf("check of an unknown key: %v", err)
	}
}

func TestServeRefusesWithoutSecret(t *testing.T) {
	err := run(context.Background(), []string{"agenthook", "serve", "--addr", freeAddr(t), "--store", filepath.Join(t.TempDir(), "a.db")},
		func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "STRIPE_WEBHOOK_SECRET") {
		t.Fatalf("serve without a secret: %v", err)
	}
}

var _ = fmt.Sprint

func httpGet(url string) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
