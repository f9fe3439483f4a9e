package s3wire

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/mpship/mpship/store"
)

func TestRangeHeader(t *testing.T) {
	tests := []struct {
		name    string
		in      store.Range
		want    string
		wantErr bool
	}{
		{"from start", store.Range{Offset: 0, Length: 10}, "bytes=0-9", false},
		{"middle", store.Range{Offset: 5, Length: 1}, "bytes=5-5", false},
		{"to end", store.Range{Offset: 7, Length: -1}, "bytes=7-", false},
		{"whole", store.Range{Offset: 0, Length: -1}, "bytes=0-", false},
		{"negative offset", store.Range{Offset: -1, Length: 2}, "", true},
		{"zero length", store.Range{Offset: 0, Length: 0}, "", true},
		{"length below -1", store.Range{Offset: 0, Length: -2}, "", true},
		{"overflow", store.Range{Offset: 1 << 62, Length: 1 << 62}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RangeHeader(tt.in)
			if tt.wantErr {
				if !errors.Is(err, store.ErrInvalidRange) {
					t.Fatalf("RangeHeader(%+v) error = %v, want ErrInvalidRange", tt.in, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("RangeHeader(%+v) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseContentRange(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		want      store.Range
		wantTotal int64
		wantErr   bool
	}{
		{"first byte", "bytes 0-0/10", store.Range{Offset: 0, Length: 1}, 10, false},
		{"tail", "bytes 5-9/10", store.Range{Offset: 5, Length: 5}, 10, false},
		{"unsatisfied", "bytes */10", store.Range{}, 0, true},
		{"unknown total", "bytes 0-1/*", store.Range{}, 0, true},
		{"last beyond total", "bytes 0-10/10", store.Range{}, 0, true},
		{"reversed", "bytes 5-4/10", store.Range{}, 0, true},
		{"wrong unit", "items 0-1/10", store.Range{}, 0, true},
		{"sign", "bytes +0-1/10", store.Range{}, 0, true},
		{"spaces", "bytes 0 -1/10", store.Range{}, 0, true},
		{"empty", "", store.Range{}, 0, true},
		{"huge", "bytes 0-1/99999999999999999999", store.Range{}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, total, err := ParseContentRange(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrContentRange) {
					t.Fatalf("ParseContentRange(%q) error = %v, want ErrContentRange", tt.in, err)
				}
				return
			}
			if err != nil || got != tt.want || total != tt.wantTotal {
				t.Fatalf("ParseContentRange(%q) = %+v, %d, %v; want %+v, %d", tt.in, got, total, err, tt.want, tt.wantTotal)
			}
		})
	}
}

func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-0/1", "bytes 5-9/10", "bytes */10", "bytes 0-1/*", "bytes 9223372036854775806-9223372036854775806/9223372036854775807", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, total, err := ParseContentRange(s)
		if err != nil {
			return
		}
		if r.Offset < 0 || r.Length < 1 || r.Offset+r.Length > total {
			t.Fatalf("ParseContentRange(%q) = %+v total %d: range outside the object", s, r, total)
		}
		h, err := RangeHeader(r)
		if err != nil {
			t.Fatalf("RangeHeader(%+v) of a parsed range: %v", r, err)
		}
		if want := "bytes=" + strings.TrimPrefix(strings.SplitN(s, "/", 2)[0], "bytes "); h != want {
			t.Fatalf("round trip of %q: got %q, want %q", s, h, want)
		}
	})
}

func TestETagQuoting(t *testing.T) {
	tests := []struct{ in, unquoted, quoted string }{
		{`"abc"`, "abc", `"abc"`},
		{"abc", "abc", `"abc"`},
		{`W/"abc"`, "abc", `"abc"`},
		{`"abc-3"`, "abc-3", `"abc-3"`},
		{`"`, `"`, `"""`},
	}
	for _, tt := range tests {
		if got := UnquoteETag(tt.in); got != tt.unquoted {
			t.Errorf("UnquoteETag(%q) = %q, want %q", tt.in, got, tt.unquoted)
		}
		if got := QuoteETag(tt.in); got != tt.quoted {
			t.Errorf("QuoteETag(%q) = %q, want %q", tt.in, got, tt.quoted)
		}
	}
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func TestValidSHA256(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{sum(nil), true},
		{strings.ToUpper(sum(nil)), false},
		{sum(nil)[:63], false},
		{sum(nil) + "0", false},
		{"", false},
		{strings.Repeat("g", 64), false},
	}
	for _, tt := range tests {
		if got := ValidSHA256(tt.in); got != tt.want {
			t.Errorf("ValidSHA256(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestSizedReader(t *testing.T) {
	data := []byte("0123456789")
	srcErr := errors.New("disk on fire")
	tests := []struct {
		name    string
		src     io.Reader
		size    int64
		hash    string
		wantErr error
		// wantMax is the most bytes the consumer may receive.
		wantMax int
	}{
		{"exact", bytes.NewReader(data), 10, "", nil, 10},
		{"exact one byte at a time", iotest.OneByteReader(bytes.NewReader(data)), 10, "", nil, 10},
		{"exact with data and EOF together", iotest.DataErrReader(bytes.NewReader(data)), 10, "", nil, 10},
		{"empty", bytes.NewReader(nil), 0, "", nil, 0},
		{"short", bytes.NewReader(data), 11, "", ErrShortBody, 10},
		{"long", bytes.NewReader(data), 9, "", ErrLongBody, 0},
		{"long one byte at a time", iotest.OneByteReader(bytes.NewReader(data)), 9, "", ErrLongBody, 8},
		{"long empty", bytes.NewReader(data), 0, "", ErrLongBody, 0},
		{"source error", io.MultiReader(bytes.NewReader(data[:4]), iotest.ErrReader(srcErr)), 10, "", srcErr, 4},
		{"hash ok", bytes.NewReader(data), 10, sum(data), nil, 10},
		{"hash ok one byte at a time", iotest.OneByteReader(bytes.NewReader(data)), 10, sum(data), nil, 10},
		{"hash of empty", bytes.NewReader(nil), 0, sum(nil), nil, 0},
		{"hash mismatch", bytes.NewReader(data), 10, sum([]byte("other")), ErrHashMismatch, 0},
		{"hash mismatch one byte at a time", iotest.OneByteReader(bytes.NewReader(data)), 10, sum(nil), ErrHashMismatch, 9},
		{"hash mismatch empty", bytes.NewReader(nil), 0, sum(data), ErrHashMismatch, 0},
		{"source error after size", io.MultiReader(bytes.NewReader(data), iotest.ErrReader(srcErr)), 10, "", srcErr, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sr := NewSizedReader(tt.src, tt.size, tt.hash)
			got, err := io.ReadAll(sr)
			if tt.wantErr == nil {
				if err != nil || !bytes.Equal(got, data[:tt.size]) {
					t.Fatalf("got %q, %v; want %q, nil", got, err, data[:tt.size])
				}
				if sr.Err() != nil {
					t.Fatalf("Err() = %v after a good read, want nil", sr.Err())
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if !errors.Is(sr.Err(), tt.wantErr) {
				t.Fatalf("Err() = %v, want %v", sr.Err(), tt.wantErr)
			}
			if int64(len(got)) >= tt.size && tt.size > 0 {
				t.Fatalf("consumer received %d bytes of a bad %d-byte body; it must never get them all", len(got), tt.size)
			}
			if len(got) > tt.wantMax {
				t.Fatalf("consumer received %d bytes, want at most %d", len(got), tt.wantMax)
			}
			if n, err2 := sr.Read(make([]byte, 4)); n != 0 || err2 == nil {
				t.Fatalf("Read after failure = %d, %v; want 0 and the sticky error", n, err2)
			}
		})
	}
}

func TestContextReader(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	r := ContextReader(ctx, strings.NewReader("abcdef"))
	b := make([]byte, 3)
	if n, err := r.Read(b); n != 3 || err != nil {
		t.Fatalf("Read before cancel = %d, %v; want 3, nil", n, err)
	}
	cancel()
	if n, err := r.Read(b); n != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("Read after cancel = %d, %v; want 0, context.Canceled", n, err)
	}
}

func TestSpool(t *testing.T) {
	data := []byte("spooled content")
	tests := []struct {
		name     string
		size     int64
		memLimit int64
		wantHash string
	}{
		{"memory", int64(len(data)), 1 << 20, sum(data)},
		{"temporary file", int64(len(data)), 4, sum(data)},
		{"short in memory", int64(len(data)) + 1, 1 << 20, ""},
		{"long in file", int64(len(data)) - 1, 4, ""},
		{"empty", 0, 1 << 20, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := data
			if tt.name == "empty" {
				src, tt.wantHash = nil, sum(nil)
			}
			r, got, cleanup, err := Spool(bytes.NewReader(src), tt.size, tt.memLimit)
			if err != nil {
				t.Fatal(err)
			}
			defer cleanup()
			if got != tt.wantHash {
				t.Errorf("hash: got %q, want %q", got, tt.wantHash)
			}
			// The spooled reader yields what was read, at most size+1 bytes,
			// so a SizedReader after it still sees a length mismatch.
			b, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			want := src[:min(int64(len(src)), tt.size+1)]
			if !bytes.Equal(b, want) {
				t.Errorf("spooled bytes: got %q, want %q", b, want)
			}
		})
	}
	srcErr := errors.New("read failed")
	if _, _, _, err := Spool(iotest.ErrReader(srcErr), 10, 4); !errors.Is(err, srcErr) {
		t.Errorf("Spool of a failing reader: got %v, want %v", err, srcErr)
	}
}
