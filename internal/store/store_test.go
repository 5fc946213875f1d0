package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agenthook/agenthook/internal/journal"
	"github.com/agenthook/agenthook/internal/store"
	"github.com/agenthook/agenthook/internal/store/storetest"
	"github.com/riverqueue/river/rivertype"
	"github.com/tidwall/gjson"
)

func open(t testing.TB, opts store.Options) *store.Store {
	t.Helper()
	if opts.Location == "" {
		opts.Location = filepath.Join(t.TempDir(), "data", "agenthook.db")
	}
	s, err := store.Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Close(ctx)
	})
	return s
}

// eachStore runs test on SQLite and, when enabled, on PostgreSQL: the
// store's promises are the same on both.
func eachStore(t *testing.T, test func(t *testing.T, location string)) {
	t.Run("sqlite", func(t *testing.T) { test(t, filepath.Join(t.TempDir(), "data", "agenthook.db")) })
	t.Run("postgres", func(t *testing.T) { test(t, storetest.Postgres(t)) })
}

func incoming(id string) store.Incoming {
	return store.Incoming{ID: id, Type: "charge.dispute.created", Created: 1786000000, Route: "charge.dispute.created",
		Payload: []byte(`{"id":"` + id + `","type":"charge.dispute.created"}`)}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitJob waits for the event's dispatch job and returns it.
func waitJob(t testing.TB, s *store.Store, id string) *rivertype.JobRow {
	t.Helper()
	var job *rivertype.JobRow
	waitFor(t, "the job of "+id, func() bool {
		var err error
		if job, err = s.Job(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		return job != nil
	})
	return job
}

func status(t testing.TB, s *store.Store, id string) store.Status {
	t.Helper()
	ev, err := s.Event(context.Background(), id)
	if err != nil {
		t.Fatalf("event %s: %v", id, err)
	}
	return ev.Status
}

func TestDedupeConcurrentDeliveries(t *testing.T) { eachStore(t, testDedupeConcurrentDeliveries) }

func testDedupeConcurrentDeliveries(t *testing.T, loc string) {
	s := open(t, store.Options{Location: loc})
	ctx := context.Background()
	const n = 100
	var queued, dup atomic.Int32
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			out, err := s.Ingest(ctx, incoming("evt_same"))
			if err != nil {
				t.Errorf("ingest: %v", err)
				return
			}
			switch out {
			case store.Queued:
				queued.Add(1)
			case store.Duplicate:
				dup.Add(1)
			default:
				t.Errorf("unexpected outcome %q", out)
			}
		})
	}
	wg.Wait()
	if queued.Load() != 1 || dup.Load() != n-1 {
		t.Fatalf("queued=%d duplicate=%d, want 1 and %d", queued.Load(), dup.Load(), n-1)
	}
	storetest.WaitFed(t, s)
	jobs, err := s.CountJobs(ctx, "evt_same")
	if err != nil {
		t.Fatal(err)
	}
	if jobs != 1 {
		t.Fatalf("jobs for evt_same = %d, want exactly 1", jobs)
	}
}

func TestIgnoredIsStoredWithoutJob(t *testing.T) { eachStore(t, testIgnoredIsStoredWithoutJob) }

func testIgnoredIsStoredWithoutJob(t *testing.T, loc string) {
	s := open(t, store.Options{Location: loc})
	ctx := context.Background()
	in := incoming("evt_ignored")
	in.Route = ""
	out, err := s.Ingest(ctx, in)
	if err != nil || out != store.Ignored {
		t.Fatalf("ingest = %q, %v; want ignored", out, err)
	}
	ev, err := s.Event(ctx, "evt_ignored")
	if err != nil {
		t.Fatal(err)
	}
	if ev.Status != store.StatusIgnored || string(ev.Payload) != string(in.Payload) {
		t.Fatalf("stored %+v", ev)
	}
	storetest.WaitFed(t, s)
	if n, _ := s.CountJobs(ctx, "evt_ignored"); n != 0 {
		t.Fatalf("ignored event has %d jobs", n)
	}
	// A later route can pick it up.
	if err := s.Replay(ctx, "evt_ignored", "charge.dispute.created"); err != nil {
		t.Fatalf("replay ignored with a route: %v", err)
	}
	if st := status(t, s, "evt_ignored"); st != store.StatusQueued {
		t.Fatalf("after replay status = %s", st)
	}
}

