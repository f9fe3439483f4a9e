package origin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpship/mpship/internal/httpmeta"
	"github.com/mpship/mpship/store"
	"github.com/mpship/mpship/store/local"
)

// Keys of the fixture, one per class of the layout.
const (
	keyChannel = "apps/demo/channels/stable.json"
	keyRelease = "apps/demo/releases/1.0.0.json"
	keyOther   = "README.txt"
)

// fixture is a store with one object of each class, and the bytes of each.
type fixture struct {
	st   store.Store
	dir  string
	data map[string][]byte
	blob string // key of the blob
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// etagFor is the ETag the origin must send for b.
func etagFor(b []byte) string { return `"` + sha(b) + `"` }

// put writes b at key with the metadata the generator stores.
func put(t testing.TB, st store.Store, key string, b []byte) {
	t.Helper()
	meta := store.Meta{
		ContentType:  httpmeta.ContentType(key),
		CacheControl: httpmeta.CacheControl(key, httpmeta.DefaultManifestMaxAge),
		SHA256:       sha(b),
	}
	if err := st.Put(context.Background(), key, bytes.NewReader(b), int64(len(b)), meta); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

// newFixture makes a local store in a fresh directory and fills it.
func newFixture(t testing.TB) *fixture {
	t.Helper()
	dir := t.TempDir()
	st, err := local.Open(dir, local.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	blob := make([]byte, 300<<10) // several read buffers long
	for i := range blob {
		blob[i] = byte(i*7 + i>>9)
	}
	f := &fixture{st: st, dir: dir, data: map[string][]byte{
		keyChannel: []byte(`{"payloadType":"application/vnd.mpship.channel+json","payload":"e30=","signatures":[]}` + "\n"),
		keyRelease: []byte(`{"payloadType":"application/vnd.mpship.release+json","payload":"e30=","signatures":[]}` + "\n"),
		keyOther:   []byte("not part of the layout\n"),
	}}
	f.blob = "blobs/sha256/" + sha(blob)
	f.data[f.blob] = blob
	for k, b := range f.data {
		put(t, st, k, b)
	}
	return f
}

// quietLogger discards the access log.
func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newTestServer starts an httptest.Server for a Server over st.
func newTestServer(t testing.TB, st store.Store, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	s, err := New(st, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

// do sends one request and returns the response with its body read.
func do(t testing.TB, c *http.Client, method, url string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp, body
}

// clock is a settable clock for Options.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// countingStore counts the requests made to the store it wraps, fails them
// with store.ErrUnavailable while down is set, records ranged Gets, and
// can hide that the backend is local (so the origin treats it like a
// bucket: Stat first, then ranged Gets through a body that cannot seek).
type countingStore struct {
	store.Store
	remote bool // hide Capabilities.Local and seekable bodies

	gets, stats atomic.Int64
	down        atomic.Bool

	mu     sync.Mutex
	ranges []store.Range // Range of every ranged Get; {0,-1} for whole ones
}

// errInjected is the cause of injected failures; its text must never reach
// a client.
var errInjected = fmt.Errorf("%w: injected fault: dial tcp 10.9.8.7:9000: connection refused", store.ErrUnavailable)

func (c *countingStore) Capabilities() store.Capabilities {
	caps := c.Store.Capabilities()
	if c.remote {
		caps.Local = false
	}
	return caps
}

func (c *countingStore) Get(ctx context.Context, key string, opts store.GetOptions) (*store.Object, error) {
	c.gets.Add(1)
	c.mu.Lock()
	if opts.Range != nil {
		c.ranges = append(c.ranges, *opts.Range)
	} else {
		c.ranges = append(c.ranges, store.Range{Offset: 0, Length: -1})
	}
	c.mu.Unlock()
	if c.down.Load() {
		return nil, &store.Error{Op: "get", Location: c.Location(), Key: key, Err: errInjected}
	}
	obj, err := c.Store.Get(ctx, key, opts)
	if err == nil && c.remote {
		obj.Body = struct{ io.ReadCloser }{obj.Body} // no Seek: a network body
	}
	return obj, err
}

func (c *countingStore) Stat(ctx context.Context, key string) (store.Info, error) {
	c.stats.Add(1)
	if c.down.Load() {
		return store.Info{}, &store.Error{Op: "stat", Location: c.Location(), Key: key, Err: errInjected}
	}
	return c.Store.Stat(ctx, key)
}

func (c *countingStore) requests() int64 { return c.gets.Load() + c.stats.Load() }

func (c *countingStore) takeRanges() []store.Range {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.ranges
	c.ranges = nil
	return r
}

var _ store.Store = (*countingStore)(nil)

// newServerWith starts an httptest.Server for h.
func newServerWith(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}
