package archive

import (
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Compression settings.
const (
	// minEncoderWindow is the smallest encoder window: the library's
	// default for SpeedBestCompression. Inputs up to this size all share
	// one encoder.
	minEncoderWindow = 8 << 20
	// MaxEncoderWindow is the largest encoder window, 256 MiB (the default
	// raw size limit). Larger inputs still compress, with matches limited
	// to this distance.
	MaxEncoderWindow = 256 << 20
	// MaxDecompressedSize is the largest maxRawSize NewDecompressor accepts:
	// 1 GiB.
	MaxDecompressedSize = 1 << 30
)

// encoders caches one encoder per window size; zstd encoders are costly to
// build and safe for concurrent EncodeAll calls.
var encoders struct {
	sync.Mutex
	m map[int]*zstd.Encoder
}

// encoderFor returns the shared encoder whose window covers n bytes: the
// next power of two, at least 8 MiB, at most MaxEncoderWindow. The choice
// depends on n alone, so output is reproducible.
func encoderFor(n int) (*zstd.Encoder, error) {
	w := minEncoderWindow
	for w < n && w < MaxEncoderWindow {
		w <<= 1
	}
	encoders.Lock()
	defer encoders.Unlock()
	if e := encoders.m[w]; e != nil {
		return e, nil
	}
	e, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedBestCompression),
		zstd.WithWindowSize(w),
		zstd.WithEncoderConcurrency(1),
		zstd.WithEncoderCRC(true),
	)
	if err != nil {
		return nil, fmt.Errorf("zstd encoder with %d-byte window: %w", w, err)
	}
	if encoders.m == nil {
		encoders.m = make(map[int]*zstd.Encoder)
	}
	encoders.m[w] = e
	return e, nil
}

// Compress writes src compressed as a single zstd frame to dst: level
// SpeedBestCompression, content size and checksum in the frame, window
// sized to the input so a match may reach back to the start of the package.
// The same src always gives the same bytes. Encoders are built once per
// window size and reused; Compress is safe for concurrent use (calls that
// share an encoder run one at a time). Memory use is a few times len(src).
func Compress(dst io.Writer, src []byte) error {
	e, err := encoderFor(len(src))
	if err != nil {
		return &Error{Op: "compress", Err: err}
	}
	out := e.EncodeAll(src, make([]byte, 0, len(src)/4+64))
	if _, err := dst.Write(out); err != nil {
		return &Error{Op: "compress", Err: err}
	}
	return nil
}

var decoders sync.Pool // of *zstd.Decoder, reset between uses

// NewDecompressor returns a reader of the zstd stream r, decompressed, that
// fails with ErrTooLarge once it would yield more than maxRawSize bytes: pass
// the raw size from the signed manifest, never a size read from the stream.
// The decoder's window and memory are bounded by maxRawSize rounded up to a
// power of two (at least 1 KiB), so a hostile frame header claiming a huge
// window is refused (ErrTooLarge) before anything is allocated for it.
// Anything that is not a valid zstd stream, or fails its checksum, is
// ErrMalformed.
// Checksums in the frame are verified. maxRawSize must be between 1 and
// MaxDecompressedSize (1 GiB).
//
// Decoders are pooled: Close returns this one for reuse, and the reader must
// not be used after Close. The returned reader is not safe for concurrent
// use; separate readers are.
func NewDecompressor(r io.Reader, maxRawSize int64) (io.ReadCloser, error) {
	if maxRawSize < 1 || maxRawSize > MaxDecompressedSize {
		return nil, errorf("decompress", "", "%w: maximum raw size %d out of range 1..%d", ErrMalformed, maxRawSize, MaxDecompressedSize)
	}
	window := uint64(zstd.MinWindowSize)
	if uint64(maxRawSize) > window {
		window = 1 << bits.Len64(uint64(maxRawSize)-1)
	}
	opts := []zstd.DOption{
		zstd.WithDecoderMaxWindow(window),
		zstd.WithDecoderMaxMemory(window),
	}
	var d *zstd.Decoder
	if v, ok := decoders.Get().(*zstd.Decoder); ok {
		d = v
		if err := d.ResetWithOptions(r, opts...); err != nil {
			d.Close()
			return nil, &Error{Op: "decompress", Err: fmt.Errorf("%w: %v", ErrMalformed, err)}
		}
	} else {
		var err error
		d, err = zstd.NewReader(r, append(opts, zstd.WithDecoderConcurrency(1))...)
		if err != nil {
			return nil, &Error{Op: "decompress", Err: fmt.Errorf("%w: %v", ErrMalformed, err)}
		}
	}
	return &decompressor{d: d, max: maxRawSize}, nil
}

type decompressor struct {
	d   *zstd.Decoder
	n   int64
	max int64
	err error
}

func (z *decompressor) Read(p []byte) (int, error) {
	if z.err != nil {
		return 0, z.err
	}
	if z.d == nil {
		return 0, &Error{Op: "decompress", Err: fmt.Errorf("read after close")}
	}
	// Ask for at most one byte more than allowed, to detect overflow
	// without ever passing on more than max bytes.
	if rem := z.max + 1 - z.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := z.d.Read(p)
	z.n += int64(n)
	if z.n > z.max {
		n -= int(z.n - z.max)
		z.n = z.max
		z.err = errorf("decompress", "", "%w: more than the %d bytes the manifest allows", ErrTooLarge, z.max)
		return n, z.err
	}
	if err != nil && err != io.EOF {
		kind := ErrMalformed
		if errors.Is(err, zstd.ErrWindowSizeExceeded) || errors.Is(err, zstd.ErrDecoderSizeExceeded) {
			kind = ErrTooLarge
		}
		z.err = errorf("decompress", "", "%w: %v", kind, err)
		return n, z.err
	}
	return n, err
}

func (z *decompressor) Close() error {
	if z.d == nil {
		return nil
	}
	// Reset with a nil reader drops the reference to the input; the decoder
	// keeps its buffers for the next user.
	if err := z.d.Reset(nil); err != nil {
		z.d.Close()
	} else {
		decoders.Put(z.d)
	}
	z.d = nil
	return nil
}
