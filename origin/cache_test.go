package origin

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpship/mpship/store"
)

// TestConditionalGETsStoreRequests is the figure of the issue: 10,000
// conditional GETs of one channel manifest, spread over 100 seconds of the
// injected clock by 8 concurrent clients, reach the store at most
// ceil(100s/TTL)+1 times.
func TestConditionalGETsStoreRequests(t *testing.T) {
	f := newFixture(t)
	cs := &countingStore{Store: f.st, remote: true}
	clk := newClock()
	const (
		requests = 10000
		workers  = 8
		step     = 10 * time.Millisecond // clock advance per request
		ttl      = 60 * time.Second
	)
	_, ts := newTestServer(t, cs, Options{CacheTTL: ttl, Now: clk.Now})
	etag := etagFor(f.data[keyChannel])
	var notModified atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for range requests / workers {
				req, _ := http.NewRequest("GET", ts.URL+"/"+keyChannel, nil)
				req.Header.Set("If-None-Match", etag)
				resp, err := ts.Client().Do(req)
				if err != nil {
					errs <- err
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusNotModified || resp.Header.Get("Etag") != etag {
					errs <- fmt.Errorf("got %d ETag %q, want 304 ETag %q", resp.StatusCode, resp.Header.Get("Etag"), etag)
					return
				}
				notModified.Add(1)
				clk.Advance(step)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	duration := requests * step
	limit := int64(math.Ceil(float64(duration)/float64(ttl))) + 1
	got := cs.requests()
	t.Logf("%d conditional GETs (%d answered 304) over %v of clock with TTL %v: %d store requests (%d Get, %d Stat); limit %d",
		requests, notModified.Load(), duration, ttl, got, cs.gets.Load(), cs.stats.Load(), limit)
	if got > limit || got < 1 {
		t.Errorf("store requests: got %d, want 1..%d", got, limit)
	}
}

// gatedStore holds every Get until the gate opens, so concurrent requests
// all miss at once.
type gatedStore struct {
	store.Store
	gate    chan struct{}
	arrived chan struct{} // one value per Get that reached the store
}

func (g *gatedStore) Get(ctx context.Context, key string, opts store.GetOptions) (*store.Object, error) {
	g.arrived <- struct{}{}
	<-g.gate
	return g.Store.Get(ctx, key, opts)
}

// TestConcurrentMissesCollapse: requests that miss together make one store
// request between them.
func TestConcurrentMissesCollapse(t *testing.T) {
	for _, key := range []string{keyChannel, keyRelease} {
		t.Run(key, func(t *testing.T) {
			f := newFixture(t)
			gs := &gatedStore{Store: f.st, gate: make(chan struct{}), arrived: make(chan struct{}, 100)}
			cs := &countingStore{Store: gs}
			s, err := New(cs, Options{Logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			const n = 50
			var entered sync.WaitGroup
			entered.Add(n)
			ts := newServerWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				entered.Done()
				s.ServeHTTP(w, r)
			}))
			var wg sync.WaitGroup
			bodies := make([][]byte, n)
			codes := make([]int, n)
			for i := range n {
				wg.Go(func() {
					resp, err := ts.Client().Get(ts.URL + "/" + key)
					if err != nil {
						t.Error(err)
						entered.Done() // never reached the handler
						return
					}
					defer resp.Body.Close()
					codes[i] = resp.StatusCode
					bodies[i], _ = io.ReadAll(resp.Body)
				})
			}
			entered.Wait() // all n are inside the handler
			<-gs.arrived   // and one of them is at the store
			close(gs.gate)
			wg.Wait()
			for i := range n {
				if codes[i] != 200 || !bytes.Equal(bodies[i], f.data[key]) {
					t.Errorf("request %d: got %d %q, want 200 and the manifest", i, codes[i], bodies[i])
				}
			}
			if got := cs.gets.Load(); got != 1 {
				t.Errorf("store Gets for %d concurrent misses: got %d, want 1", n, got)
			}
		})
	}
}

// TestStoreOutage: while the store fails, cached manifests are still served
// (304 and 200) within stale-if-error, anything uncached is 503 with
// Retry-After and no internal detail, and the origin recovers by itself.
func TestStoreOutage(t *testing.T) {
	f := newFixture(t)
	cs := &countingStore{Store: f.st, remote: true}
	clk := newClock()
	const ttl = time.Minute
	const staleIfError = time.Hour
	_, ts := newTestServer(t, cs, Options{CacheTTL: ttl, StaleIfError: staleIfError, RetryAfter: 7 * time.Second, Now: clk.Now})
	v1 := f.data[keyChannel]
	v2 := []byte(strings.Replace(string(v1), "e30=", "eyJzZXF1ZW5jZSI6Mn0=", 1))

	type step struct {
		name    string
		down    bool
		advance time.Duration
		publish []byte // put this as the channel manifest first
		path    string
		inm     string // If-None-Match
		status  int
		etag    string // "" when none is expected
		body    []byte
	}
	chPath, relPath, blobPath := "/"+keyChannel, "/"+keyRelease, "/"+f.blob
	steps := []step{
		{name: "warm channel", path: chPath, status: 200, etag: etagFor(v1), body: v1},
		{name: "warm release", path: relPath, status: 200, etag: etagFor(f.data[keyRelease]), body: f.data[keyRelease]},
		{name: "down, fresh: 304", down: true, path: chPath, inm: etagFor(v1), status: 304, etag: etagFor(v1)},
		{name: "down, expired: 304 stale", down: true, advance: ttl + time.Second, path: chPath, inm: etagFor(v1), status: 304, etag: etagFor(v1)},
		{name: "down, expired: 200 stale", down: true, path: chPath, status: 200, etag: etagFor(v1), body: v1},
		{name: "down: release from cache", down: true, path: relPath, status: 200, etag: etagFor(f.data[keyRelease]), body: f.data[keyRelease]},
		{name: "down: uncached blob 503", down: true, path: blobPath, status: 503},
		{name: "down: uncached blob, conditional 503", down: true, path: blobPath, inm: `"x"`, status: 503},
		{name: "down: uncached manifest 503", down: true, path: "/apps/demo/channels/beta.json", status: 503},
		{name: "down: past stale-if-error 503", down: true, advance: staleIfError, path: chPath, inm: etagFor(v1), status: 503},
		{name: "back, same content: 304", path: chPath, inm: etagFor(v1), status: 304, etag: etagFor(v1)},
		{name: "back: blob", path: blobPath, status: 200, etag: etagFor(f.data[f.blob]), body: f.data[f.blob]},
		{name: "new release cached until TTL", publish: v2, path: chPath, inm: etagFor(v1), status: 304, etag: etagFor(v1)},
		{name: "new release after TTL", advance: ttl, path: chPath, inm: etagFor(v1), status: 200, etag: etagFor(v2), body: v2},
		{name: "new release 304", path: chPath, inm: etagFor(v2), status: 304, etag: etagFor(v2)},
	}
	for _, s := range steps {
		if s.publish != nil {
			put(t, f.st, keyChannel, s.publish)
		}
		cs.down.Store(s.down)
		clk.Advance(s.advance)
		h := map[string]string{}
		if s.inm != "" {
			h["If-None-Match"] = s.inm
		}
		resp, body := do(t, ts.Client(), "GET", ts.URL+s.path, h)
		if resp.StatusCode != s.status {
			t.Errorf("%s: status got %d, want %d", s.name, resp.StatusCode, s.status)
			continue
		}
		if got := resp.Header.Get("Etag"); got != s.etag {
			t.Errorf("%s: ETag got %q, want %q", s.name, got, s.etag)
		}
		if s.status == 503 {
			if got := resp.Header.Get("Retry-After"); got != "7" {
				t.Errorf("%s: Retry-After got %q, want \"7\"", s.name, got)
			}
			if got := resp.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("%s: Cache-Control got %q, want no-store", s.name, got)
			}
			if strings.Contains(string(body), "injected") || strings.Contains(string(body), "10.9.8.7") {
				t.Errorf("%s: 503 body leaks the internal error: %q", s.name, body)
			}
			continue
		}
		if !bytes.Equal(body, s.body) {
			t.Errorf("%s: body got %q, want %q", s.name, body, s.body)
		}
	}
}

