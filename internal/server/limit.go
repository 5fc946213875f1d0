package server

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// Limit caps the connections srv holds open from ln at max, like
// golang.org/x/net/netutil.LimitListener, so that a flood of connections
// (20,000 idle ones were enough) cannot use up the process's file
// descriptors and stop /healthz and the webhook from answering.
//
// At the cap, further clients wait in the kernel's accept queue, and the
// first of them that arrives is held (one connection over the cap) until
// a slot frees. To free one at once it closes the keep-alive connection
// that has been idle longest, as the server would after IdleTimeout
// anyway: an idle connection never holds out a new client. Connections
// that are mid-request keep their slot; srv's ReadHeaderTimeout,
// ReadTimeout and WriteTimeout bound how long.
//
// Limit sets srv.ConnState, calling the one already set after its own
// bookkeeping. Serve srv on the returned listener. A max of 0 or less
// means no cap.
func Limit(srv *http.Server, ln net.Listener, max int) net.Listener {
	if max <= 0 {
		return ln
	}
	l := &limitListener{
		Listener: ln,
		sem:      make(chan struct{}, max),
		done:     make(chan struct{}),
		idle:     map[*limitConn]time.Time{},
	}
	prev := srv.ConnState
	srv.ConnState = func(c net.Conn, state http.ConnState) {
		if lc, ok := c.(*limitConn); ok && lc.l == l {
			l.track(lc, state)
		}
		if prev != nil {
			prev(c, state)
		}
	}
	return l
}

type limitListener struct {
	net.Listener
	sem       chan struct{} // one token per open connection
	done      chan struct{}
	closeOnce sync.Once

	mu   sync.Mutex
	idle map[*limitConn]time.Time // keep-alive connections between requests, since when
}

// Accept waits for a client, then for a slot, making one by closing the
// longest-idle connection when all are taken.
func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
		return l.accept()
	default:
	}
	// Full: wait until a client is really waiting before closing anything.
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.evictIdle()
	select {
	case l.sem <- struct{}{}:
		return &limitConn{Conn: c, l: l}, nil
	case <-l.done:
		c.Close()
		return nil, net.ErrClosed
	}
}

func (l *limitListener) accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, l: l}, nil
}

func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

func (l *limitListener) track(c *limitConn, state http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if state == http.StateIdle {
		l.idle[c] = time.Now()
		return
	}
	delete(l.idle, c)
}

// evictIdle closes the connection idle longest, if any.
func (l *limitListener) evictIdle() {
	l.mu.Lock()
	var oldest *limitConn
	var since time.Time
	for c, t := range l.idle {
		if oldest == nil || t.Before(since) {
			oldest, since = c, t
		}
	}
	delete(l.idle, oldest)
	l.mu.Unlock()
	if oldest != nil {
		oldest.Close()
	}
}

// limitConn gives its slot back when it is closed, once.
type limitConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.idle, c)
		c.l.mu.Unlock()
		<-c.l.sem
	})
	return err
}
