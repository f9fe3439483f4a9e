// Package storetest is the conformance suite every store.Store backend runs:
// one test per clause of the contract written in package store, so the local
// directory, S3 and MinIO backends are held to the same behaviour.
//
// A backend's test calls Run with a constructor of fresh, empty stores:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s, err := local.Open(t.TempDir(), local.Options{})
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mpship/mpship/store"
)

// LargeSize is the size of the large-object test: above the 5 MiB and
// 8 MiB part sizes S3 clients use, so S3 backends go multipart.
const LargeSize = 20 << 20

// Run runs the conformance suite as subtests of t. newStore is called once
// per subtest and must return an empty store that no other subtest uses (a
// new directory, or a new bucket prefix); it registers its own cleanup with
// t.Cleanup. Subtests run one after another.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Location", testLocation},
		{"PutGetRoundTrip", testRoundTrip},
		{"PutOverwrite", testOverwrite},
		{"PutSameBytesTwice", testSameBytesTwice},
		{"PutBadLength", testPutBadLength},
		{"PutReaderError", testPutReaderError},
		{"PutHashMismatch", testPutHashMismatch},
		{"GetMissing", testGetMissing},
		{"GetIfNoneMatch", testGetIfNoneMatch},
		{"GetRange", testGetRange},
		{"Stat", testStat},
		{"List", testList},
		{"ListStopsOnError", testListStop},
		{"Delete", testDelete},
		{"PutIfNoneMatch", testPutIfNoneMatch},
		{"PutIfMatch", testPutIfMatch},
		{"PutIfRaceIfMatch", testPutIfRaceIfMatch},
		{"PutIfRaceIfNoneMatch", testPutIfRaceIfNoneMatch},
		{"InvalidKeys", testInvalidKeys},
		{"LargeObject", testLarge},
		{"ContextCanceled", testCanceled},
		{"ContextCanceledDuringPut", testCanceledDuringPut},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// MetaFor returns object metadata for b, its sha256 included, for tests
// that put objects.
func MetaFor(b []byte) store.Meta {
	return store.Meta{ContentType: "application/json", CacheControl: "public, max-age=60", SHA256: sum(b)}
}

func put(t *testing.T, s store.Store, key string, b []byte) {
	t.Helper()
	if err := s.Put(t.Context(), key, bytes.NewReader(b), int64(len(b)), MetaFor(b)); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

// read returns the whole object at key and its Info.
func read(t *testing.T, s store.Store, key string) ([]byte, store.Info) {
	t.Helper()
	obj, err := s.Get(t.Context(), key, store.GetOptions{})
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer obj.Body.Close()
	b, err := io.ReadAll(obj.Body)
	if err != nil {
		t.Fatalf("Get(%q): read body: %v", key, err)
	}
	return b, obj.Info
}

// wantContent fails t unless key holds exactly want.
func wantContent(t *testing.T, s store.Store, key string, want []byte) {
	t.Helper()
	got, info := read(t, s, key)
	if !bytes.Equal(got, want) {
		t.Fatalf("content of %q: got %q, want %q", key, clip(got), clip(want))
	}
	if info.Size != int64(len(want)) {
		t.Errorf("Info.Size of %q: got %d, want %d", key, info.Size, len(want))
	}
}

// wantMissing fails t unless key is absent.
func wantMissing(t *testing.T, s store.Store, key string) {
	t.Helper()
	_, err := s.Stat(t.Context(), key)
	if !errors.Is(err, store.ErrNotExist) {
		t.Fatalf("Stat(%q): got error %v, want ErrNotExist", key, err)
	}
}

// wantErr fails t unless err wraps sentinel inside a *store.Error naming
// op, s's location and key.
func wantErr(t *testing.T, s store.Store, err error, sentinel error, op, key string) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("%s %q: got error %v, want %v", op, key, err, sentinel)
	}
	var se *store.Error
	if !errors.As(err, &se) {
		t.Fatalf("%s %q: got error of type %T, want *store.Error", op, key, err)
	}
	if se.Op != op || se.Key != key || se.Location != s.Location() {
		t.Errorf("%s %q: got Error{Op: %q, Location: %q, Key: %q}, want {%q, %q, %q}",
			op, key, se.Op, se.Location, se.Key, op, s.Location(), key)
	}
}

