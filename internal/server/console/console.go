// Package console is agenthook's web console at /ui/: a few static pages
// and one small script, embedded in the binary, that read and act through
// the admin API (/api/). Nothing is built at run time and nothing is loaded
// from elsewhere.
//
// It is guarded like the admin API. With an admin token the console offers
// a login form; a valid token opens a session: a random id, kept in an
// HttpOnly, SameSite=Strict cookie and in a server-side table (Sessions),
// which the admin API accepts in place of the Bearer header (see SessionID
// and CheckCSRF). Logging out revokes the session on the server, so the
// cookie is worthless afterwards. Without a token only loopback clients
// that connect directly (no proxy headers) are served.
package console

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// CookieName is the cookie that carries the session id of a console login.
// It never holds the admin token.
const CookieName = "agenthook_session"

// CSRFHeader must be sent, with the value "1", by every state-changing
// request authenticated with the cookie. A page of another site cannot set
// it without a CORS preflight, which agenthook never grants.
const CSRFHeader = "X-Agenthook-UI"

// sessionAge is how long a login lasts.
const sessionAge = 12 * time.Hour

//go:embed assets
var assets embed.FS

var (
	static = mustSub(assets, "assets")
	pages  = template.Must(template.ParseFS(assets, "assets/*.html"))
)

func mustSub(f fs.FS, dir string) fs.FS {
	s, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return s
}

// Options configure the console.
type Options struct {
	// Token is the admin token (AGENTHOOK_ADMIN_TOKEN). Empty means loopback
	// clients only and no login.
	Token string
	// Sessions holds the logins; the admin API must check cookies against
	// the same table. Nil: a table of the console's own.
	Sessions *Sessions
	Log      *slog.Logger
}

// Handler serves the console. Mount it at /ui/.
func Handler(o Options) http.Handler {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Sessions == nil {
		o.Sessions = NewSessions()
	}
	c := &console{Options: o}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ui/{$}", c.index)
	mux.HandleFunc("GET /ui/app.js", c.asset("app.js", "text/javascript; charset=utf-8"))
	mux.HandleFunc("GET /ui/app.css", c.asset("app.css", "text/css; charset=utf-8"))
	mux.HandleFunc("POST /ui/login", c.login)
	mux.HandleFunc("POST /ui/logout", c.logout)
	mux.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "not found: the console is at /ui/", http.StatusNotFound)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		if o.Token == "" {
			if msg := LoopbackRefusal(r, "the console"); msg != "" {
				http.Error(w, msg, http.StatusForbidden)
				return
			}
		}
		mux.ServeHTTP(w, r)
	})
}

type console struct{ Options }

// authorized reports whether r may see the console: no token configured
// (the loopback rule is checked before), or the cookie of a live session.
func (c *console) authorized(r *http.Request) bool {
	return c.Token == "" || c.Sessions.Valid(SessionID(r))
}

func (c *console) index(w http.ResponseWriter, r *http.Request) {
	if !c.authorized(r) {
		c.loginPage(w, http.StatusOK, "")
		return
	}
	c.render(w, http.StatusOK, "index.html", map[string]any{"Logout": c.Token != ""})
}

func (c *console) loginPage(w http.ResponseWriter, status int, msg string) {
	c.render(w, status, "login.html", map[string]any{"Error": msg})
}

func (c *console) render(w http.ResponseWriter, status int, name string, data any) {
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, name, data); err != nil {
		c.Log.Error("console: render", "page", name, "err", err)
		http.Error(w, "console: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// asset serves a static file. The script and the style sheet hold no data,
// so they are served without a login (the login page uses the style sheet).
func (c *console) asset(name, ctype string) http.HandlerFunc {
	b, err := fs.ReadFile(static, name)
	if err != nil {
		panic(err)
	}
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ctype)
		w.Write(b)
	}
}

func (c *console) login(w http.ResponseWriter, r *http.Request) {
	if msg := crossSite(r); msg != "" {
		http.Error(w, msg, http.StatusForbidden)
		return
	}
	if c.Token == "" {
		// Nothing to log in to: the console is open to loopback clients.
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		c.loginPage(w, http.StatusBadRequest, "The form could not be read: "+err.Error())
		return
	}
	if !Valid(r.PostForm.Get("token"), c.Token) {
		c.Log.Warn("console: login refused: wrong admin token", "remote", r.RemoteAddr)
		c.loginPage(w, http.StatusUnauthorized, "Wrong token: enter the value of AGENTHOOK_ADMIN_TOKEN.")
		return
	}
	id, err := c.Sessions.Create()
	if err != nil {
		c.Log.Error("console: login: no session id", "err", err)
		c.loginPage(w, http.StatusInternalServerError, "No session could be opened ("+err.Error()+"): try again, or use the API with Authorization: Bearer.")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: id, Path: "/",
		MaxAge: int(sessionAge.Seconds()), HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
	c.Log.Info("console: login", "remote", r.RemoteAddr)
	http.Redirect(w, r, "/ui/", http.StatusSeeOther)
}

func (c *console) logout(w http.ResponseWriter, r *http.Request) {
	if msg := crossSite(r); msg != "" {
		http.Error(w, msg, http.StatusForbidden)
		return
	}
	// Revoked on the server: a copy of the cookie opens nothing after this.
	if c.Sessions.Revoke(SessionID(r)) {
		c.Log.Info("console: logout", "remote", r.RemoteAddr)
	}
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: "", Path: "/",
		MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
	http.Redirect(w, r, "/ui/", http.StatusSeeOther)
}

// SessionID returns the session id of r's login cookie, or "".
func SessionID(r *http.Request) string {
	ck, err := r.Cookie(CookieName)
	if err != nil {
		return ""
	}
	return ck.Value
}

// maxSessions bounds the session table; past it the login that expires
// first is dropped.
const maxSessions = 10000

// Sessions is the server-side table of console logins. A session is a
// random 32-byte id (the cookie's value), valid for sessionAge from login
// until it is revoked by logging out. The table is in memory: sessions end
// when the process stops, and another replica does not know them. It keeps
// SHA-256 digests of the ids, so looking one up takes the same time
// whatever the id, and a memory dump holds no usable cookie.
type Sessions struct {
	mu  sync.Mutex
	m   map[[sha256.Size]byte]time.Time // digest → expiry
	now func() time.Time
}

// NewSessions returns an empty table.
func NewSessions() *Sessions {
	return &Sessions{m: map[[sha256.Size]byte]time.Time{}, now: time.Now}
}

// Create opens a session and returns its id.
func (s *Sessions) Create() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	id := base64.RawURLEncoding.EncodeToString(b)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= maxSessions {
		for k, exp := range s.m {
			if !now.Before(exp) {
				delete(s.m, k)
			}
		}
	}
	if len(s.m) >= maxSessions {
		var first [sha256.Size]byte
		var firstExp time.Time
		for k, exp := range s.m {
			if firstExp.IsZero() || exp.Before(firstExp) {
				first, firstExp = k, exp
			}
		}
		delete(s.m, first)
	}
	s.m[sha256.Sum256([]byte(id))] = now.Add(sessionAge)
	return id, nil
}

