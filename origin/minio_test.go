package origin

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mpship/mpship/internal/miniotest"
	"github.com/mpship/mpship/store"
	"github.com/mpship/mpship/store/minio"
	"github.com/mpship/mpship/store/s3"
)

// bucketBackends open a store on a MinIO bucket through each client
// library, without retries so an outage shows at once.
var bucketBackends = []struct {
	name string
	open func(ctx context.Context, srv *miniotest.Server, prefix string) (store.Store, error)
}{
	{"s3", func(ctx context.Context, srv *miniotest.Server, prefix string) (store.Store, error) {
		return s3.New(ctx, srv.Bucket, prefix, s3.Options{
			Endpoint: srv.URL(), Region: "us-east-1",
			AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
			MaxAttempts: 1,
		})
	}},
	{"minio", func(_ context.Context, srv *miniotest.Server, prefix string) (store.Store, error) {
		return minio.New(srv.Endpoint, false, srv.Bucket, prefix, minio.Options{
			AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, MaxAttempts: 1,
		})
	}},
}

// TestOriginOnMinIO serves a real MinIO bucket: headers and ranges pass
// through, and when MinIO stops the cached channel manifest is still
// answered (304 and 200) while anything uncached is 503; once MinIO is back
// a new release is visible within one TTL.
func TestOriginOnMinIO(t *testing.T) {
	for _, b := range bucketBackends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			srv := miniotest.StartIsolated(t)
			st, err := b.open(ctx, srv, "mp")
			if err != nil {
				t.Fatal(err)
			}
			local := newFixture(t) // the same objects, to copy into the bucket
			for k, data := range local.data {
				put(t, st, k, data)
			}
			cs := &countingStore{Store: st}
			clk := newClock()
			const ttl = time.Minute
			_, ts := newTestServer(t, cs, Options{CacheTTL: ttl, Now: clk.Now})
			c := ts.Client()
			v1 := local.data[keyChannel]
			blob := local.data[local.blob]

			expect := func(name, method, path string, h map[string]string, status int, etag string, body []byte) {
				t.Helper()
				resp, got := do(t, c, method, ts.URL+path, h)
				if resp.StatusCode != status {
					t.Errorf("%s: status got %d, want %d", name, resp.StatusCode, status)
					return
				}
				if etag != "" && resp.Header.Get("Etag") != etag {
					t.Errorf("%s: ETag got %q, want %q", name, resp.Header.Get("Etag"), etag)
				}
				if status == 503 && resp.Header.Get("Retry-After") == "" {
					t.Errorf("%s: 503 without Retry-After", name)
				}
				if body != nil && !bytes.Equal(got, body) {
					t.Errorf("%s: body got %d bytes, want %d", name, len(got), len(body))
				}
			}
			inm := func(etag string) map[string]string { return map[string]string{"If-None-Match": etag} }

			expect("channel", "GET", "/"+keyChannel, nil, 200, etagFor(v1), v1)
			expect("channel 304", "GET", "/"+keyChannel, inm(etagFor(v1)), 304, etagFor(v1), nil)
			expect("blob HEAD", "HEAD", "/"+local.blob, nil, 200, etagFor(blob), nil)
			expect("blob range", "GET", "/"+local.blob, map[string]string{"Range": "bytes=1000-1999"}, 206, etagFor(blob), blob[1000:2000])
			expect("blob 304", "GET", "/"+local.blob, inm(etagFor(blob)), 304, etagFor(blob), nil)
			expect("blob", "GET", "/"+local.blob, nil, 200, etagFor(blob), blob)
			expect("missing", "GET", "/apps/demo/channels/beta.json", nil, 404, "", nil)
			if got := cs.takeRanges(); !containsRange(got, store.Range{Offset: 1000, Length: 1000}) {
				t.Errorf("ranged Gets at the bucket: got %v, want one of 1000 bytes from 1000", got)
			}

			srv.Stop(t)
			expect("down: channel 304 fresh", "GET", "/"+keyChannel, inm(etagFor(v1)), 304, etagFor(v1), nil)
			clk.Advance(ttl + time.Second)
			expect("down: channel 304 stale", "GET", "/"+keyChannel, inm(etagFor(v1)), 304, etagFor(v1), nil)
			expect("down: channel 200 stale", "GET", "/"+keyChannel, nil, 200, etagFor(v1), v1)
			expect("down: uncached release", "GET", "/"+keyRelease, nil, 503, "", nil)
			expect("down: blob", "GET", "/"+local.blob, nil, 503, "", nil)
			expect("down: readyz", "GET", "/readyz", nil, 503, "", nil)
			expect("down: healthz", "GET", "/healthz", nil, 200, "", nil)

			srv.Restart(t)
			expect("back: channel revalidated", "GET", "/"+keyChannel, inm(etagFor(v1)), 304, etagFor(v1), nil)
			expect("back: readyz", "GET", "/readyz", nil, 200, "", nil)
			expect("back: release", "GET", "/"+keyRelease, nil, 200, etagFor(local.data[keyRelease]), local.data[keyRelease])

			v2 := []byte(strings.Replace(string(v1), "e30=", "eyJ2IjoyfQ==", 1))
			put(t, st, keyChannel, v2)
			expect("published: old until TTL", "GET", "/"+keyChannel, inm(etagFor(v1)), 304, etagFor(v1), nil)
			clk.Advance(ttl)
			expect("published: new after TTL", "GET", "/"+keyChannel, inm(etagFor(v1)), 200, etagFor(v2), v2)
			t.Logf("%s: %d store requests (%d Get, %d Stat)", b.name, cs.requests(), cs.gets.Load(), cs.stats.Load())
		})
	}
}

func containsRange(rs []store.Range, want store.Range) bool {
	for _, r := range rs {
		if r == want {
			return true
		}
	}
	return false
}

// TestConditionalGETsOnMinIO is the figure against a real bucket
// through each client library: 10,000 conditional GETs of one channel
// manifest over 100 s of the injected clock, with the default 60 s TTL.
func TestConditionalGETsOnMinIO(t *testing.T) {
	srv := miniotest.StartIsolated(t)
	for _, b := range bucketBackends {
		t.Run(b.name, func(t *testing.T) {
			st, err := b.open(context.Background(), srv, b.name)
			if err != nil {
				t.Fatal(err)
			}
			data := []byte(`{"payloadType":"application/vnd.mpship.channel+json","payload":"e30=","signatures":[]}`)
			put(t, st, keyChannel, data)
			cs := &countingStore{Store: st}
			clk := newClock()
			_, ts := newTestServer(t, cs, Options{Now: clk.Now})
			req, _ := http.NewRequest("GET", ts.URL+"/"+keyChannel, nil)
			req.Header.Set("If-None-Match", etagFor(data))
			const n = 10000
			for i := range n {
				resp, err := ts.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusNotModified {
					t.Fatalf("request %d: got %d, want 304", i, resp.StatusCode)
				}
				clk.Advance(10 * time.Millisecond)
			}
			got := cs.requests()
			t.Logf("%d conditional GETs over %v with the default TTL (60s): %d bucket requests", n, n*10*time.Millisecond, got)
			if got > 3 {
				t.Errorf("bucket requests: got %d, want at most ceil(100s/60s)+1 = 3", got)
			}
		})
	}
}