func clip(b []byte) string {
	if len(b) > 64 {
		return fmt.Sprintf("%s... (%d bytes)", b[:64], len(b))
	}
	return string(b)
}

func testLocation(t *testing.T, s store.Store) {
	if s.Location() == "" {
		t.Fatal("Location: got empty string")
	}
}

func testRoundTrip(t *testing.T, s store.Store) {
	cases := []struct {
		name, key string
		data      []byte
	}{
		{"json", "apps/demo/channels/stable.json", []byte(`{"seq":1}`)},
		{"nested", "blobs/sha256/ab/0123456789abcdef", []byte("binary\x00\xff\x01")},
		{"top level", "top+level_Key-1.0", []byte("x")},
		{"empty", "empty", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			meta := MetaFor(tc.data)
			if err := s.Put(t.Context(), tc.key, bytes.NewReader(tc.data), int64(len(tc.data)), meta); err != nil {
				t.Fatalf("Put: %v", err)
			}
			got, info := read(t, s, tc.key)
			if !bytes.Equal(got, tc.data) {
				t.Errorf("content: got %q, want %q", got, tc.data)
			}
			if info.Key != tc.key {
				t.Errorf("Info.Key: got %q, want %q", info.Key, tc.key)
			}
			if info.Size != int64(len(tc.data)) {
				t.Errorf("Info.Size: got %d, want %d", info.Size, len(tc.data))
			}
			if info.Meta != meta {
				t.Errorf("Info.Meta: got %+v, want %+v", info.Meta, meta)
			}
			if info.ETag == "" {
				t.Error("Info.ETag: got empty")
			}
			if info.ModTime.IsZero() {
				t.Error("Info.ModTime: got zero")
			}
		})
	}
}

func testOverwrite(t *testing.T, s store.Store) {
	const key = "over/write"
	first, second := []byte("first version"), []byte("second, longer version")
	put(t, s, key, first)
	_, before := read(t, s, key)
	put(t, s, key, second)
	got, after := read(t, s, key)
	if !bytes.Equal(got, second) {
		t.Errorf("content: got %q, want %q", got, second)
	}
	if after.Meta.SHA256 != sum(second) {
		t.Errorf("Meta.SHA256: got %s, want %s", after.Meta.SHA256, sum(second))
	}
	if after.ETag == before.ETag {
		t.Errorf("ETag after overwrite with other bytes: got %s again, want a new one", after.ETag)
	}
}

