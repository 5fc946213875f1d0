package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/agenthook/agenthook/internal/modeltest"
)

const chromiumPath = "/usr/bin/chromium"

// browser starts a headless Chromium for the test, with a fresh profile.
// It skips the test when Chromium is not installed.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("the web console's browser test needs %s: install the Debian package chromium (apt-get install -y chromium)", chromiumPath)
	}
	profile := t.TempDir() // removed after the browser has exited (cleanups run last-in first-out)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1400, 1000),
	}
	ctx, cancelTimeout := context.WithTimeout(context.Background(), 2*time.Minute)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc() // waits for Chromium to exit
		cancelTimeout()
	})
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	return bctx
}

// stepTimeout bounds every step: the waits poll the page's DOM, and a step
// that does not come true in time fails the test.
const stepTimeout = 30 * time.Second

// step runs browser actions, failing the test with what was being done.
func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		t.Fatalf("%s: %v\n%s", what, err, pageText(ctx))
	}
}

// read runs one browser action that returns a value.
func read[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		t.Fatalf("%s: %v\n%s", what, err, pageText(ctx))
	}
	return v
}

// pageText describes the page for a failure message.
func pageText(ctx context.Context) string {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(cctx, chromedp.Location())
	body, _ := chromedp.Run(cctx, chromedp.Text(chromedp.CSS("body")))
	return "page " + loc + ":\n" + body
}

