package origin

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const immutable = "public, max-age=31536000, immutable"

// absent marks a header that must not be sent.
const absent = "<absent>"

// TestServe runs the header and precondition rules for every class of
// object, over each way the origin reads a store (a local directory whose
// bodies are files; a store whose bodies only stream, like a bucket), with
// the manifest cache on and off, for GET and HEAD.
func TestServe(t *testing.T) {
	f := newFixture(t)
	type tc struct {
		name   string
		header map[string]string
		status int
		want   map[string]string // exact header values, or absent
		body   []byte            // the GET body
	}
	cases := func(key string) []tc {
		data := f.data[key]
		n := len(data)
		etag := etagFor(data)
		cc := map[string]string{
			keyChannel: "public, max-age=60, stale-while-revalidate=60, stale-if-error=86400",
			keyRelease: immutable,
			f.blob:     immutable,
			keyOther:   "no-cache",
		}[key]
		ct := map[string]string{
			keyChannel: "application/json",
			keyRelease: "application/json",
			f.blob:     "application/octet-stream",
			keyOther:   "application/octet-stream",
		}[key]
		full := map[string]string{
			"Etag": etag, "Content-Type": ct, "X-Content-Type-Options": "nosniff",
			"Cache-Control": cc, "Content-Length": strconv.Itoa(n), "Last-Modified": absent,
			"Accept-Ranges": "bytes",
		}
		notModified := map[string]string{
			"Etag": etag, "Cache-Control": cc, "Content-Type": absent, "Content-Length": absent,
			"Last-Modified": absent,
		}
		// A 412 is about the request, not the object: no cache may keep
		// it, least of all for the object's year of max-age.
		noStore := map[string]string{"Cache-Control": "no-store"}
		partial := func(first, last int) map[string]string {
			return map[string]string{
				"Etag": etag, "Content-Type": ct, "Cache-Control": cc,
				"Content-Range":  fmt.Sprintf("bytes %d-%d/%d", first, last, n),
				"Content-Length": strconv.Itoa(last - first + 1),
			}
		}
		return []tc{
			{name: "plain", status: 200, want: full, body: data},
			{name: "if-none-match", header: map[string]string{"If-None-Match": etag}, status: 304, want: notModified},
			{name: "if-none-match star", header: map[string]string{"If-None-Match": "*"}, status: 304, want: notModified},
			{name: "if-none-match list", header: map[string]string{"If-None-Match": `"0000", ` + etag + `, "ffff"`}, status: 304, want: notModified},
			{name: "if-none-match weak", header: map[string]string{"If-None-Match": "W/" + etag}, status: 304, want: notModified},
			{name: "if-none-match other", header: map[string]string{"If-None-Match": `"` + strings.Repeat("0", 64) + `"`}, status: 200, want: full, body: data},
			{name: "if-match", header: map[string]string{"If-Match": etag}, status: 200, want: full, body: data},
			{name: "if-match fails", header: map[string]string{"If-Match": `"` + strings.Repeat("0", 64) + `"`}, status: 412, want: noStore},
			{name: "if-match weak fails", header: map[string]string{"If-Match": "W/" + etag}, status: 412, want: noStore},
			{name: "if-match and if-none-match", header: map[string]string{"If-Match": etag, "If-None-Match": etag}, status: 304, want: notModified},
			{name: "range", header: map[string]string{"Range": "bytes=3-12"}, status: 206, want: partial(3, 12), body: data[3:13]},
			{name: "range open", header: map[string]string{"Range": "bytes=5-"}, status: 206, want: partial(5, n-1), body: data[5:]},
			{name: "range suffix", header: map[string]string{"Range": "bytes=-7"}, status: 206, want: partial(n-7, n-1), body: data[n-7:]},
			{name: "range past end clamps", header: map[string]string{"Range": fmt.Sprintf("bytes=1-%d", n+1000)}, status: 206, want: partial(1, n-1), body: data[1:]},
			{name: "if-range matches", header: map[string]string{"Range": "bytes=0-9", "If-Range": etag}, status: 206, want: partial(0, 9), body: data[:10]},
			{name: "if-range differs", header: map[string]string{"Range": "bytes=0-9", "If-Range": `"` + strings.Repeat("0", 64) + `"`}, status: 200, want: full, body: data},
			{name: "if-range weak", header: map[string]string{"Range": "bytes=4-9", "If-Range": "W/" + etag}, status: 200, want: full, body: data},
			{name: "range unsatisfiable", header: map[string]string{"Range": fmt.Sprintf("bytes=%d-", n)}, status: 416,
				want: map[string]string{"Content-Range": fmt.Sprintf("bytes */%d", n)}},
			{name: "several ranges give the whole", header: map[string]string{"Range": "bytes=0-1,4-5"}, status: 200, want: full, body: data},
			{name: "if-modified-since ignored", header: map[string]string{"If-Modified-Since": time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}, status: 200, want: full, body: data},
		}
	}
	for _, backend := range []string{"local", "remote"} {
		for _, cache := range []string{"cache", "nocache"} {
			opts := Options{}
			if cache == "nocache" {
				opts.CacheBytes = -1
			}
			cs := &countingStore{Store: f.st, remote: backend == "remote"}
			_, ts := newTestServer(t, cs, opts)
			for _, key := range []string{keyChannel, keyRelease, f.blob, keyOther} {
				class := map[string]string{keyChannel: "channel", keyRelease: "release", f.blob: "blob", keyOther: "other"}[key]
				for _, c := range cases(key) {
					for _, method := range []string{"GET", "HEAD"} {
						t.Run(strings.Join([]string{backend, cache, class, c.name, method}, "/"), func(t *testing.T) {
							resp, body := do(t, ts.Client(), method, ts.URL+"/"+key, c.header)
							if resp.StatusCode != c.status {
								t.Fatalf("status: got %d, want %d", resp.StatusCode, c.status)
							}
							for h, want := range c.want {
								got, ok := resp.Header[h]
								switch {
								case want == absent && ok:
									t.Errorf("%s: got %q, want no such header", h, got)
								case want != absent && (len(got) != 1 || got[0] != want):
									t.Errorf("%s: got %q, want %q", h, got, want)
								}
							}
							want := c.body
							switch {
							case method == "HEAD" && len(body) != 0:
								t.Errorf("HEAD body: got %d bytes, want none", len(body))
							case method == "GET" && c.status < 400 && !bytes.Equal(body, want):
								t.Errorf("body: got %d bytes %.40q, want %d bytes %.40q", len(body), body, len(want), want)
							case c.status >= 400 && len(body) > 100:
								t.Errorf("error body: got %d bytes %.40q, want a short status text", len(body), body)
							}
						})
					}
				}
			}
		}
	}
}