// Valid reports whether id names a live session.
func (s *Sessions) Valid(id string) bool {
	if s == nil || id == "" {
		return false
	}
	k := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.m[k]
	if ok && !s.now().Before(exp) {
		delete(s.m, k)
		return false
	}
	return ok
}

// Revoke ends the session id; it reports whether there was one.
func (s *Sessions) Revoke(id string) bool {
	if s == nil || id == "" {
		return false
	}
	k := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.m[k]
	delete(s.m, k)
	return ok
}

// Valid compares a presented token with the configured one in constant time.
func Valid(got, token string) bool {
	return got != "" && token != "" && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

// CheckCSRF returns why a request must be refused as a possible cross-site
// request forgery, or "". Safe methods pass. A state-changing request is
// refused when the browser says it comes from another site (Sec-Fetch-Site,
// Origin); when it is authenticated by the login cookie it must also carry
// CSRFHeader: 1. Requests without those browser headers (curl, agenthook's
// own commands) are not affected.
func CheckCSRF(r *http.Request, cookieAuth bool) string {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return ""
	}
	if msg := crossSite(r); msg != "" {
		return msg
	}
	if cookieAuth && r.Header.Get(CSRFHeader) != "1" {
		return "a request authenticated by the console's cookie must send " + CSRFHeader + ": 1 (or use Authorization: Bearer)"
	}
	return ""
}

// crossSite returns a refusal when the browser marks r as sent by a page of
// another origin (Sec-Fetch-Site, or Origin against Host for older
// browsers); see net/http.CrossOriginProtection.
func crossSite(r *http.Request) string {
	if err := crossOrigin.Check(r); err != nil {
		return "cross-site request refused: use the console at /ui/ or send Authorization: Bearer"
	}
	return ""
}

var crossOrigin = http.NewCrossOriginProtection()

// LocalRequest reports whether r comes from this machine and names it: the
// client is on loopback, the Host header is a loopback name or address,
// and no proxy header says the request was forwarded. The Host check stops
// DNS rebinding, where a web page the operator opens resolves its own name
// to 127.0.0.1 and reads the admin API from the operator's browser. The
// proxy check stops a reverse proxy on this host (nginx's default
// proxy_set_header Host $proxy_host, from 127.0.0.1) from passing for a
// local client and opening the API to everyone it serves.
func LocalRequest(r *http.Request) bool {
	if ProxyHeader(r) != "" || !loopbackHost(r.RemoteAddr) {
		return false
	}
	return r.Host == "" || loopbackHost(r.Host)
}

// ProxyHeader returns the name of a header that a proxy adds to what it
// forwards (Forwarded, X-Forwarded-*, X-Real-Ip, Via), or "" when r has
// none. Of several, the first in alphabetical order.
func ProxyHeader(r *http.Request) string {
	var found string
	for name := range r.Header {
		n := strings.ToLower(name)
		if n == "forwarded" || n == "via" || n == "x-real-ip" || strings.HasPrefix(n, "x-forwarded-") {
			if c := http.CanonicalHeaderKey(name); found == "" || c < found {
				found = c
			}
		}
	}
	return found
}

// LoopbackRefusal returns why what ("the admin API", "the console") must
// refuse r while no admin token is set, or "" when r is a direct loopback
// client that names this machine.
func LoopbackRefusal(r *http.Request, what string) string {
	if h := ProxyHeader(r); h != "" {
		return what + " refuses requests that came through a proxy (this one carries " + h + ") while AGENTHOOK_ADMIN_TOKEN is unset: " +
			"a proxy on this host would otherwise open it to everyone the proxy serves; set AGENTHOOK_ADMIN_TOKEN to a long random string " +
			"and send it as Authorization: Bearer (the console asks for it), or connect to agenthook directly"
	}
	if !LocalRequest(r) {
		return what + " answers only loopback clients (at localhost or 127.0.0.1) while AGENTHOOK_ADMIN_TOKEN is unset: set it to allow remote access"
	}
	return ""
}

// loopbackHost reports whether a host or host:port is a loopback address or
// localhost.
func loopbackHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = strings.Trim(hostport, "[]")
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