func testSameBytesTwice(t *testing.T, s store.Store) {
	data := []byte("idempotent")
	put(t, s, "same/a", data)
	put(t, s, "same/a", data)
	var keys []string
	if err := s.List(t.Context(), "same/", func(i store.Info) error { keys = append(keys, i.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if want := []string{"same/a"}; !slices.Equal(keys, want) {
		t.Errorf("List after two identical puts: got %q, want %q", keys, want)
	}
	wantContent(t, s, "same/a", data)
}

func testPutBadLength(t *testing.T, s store.Store) {
	old := []byte("previous content")
	cases := []struct {
		name string
		data []byte
		size int64
	}{
		{"short reader", []byte("12345"), 10},
		{"long reader", []byte("1234567890"), 3},
		{"empty reader", nil, 1},
		{"reader for empty object", []byte("x"), 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			const key = "len/existing"
			put(t, s, key, old)
			err := s.Put(t.Context(), key, bytes.NewReader(tc.data), tc.size, store.Meta{})
			if err == nil {
				t.Fatalf("Put of %d bytes with size %d: got nil error, want failure", len(tc.data), tc.size)
			}
			wantContent(t, s, key, old)

			_, err = s.PutIf(t.Context(), key, bytes.NewReader(tc.data), tc.size, store.Meta{}, store.Condition{IfMatch: etagOf(t, s, key)})
			if err == nil {
				t.Fatalf("PutIf of %d bytes with size %d: got nil error, want failure", len(tc.data), tc.size)
			}
			wantContent(t, s, key, old)

			const fresh = "len/fresh"
			if err := s.Put(t.Context(), fresh, bytes.NewReader(tc.data), tc.size, store.Meta{}); err == nil {
				t.Fatalf("Put of %d bytes with size %d to a new key: got nil error, want failure", len(tc.data), tc.size)
			}
			wantMissing(t, s, fresh)
		})
	}
}

func etagOf(t *testing.T, s store.Store, key string) string {
	t.Helper()
	info, err := s.Stat(t.Context(), key)
	if err != nil {
		t.Fatalf("Stat(%q): %v", key, err)
	}
	return info.ETag
}

// failingReader yields n bytes, then err.
type failingReader struct {
	n   int
	err error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, r.err
	}
	k := min(len(p), r.n)
	for i := range p[:k] {
		p[i] = 'z'
	}
	r.n -= k
	return k, nil
}

func testPutReaderError(t *testing.T, s store.Store) {
	const key = "rerr/obj"
	old := []byte("keep me")
	put(t, s, key, old)
	boom := errors.New("disk on fire")
	err := s.Put(t.Context(), key, &failingReader{n: 100, err: boom}, 1000, store.Meta{})
	if err == nil {
		t.Fatal("Put from a failing reader: got nil error, want failure")
	}
	wantContent(t, s, key, old)
	if err := s.Put(t.Context(), "rerr/new", &failingReader{n: 100, err: boom}, 1000, store.Meta{}); err == nil {
		t.Fatal("Put of a new key from a failing reader: got nil error, want failure")
	}
	wantMissing(t, s, "rerr/new")
}

func testPutHashMismatch(t *testing.T, s store.Store) {
	const key = "hash/obj"
	old := []byte("old bytes")
	put(t, s, key, old)
	data := []byte("new bytes")
	meta := store.Meta{SHA256: sum([]byte("something else"))}
	if err := s.Put(t.Context(), key, bytes.NewReader(data), int64(len(data)), meta); err == nil {
		t.Fatal("Put with a Meta.SHA256 that does not match the bytes: got nil error, want failure")
	}
	wantContent(t, s, key, old)
	if err := s.Put(t.Context(), "hash/new", bytes.NewReader(data), int64(len(data)), meta); err == nil {
		t.Fatal("Put of a new key with a wrong Meta.SHA256: got nil error, want failure")
	}
	wantMissing(t, s, "hash/new")
}

func testGetMissing(t *testing.T, s store.Store) {
	put(t, s, "present/x", []byte("x"))
	for _, key := range []string{"missing", "present/y", "present/x/below", "present"} {
		_, err := s.Get(t.Context(), key, store.GetOptions{})
		wantErr(t, s, err, store.ErrNotExist, "get", key)
		_, err = s.Get(t.Context(), key, store.GetOptions{Range: &store.Range{Offset: 0, Length: 1}})
		wantErr(t, s, err, store.ErrNotExist, "get", key)
	}
}

func testGetIfNoneMatch(t *testing.T, s store.Store) {
	const key = "cond/get"
	data := []byte("conditional")
	put(t, s, key, data)
	etag := etagOf(t, s, key)

	obj, err := s.Get(t.Context(), key, store.GetOptions{IfNoneMatch: etag})
	wantErr(t, s, err, store.ErrNotModified, "get", key)
	if obj != nil {
		t.Errorf("Get with matching IfNoneMatch: got object %+v, want nil", obj.Info)
	}

	_, err = s.Get(t.Context(), key, store.GetOptions{IfNoneMatch: etag, Range: &store.Range{Offset: 1, Length: 2}})
	wantErr(t, s, err, store.ErrNotModified, "get", key)

	put(t, s, key, []byte("changed"))
	obj, err = s.Get(t.Context(), key, store.GetOptions{IfNoneMatch: etag})
	if err != nil {
		t.Fatalf("Get with stale IfNoneMatch: got error %v, want the object", err)
	}
	defer obj.Body.Close()
	got, _ := io.ReadAll(obj.Body)
	if string(got) != "changed" {
		t.Errorf("Get with stale IfNoneMatch: got %q, want %q", got, "changed")
	}
}

func testGetRange(t *testing.T, s store.Store) {
	const key = "range/obj"
	data := []byte("0123456789abcdef") // 16 bytes
	put(t, s, key, data)
	put(t, s, "range/empty", nil)
	cases := []struct {
		name      string
		key       string
		r         store.Range
		want      string
		wantRange store.Range
		wantErr   error
	}{
		{name: "start", key: key, r: store.Range{Offset: 0, Length: 4}, want: "0123", wantRange: store.Range{Offset: 0, Length: 4}},
		{name: "middle", key: key, r: store.Range{Offset: 5, Length: 3}, want: "567", wantRange: store.Range{Offset: 5, Length: 3}},
		{name: "to end", key: key, r: store.Range{Offset: 10, Length: -1}, want: "abcdef", wantRange: store.Range{Offset: 10, Length: 6}},
		{name: "last byte", key: key, r: store.Range{Offset: 15, Length: 1}, want: "f", wantRange: store.Range{Offset: 15, Length: 1}},
		{name: "whole", key: key, r: store.Range{Offset: 0, Length: -1}, want: string(data), wantRange: store.Range{Offset: 0, Length: 16}},
		{name: "length past end is clamped", key: key, r: store.Range{Offset: 12, Length: 100}, want: "cdef", wantRange: store.Range{Offset: 12, Length: 4}},
		{name: "offset at end", key: key, r: store.Range{Offset: 16, Length: 1}, wantErr: store.ErrInvalidRange},
		{name: "offset beyond end", key: key, r: store.Range{Offset: 100, Length: -1}, wantErr: store.ErrInvalidRange},
		{name: "empty object", key: "range/empty", r: store.Range{Offset: 0, Length: -1}, wantErr: store.ErrInvalidRange},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.r
			obj, err := s.Get(t.Context(), tc.key, store.GetOptions{Range: &r})
			if tc.wantErr != nil {
				wantErr(t, s, err, tc.wantErr, "get", tc.key)
				return
			}
			if err != nil {
				t.Fatalf("Get range %+v: %v", tc.r, err)
			}
			defer obj.Body.Close()
			got, err := io.ReadAll(obj.Body)
			if err != nil {
				t.Fatalf("read body: %v", err)
			}
			if string(got) != tc.want {
				t.Errorf("body: got %q, want %q", got, tc.want)
			}
			if obj.Range == nil || *obj.Range != tc.wantRange {
				t.Errorf("Object.Range: got %+v, want %+v", obj.Range, tc.wantRange)
			}
			if obj.Info.Size != int64(len(data)) {
				t.Errorf("Info.Size: got %d, want the whole object's %d", obj.Info.Size, len(data))
			}
			if obj.Info.Meta.SHA256 != sum(data) {
				t.Errorf("Info.Meta.SHA256: got %s, want the whole object's %s", obj.Info.Meta.SHA256, sum(data))
			}
		})
	}
}