// The committed row survives closing and reopening: what Ingest acknowledged
// is on disk.
func TestIngestIsDurable(t *testing.T) {
	loc := filepath.Join(t.TempDir(), "agenthook.db")
	s, err := store.Open(context.Background(), store.Options{Location: loc})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if _, err := s.Ingest(context.Background(), incoming(fmt.Sprintf("evt_%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s2 := open(t, store.Options{Location: loc})
	for i := range 50 {
		if st := status(t, s2, fmt.Sprintf("evt_%d", i)); st != store.StatusQueued {
			t.Fatalf("evt_%d status %s after reopen", i, st)
		}
	}
}

func TestSecondOwnerIsRefused(t *testing.T) {
	loc := filepath.Join(t.TempDir(), "agenthook.db")
	open(t, store.Options{Location: loc})
	_, err := store.Open(context.Background(), store.Options{Location: loc})
	if err == nil || !strings.Contains(err.Error(), "in use by another agenthook") {
		t.Fatalf("second open: %v, want in-use error", err)
	}
}

type apiError struct {
	msg        string
	retryAfter time.Duration
	permanent  bool
}

func (e *apiError) Error() string             { return e.msg }
func (e *apiError) RetryAfter() time.Duration { return e.retryAfter }
func (e *apiError) Permanent() bool           { return e.permanent }

func TestDispatchRetriesThenDone(t *testing.T) { eachStore(t, testDispatchRetriesThenDone) }

func testDispatchRetriesThenDone(t *testing.T, loc string) {
	var calls atomic.Int32
	h := store.HandlerFunc(func(ctx context.Context, run *store.Run) error {
		n := calls.Add(1)
		if err := run.Append(ctx, &journal.ModelRequest{Round: int(n)}); err != nil {
			return err
		}
		if n < 3 {
			return &apiError{msg: "529 overloaded"}
		}
		return nil
	})
	s := open(t, store.Options{Location: loc, Handler: h, RetryBase: 5 * time.Millisecond, PollInterval: 20 * time.Millisecond})
	ctx := context.Background()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ingest(ctx, incoming("evt_retry")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "done", func() bool { return status(t, s, "evt_retry") == store.StatusDone })
	ev, _ := s.Event(ctx, "evt_retry")
	if ev.Attempts != 3 || calls.Load() != 3 {
		t.Fatalf("attempts=%d calls=%d, want 3", ev.Attempts, calls.Load())
	}
	if len(ev.Steps) != 3 || ev.Steps[2].Attempt != 3 {
		t.Fatalf("journal %+v", ev.Steps)
	}
	if ev.LastError != "" {
		t.Fatalf("last_error %q after success", ev.LastError)
	}
}

func TestPermanentErrorIsDeadAtOnce(t *testing.T) { eachStore(t, testPermanentErrorIsDeadAtOnce) }

func testPermanentErrorIsDeadAtOnce(t *testing.T, loc string) {
	var calls atomic.Int32
	h := store.HandlerFunc(func(ctx context.Context, run *store.Run) error {
		calls.Add(1)
		return &apiError{msg: "400 invalid_request_error: bad tool schema", permanent: true}
	})
	s := open(t, store.Options{Location: loc, Handler: h, RetryBase: time.Millisecond, PollInterval: 20 * time.Millisecond})
	ctx := context.Background()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	s.Ingest(ctx, incoming("evt_dead"))
	waitFor(t, "dead", func() bool { return status(t, s, "evt_dead") == store.StatusDead })
	ev, _ := s.Event(ctx, "evt_dead")
	if calls.Load() != 1 || !strings.Contains(ev.LastError, "bad tool schema") {
		t.Fatalf("calls=%d last_error=%q", calls.Load(), ev.LastError)
	}
	// Replay queues it again.
	if err := s.Replay(ctx, "evt_dead", ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "second dispatch", func() bool { return calls.Load() == 2 })
	waitFor(t, "dead again", func() bool { return status(t, s, "evt_dead") == store.StatusDead })
}

func TestMaxAttemptsThenDead(t *testing.T) { eachStore(t, testMaxAttemptsThenDead) }

func testMaxAttemptsThenDead(t *testing.T, loc string) {
	var calls atomic.Int32
	h := store.HandlerFunc(func(ctx context.Context, run *store.Run) error {
		calls.Add(1)
		return errors.New("500 internal server error")
	})
	s := open(t, store.Options{Location: loc, Handler: h, MaxAttempts: 3, RetryBase: time.Millisecond, PollInterval: 20 * time.Millisecond})
	ctx := context.Background()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	s.Ingest(ctx, incoming("evt_max"))
	waitFor(t, "dead", func() bool { return status(t, s, "evt_max") == store.StatusDead })
	if calls.Load() != 3 {
		t.Fatalf("calls = %d, want 3", calls.Load())
	}
}

func TestRetryAfterIsHonoured(t *testing.T) { eachStore(t, testRetryAfterIsHonoured) }

func testRetryAfterIsHonoured(t *testing.T, loc string) {
	var mu sync.Mutex
	var times []time.Time
	h := store.HandlerFunc(func(ctx context.Context, run *store.Run) error {
		mu.Lock()
		times = append(times, time.Now())
		n := len(times)
		mu.Unlock()
		if n == 1 {
			return &apiError{msg: "429 rate limited", retryAfter: 1500 * time.Millisecond}
		}
		return nil
	})
	s := open(t, store.Options{Location: loc, Handler: h, RetryBase: time.Millisecond, PollInterval: 20 * time.Millisecond})
	ctx := context.Background()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	s.Ingest(ctx, incoming("evt_ra"))
	waitFor(t, "done", func() bool { return status(t, s, "evt_ra") == store.StatusDone })
	mu.Lock()
	defer mu.Unlock()
	if gap := times[1].Sub(times[0]); gap < 1500*time.Millisecond {
		t.Fatalf("retried after %v, sooner than retry-after 1.5s", gap)
	}
}

func TestCleanupKeepsInFlight(t *testing.T) { eachStore(t, testCleanupKeepsInFlight) }

func testCleanupKeepsInFlight(t *testing.T, loc string) {
	s := open(t, store.Options{Location: loc})
	ctx := context.Background()
	s.Ingest(ctx, incoming("evt_inflight"))
	in := incoming("evt_old")
	in.Route = ""
	s.Ingest(ctx, in)
	n, err := s.Cleanup(ctx, time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("deleted %d, want 1 (the ignored one)", n)
	}
	if _, err := s.Event(ctx, "evt_old"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("evt_old still there: %v", err)
	}
	if st := status(t, s, "evt_inflight"); st != store.StatusQueued {
		t.Fatalf("in-flight event: %s", st)
	}
}

func BenchmarkIngest(b *testing.B) {
	s := open(b, store.Options{})
	ctx := context.Background()
	payload := []byte(strings.Repeat("x", 3000))
	var seq atomic.Int64
	b.SetParallelism(16) // 16×GOMAXPROCS concurrent requests, as under HTTP load
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf("evt_bench_%d", seq.Add(1))
			if _, err := s.Ingest(ctx, store.Incoming{ID: id, Type: "charge.refunded", Route: "charge.refunded", Payload: payload}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestOrderPerObject(t *testing.T) { eachStore(t, testOrderPerObject) }

// A burst about one object that arrives newest-first runs oldest-first, one
// at a time, while another object's event runs beside it.
func testOrderPerObject(t *testing.T, loc string) {
	var mu sync.Mutex
	var order []string
	var inflightA, maxA atomic.Int32
	firstA := make(chan struct{})
	release := make(chan struct{})
	bDone := make(chan struct{})
	var once sync.Once
	h := store.HandlerFunc(func(ctx context.Context, run *store.Run) error {
		if run.Event.OrderKey == "obj_B" {
			close(bDone)
			return nil
		}
		n := inflightA.Add(1)
		defer inflightA.Add(-1)
		for {
			m := maxA.Load()
			if n <= m || maxA.CompareAndSwap(m, n) {
				break
			}
		}
		mu.Lock()
		order = append(order, run.Event.ID)
		mu.Unlock()
		once.Do(func() {
			close(firstA)
			<-release
		})
		return nil
	})
	s := open(t, store.Options{Location: loc, Handler: h, Workers: 4, OrderWindow: 300 * time.Millisecond,
		PollInterval: 20 * time.Millisecond, RetryBase: time.Millisecond})
	ctx := context.Background()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for _, e := range []struct {
		id      string
		created int64
		key     string
	}{{"evt_a3", 30, "obj_A"}, {"evt_a2", 20, "obj_A"}, {"evt_a1", 10, "obj_A"}, {"evt_b", 5, "obj_B"}} {
		in := incoming(e.id)
		in.Created, in.OrderKey = e.created, e.key
		if _, err := s.Ingest(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-firstA:
	case <-time.After(15 * time.Second):
		t.Fatal("no event of obj_A ran")
	}
	// obj_B is not held up by obj_A's running event.
	select {
	case <-bDone:
	case <-time.After(15 * time.Second):
		t.Fatal("obj_B's event waited for obj_A's")
	}
	close(release)
	waitFor(t, "all done", func() bool {
		for _, id := range []string{"evt_a1", "evt_a2", "evt_a3"} {
			if status(t, s, id) != store.StatusDone {
				return false
			}
		}
		return true
	})
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(order, ",") != "evt_a1,evt_a2,evt_a3" {
		t.Fatalf("obj_A ran in order %v, want oldest created first", order)
	}
	if maxA.Load() != 1 {
		t.Fatalf("%d events of obj_A ran at once, want 1", maxA.Load())
	}
}

func TestOrderWindowDelaysTheFetch(t *testing.T) { eachStore(t, testOrderWindowDelaysTheFetch) }

// An event's job becomes fetchable when its order window ends, not before:
// fetched early it would only be snoozed, and a burst would keep every
// worker fetching and snoozing. It still runs without waiting for River's
// scheduler, which passes only every few seconds.
func testOrderWindowDelaysTheFetch(t *testing.T, loc string) {
	const window = 300 * time.Millisecond
	ran := make(chan time.Time, 1)
	h := store.HandlerFunc(func(ctx context.Context, run *store.Run) error {
		ran <- time.Now()
		return nil
	})
	s := open(t, store.Options{Location: loc, Handler: h, OrderWindow: window, PollInterval: 20 * time.Millisecond})
	ctx := context.Background()
	if _, err := s.Ingest(ctx, incoming("evt_window")); err != nil {
		t.Fatal(err)
	}
	ev, err := s.Event(ctx, "evt_window")
	if err != nil {
		t.Fatal(err)
	}
	job := waitJob(t, s, "evt_window")
	// Available (not scheduled, which waits for River's scheduler), and due
	// when the window ends (River keeps milliseconds).
	if job.State != rivertype.JobStateAvailable {
		t.Fatalf("job state %q, want available", job.State)
	}
	if due := ev.ReceivedAt.Add(window - time.Millisecond); job.ScheduledAt.Before(due) {
		t.Fatalf("job due at %s, before the window ends at %s", job.ScheduledAt, due)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var at time.Time
	select {
	case at = <-ran:
	case <-time.After(15 * time.Second):
		t.Fatal("the event never ran")
	}
	waitFor(t, "done", func() bool { return status(t, s, "evt_window") == store.StatusDone })
	if early := ev.ReceivedAt.Add(window).Sub(at); early > 0 {
		t.Fatalf("ran %s before its order window ended", early)
	}
	job = waitJob(t, s, "evt_window")
	if snoozes := gjson.GetBytes(job.Metadata, "snoozes").Int(); snoozes != 0 {
		t.Fatalf("the job was fetched and snoozed %d times before its window ended; want it fetched once, when due", snoozes)
	}
	if job.Attempt != 1 {
		t.Fatalf("job attempt %d, want 1", job.Attempt)
	}
}

// A pending approval nobody decides is denied when approval_timeout ends,
// and the event runs on.
func TestApprovalTimeoutDenies(t *testing.T) {
	h := store.HandlerFunc(func(ctx context.Context, run *store.Run) error {
		for _, st := range run.Event.Steps {
			if st.Kind == "approval" {
				return nil
			}
		}
		if err := run.Append(ctx, &journal.ApprovalRequested{Round: 1, Tool: "refund", ToolUseID: "toolu_1"}); err != nil {
			return err
		}
		return store.ErrAwaitingApproval
	})
	s := open(t, store.Options{Handler: h, ApprovalTimeout: 200 * time.Millisecond, PollInterval: 20 * time.Millisecond})
	ctx := context.Background()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	s.Ingest(ctx, incoming("evt_appr"))
	waitFor(t, "awaiting approval", func() bool { return status(t, s, "evt_appr") == store.StatusAwaitingApproval })
	if p, err := s.Approvals(ctx); err != nil || len(p) != 1 || p[0].ToolUseID != "toolu_1" {
		t.Fatalf("approvals = %+v, %v", p, err)
	}
	waitFor(t, "denied by the timeout, then done", func() bool { return status(t, s, "evt_appr") == store.StatusDone })
	ev, _ := s.Event(ctx, "evt_appr")
	var found bool
	for _, st := range ev.Steps {
		if st.Kind == "approval" && strings.Contains(string(st.Data), `"approved":false`) && strings.Contains(string(st.Data), "approval_timeout") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no timeout denial in the journal: %+v", ev.Steps)
	}
	if err := s.Decide(ctx, "evt_appr", "toolu_1", true, "", "late"); !errors.Is(err, store.ErrNotPending) {
		t.Fatalf("deciding a decided call: %v", err)
	}
}
