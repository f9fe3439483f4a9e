package origin

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/mpship/mpship/store"
)

// TestBucketRequests: over a store whose bodies stream (a bucket), each
// kind of request costs the store requests it must and no more, and a
// client's byte range becomes the same range at the store.
func TestBucketRequests(t *testing.T) {
	f := newFixture(t)
	n := int64(len(f.data[f.blob]))
	etag := etagFor(f.data[f.blob])
	whole := store.Range{Offset: 0, Length: -1}
	cases := []struct {
		name   string
		method string
		header map[string]string
		status int
		gets   []store.Range
		stats  int64
	}{
		{name: "GET", method: "GET", status: 200, gets: []store.Range{whole}},
		{name: "HEAD", method: "HEAD", status: 200, stats: 1},
		{name: "304", method: "GET", header: map[string]string{"If-None-Match": etag}, status: 304, stats: 1},
		{name: "412", method: "GET", header: map[string]string{"If-Match": `"nope"`}, status: 412, stats: 1},
		{name: "conditional 200", method: "GET", header: map[string]string{"If-None-Match": `"nope"`}, status: 200, stats: 1, gets: []store.Range{whole}},
		{name: "range", method: "GET", header: map[string]string{"Range": "bytes=1000-1999"}, status: 206, stats: 1,
			gets: []store.Range{{Offset: 1000, Length: 1000}}},
		{name: "range from start", method: "GET", header: map[string]string{"Range": "bytes=0-99"}, status: 206, stats: 1,
			gets: []store.Range{{Offset: 0, Length: 100}}},
		{name: "range open", method: "GET", header: map[string]string{"Range": "bytes=100000-"}, status: 206, stats: 1,
			gets: []store.Range{{Offset: 100000, Length: n - 100000}}},
		{name: "range suffix", method: "GET", header: map[string]string{"Range": "bytes=-500"}, status: 206, stats: 1,
			gets: []store.Range{{Offset: n - 500, Length: 500}}},
		{name: "range HEAD", method: "HEAD", header: map[string]string{"Range": "bytes=0-99"}, status: 206, stats: 1},
		{name: "range unsatisfiable", method: "GET", header: map[string]string{"Range": "bytes=999999999-"}, status: 416, stats: 1},
		// The hint (0-99) is read, then the rest: two Gets, right bytes.
		{name: "if-range differs", method: "GET", header: map[string]string{"Range": "bytes=0-99", "If-Range": `"nope"`}, status: 200, stats: 1,
			gets: []store.Range{{Offset: 0, Length: 100}, {Offset: 100, Length: n - 100}}},
		{name: "if-range differs mid", method: "GET", header: map[string]string{"Range": "bytes=50-99", "If-Range": `"nope"`}, status: 200, stats: 1,
			gets: []store.Range{whole}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cs := &countingStore{Store: f.st, remote: true}
			_, ts := newTestServer(t, cs, Options{})
			resp, body := do(t, ts.Client(), c.method, ts.URL+"/"+f.blob, c.header)
			if resp.StatusCode != c.status {
				t.Fatalf("status: got %d, want %d", resp.StatusCode, c.status)
			}
			if c.method == "GET" && c.status == 200 && !bytes.Equal(body, f.data[f.blob]) {
				t.Errorf("body: got %d bytes, want the %d-byte blob", len(body), n)
			}
			if got := cs.takeRanges(); !reflect.DeepEqual(got, c.gets) {
				t.Errorf("store Gets: got %v, want %v", got, c.gets)
			}
			if got := cs.stats.Load(); got != c.stats {
				t.Errorf("store Stats: got %d, want %d", got, c.stats)
			}
		})
	}
}