func testStat(t *testing.T, s store.Store) {
	const key = "stat/obj"
	data := []byte("stat me")
	put(t, s, key, data)
	info, err := s.Stat(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	_, gi := read(t, s, key)
	if info.Key != key || info.Size != int64(len(data)) || info.Meta != MetaFor(data) {
		t.Errorf("Stat: got Key %q Size %d Meta %+v, want %q %d %+v", info.Key, info.Size, info.Meta, key, len(data), MetaFor(data))
	}
	if info.ETag == "" || info.ETag != gi.ETag {
		t.Errorf("Stat ETag: got %q, want Get's %q (non-empty)", info.ETag, gi.ETag)
	}
	if info.ModTime.IsZero() {
		t.Error("Stat ModTime: got zero")
	}
	for _, k := range []string{"stat/missing", "stat"} {
		_, err = s.Stat(t.Context(), k)
		wantErr(t, s, err, store.ErrNotExist, "stat", k)
	}
}

func testList(t *testing.T, s store.Store) {
	// Lexical byte order: '-' (0x2d) < '/' (0x2f) < 'A' < 'a'.
	keys := []string{"l/b", "l/a/c", "m/x", "l/a-b", "l/Z", "l/ab", "l/a/b", "lz"}
	for i, k := range keys {
		put(t, s, k, []byte(strings.Repeat("v", i+1)))
	}
	cases := []struct {
		prefix string
		want   []string
	}{
		{"", []string{"l/Z", "l/a-b", "l/a/b", "l/a/c", "l/ab", "l/b", "lz", "m/x"}},
		{"l/", []string{"l/Z", "l/a-b", "l/a/b", "l/a/c", "l/ab", "l/b"}},
		{"l", []string{"l/Z", "l/a-b", "l/a/b", "l/a/c", "l/ab", "l/b", "lz"}},
		{"l/a", []string{"l/a-b", "l/a/b", "l/a/c", "l/ab"}},
		{"l/a/", []string{"l/a/b", "l/a/c"}},
		{"l/a/c", []string{"l/a/c"}},
		{"m/x/", nil},
		{"nothing/", nil},
	}
	for _, tc := range cases {
		t.Run("prefix="+tc.prefix, func(t *testing.T) {
			var got []string
			err := s.List(t.Context(), tc.prefix, func(i store.Info) error {
				got = append(got, i.Key)
				st, err := s.Stat(t.Context(), i.Key)
				if err != nil {
					return err
				}
				if i.Size != st.Size || i.ETag != st.ETag || i.Meta != st.Meta {
					t.Errorf("List Info of %q: got Size %d ETag %s Meta %+v, want Stat's %d %s %+v",
						i.Key, i.Size, i.ETag, i.Meta, st.Size, st.ETag, st.Meta)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("List(%q): %v", tc.prefix, err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("List(%q): got %q, want %q", tc.prefix, got, tc.want)
			}
		})
	}
	t.Run("invalid prefix", func(t *testing.T) {
		err := s.List(t.Context(), "../", func(store.Info) error { return nil })
		if !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("List(%q): got %v, want ErrInvalidKey", "../", err)
		}
	})
}

func testListStop(t *testing.T, s store.Store) {
	for _, k := range []string{"s/1", "s/2", "s/3", "s/4"} {
		put(t, s, k, []byte(k))
	}
	stop := errors.New("enough")
	var got []string
	err := s.List(t.Context(), "s/", func(i store.Info) error {
		got = append(got, i.Key)
		if len(got) == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Errorf("List: got error %v, want the callback's %v", err, stop)
	}
	if want := []string{"s/1", "s/2"}; !slices.Equal(got, want) {
		t.Errorf("List after callback error: visited %q, want %q", got, want)
	}
}

func testDelete(t *testing.T, s store.Store) {
	put(t, s, "del/a", []byte("a"))
	put(t, s, "del/b", []byte("b"))
	cases := []struct{ name, key string }{
		{"existing", "del/a"},
		{"again", "del/a"},
		{"never existed", "del/never"},
		{"prefix of keys", "del"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Delete(t.Context(), tc.key); err != nil {
				t.Fatalf("Delete(%q): got %v, want nil", tc.key, err)
			}
			wantMissing(t, s, tc.key)
		})
	}
	wantContent(t, s, "del/b", []byte("b"))
	// A key that was deleted can be written again, and so can a former
	// prefix once nothing is below it.
	put(t, s, "del/a", []byte("again"))
	wantContent(t, s, "del/a", []byte("again"))
	for _, k := range []string{"del/a", "del/b"} {
		if err := s.Delete(t.Context(), k); err != nil {
			t.Fatal(err)
		}
	}
	put(t, s, "del", []byte("now a key"))
	wantContent(t, s, "del", []byte("now a key"))
}

func testPutIfNoneMatch(t *testing.T, s store.Store) {
	const key = "pin/obj"
	first := []byte("first")
	info, err := s.PutIf(t.Context(), key, bytes.NewReader(first), int64(len(first)), MetaFor(first), store.Condition{IfNoneMatch: true})
	if err != nil {
		t.Fatalf("PutIf IfNoneMatch on a missing key: %v", err)
	}
	st, err := s.Stat(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	if info.ETag != st.ETag || info.Size != st.Size || info.Meta != st.Meta || info.Key != key {
		t.Errorf("PutIf Info: got %+v, want Stat's %+v", info, st)
	}
	second := []byte("second")
	_, err = s.PutIf(t.Context(), key, bytes.NewReader(second), int64(len(second)), MetaFor(second), store.Condition{IfNoneMatch: true})
	wantErr(t, s, err, store.ErrPrecondition, "put", key)
	wantContent(t, s, key, first)
}

func testPutIfMatch(t *testing.T, s store.Store) {
	const key = "pim/obj"
	v1, v2, v3 := []byte("version one"), []byte("version two"), []byte("version three")
	put(t, s, key, v1)
	e1 := etagOf(t, s, key)

	info, err := s.PutIf(t.Context(), key, bytes.NewReader(v2), int64(len(v2)), MetaFor(v2), store.Condition{IfMatch: e1})
	if err != nil {
		t.Fatalf("PutIf IfMatch current ETag: %v", err)
	}
	if info.ETag == e1 {
		t.Errorf("PutIf returned ETag %s: got the old one, want a new one", info.ETag)
	}
	if e2 := etagOf(t, s, key); info.ETag != e2 {
		t.Errorf("PutIf returned ETag %s, want Stat's %s", info.ETag, e2)
	}
	if info.Meta.SHA256 != sum(v2) || info.Size != int64(len(v2)) {
		t.Errorf("PutIf Info: got SHA256 %s Size %d, want %s %d", info.Meta.SHA256, info.Size, sum(v2), len(v2))
	}
	wantContent(t, s, key, v2)

	_, err = s.PutIf(t.Context(), key, bytes.NewReader(v3), int64(len(v3)), MetaFor(v3), store.Condition{IfMatch: e1})
	wantErr(t, s, err, store.ErrPrecondition, "put", key)
	wantContent(t, s, key, v2)

	_, err = s.PutIf(t.Context(), "pim/missing", bytes.NewReader(v3), int64(len(v3)), MetaFor(v3), store.Condition{IfMatch: e1})
	wantErr(t, s, err, store.ErrPrecondition, "put", "pim/missing")
	wantMissing(t, s, "pim/missing")
}

// racers is how many writers the PutIf races start at once.
const racers = 8

// race runs racers concurrent PutIf with cond, writer i writing its own
// content, and checks that exactly one won and the store holds its bytes.
func race(t *testing.T, s store.Store, key string, cond store.Condition) {
	if !s.Capabilities().ConditionalPut {
		t.Skip("backend emulates PutIf (Capabilities.ConditionalPut is false); no atomicity to test")
	}
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, racers)
	)
	content := func(i int) []byte { return fmt.Appendf(nil, "writer %d of %d", i, racers) }
	for i := range racers {
		wg.Go(func() {
			b := content(i)
			<-start
			_, errs[i] = s.PutIf(t.Context(), key, bytes.NewReader(b), int64(len(b)), MetaFor(b), cond)
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("writers %d and %d both succeeded, want exactly one", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, store.ErrPrecondition):
			t.Errorf("writer %d: got error %v, want ErrPrecondition", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("no writer succeeded, want exactly one; errors: %v", errs)
	}
	wantContent(t, s, key, content(winner))
}

func testPutIfRaceIfMatch(t *testing.T, s store.Store) {
	const key = "race/match"
	put(t, s, key, []byte("base"))
	race(t, s, key, store.Condition{IfMatch: etagOf(t, s, key)})
}

func testPutIfRaceIfNoneMatch(t *testing.T, s store.Store) {
	race(t, s, "race/none", store.Condition{IfNoneMatch: true})
}

// invalidKeys are keys every backend must refuse with store.ErrInvalidKey.
var invalidKeys = []string{
	"", "/", "/abs", "trailing/", "a//b", "..", "../escape", "a/../../b", "a/./b",
	".hidden", "a/.dot", ".mpship/lock", "with space", "nul\x00byte", `back\slash`,
	"percent%2f", "colon:x", "question?", "hash#", "ünïcode", strings.Repeat("k", 1025),
}

func testInvalidKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	data := []byte("x")
	for _, key := range invalidKeys {
		t.Run(fmt.Sprintf("%q", clip([]byte(key))), func(t *testing.T) {
			_, err := s.Get(ctx, key, store.GetOptions{})
			wantErr(t, s, err, store.ErrInvalidKey, "get", key)
			_, err = s.Stat(ctx, key)
			wantErr(t, s, err, store.ErrInvalidKey, "stat", key)
			err = s.Put(ctx, key, bytes.NewReader(data), 1, store.Meta{})
			wantErr(t, s, err, store.ErrInvalidKey, "put", key)
			_, err = s.PutIf(ctx, key, bytes.NewReader(data), 1, store.Meta{}, store.Condition{IfNoneMatch: true})
			wantErr(t, s, err, store.ErrInvalidKey, "put", key)
			err = s.Delete(ctx, key)
			wantErr(t, s, err, store.ErrInvalidKey, "delete", key)
		})
	}
	var n int
	if err := s.List(ctx, "", func(store.Info) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("objects after refused puts: got %d, want 0", n)
	}
}

func testLarge(t *testing.T, s store.Store) {
	const key = "large/blob"
	data := make([]byte, LargeSize)
	rand.NewChaCha8([32]byte{1, 2, 3}).Read(data)
	if err := s.Put(t.Context(), key, bytes.NewReader(data), int64(len(data)), store.Meta{SHA256: sum(data)}); err != nil {
		t.Fatalf("Put %d bytes: %v", len(data), err)
	}
	whole, err := s.Get(t.Context(), key, store.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, whole.Body)
	whole.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != int64(len(data)) || got != sum(data) {
		t.Fatalf("content: got %d bytes with sha256 %s, want %d bytes with sha256 %s", n, got, len(data), sum(data))
	}
	if info := whole.Info; info.Meta.SHA256 != sum(data) {
		t.Errorf("Meta.SHA256: got %s, want %s", info.Meta.SHA256, sum(data))
	}
	// A range across the 5 MiB and 8 MiB part boundaries.
	r := store.Range{Offset: 5<<20 - 10, Length: 3<<20 + 20}
	obj, err := s.Get(t.Context(), key, store.GetOptions{Range: &r})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Body.Close()
	part, err := io.ReadAll(obj.Body)
	if err != nil {
		t.Fatal(err)
	}
	if want := data[r.Offset : r.Offset+r.Length]; !bytes.Equal(part, want) {
		t.Errorf("range %+v: got %d bytes with sha256 %s, want %d bytes with sha256 %s", r, len(part), sum(part), len(want), sum(want))
	}
}

func testCanceled(t *testing.T, s store.Store) {
	const key = "ctx/obj"
	old := []byte("before cancel")
	put(t, s, key, old)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	data := []byte("after cancel")
	etag := etagOf(t, s, key)
	ops := []struct {
		name string
		run  func() error
	}{
		{"Get", func() error { _, err := s.Get(ctx, key, store.GetOptions{}); return err }},
		{"Stat", func() error { _, err := s.Stat(ctx, key); return err }},
		{"Put", func() error { return s.Put(ctx, key, bytes.NewReader(data), int64(len(data)), store.Meta{}) }},
		{"PutIf", func() error {
			_, err := s.PutIf(ctx, key, bytes.NewReader(data), int64(len(data)), store.Meta{}, store.Condition{IfMatch: etag})
			return err
		}},
		{"List", func() error { return s.List(ctx, "", func(store.Info) error { return nil }) }},
		{"Delete", func() error { return s.Delete(ctx, key) }},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			if err := op.run(); !errors.Is(err, context.Canceled) {
				t.Errorf("%s with a canceled context: got %v, want context.Canceled", op.name, err)
			}
			wantContent(t, s, key, old)
		})
	}
}

// cancelingReader cancels its context after the first n bytes and then
// keeps producing, as a slow upload does when the user presses Ctrl-C.
type cancelingReader struct {
	n      int
	cancel context.CancelFunc
}

func (r *cancelingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		r.cancel()
	}
	k := min(len(p), 32<<10)
	for i := range p[:k] {
		p[i] = 'c'
	}
	r.n -= k
	return k, nil
}

func testCanceledDuringPut(t *testing.T, s store.Store) {
	const key = "ctx/during"
	old := []byte("survives")
	put(t, s, key, old)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	const size = 8 << 20
	err := s.Put(ctx, key, &cancelingReader{n: 1 << 20, cancel: cancel}, size, store.Meta{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Put canceled midway: got %v, want context.Canceled", err)
	}
	wantContent(t, s, key, old)
}