// TestETagSameOnReplicas: two origins over two stores holding the same
// bytes, written at different times, send the same strong ETag, the sha256
// stored at publish time.
func TestETagSameOnReplicas(t *testing.T) {
	a := newFixture(t)
	b := newFixture(t)
	// Different modification times on the replicas.
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	for k := range b.data {
		if err := os.Chtimes(filepath.Join(b.dir, filepath.FromSlash(k)), old, old); err != nil {
			t.Fatal(err)
		}
	}
	_, tsA := newTestServer(t, a.st, Options{})
	_, tsB := newTestServer(t, b.st, Options{CacheBytes: -1})
	for _, key := range []string{keyChannel, keyRelease, a.blob} {
		for _, method := range []string{"GET", "HEAD"} {
			t.Run(key+"/"+method, func(t *testing.T) {
				ra, _ := do(t, tsA.Client(), method, tsA.URL+"/"+key, nil)
				rb, _ := do(t, tsB.Client(), method, tsB.URL+"/"+key, nil)
				want := etagFor(a.data[key])
				if got := ra.Header.Get("Etag"); got != want {
					t.Errorf("replica A ETag: got %q, want %q", got, want)
				}
				if got := rb.Header.Get("Etag"); got != want {
					t.Errorf("replica B ETag: got %q, want %q", got, want)
				}
				if strings.HasPrefix(ra.Header.Get("Etag"), "W/") {
					t.Errorf("ETag %q is weak, want strong", ra.Header.Get("Etag"))
				}
			})
		}
	}
}