// TestReleaseManifestNotRevalidated: release manifests are immutable, so a
// cached one never costs a store request again.
func TestReleaseManifestNotRevalidated(t *testing.T) {
	f := newFixture(t)
	cs := &countingStore{Store: f.st}
	clk := newClock()
	_, ts := newTestServer(t, cs, Options{CacheTTL: time.Second, Now: clk.Now})
	for i := range 20 {
		resp, body := do(t, ts.Client(), "GET", ts.URL+"/"+keyRelease, nil)
		if resp.StatusCode != 200 || !bytes.Equal(body, f.data[keyRelease]) {
			t.Fatalf("request %d: got %d %q", i, resp.StatusCode, body)
		}
		clk.Advance(time.Hour)
	}
	if got := cs.requests(); got != 1 {
		t.Errorf("store requests for 20 GETs of a release manifest over 20h: got %d, want 1", got)
	}
}

// TestChannelRemoved: a channel manifest removed from the store is 404
// after the TTL, not served from the cache.
func TestChannelRemoved(t *testing.T) {
	f := newFixture(t)
	clk := newClock()
	_, ts := newTestServer(t, f.st, Options{CacheTTL: time.Minute, Now: clk.Now})
	if resp, _ := do(t, ts.Client(), "GET", ts.URL+"/"+keyChannel, nil); resp.StatusCode != 200 {
		t.Fatalf("got %d, want 200", resp.StatusCode)
	}
	if err := f.st.Delete(context.Background(), keyChannel); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	for i := range 2 {
		if resp, _ := do(t, ts.Client(), "GET", ts.URL+"/"+keyChannel, nil); resp.StatusCode != 404 {
			t.Errorf("request %d after removal: got %d, want 404", i, resp.StatusCode)
		}
	}
}