// TestLazyReaderMatchesBytesReader: random seeks and reads through the
// lazy reader return what a bytes.Reader over the same object does.
func TestLazyReaderMatchesBytesReader(t *testing.T) {
	f := newFixture(t)
	data := f.data[f.blob]
	cs := &countingStore{Store: f.st, remote: true}
	info, err := cs.Stat(context.Background(), f.blob)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, hint := range []*store.Range{nil, {Offset: 10, Length: 20}} {
		lz := newLazyReader(context.Background(), cs, info, hint)
		ref := bytes.NewReader(data)
		for i := range 300 {
			whence := rng.IntN(3)
			off := rng.Int64N(int64(len(data))+100) - 50
			if whence == io.SeekStart && off < 0 {
				off = -off
			}
			got, gerr := lz.Seek(off, whence)
			want, werr := ref.Seek(off, whence)
			if (gerr == nil) != (werr == nil) || (gerr == nil && got != want) {
				t.Fatalf("step %d Seek(%d, %d): got %d, %v; want %d, %v", i, off, whence, got, gerr, want, werr)
			}
			buf1 := make([]byte, rng.IntN(70000))
			buf2 := make([]byte, len(buf1))
			n1, err1 := io.ReadFull(lz, buf1)
			n2, err2 := io.ReadFull(ref, buf2)
			if n1 != n2 || !bytes.Equal(buf1[:n1], buf2[:n2]) || !errors.Is(err1, err2) {
				t.Fatalf("step %d read %d: got %d bytes, %v; want %d bytes, %v", i, len(buf1), n1, err1, n2, err2)
			}
		}
		lz.Close()
	}
}

// TestLazyReaderObjectChanged: bytes of a replaced object are never mixed
// into a response that announced the old one.
func TestLazyReaderObjectChanged(t *testing.T) {
	f := newFixture(t)
	info, err := f.st.Stat(context.Background(), keyOther)
	if err != nil {
		t.Fatal(err)
	}
	put(t, f.st, keyOther, []byte("replaced with other bytes\n"))
	lz := newLazyReader(context.Background(), f.st, info, nil)
	defer lz.Close()
	if _, err := io.ReadAll(lz); !errors.Is(err, errChanged) {
		t.Errorf("read after replacement: got %v, want errChanged", err)
	}
}

// TestLazyReaderShortBody: a body that ends early is an error, not a
// silently short object.
func TestLazyReaderShortBody(t *testing.T) {
	f := newFixture(t)
	info, err := f.st.Stat(context.Background(), f.blob)
	if err != nil {
		t.Fatal(err)
	}
	lz := newLazyReader(context.Background(), f.st, info, nil)
	lz.body = io.NopCloser(bytes.NewReader(f.data[f.blob][:1000]))
	lz.bodyEnd = info.Size
	if _, err := io.ReadAll(lz); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("read of a truncated body: got %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestRangeHint(t *testing.T) {
	cases := []struct {
		h    string
		size int64
		want *store.Range
	}{
		{"bytes=0-99", 1000, &store.Range{Offset: 0, Length: 100}},
		{"bytes=10-", 1000, &store.Range{Offset: 10, Length: 990}},
		{"bytes=-10", 1000, &store.Range{Offset: 990, Length: 10}},
		{"bytes=-5000", 1000, &store.Range{Offset: 0, Length: 1000}},
		{"bytes=900-5000", 1000, &store.Range{Offset: 900, Length: 100}},
		{"bytes= 1 - 2 ", 1000, &store.Range{Offset: 1, Length: 2}},
		{"bytes=999-999", 1000, &store.Range{Offset: 999, Length: 1}},
		{"bytes=1000-", 1000, nil},
		{"bytes=5-4", 1000, nil},
		{"bytes=-0", 1000, nil},
		{"bytes=0-1,5-6", 1000, nil},
		{"bytes=x-1", 1000, nil},
		{"bytes=1", 1000, nil},
		{"items=0-1", 1000, nil},
		{"", 1000, nil},
		{"bytes=0-0", 0, nil},
		{"bytes=-9223372036854775808", 1000, nil},
	}
	for _, c := range cases {
		if got := rangeHint(c.h, c.size); !reflect.DeepEqual(got, c.want) {
			t.Errorf("rangeHint(%q, %d): got %+v, want %+v", c.h, c.size, got, c.want)
		}
	}
}

func FuzzRangeHint(f *testing.F) {
	for _, s := range []string{"bytes=0-99", "bytes=-1", "bytes=5-", "bytes=0-1,2-3", "bytes=-", "bytes=99999999999999999999-"} {
		f.Add(s, int64(1000))
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		r := rangeHint(h, size)
		if r == nil {
			return
		}
		if r.Offset < 0 || r.Length <= 0 || r.Offset >= size || r.Length > size-r.Offset {
			t.Errorf("rangeHint(%q, %d) = %+v: outside the object", h, size, r)
		}
	})
}
