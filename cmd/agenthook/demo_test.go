package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/agenthook/agenthook/internal/modeltest"
	"github.com/agenthook/agenthook/internal/stripeevent"
)

// The README's first command: it must finish every fixture event offline,
// run the demo tools through the loop, and exit 0.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	env := func(k string) string { return "" } // no key: the offline provider
	if err := run(ctx, []string{"agenthook", "demo"}, env, &out, &errOut); err != nil {
		t.Fatalf("demo: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
	text := out.String()
	if !strings.Contains(text, "provider offline") {
		t.Errorf("demo did not use the offline provider:\n%s", text)
	}
	for _, typ := range stripeevent.FixtureTypes() {
		if !strings.Contains(text, typ) {
			t.Errorf("table lacks %s", typ)
		}
	}
	for _, want := range []string{
		"handle_dispute {\"action\":\"escalate_to_human\"", // a seed tool, its input from input_from
		"log_refund",
		"filtered",                       // the when: route
		"other-disputes",                 // the wildcard route
		"tool service received 6 signed", // every routed event ran its tool once
	} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, " dead ") {
		t.Errorf("an event went dead:\n%s", text)
	}
}

// With ANTHROPIC_API_KEY set the demo uses Claude: here the fake Messages
// API, on the default model (no AGENTHOOK_MODEL), which keeps the real
// contract. Every event must finish, none dead or without a decision, and
// the fake must refuse nothing.
func TestDemoWithClaudeDefaultModel(t *testing.T) {
	fake := modeltest.NewAnthropic()
	defer fake.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	vars := map[string]string{"ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": fake.URL}
	env := func(k string) string { return vars[k] }
	if err := run(ctx, []string{"agenthook", "demo"}, env, &out, &errOut); err != nil {
		t.Fatalf("demo: %v\nrefusals %+v\nstdout:\n%s\nstderr:\n%s", err, fake.Refusals(), out.String(), errOut.String())
	}
	text := out.String()
	if !strings.Contains(text, "provider anthropic") {
		t.Errorf("demo did not use the anthropic provider:\n%s", text)
	}
	for _, typ := range stripeevent.FixtureTypes() {
		if !strings.Contains(text, typ) {
			t.Errorf("table lacks %s", typ)
		}
	}
	for _, bad := range []string{" dead ", " no_decision ", " queued ", " running ", " retrying "} {
		if strings.Contains(text, bad) {
			t.Errorf("an event is%s:\n%s", strings.TrimRight(bad, " "), text)
		}
	}
	for _, want := range []string{"handle_dispute", "retry_failed_payment", "churn_outreach", "log_refund", "filtered", "other-disputes"} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q:\n%s", want, text)
		}
	}
	if n := fake.RefusalCount(); n != 0 {
		t.Fatalf("the fake refused %d request(s): %+v", n, fake.Refusals())
	}
	reqs := fake.Requests()
	if len(reqs) == 0 {
		t.Fatal("the demo never called the model")
	}
	for i, rq := range reqs {
		if rq.Body["model"] != "claude-sonnet-5-5" {
			t.Fatalf("request %d: model %v, want the default claude-sonnet-5-5", i+1, rq.Body["model"])
		}
	}
	t.Logf("demo with the fake Claude, %d model requests:\n%s", len(reqs), text)
}
