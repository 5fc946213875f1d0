package server_test

import (
	"bufio"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agenthook/agenthook/internal/server"
)

// countingListener counts the connections the server holds open, as file
// descriptors would.
type countingListener struct {
	net.Listener
	open, max atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	n := l.open.Add(1)
	for m := l.max.Load(); n > m && !l.max.CompareAndSwap(m, n); m = l.max.Load() {
	}
	return &countedConn{Conn: c, l: l}, nil
}

type countedConn struct {
	net.Conn
	l    *countingListener
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

// startLimited serves the agenthook handler on loopback behind Limit(max)
// with the given timeouts, and returns its address and the counter.
func startLimited(t *testing.T, max int, readHeader, idle time.Duration) (string, *countingListener) {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	counting := &countingListener{Listener: inner}
	srv := &http.Server{Handler: server.New(testDeps(t)), ReadHeaderTimeout: readHeader, IdleTimeout: idle}
	ln := server.Limit(srv, counting, max)
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return inner.Addr().String(), counting
}

// healthzWithin asks /healthz on a connection of its own and fails the test
// unless the answer is 200 within the deadline.
func healthzWithin(t *testing.T, addr string, deadline time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: deadline, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	resp, err := client.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("/healthz on a new connection: %v after %s", err, time.Since(start).Round(time.Millisecond))
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %d", resp.StatusCode)
	}
}

// idleKeepAlive opens a connection, asks /healthz on it, reads the answer and
// leaves the connection open and idle, as a keep-alive client does.
func idleKeepAlive(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("keep-alive /healthz: %v", err)
	}
	resp.Body.Close()
	return c
}

// With the cap at N, many more idle connections than N — keep-alive ones
// between requests and silent ones that never send a byte — never make
// the server hold more than N (+1 waiting for room), and /healthz still
// answers on a new connection within a deadline: idle keep-alive
// connections give way at once, silent ones at ReadHeaderTimeout. Without
// the cap every idle connection holds a file descriptor; about 20,000 of
// them stopped /healthz.
func TestConnectionCap(t *testing.T) {
	const n = 8
	addr, counting := startLimited(t, n, 300*time.Millisecond, time.Minute)
	for range 4 * n {
		idleKeepAlive(t, addr)
	}
	for range 4 * n {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
	healthzWithin(t, addr, 10*time.Second)
	if m := counting.max.Load(); m > n+1 {
		t.Errorf("the server held %d connections open at once; the cap is %d (+1 waiting for room)", m, n)
	}
}

// At the cap with only idle keep-alive connections, a new client is
// answered at once: the longest-idle connection is closed for it, long
// before IdleTimeout would.
func TestConnectionCapEvictsIdle(t *testing.T) {
	const n = 4
	addr, counting := startLimited(t, n, 5*time.Second, time.Hour)
	for range n {
		idleKeepAlive(t, addr)
	}
	for range 3 * n {
		healthzWithin(t, addr, 3*time.Second)
		idleKeepAlive(t, addr)
	}
	if m := counting.max.Load(); m > n+1 {
		t.Errorf("the server held %d connections open at once; the cap is %d (+1 waiting for room)", m, n)
	}
}