// TestCacheDisabled: with a negative CacheBytes every request reaches the
// store, and an outage is 503 at once.
func TestCacheDisabled(t *testing.T) {
	f := newFixture(t)
	cs := &countingStore{Store: f.st}
	_, ts := newTestServer(t, cs, Options{CacheBytes: -1})
	for range 5 {
		do(t, ts.Client(), "GET", ts.URL+"/"+keyChannel, nil)
	}
	if got := cs.requests(); got != 5 {
		t.Errorf("store requests for 5 GETs without a cache: got %d, want 5", got)
	}
	cs.down.Store(true)
	if resp, _ := do(t, ts.Client(), "GET", ts.URL+"/"+keyChannel, nil); resp.StatusCode != 503 {
		t.Errorf("store down, no cache: got %d, want 503", resp.StatusCode)
	}
}

// TestCacheBound: the cache never holds more than CacheBytes, evicting the
// least recently used manifests first.
func TestCacheBound(t *testing.T) {
	f := newFixture(t)
	cs := &countingStore{Store: f.st}
	manifest := func(i int) (string, []byte) {
		return fmt.Sprintf("apps/demo/releases/1.0.%d.json", i), bytes.Repeat([]byte{'a' + byte(i%26)}, 1000)
	}
	for i := range 10 {
		k, b := manifest(i)
		put(t, f.st, k, b)
	}
	const bound = 3 * (1000 + 30 + entryOverhead) // room for three
	s, ts := newTestServer(t, cs, Options{CacheBytes: bound})
	get := func(i int) {
		t.Helper()
		k, b := manifest(i)
		resp, body := do(t, ts.Client(), "GET", ts.URL+"/"+k, nil)
		if resp.StatusCode != 200 || !bytes.Equal(body, b) {
			t.Fatalf("%s: got %d", k, resp.StatusCode)
		}
	}
	for i := range 10 {
		get(i)
		if n, used := s.cache.stats(); used > bound || n > 3 {
			t.Fatalf("after %d manifests: %d entries, %d bytes; want at most 3 and %d", i+1, n, used, bound)
		}
	}
	// 7, 8 and 9 are cached; touching 7 makes 8 the oldest.
	before := cs.requests()
	get(7)
	get(9)
	if got := cs.requests() - before; got != 0 {
		t.Errorf("cached manifests cost %d store requests, want 0", got)
	}
	get(0) // evicts 8
	before = cs.requests()
	get(7)
	get(9)
	get(0)
	if got := cs.requests() - before; got != 0 {
		t.Errorf("recently used manifests cost %d store requests, want 0", got)
	}
	get(8)
	if got := cs.requests() - before; got != 1 {
		t.Errorf("evicted manifest cost %d store requests, want 1", got)
	}
}

func TestLRU(t *testing.T) {
	mk := func(key string, n int) *entry { return &entry{key: key, data: make([]byte, n)} }
	cost := mk("k1", 100).cost()
	c := newLRU(2 * cost)
	c.put(mk("k1", 100))
	c.put(mk("k2", 100))
	if c.get("k1") == nil {
		t.Fatal("k1 missing")
	}
	c.put(mk("k3", 100)) // evicts k2, the least recently used
	for key, want := range map[string]bool{"k1": true, "k2": false, "k3": true} {
		if got := c.get(key) != nil; got != want {
			t.Errorf("%s cached: got %v, want %v", key, got, want)
		}
	}
	c.put(mk("k1", 150)) // replacing charges the new size only
	if n, used := c.stats(); n != 1 || used != mk("k1", 150).cost() {
		t.Errorf("after replacing k1 with a bigger one: %d entries, %d bytes; want 1 and %d", n, used, mk("k1", 150).cost())
	}
	c.put(mk("huge", int(3*cost))) // larger than the bound: not kept
	if c.get("huge") != nil {
		t.Error("an entry larger than the bound was kept")
	}
	c.remove("k1")
	c.remove("absent")
	if n, used := c.stats(); n != 0 || used != 0 {
		t.Errorf("after removing all: %d entries, %d bytes; want 0 and 0", n, used)
	}
}

// TestOversizedManifestStreams: a "manifest" larger than any valid one is
// served (streamed), not cached.
func TestOversizedManifestStreams(t *testing.T) {
	f := newFixture(t)
	big := bytes.Repeat([]byte("x"), MaxCachedObject+10)
	put(t, f.st, keyChannel, big)
	s, ts := newTestServer(t, f.st, Options{})
	resp, body := do(t, ts.Client(), "GET", ts.URL+"/"+keyChannel, nil)
	if resp.StatusCode != 200 || !bytes.Equal(body, big) || resp.Header.Get("Etag") != etagFor(big) {
		t.Fatalf("got %d, %d bytes, ETag %q; want 200, %d bytes, %q", resp.StatusCode, len(body), resp.Header.Get("Etag"), len(big), etagFor(big))
	}
	if n, _ := s.cache.stats(); n != 0 {
		t.Errorf("cache entries: got %d, want 0", n)
	}
}
