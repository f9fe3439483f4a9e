package origin

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

// BenchmarkNotModified: a device's no-update check, a conditional GET of a
// cached channel manifest over loopback.
func BenchmarkNotModified(b *testing.B) {
	f := newFixture(b)
	_, ts := newTestServer(b, f.st, Options{})
	req, _ := http.NewRequest("GET", ts.URL+"/"+keyChannel, nil)
	req.Header.Set("If-None-Match", etagFor(f.data[keyChannel]))
	c := ts.Client()
	b.ReportAllocs()
	for b.Loop() {
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotModified {
			b.Fatalf("got %d, want 304", resp.StatusCode)
		}
	}
}

// BenchmarkBlob: a whole 1 MiB blob from a local store (sendfile).
func BenchmarkBlob(b *testing.B) {
	f := newFixture(b)
	blob := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	key := "blobs/sha256/" + sha(blob)
	put(b, f.st, key, blob)
	_, ts := newTestServer(b, f.st, Options{})
	c := ts.Client()
	b.SetBytes(int64(len(blob)))
	for b.Loop() {
		resp, err := c.Get(ts.URL + "/" + key)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if n != int64(len(blob)) {
			b.Fatalf("got %d bytes, want %d", n, len(blob))
		}
	}
}