// TestNotFoundAndTraversal sends raw request targets, exactly as written,
// and expects 404 without a byte of anything outside the store.
func TestNotFoundAndTraversal(t *testing.T) {
	parent := t.TempDir()
	secret := "TOP-SECRET-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := os.WriteFile(filepath.Join(parent, "secret.txt"), []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	// The store directory gets a neighbour holding the secret, and a
	// symlink to it.
	if err := os.WriteFile(filepath.Join(filepath.Dir(f.dir), "secret.txt"), []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(parent, "secret.txt"), filepath.Join(f.dir, "apps", "demo", "channels", "evil.json")); err != nil {
		t.Fatal(err)
	}
	_, ts := newTestServer(t, f.st, Options{})
	addr := ts.Listener.Addr().String()
	abs := filepath.ToSlash(filepath.Join(parent, "secret.txt"))
	targets := []struct{ name, target string }{
		{"root", "/"},
		{"missing", "/apps/demo/channels/beta.json"},
		{"missing blob", "/blobs/sha256/" + strings.Repeat("ab", 32)},
		{"directory", "/apps/demo/channels"},
		{"directory slash", "/apps/demo/channels/"},
		{"top directory slash", "/apps/"},
		{"trailing slash", "/" + keyChannel + "/"},
		{"dot dot", "/../secret.txt"},
		{"dot dot inside", "/apps/../../secret.txt"},
		{"dot dot key", "/apps/demo/../demo/channels/stable.json"},
		{"dot segment", "/apps/./demo/channels/stable.json"},
		{"encoded dot dot", "/%2e%2e/secret.txt"},
		{"encoded dot dot upper", "/%2E%2E/secret.txt"},
		{"encoded dot dot and slash", "/%2e%2e%2fsecret.txt"},
		{"double encoded", "/%252e%252e/secret.txt"},
		{"encoded slashes", "/apps%2Fdemo%2Fchannels%2Fstable.json"},
		{"encoded slash lower", "/apps%2fdemo/channels/stable.json"},
		{"double slash", "//apps/demo/channels/stable.json"},
		{"inner double slash", "/apps//demo/channels/stable.json"},
		{"backslash", `/apps\demo\channels\stable.json`},
		{"encoded backslash", "/apps%5Cdemo%5Cchannels%5Cstable.json"},
		{"backslash dot dot", `/..\secret.txt`},
		{"encoded nul", "/apps/demo/channels/stable.json%00"},
		{"encoded nul inside", "/apps/demo%00/channels/stable.json"},
		{"absolute path", "/" + strings.TrimPrefix(abs, "/")},
		{"absolute path doubled", "/" + abs},
		{"hidden private dir", "/.mpship/lock"},
		{"hidden file", "/apps/demo/channels/.stable.json"},
		{"bad escape", "/apps/demo/channels/stable%zz.json"}, // refused by net/http: 400
		{"space", "/apps/demo/channels/stable%20.json"},
		{"colon", "/C:/secret.txt"},
		{"symlink out of the store", "/apps/demo/channels/evil.json"},
		{"absolute form dot dot", "http://" + addr + "/../secret.txt"},
	}
	for _, tt := range targets {
		for _, method := range []string{"GET", "HEAD"} {
			t.Run(tt.name+"/"+method, func(t *testing.T) {
				status, raw := rawRequest(t, addr, method+" "+tt.target+" HTTP/1.1\r\nHost: origin\r\nConnection: close\r\n\r\n")
				want := map[string]int{"bad escape": 400, "symlink out of the store": 503}[tt.name]
				if want == 0 {
					want = 404
				}
				if status != want {
					t.Errorf("status: got %d, want %d", status, want)
				}
				if bytes.Contains(raw, []byte(secret)) {
					t.Errorf("response contains the secret outside the store:\n%s", raw)
				}
				if bytes.Contains(raw, []byte(f.dir)) || bytes.Contains(raw, []byte("stable.json\n")) {
					t.Errorf("response leaks a store path or a listing:\n%s", raw)
				}
			})
		}
	}
	// The raw NUL byte never reaches a handler: the server refuses it.
	status, raw := rawRequest(t, addr, "GET /apps/demo/channels/stable.json\x00 HTTP/1.1\r\nHost: origin\r\nConnection: close\r\n\r\n")
	if status < 400 || bytes.Contains(raw, f.data[keyChannel]) {
		t.Errorf("raw NUL: got status %d, want an error status and no object:\n%s", status, raw)
	}
}

