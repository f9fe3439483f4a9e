package client_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpship/mpship/client"
	"github.com/mpship/mpship/generator"
	"github.com/mpship/mpship/internal/archive/archivetest"
	"github.com/mpship/mpship/manifests"
	"github.com/mpship/mpship/origin"
	"github.com/mpship/mpship/store"
	"github.com/mpship/mpship/store/local"
)

// testClock is an injected clock that tests move by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is one test's world: a local store with a publisher's key, the real
// origin serving it over loopback, a request log, optional overrides that
// play a hostile CDN, and byte counters on the server's connections.
type env struct {
	t      *testing.T
	ctx    context.Context
	st     *local.Store
	signer *manifests.Signer
	trust  *manifests.Trust
	clock  *testClock
	srv    *httptest.Server
	wire   *wireCounter

	mu        sync.Mutex
	requests  []request
	overrides map[string]http.Handler // by URL path
}

type request struct {
	Method, Path string
	Status       int
}

func newEnv(t *testing.T) *env {
	t.Helper()
	pub, priv, err := manifests.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	trust, err := manifests.NewTrust(1, pub)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "store")
	st, err := local.Open(dir, local.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{
		t: t, ctx: t.Context(), st: st,
		signer: manifests.NewSigner(priv),
		trust:  trust,
		clock:  &testClock{t: time.Now().UTC().Truncate(time.Second)},
	}
	e.serve()
	return e
}

// fork returns an env for the subtest t sharing e's store and keys, with
// its own origin server, overrides, request log and clock (set to e's), so
// subtests can play different hostile CDNs in parallel.
func (e *env) fork(t *testing.T) *env {
	f := &env{t: t, ctx: t.Context(), st: e.st, signer: e.signer, trust: e.trust, clock: &testClock{t: e.clock.Now()}}
	f.serve()
	return f
}

// serve starts the env's origin server.
func (e *env) serve() {
	e.overrides = map[string]http.Handler{}
	// The origin's manifest cache is off so a publish is visible to the
	// next request without waiting for a TTL.
	o, err := origin.New(e.st, origin.Options{CacheBytes: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		e.t.Fatal(err)
	}
	e.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		e.mu.Lock()
		h, ok := e.overrides[r.URL.Path]
		e.mu.Unlock()
		if !ok {
			h = o
		}
		h.ServeHTTP(rec, r)
		e.mu.Lock()
		e.requests = append(e.requests, request{r.Method, r.URL.Path, rec.status})
		e.mu.Unlock()
	}))
	e.wire = &wireCounter{Listener: e.srv.Listener}
	e.srv.Listener = e.wire
	e.srv.Start()
	e.t.Cleanup(e.srv.Close)
}

// runtime returns a Runtime on stateDir talking to the env's origin with a
// fast retry policy.
func (e *env) runtime(stateDir string) *client.Runtime {
	e.t.Helper()
	rt, err := client.New(e.options(stateDir))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { rt.Close() })
	return rt
}

func (e *env) options(stateDir string) client.Options {
	return client.Options{
		Origin:     e.srv.URL,
		HTTPClient: &http.Client{Timeout: 30 * time.Second},
		Trust:      e.trust,
		StateDir:   stateDir,
		Now:        e.clock.Now,
		Retry:      client.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond},
	}
}

// override serves h for the URL path instead of the origin; nil removes
// the override.
func (e *env) override(path string, h http.Handler) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if h == nil {
		delete(e.overrides, path)
	} else {
		e.overrides[path] = h
	}
}

// takeRequests returns the requests served since the last call.
func (e *env) takeRequests() []request {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.requests
	e.requests = nil
	return r
}

// publish releases the tree src as app@version on channel with the
// generator, at the env's clock.
func (e *env) publish(app, channel, version, src string) *generator.Result {
	e.t.Helper()
	res, err := generator.Run(e.ctx, generator.Options{
		Store: e.st, Signers: []*manifests.Signer{e.signer},
		App: app, Channel: channel, Version: version, Source: src,
		Now: e.clock.Now,
		// No deltas: these tests exercise the full package's path (the
		// delta tests in route_test.go publish with deltas).
		Deltas: -1,
	})
	if err != nil {
		e.t.Fatalf("publish %s@%s: %v", app, version, err)
	}
	return res
}

// release returns the verified release manifest of app@version.
func (e *env) release(app, version string) *manifests.Release {
	e.t.Helper()
	data, ok := e.get(manifests.ReleasePath(app, version))
	if !ok {
		e.t.Fatalf("no release %s@%s", app, version)
	}
	ref := manifests.ReleaseRef{Version: version, Path: manifests.ReleasePath(app, version), Size: int64(len(data)), SHA256: sha256Hex(data)}
	r, err := manifests.VerifyRelease(data, e.trust, app, ref)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) signChannel(c *manifests.Channel) []byte {
	e.t.Helper()
	b, err := manifests.SignChannel(c, e.signer)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func (e *env) get(key string) ([]byte, bool) {
	e.t.Helper()
	obj, err := e.st.Get(e.ctx, key, store.GetOptions{})
	if err != nil {
		return nil, false
	}
	defer obj.Body.Close()
	b, err := io.ReadAll(obj.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return b, true
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// serveBytes answers like the origin would for a document with these
// bytes: a strong ETag of their sha256, 304 on a matching If-None-Match.
func serveBytes(body []byte) http.Handler {
	etag := `"` + sha256Hex(body) + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", etag)
		w.Header().Set("Content-Type", "application/json")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	})
}

// source extracts vant-weapp at version.
func source(t *testing.T, version string) string {
	t.Helper()
	return archivetest.Extract(t, version)
}

// sameTree fails the test unless the regular files under got are exactly
// those under want, byte for byte.
func sameTree(t *testing.T, got, want string) {
	t.Helper()
	files := func(root string) map[string]string {
		m := map[string]string{}
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			b, err := os.ReadFile(p)
			rel, _ := filepath.Rel(root, p)
			m[filepath.ToSlash(rel)] = sha256Hex(b)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	g, w := files(got), files(want)
	if len(g) != len(w) {
		t.Errorf("%s holds %d files, want %d", got, len(g), len(w))
	}
	n := 0
	for name, sum := range w {
		if g[name] != sum && n < 5 {
			n++
			t.Errorf("file %s: got sha256 %q, want %q", name, g[name], sum)
		}
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// wireCounter counts the bytes the server's connections read (requests)
// and write (responses): what goes over the wire, headers and framing
// included.
type wireCounter struct {
	net.Listener
	in, out atomic.Int64
}

func (l *wireCounter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countedConn{Conn: c, l: l}, nil
}

func (l *wireCounter) reset() (in, out int64) { return l.in.Swap(0), l.out.Swap(0) }

type countedConn struct {
	net.Conn
	l *wireCounter
}

func (c *countedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.l.in.Add(int64(n))
	return n, err
}

func (c *countedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.l.out.Add(int64(n))
	return n, err
}
