package archive

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
)

// sample returns n bytes of compressible, reproducible text: random words
// for the first 256 KiB, then copies of them (cheap to make and compress,
// and a match far back that only a large window finds).
func sample(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"Component", "({", "data:", "props", "methods", "\n", "  ", "this.setData", "van-button", "});"}
	var b bytes.Buffer
	for b.Len() < min(n, 256<<10) {
		b.WriteString(words[r.IntN(len(words))])
	}
	head := b.Bytes()
	for b.Len() < n {
		b.Write(head)
	}
	return b.Bytes()[:n]
}

func compress(t testing.TB, src []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Compress(&b, src); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func decompressAll(z []byte, max int64) ([]byte, error) {
	d, err := NewDecompressor(bytes.NewReader(z), max)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return io.ReadAll(d)
}

func TestCompressRoundTrip(t *testing.T) {
	for _, n := range []int{1, 1000, 200 << 10, 9 << 20} {
		src := sample(n)
		z := compress(t, src)
		if !bytes.Equal(z, compress(t, src)) {
			t.Errorf("%d bytes: compressing twice gave different bytes", n)
		}
		got, err := decompressAll(z, int64(n))
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if !bytes.Equal(got, src) {
			t.Fatalf("%d bytes: round trip changed the bytes", n)
		}
	}
}

func TestCompressConcurrent(t *testing.T) {
	src := sample(300 << 10)
	want := compress(t, src)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			var b bytes.Buffer
			if err := Compress(&b, src); err != nil {
				errs <- err
				return
			}
			if !bytes.Equal(b.Bytes(), want) {
				errs <- errors.New("concurrent Compress gave different bytes")
				return
			}
			got, err := decompressAll(b.Bytes(), int64(len(src)))
			if err == nil && !bytes.Equal(got, src) {
				err = errors.New("concurrent round trip changed the bytes")
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// hugeWindowFrame is a zstd frame header that claims a 1 GiB window
// (no single segment, window descriptor exponent 20) followed by an empty
// last raw block.
func hugeWindowFrame() []byte {
	b := binary.LittleEndian.AppendUint32(nil, 0xFD2FB528)
	b = append(b, 0x00, 20<<3)
	return append(b, 0x01, 0x00, 0x00) // last raw block of size 0
}

// hugeContentFrame is a single-segment zstd frame header that claims 1 TiB
// of content, so its window is 1 TiB too.
func hugeContentFrame() []byte {
	b := binary.LittleEndian.AppendUint32(nil, 0xFD2FB528)
	b = append(b, 0xE0) // 8-byte content size, single segment
	b = binary.LittleEndian.AppendUint64(b, 1<<40)
	return append(b, 0x01, 0x00, 0x00)
}

func TestDecompressRefusals(t *testing.T) {
	src := sample(100 << 10)
	z := compress(t, src)
	corrupt := bytes.Clone(z)
	corrupt[len(corrupt)/2] ^= 0xff
	tests := []struct {
		name string
		data []byte
		max  int64
		want error
	}{
		{name: "one byte more than allowed", data: z, max: int64(len(src)) - 1, want: ErrTooLarge},
		{name: "frame window above the bound", data: compress(t, sample(3<<20)), max: 100 << 10, want: ErrTooLarge},
		{name: "hostile 1 GiB window header", data: hugeWindowFrame(), max: 1 << 20, want: ErrTooLarge},
		{name: "hostile 1 TiB content size", data: hugeContentFrame(), max: 1 << 20, want: ErrTooLarge},
		{name: "garbage", data: []byte("this is not zstd at all"), max: 1 << 20, want: ErrMalformed},
		{name: "truncated", data: z[:len(z)/2], max: 1 << 20, want: ErrMalformed},
		{name: "corrupted", data: corrupt, max: 1 << 20, want: ErrMalformed},
		{name: "trailing garbage", data: append(bytes.Clone(z), "junk"...), max: 1 << 20, want: ErrMalformed},
		{name: "zero limit", data: z, max: 0, want: ErrMalformed},
		{name: "limit above the maximum", data: z, max: MaxDecompressedSize + 1, want: ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decompressAll(tc.data, tc.max)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			t.Log(err)
			if tc.max > 0 && int64(len(got)) > tc.max {
				t.Errorf("yielded %d bytes, more than the %d allowed", len(got), tc.max)
			}
			var ae *Error
			if !errors.As(err, &ae) {
				t.Errorf("got %T, want *archive.Error", err)
			}
		})
	}
}

// Pooled decoders must come back clean after a stream was abandoned midway.
func TestDecompressorReuse(t *testing.T) {
	a, b := sample(500<<10), sample(70<<10)
	za, zb := compress(t, a), compress(t, b)
	for i := range 5 {
		d, err := NewDecompressor(bytes.NewReader(za), int64(len(a)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(d, make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
		d.Close()
		if _, err := d.Read(make([]byte, 10)); err == nil {
			t.Error("Read after Close succeeded")
		}
		got, err := decompressAll(zb, int64(len(b)))
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("round %d: reused decoder gave %d bytes, err %v", i, len(got), err)
		}
	}
}