// rawRequest writes req to a fresh TCP connection and returns the status
// and the whole response as it came over the wire.
func rawRequest(t testing.TB, addr, req string) (int, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	line, _, _ := strings.Cut(string(raw), "\r\n")
	fields := strings.Fields(line)
	if len(fields) < 2 {
		t.Fatalf("no status line in %q", raw)
	}
	status, err := strconv.Atoi(fields[1])
	if err != nil {
		t.Fatalf("bad status line %q", line)
	}
	return status, raw
}

func TestMethodNotAllowed(t *testing.T) {
	f := newFixture(t)
	_, ts := newTestServer(t, f.st, Options{})
	for _, method := range []string{"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND"} {
		for _, path := range []string{"/" + keyChannel, "/" + f.blob, "/missing", "/healthz"} {
			t.Run(method+path, func(t *testing.T) {
				resp, body := do(t, ts.Client(), method, ts.URL+path, nil)
				if resp.StatusCode != http.StatusMethodNotAllowed {
					t.Errorf("status: got %d, want 405", resp.StatusCode)
				}
				if got := resp.Header.Get("Allow"); got != "GET, HEAD" {
					t.Errorf("Allow: got %q, want %q", got, "GET, HEAD")
				}
				if bytes.Contains(body, f.data[keyChannel]) {
					t.Errorf("405 carries the object")
				}
			})
		}
	}
	// Nothing was written or removed.
	resp, body := do(t, ts.Client(), "GET", ts.URL+"/"+keyChannel, nil)
	if resp.StatusCode != 200 || !bytes.Equal(body, f.data[keyChannel]) {
		t.Errorf("after the refused methods: got %d %q, want 200 and the object", resp.StatusCode, body)
	}
}

// TestNotModifiedWireSize measures what a device's no-update check costs:
// the conditional GET and its 304, byte for byte as they cross the wire.
func TestNotModifiedWireSize(t *testing.T) {
	f := newFixture(t)
	_, ts := newTestServer(t, f.st, Options{})
	etag := etagFor(f.data[keyChannel])
	// What Go's HTTP client sends for a conditional GET, without
	// Connection: close (a device keeps its connection).
	req := "GET /" + keyChannel + " HTTP/1.1\r\nHost: " + ts.Listener.Addr().String() + "\r\nUser-Agent: Go-http-client/1.1\r\nIf-None-Match: " + etag + "\r\nAccept-Encoding: gzip\r\n\r\n"
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // a cold cache, then a warm one
		if _, err := io.WriteString(conn, req); err != nil {
			t.Fatal(err)
		}
		// A 304 has no body: the response ends at the blank line.
		br := bufio.NewReader(conn)
		var resp bytes.Buffer
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("read 304: %v (so far %q)", err, resp.String())
			}
			resp.WriteString(line)
			if line == "\r\n" {
				break
			}
		}
		if br.Buffered() != 0 {
			t.Errorf("%d bytes after the 304's headers, want none", br.Buffered())
		}
		if !strings.HasPrefix(resp.String(), "HTTP/1.1 304 ") {
			t.Fatalf("got %q, want a 304", resp.String())
		}
		t.Logf("request %d: %d bytes; 304 response: %d bytes:\n%s", i, len(req), resp.Len(), resp.String())
		if resp.Len() >= 400 {
			t.Errorf("304 response is %d bytes on the wire, want < 400", resp.Len())
		}
		if total := len(req) + resp.Len(); total >= 600 {
			t.Errorf("request plus 304 is %d bytes, want < 600", total)
		}
	}
}

