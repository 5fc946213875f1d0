package main

import (
	"bytes"
	"context"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agenthook/agenthook/internal/modeltest"
	"github.com/agenthook/agenthook/internal/store/storetest"
)

// closedLoopbackAddr returns a loopback address nothing listens on.
func closedLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// A store URL's password (in its user info, or in password= and
// sslpassword= in its query) never appears in what check and migrate
// print, nor in the error of a store that cannot be reached.
func TestStoreURLPasswordNeverPrinted(t *testing.T) {
	const pw, qpw, sslpw = "hunter2secret", "querysecret42", "sslsecret99"
	loc := "postgres://root:" + pw + "@" + closedLoopbackAddr(t) + "/db?sslmode=disable&password=" + qpw + "&sslpassword=" + sslpw
	leaked := func(what, out string) {
		t.Helper()
		for _, s := range []string{pw, qpw, sslpw} {
			if strings.Contains(out, s) {
				t.Errorf("%s shows the password %q:\n%s", what, s, out)
			}
		}
	}
	cfg := filepath.Join(t.TempDir(), "agenthook.yaml")
	if err := os.WriteFile(cfg, []byte("store: "+loc+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"agenthook", "check", "--config", cfg}, func(string) string { return "" }, &out, &errOut); err != nil {
		t.Fatalf("check: %v", err)
	}
	leaked("check", out.String()+errOut.String())
	if !strings.Contains(out.String(), "postgres://root:xxxxx@") {
		t.Errorf("check does not name the store with its password hidden:\n%s", out.String())
	}

	env := map[string]string{"STRIPE_WEBHOOK_SECRET": testSecret, "ANTHROPIC_API_KEY": "sk-ant-test"}
	for _, args := range [][]string{
		{"agenthook", "migrate", "--store", loc},
		{"agenthook", "serve", "--addr", closedLoopbackAddr(t), "--store", loc},
	} {
		out.Reset()
		errOut.Reset()
		err := run(context.Background(), args, func(k string) string { return env[k] }, &out, &errOut)
		if err == nil {
			t.Fatalf("%s with an unreachable store succeeded", args[1])
		}
		leaked(args[1]+"'s error", err.Error()+"\n"+out.String()+errOut.String())
	}
}

// serve's start line names a PostgreSQL store without its password.
func TestServeLogsStoreWithoutPassword(t *testing.T) {
	loc := storetest.Postgres(t)
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	var secrets []string
	if pw, ok := u.User.Password(); ok {
		secrets = append(secrets, pw)
	} else if q := u.Query(); q.Get("password") == "" {
		// A server that trusts the user ignores it; the log must not show it all the same.
		secrets = append(secrets, "unused-password-1234")
		q.Set("password", secrets[0])
		u.RawQuery = q.Encode()
	}
	if pw := u.Query().Get("password"); pw != "" {
		secrets = append(secrets, pw)
	}
	fake := modeltest.NewAnthropic()
	defer fake.Close()
	inst := startServe(t, baseEnv(fake), "--store", u.String())
	waitUntil(t, "the start line", func() bool { return strings.Contains(inst.stderr.String(), "agenthook serving") })
	log := inst.stderr.String()
	for _, s := range secrets {
		if len(s) >= 4 && strings.Contains(log, s) {
			t.Errorf("serve's log shows the store password %q:\n%s", s, log)
		}
	}
	if !strings.Contains(log, "xxxxx") {
		t.Errorf("serve's start line does not name the store with its password hidden:\n%s", log)
	}
}