// The web console end to end in a real browser against a real serve: log
// in, watch an event arrive in the list, follow its story, approve its
// pending tool call, replay it, approve again from the approvals page,
// deny another, filter the list, log out.
func TestConsoleInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a browser")
	}
	ctx := browser(t)
	fake := modeltest.NewAnthropic()
	defer fake.Close()
	const token = "console-admin-token-123"
	env := baseEnv(fake)
	env["AGENTHOOK_ADMIN_TOKEN"] = token
	cfg := filepath.Join(t.TempDir(), "agenthook.yaml")
	writeFile(t, cfg, "order_window: 0s\ntools:\n  log_refund:\n    approval: required\n")
	inst := startServe(t, env, "--config", cfg)
	status := func(id string) string {
		_, ev := getEvent(t, inst.base, id, token)
		s, _ := ev["status"].(string)
		return s
	}
	send := func() string { return deliver(t, inst.base, "charge.refunded") }
	row := func(id string) string { return `#events-table tr[data-id="` + id + `"]` }

	// The console asks for the token, and keeps it where scripts cannot read it.
	step(t, ctx, "log in",
		chromedp.Navigate(inst.base+"/ui/"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), "wrong-token"),
		chromedp.Submit(chromedp.CSS("#token")),
		chromedp.WaitVisible(chromedp.CSS("#login-error")),
		chromedp.SendKeys(chromedp.CSS("#token"), token),
		chromedp.Submit(chromedp.CSS("#token")),
		chromedp.WaitVisible(chromedp.CSS("#events-table")),
		chromedp.WaitVisible(chromedp.CSS("#events-info")),
	)
	cookies := read(t, ctx, "read the cookies", chromedp.Evaluate[string](`document.cookie`))
	if strings.Contains(cookies, token) {
		t.Fatalf("the login cookie is readable by scripts: %q", cookies)
	}

	// An event sent now appears in the open list, and waits for approval.
	id := send()
	step(t, ctx, "see the event arrive",
		chromedp.WaitVisible(chromedp.CSS(row(id))),
		chromedp.WaitVisible(chromedp.CSS(row(id)+`[data-status="awaiting_approval"] .st-awaiting_approval`)),
		chromedp.WaitVisible(chromedp.CSS(`#pending-count`)),
	)

	// Its page tells the story so far and offers the decision.
	step(t, ctx, "open the event",
		chromedp.Click(chromedp.CSS(row(id)+` a`)),
		chromedp.WaitVisible(chromedp.CSS(`#timeline li[data-kind="approval_requested"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#pending .approval[data-tool-use-id] button.approve`)),
	)
	story := read(t, ctx, "read the story", chromedp.Text(chromedp.CSS("#timeline")))
	for _, want := range []string{"Webhook received", "queued for route charge.refunded", "Model round 1", "812 / 2,112", "2,048 of the output tokens",
		"Decision: call log_refund", "Deciding from the event data.", "Approval requested: log_refund", "obj_from_event", "Waiting for an operator"} {
		if !strings.Contains(story, want) {
			t.Errorf("the story lacks %q:\n%s", want, story)
		}
	}
	step(t, ctx, "approve on the event page",
		chromedp.Click(chromedp.CSS(`#pending button.approve`)),
		chromedp.WaitVisible(chromedp.CSS(`h1 .status[data-status="done"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#timeline li[data-kind="approval"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#timeline li[data-kind="outcome"]`)),
	)
	story = read(t, ctx, "read the story", chromedp.Text(chromedp.CSS("#timeline")))
	if s := status(id); s != "done" {
		t.Fatalf("after approval the API says %s, want done", s)
	}
	for _, want := range []string{"Approved by web console", "Tool log_refund: recorded", "approved by an operator", "Model round 2", "Done"} {
		if !strings.Contains(story, want) {
			t.Errorf("the story after approval lacks %q:\n%s", want, story)
		}
	}
	totals := read(t, ctx, "read the totals", chromedp.Text(chromedp.CSS("#totals")))
	if !strings.Contains(totals, "model requests\n2") && !strings.Contains(totals, "model requests 2") && !strings.Contains(totals, "model requests2") {
		t.Errorf("totals %q: want 2 model requests", totals)
	}

	// Replay runs it again, so it waits again: approve from the approvals page.
	step(t, ctx, "replay",
		chromedp.WaitNotVisible(chromedp.CSS("#replay-confirm")),
		chromedp.Click(chromedp.CSS("#replay")),
		chromedp.WaitVisible(chromedp.CSS("#replay-confirm")),
		chromedp.Click(chromedp.CSS("#replay-confirm")),
		chromedp.WaitVisible(chromedp.CSS(`#timeline li[data-kind="replay"]`)),
		chromedp.WaitVisible(chromedp.CSS(`h1 .status[data-status="awaiting_approval"]`)),
	)
	card := `#approvals .approval[data-event-id="` + id + `"]`
	step(t, ctx, "approve on the approvals page",
		chromedp.Click(chromedp.CSS("#nav-approvals")),
		chromedp.WaitVisible(chromedp.CSS(card+` button.approve`)),
		chromedp.Click(chromedp.CSS(card+` button.approve`)),
		chromedp.WaitNotPresent(chromedp.CSS(card)),
	)
	waitUntil(t, "done after the second approval", func() bool { return status(id) == "done" })

	// Deny asks for a reason, which the journal keeps.
	denied := send()
	card = `#approvals .approval[data-event-id="` + denied + `"]`
	step(t, ctx, "deny with a reason",
		chromedp.WaitVisible(chromedp.CSS(card+` button.deny`)),
		chromedp.Click(chromedp.CSS(card+` button.deny`)),
		chromedp.WaitVisible(chromedp.CSS(card+` input.reason`)),
		chromedp.Click(chromedp.CSS(card+` button.deny.confirm`)), // no reason yet: refused in the page
		chromedp.WaitVisible(chromedp.CSS(card+` input.reason.invalid`)),
		chromedp.SendKeys(chromedp.CSS(card+` input.reason`), "amount looks wrong"),
		chromedp.Click(chromedp.CSS(card+` button.deny.confirm`)),
		chromedp.WaitNotPresent(chromedp.CSS(card)),
	)
	waitUntil(t, "done after the denial", func() bool { return status(denied) == "done" })
	_, ev := getEvent(t, inst.base, denied, token)
	var decision map[string]any
	for _, s := range ev["steps"].([]any) {
		if s := s.(map[string]any); s["kind"] == "approval" {
			decision = s["data"].(map[string]any)
		}
	}
	if decision == nil || decision["approved"] != false || decision["reason"] != "amount looks wrong" {
		t.Fatalf("the denial journaled %v", decision)
	}

	// The list filters by status and by id text.
	step(t, ctx, "filter the list",
		chromedp.Click(chromedp.CSS("#nav-events")),
		chromedp.WaitVisible(chromedp.CSS(row(id))),
		chromedp.WaitVisible(chromedp.CSS(row(denied))),
		chromedp.SendKeys(chromedp.CSS("#f-q"), denied[len(denied)-10:]),
		chromedp.WaitNotPresent(chromedp.CSS(row(id))),
		chromedp.WaitVisible(chromedp.CSS(row(denied))),
		// Clear the text and pick a status, as a person would.
		chromedp.Evaluate[chromedp.Void](`(() => {
			const q = document.getElementById("f-q"), st = document.getElementById("f-status");
			q.value = ""; q.dispatchEvent(new Event("input"));
			st.value = "dead"; st.dispatchEvent(new Event("change"));
		})()`),
		chromedp.WaitNotPresent(chromedp.CSS(row(denied))),
		chromedp.WaitVisible(chromedp.CSS(`#events-info`)),
	)

	// Logging out ends the session.
	step(t, ctx, "log out",
		chromedp.Click(chromedp.CSS("#logout")),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.Navigate(inst.base+"/ui/#/events"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
	)
}