func TestHealthz(t *testing.T) {
	f := newFixture(t)
	cs := &countingStore{Store: f.st}
	clk := newClock()
	_, ts := newTestServer(t, cs, Options{Now: clk.Now})
	get := func(path string) int {
		t.Helper()
		resp, _ := do(t, ts.Client(), "GET", ts.URL+path, nil)
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s Cache-Control: got %q, want no-store", path, cc)
		}
		return resp.StatusCode
	}
	steps := []struct {
		name     string
		down     bool
		advance  time.Duration
		healthz  int
		readyz   int
		requests int64 // store requests made by the step's /readyz
	}{
		{name: "first probe", healthz: 200, readyz: 200, requests: 1},
		{name: "answered recently", advance: 10 * time.Second, healthz: 200, readyz: 200, requests: 0},
		{name: "answer too old", advance: 31 * time.Second, healthz: 200, readyz: 200, requests: 1},
		{name: "store down, answer recent", down: true, healthz: 200, readyz: 200, requests: 0},
		{name: "store down, answer old", down: true, advance: time.Minute, healthz: 200, readyz: 503, requests: 1},
		{name: "still down", down: true, healthz: 200, readyz: 503, requests: 1},
		{name: "store back", healthz: 200, readyz: 200, requests: 1},
	}
	for _, s := range steps {
		cs.down.Store(s.down)
		clk.Advance(s.advance)
		if got := get("/healthz"); got != s.healthz {
			t.Errorf("%s: /healthz got %d, want %d", s.name, got, s.healthz)
		}
		before := cs.requests()
		if got := get("/readyz"); got != s.readyz {
			t.Errorf("%s: /readyz got %d, want %d", s.name, got, s.readyz)
		}
		if got := cs.requests() - before; got != s.requests {
			t.Errorf("%s: /readyz made %d store requests, want %d", s.name, got, s.requests)
		}
	}
	// A failed object request makes the next /readyz probe even when the
	// last answer is recent.
	cs.down.Store(true)
	if resp, _ := do(t, ts.Client(), "GET", ts.URL+"/"+f.blob, nil); resp.StatusCode != 503 {
		t.Fatalf("blob with the store down: got %d, want 503", resp.StatusCode)
	}
	if got := get("/readyz"); got != 503 {
		t.Errorf("after a store failure: /readyz got %d, want 503", got)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	f := newFixture(t)
	bad := []struct {
		name string
		opts Options
	}{
		{"max-age below 1s", Options{ManifestMaxAge: 500 * time.Millisecond}},
		{"max-age fraction", Options{ManifestMaxAge: 1500 * time.Millisecond}},
		{"max-age above a day", Options{ManifestMaxAge: 25 * time.Hour}},
		{"negative max-age", Options{ManifestMaxAge: -time.Second}},
		{"cache too big", Options{CacheBytes: MaxCacheBytes + 1}},
		{"negative TTL", Options{CacheTTL: -time.Second}},
		{"TTL above a day", Options{CacheTTL: 25 * time.Hour}},
		{"stale-if-error above 30 days", Options{StaleIfError: 31 * 24 * time.Hour}},
		{"retry-after below 1s", Options{RetryAfter: time.Millisecond}},
		{"ready window above 1h", Options{ReadyWindow: 2 * time.Hour}},
		{"store timeout above 5m", Options{StoreTimeout: time.Hour}},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			if _, err := New(f.st, b.opts); err == nil {
				t.Errorf("New(%+v): got nil error, want one", b.opts)
			}
		})
	}
	if _, err := New(nil, Options{}); err == nil {
		t.Error("New(nil store): got nil error, want one")
	}
	if _, err := New(f.st, Options{}); err != nil {
		t.Errorf("New with zero Options: %v", err)
	}
}

