package main

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/agenthook/agenthook/internal/modeltest"
	"github.com/agenthook/agenthook/internal/store/storetest"
	"github.com/agenthook/agenthook/internal/stripeevent"
)

// TestFaultTwoReplicasKillOne runs two replicas on one PostgreSQL database.
// Every delivery goes to both at once, 30 % of deliveries resend an earlier
// event, and one replica is killed with SIGKILL midway. Every acknowledged
// event must be dispatched, and none twice, except an event whose model call
// was cut off mid-flight, which must be journaled as an interrupted attempt.
//
// AGENTHOOK_FAULT_EVENTS sets the number of distinct events (default 120;
// try 2000 for a longer run).
func TestFaultTwoReplicasKillOne(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two replicas of the binary")
	}
	db := storetest.Postgres(t)
	n := 120
	if v, err := strconv.Atoi(os.Getenv("AGENTHOOK_FAULT_EVENTS")); err == nil && v > 0 {
		n = v
	}
	// One fake model per replica, so the kill can be timed to a call of the
	// replica being killed that is in flight.
	fakeA, fakeB := modeltest.NewAnthropic(), modeltest.NewAnthropic()
	for _, f := range []*modeltest.Server{fakeA, fakeB} {
		f.Then = modeltest.Reply{Delay: 150 * time.Millisecond}
		defer f.Close()
	}
	cfg := filepath.Join(t.TempDir(), "agenthook.yaml")
	writeFile(t, cfg, "workers: 8\norder_window: 0s\nretry: {base: 50ms, max: 1s}\n")
	args := []string{"--config", cfg, "--rescue-after", "2s"}
	a := startProc(t, baseEnv(fakeA), db, args...)
	b := startProc(t, baseEnv(fakeB), db, args...)

	var mu sync.Mutex
	acked := map[string]bool{}
	deliver := func(body []byte, id string) {
		sig := stripeevent.Sign(body, testSecret, time.Now())
		var wg sync.WaitGroup
		for _, base := range []string{a.base, b.base} {
			wg.Go(func() {
				req, _ := http.NewRequest(http.MethodPost, base+"/stripe/webhook", bytes.NewReader(body))
				req.Header.Set("Stripe-Signature", sig)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return // the killed replica: not acknowledged there
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					mu.Lock()
					acked[id] = true
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}

	types := []string{"charge.dispute.created", "invoice.payment_failed", "customer.subscription.deleted", "charge.refunded"}
	var sent [][2]string // body, id
	killed := false
	for i := 0; i < n; {
		if len(sent) > 0 && rand.Float64() < 0.3 {
			s := sent[rand.IntN(len(sent))]
			deliver([]byte(s[0]), s[1])
		} else {
			body, id, err := stripeevent.NewEvent(types[i%len(types)], time.Now())
			if err != nil {
				t.Fatal(err)
			}
			sent = append(sent, [2]string{string(body), id})
			deliver(body, id)
			i++
		}
		if !killed && i == n/2 {
			// Kill while one of A's model calls is in flight: drain the
			// signals of calls already answered, then wait for a new one.
			for drained := false; !drained; {
				select {
				case <-fakeA.Started():
				default:
					drained = true
				}
			}
			select {
			case <-fakeA.Started():
			case <-time.After(30 * time.Second):
				t.Fatal("replica A started no model call before the kill")
			}
			a.cmd.Process.Signal(syscall.SIGKILL)
			<-a.done
			a.done <- nil
			killed = true
		}
	}

	events := map[string]map[string]any{}
	// A killed replica's jobs are rescued after --rescue-after, on River's
	// rescuer's next pass (every 30 s), so this wait is longer than others.
	deadline := time.Now().Add(90 * time.Second)
	for !func() bool {
		mu.Lock()
		defer mu.Unlock()
		for id := range acked {
			if ev := events[id]; ev != nil && ev["status"] == "done" {
				continue
			}
			_, ev := getEvent(t, b.base, id, "")
			if ev["status"] != "done" {
				return false
			}
			events[id] = ev
		}
		return true
	}() {
		if time.Now().After(deadline) {
			mu.Lock()
			for id := range acked {
				if events[id] == nil {
					_, ev := getEvent(t, b.base, id, "")
					t.Logf("%s: status %v attempts %v order_key %v steps %v", id, ev["status"], ev["attempts"], ev["order_key"], ev["steps"])
				}
			}
			mu.Unlock()
			t.Fatalf("not every acknowledged event is done after 3 minutes")
		}
		time.Sleep(100 * time.Millisecond)
	}

	calls := map[string]int{}
	evID := regexp.MustCompile(`evt_[A-Za-z0-9]+`)
	for _, r := range append(fakeA.Requests(), fakeB.Requests()...) {
		if id := evID.Find(r.Raw); id != nil {
			calls[string(id)]++
		}
	}
	twice, interrupted := 0, 0
	for id, ev := range events {
		decisions, cut := 0, 0
		for _, s := range ev["steps"].([]any) {
			switch s.(map[string]any)["kind"] {
			case "decision":
				decisions++
			case "interrupted":
				cut++
			}
		}
		if decisions != 1 {
			t.Errorf("%s: %d completed decisions, want exactly 1", id, decisions)
		}
		if cut > 0 {
			interrupted++
		}
		if calls[id] > 1 {
			twice++
			if cut == 0 {
				t.Errorf("%s: %d model calls but no interrupted attempt in its journal: %v", id, calls[id], ev["steps"])
			}
		}
		if calls[id] == 0 {
			t.Errorf("%s: acknowledged but never sent to the model", id)
		}
	}
	t.Logf("%d distinct events sent, %d acknowledged, %d with a cut model call re-sent, %d journaled interrupted", len(sent), len(acked), twice, interrupted)
	if len(acked) < n/2 {
		t.Fatalf("only %d of %d events acknowledged", len(acked), n)
	}
	if b, _ := json.Marshal(calls); len(calls) < len(acked) {
		t.Fatalf("model saw %d events, fewer than the %d acknowledged: %s", len(calls), len(acked), b)
	}
}
