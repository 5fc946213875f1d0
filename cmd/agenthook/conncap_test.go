package main

import (
	"bufio"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agenthook/agenthook/internal/modeltest"
)

// openFDs counts this process's open file descriptors (Linux).
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count file descriptors here: %v", err)
	}
	return len(ents)
}

// serve holds at most max_connections connections open: 200 idle
// keep-alive clients cost it about 16 file descriptors, not 200 (about
// 20,000 of them used to exhaust the process's descriptors), and /healthz
// still answers a new client within a deadline.
func TestServeCapsConnections(t *testing.T) {
	openFDs(t)
	fake := modeltest.NewAnthropic()
	defer fake.Close()
	cfg := filepath.Join(t.TempDir(), "agenthook.yaml")
	if err := os.WriteFile(cfg, []byte("max_connections: 16\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	inst := startServe(t, baseEnv(fake), "--config", cfg)
	addr := strings.TrimPrefix(inst.base, "http://")

	const clients = 200
	before := openFDs(t)
	for range clients {
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
			t.Fatalf("keep-alive client: %v", err)
		}
		resp.Body.Close()
	}
	// The clients' own descriptors are in this process too: 200 of them.
	if grown := openFDs(t) - before; grown > clients+16+1+30 {
		t.Errorf("%d idle keep-alive clients grew open descriptors by %d: serve holds about %d connections, the cap is 16", clients, grown, grown-clients)
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(inst.base + "/healthz")
	if err != nil {
		t.Fatalf("/healthz at the cap: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz at the cap: %d", resp.StatusCode)
	}
}