// TestManifestMaxAge: the flag reaches the channel manifest's header, and
// nothing else's.
func TestManifestMaxAge(t *testing.T) {
	f := newFixture(t)
	_, ts := newTestServer(t, f.st, Options{ManifestMaxAge: 15 * time.Second})
	for key, want := range map[string]string{
		keyChannel: "public, max-age=15, stale-while-revalidate=15, stale-if-error=86400",
		keyRelease: immutable,
		f.blob:     immutable,
	} {
		resp, _ := do(t, ts.Client(), "HEAD", ts.URL+"/"+key, nil)
		if got := resp.Header.Get("Cache-Control"); got != want {
			t.Errorf("%s Cache-Control: got %q, want %q", key, got, want)
		}
	}
}

// TestMetrics: the metrics handler reports the requests served and the
// store requests made.
func TestMetrics(t *testing.T) {
	f := newFixture(t)
	// A TTL longer than the test: the second GET is a cache hit however
	// slow the machine (a local store's default TTL is 1 ms).
	s, ts := newTestServer(t, f.st, Options{CacheTTL: time.Hour})
	do(t, ts.Client(), "GET", ts.URL+"/"+keyChannel, nil)
	do(t, ts.Client(), "GET", ts.URL+"/"+keyChannel, nil)
	do(t, ts.Client(), "GET", ts.URL+"/missing", nil)
	rec := httptest.NewRecorder()
	s.Metrics().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`mpship_origin_requests_total{cache="miss",code="200"} 1`,
		`mpship_origin_requests_total{cache="hit",code="200"} 1`,
		`mpship_origin_requests_total{cache="",code="404"} 1`,
		`mpship_origin_store_requests_total{op="get",result="ok"} 2`,
		`mpship_origin_cache_entries 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}

// TestAccessLog: one structured record per request with the fields an
// operator filters on.
func TestAccessLog(t *testing.T) {
	f := newFixture(t)
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(lockedWriter{&mu, &buf}, nil))
	// A TTL longer than the test, so the second request is a cache hit
	// whatever the store's default (a local store revalidates every time).
	_, ts := newTestServer(t, f.st, Options{Logger: logger, CacheTTL: time.Hour})
	do(t, ts.Client(), "GET", ts.URL+"/"+keyChannel, nil)
	do(t, ts.Client(), "GET", ts.URL+"/"+keyChannel, map[string]string{"If-None-Match": etagFor(f.data[keyChannel])})
	do(t, ts.Client(), "HEAD", ts.URL+"/"+f.blob, nil)
	mu.Lock()
	defer mu.Unlock()
	var recs []map[string]any
	dec := json.NewDecoder(&buf)
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		if m["msg"] == "request" {
			recs = append(recs, m)
		}
	}
	want := []struct {
		method, path, cache string
		status, bytes       float64
	}{
		{"GET", "/" + keyChannel, "miss", 200, float64(len(f.data[keyChannel]))},
		{"GET", "/" + keyChannel, "hit", 304, 0},
		{"HEAD", "/" + f.blob, "bypass", 200, 0},
	}
	if len(recs) != len(want) {
		t.Fatalf("got %d request records, want %d: %v", len(recs), len(want), recs)
	}
	for i, w := range want {
		r := recs[i]
		if r["method"] != w.method || r["path"] != w.path || r["cache"] != w.cache || r["status"] != w.status || r["bytes"] != w.bytes {
			t.Errorf("record %d: got %v, want %+v", i, r, w)
		}
		if _, ok := r["duration"]; !ok {
			t.Errorf("record %d has no duration: %v", i, r)
		}
		if r, _ := r["remote"].(string); !strings.HasPrefix(r, "127.0.0.1:") {
			t.Errorf("record %d remote: got %q, want 127.0.0.1:PORT", i, r)
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
