package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agenthook/agenthook/internal/stripeevent"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// loadtest sends signed, distinct events (and a share of resends) to a
// running agenthook and reports throughput, latency percentiles and the
// answers. It is the intake benchmark: run it in its own process.
func loadtest(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("loadtest", stderr)
	url := fs.String("url", defaultWebhookURL, "webhook URL")
	n := fs.Int("n", 10000, "events to send")
	c := fs.Int("c", 32, "concurrent senders")
	dupRate := fs.Float64("dup-rate", 0, "fraction of sends that repeat an event already sent (0..1)")
	rate := fs.Int("rate", 0, "events per second at most (0: as fast as the server answers); for memory and latency at a steady load")
	sameObject := fs.Bool("same-object", false, "keep the fixtures' object ids, so every event of a type is about one object (tests per-object ordering under load)")
	types := fs.String("types", "charge.dispute.created,invoice.payment_failed,customer.subscription.deleted,charge.refunded",
		"comma-separated event types to cycle through")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	if *n < 1 || *c < 1 || *dupRate < 0 || *dupRate >= 1 {
		return errors.New("loadtest: need --n ≥ 1, --c ≥ 1 and 0 ≤ --dup-rate < 1")
	}
	secret := firstSecret(getenv)
	if secret == "" {
		return errors.New("no signing secret: set STRIPE_WEBHOOK_SECRET to the secret the server uses")
	}
	typeList := strings.Split(*types, ",")

	// Build the bodies first so the measurement is of the server.
	bodies := make([][]byte, *n)
	var distinct [][]byte
	for i := range bodies {
		if len(distinct) > 0 && rand.Float64() < *dupRate {
			bodies[i] = distinct[rand.N(len(distinct))]
			continue
		}
		b, _, err := stripeevent.NewEvent(strings.TrimSpace(typeList[i%len(typeList)]), time.Now())
		if err != nil {
			return err
		}
		if !*sameObject {
			// Real traffic is mostly about different objects; the fixtures
			// all name one. A fresh object id per event keeps per-object
			// ordering from serialising the whole run.
			id := gjson.GetBytes(b, "data.object.id").String()
			prefix, _, _ := strings.Cut(id, "_")
			if b, err = sjson.SetBytes(b, "data.object.id", prefix+"_load"+strconv.Itoa(i)); err != nil {
				return err
			}
		}
		bodies[i] = b
		distinct = append(distinct, b)
	}

	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConns: *c, MaxIdleConnsPerHost: *c, IdleConnTimeout: time.Minute},
	}
	latencies := make([]time.Duration, *n)
	var mu sync.Mutex
	statuses := map[string]int{}
	var next, done atomic.Int64
	start := time.Now()

	stopProgress := progress(stderr, &done, *n)
	// With --rate, senders take one tick each per send: a steady stream.
	var tick <-chan time.Time
	if *rate > 0 {
		t := time.NewTicker(time.Second / time.Duration(*rate))
		defer t.Stop()
		tick = t.C
	}
	var wg sync.WaitGroup
	for range *c {
		wg.Go(func() {
			for {
				if tick != nil {
					select {
					case <-tick:
					case <-ctx.Done():
						return
					}
				}
				i := int(next.Add(1) - 1)
				if i >= *n || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				code, answer, err := postSigned(ctx, client, *url, bodies[i], secret)
				latencies[i] = time.Since(t0)
				key := outcomeKey(code, answer, err)
				mu.Lock()
				statuses[key]++
				mu.Unlock()
				done.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopProgress()

	sent := int(done.Load())
	lat := slices.Clone(latencies[:sent])
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	fmt.Fprintf(stdout, "sent %d events (%d distinct) with concurrency %d in %s\n", sent, len(distinct), *c, elapsed.Round(time.Millisecond))
	fmt.Fprintf(stdout, "throughput %.0f events/s\n", float64(sent)/elapsed.Seconds())
	fmt.Fprintf(stdout, "latency p50 %s  p90 %s  p99 %s  max %s\n", pct(0.50), pct(0.90), pct(0.99), pct(1))
	keys := make([]string, 0, len(statuses))
	for k := range statuses {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(stdout, "  %-28s %d\n", k, statuses[k])
	}
	return ctx.Err()
}

// outcomeKey names an answer for the histogram: "200 queued", "400", "error".
func outcomeKey(code int, answer []byte, err error) string {
	if err != nil {
		return "error"
	}
	s := string(answer)
	for _, st := range []string{"queued", "duplicate", "ignored"} {
		if strings.Contains(s, `"status":"`+st+`"`) {
			return fmt.Sprintf("%d %s", code, st)
		}
	}
	return fmt.Sprint(code)
}

// progress draws a progress bar on a terminal until the returned func is
// called. It draws nothing when stderr is not a terminal (CI logs).
func progress(w io.Writer, done *atomic.Int64, total int) func() {
	f, ok := w.(*os.File)
	if !ok {
		return func() {}
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return func() {}
	}
	stop := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		draw := func() {
			d := min(int(done.Load()), total)
			const width = 40
			filled := width * d / total
			fmt.Fprintf(w, "\r[%s%s] %d/%d", strings.Repeat("=", filled), strings.Repeat(" ", width-filled), d, total)
		}
		for {
			draw()
			select {
			case <-stop:
				draw() // the final count, not the last tick's
				fmt.Fprintln(w)
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(stop); <-finished }
}
