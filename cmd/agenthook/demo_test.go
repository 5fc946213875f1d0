package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

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
