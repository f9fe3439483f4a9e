// Package s3wire holds the HTTP-level details shared by the two backends
// that speak the S3 protocol (store/s3 and store/minio): byte-range headers,
// Content-Range parsing, ETag quoting, the metadata key names, and a reader
// that enforces a put's declared size.
package s3wire

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/mpship/mpship/store"
)

// MetaSHA256 is the user-metadata key (x-amz-meta-sha256) holding
// store.Meta.SHA256.
const MetaSHA256 = "sha256"

// RangeHeader returns the HTTP Range header value for r,
// "bytes=OFFSET-LAST" or "bytes=OFFSET-" for Length -1. A negative offset,
// a length below -1, or a zero length (which HTTP cannot express) wraps
// store.ErrInvalidRange.
func RangeHeader(r store.Range) (string, error) {
	switch {
	case r.Offset < 0 || r.Length < -1 || r.Length == 0:
		return "", fmt.Errorf("%w: offset %d length %d (need offset >= 0 and length > 0 or -1)", store.ErrInvalidRange, r.Offset, r.Length)
	case r.Length == -1:
		return "bytes=" + strconv.FormatInt(r.Offset, 10) + "-", nil
	case r.Offset > (1<<63-1)-r.Length:
		return "", fmt.Errorf("%w: offset %d length %d overflows", store.ErrInvalidRange, r.Offset, r.Length)
	}
	return "bytes=" + strconv.FormatInt(r.Offset, 10) + "-" + strconv.FormatInt(r.Offset+r.Length-1, 10), nil
}

// ErrContentRange reports a Content-Range header that is not
// "bytes FIRST-LAST/TOTAL" with 0 <= FIRST <= LAST < TOTAL.
var ErrContentRange = errors.New("malformed Content-Range")

// ParseContentRange parses a 206 response's Content-Range header,
// "bytes FIRST-LAST/TOTAL", into the returned range and the whole
// object's size. The unsatisfied form "bytes */TOTAL" and an unknown total
// ("/*") are errors: a 206 always has both.
func ParseContentRange(s string) (rng store.Range, total int64, err error) {
	bad := func() (store.Range, int64, error) {
		return store.Range{}, 0, fmt.Errorf("%w: %q", ErrContentRange, s)
	}
	rest, ok := strings.CutPrefix(s, "bytes ")
	if !ok {
		return bad()
	}
	span, tot, ok := strings.Cut(rest, "/")
	if !ok {
		return bad()
	}
	a, b, ok := strings.Cut(span, "-")
	if !ok {
		return bad()
	}
	first, err1 := parseUint(a)
	last, err2 := parseUint(b)
	total, err3 := parseUint(tot)
	if err1 != nil || err2 != nil || err3 != nil || first > last || last >= total {
		return bad()
	}
	return store.Range{Offset: first, Length: last - first + 1}, total, nil
}

// parseUint accepts only plain decimal digits (no sign, no spaces).
func parseUint(s string) (int64, error) {
	if s == "" || len(s) > 19 {
		return 0, strconv.ErrSyntax
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, strconv.ErrSyntax
		}
	}
	return strconv.ParseInt(s, 10, 64)
}

// UnquoteETag returns an ETag header value without its quotes (and without
// a weak "W/" marker), the form store.Info.ETag carries for both S3-protocol
// backends, so they agree about the same object.
func UnquoteETag(s string) string {
	s = strings.TrimPrefix(s, "W/")
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// QuoteETag returns etag as an HTTP entity tag, quoted once.
func QuoteETag(etag string) string {
	return `"` + UnquoteETag(etag) + `"`
}

// Errors from SizedReader. Each means the caller's reader did not match
// what it declared, so nothing was stored.
var (
	ErrShortBody    = errors.New("body shorter than its declared size")
	ErrLongBody     = errors.New("body longer than its declared size")
	ErrHashMismatch = errors.New("body does not match its declared sha256")
)

// ValidSHA256 reports whether s is a sha256 as store.Meta.SHA256 holds it:
// 64 lowercase hex digits.
func ValidSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return false
		}
	}
	return true
}

// SizedReader passes through exactly size bytes of a reader and fails
// otherwise: a source that ends early is ErrShortBody, one with bytes left
// over is ErrLongBody, and bytes hashing other than the declared sha256 are
// ErrHashMismatch. It withholds the last bytes of a body until all checks
// pass, so an upload that streams it stops short of its declared
// Content-Length and the server discards it instead of storing a bad
// object. A SizedReader is not safe for concurrent use.
type SizedReader struct {
	r         io.Reader
	remaining int64
	wantHash  string
	h         hash.Hash
	err       error // sticky: the first failure, from the source or a check
}

// NewSizedReader returns a SizedReader for size bytes of r. A non-empty
// wantSHA256 (lowercase hex) is checked as well.
func NewSizedReader(r io.Reader, size int64, wantSHA256 string) *SizedReader {
	s := &SizedReader{r: r, remaining: size, wantHash: wantSHA256}
	if wantSHA256 != "" {
		s.h = sha256.New()
	}
	return s
}

// Read implements io.Reader.
func (s *SizedReader) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.remaining == 0 {
		if err := s.finish(); err != nil {
			return 0, err
		}
		return 0, io.EOF
	}
	if int64(len(p)) > s.remaining {
		p = p[:s.remaining]
	}
	n, err := s.r.Read(p)
	s.remaining -= int64(n)
	if s.h != nil {
		s.h.Write(p[:n])
	}
	if s.remaining == 0 {
		// Check before releasing the final bytes.
		if ferr := s.finish(); ferr != nil {
			return 0, ferr
		}
		return n, nil
	}
	switch {
	case err == io.EOF:
		s.err = fmt.Errorf("%w: %d bytes missing", ErrShortBody, s.remaining)
		return n, s.err
	case err != nil:
		s.err = err
		return n, err
	}
	return n, nil
}

// finish checks a body read to its declared size: no bytes may follow, and
// its hash must match.
func (s *SizedReader) finish() error {
	if err := s.probe(); err != nil {
		return err
	}
	if s.h != nil {
		if got := hex.EncodeToString(s.h.Sum(nil)); got != s.wantHash {
			s.err = fmt.Errorf("%w: content sha256 is %s, declared %s", ErrHashMismatch, got, s.wantHash)
			return s.err
		}
		s.h = nil
	}
	return nil
}

// probe reads one byte past the declared end: there must be none.
func (s *SizedReader) probe() error {
	var b [1]byte
	for range 100 {
		n, err := s.r.Read(b[:])
		if n > 0 {
			s.err = ErrLongBody
			return s.err
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			s.err = err
			return err
		}
	}
	s.err = io.ErrNoProgress
	return s.err
}

// Err returns the reader's failure, if any: a size mismatch (ErrShortBody,
// ErrLongBody) or the source reader's own error. A backend reports it in
// preference to whatever its SDK made of the aborted upload.
func (s *SizedReader) Err() error { return s.err }

// ContextReader returns a reader of r that fails with ctx's error once ctx
// is done, so a put stops reading a body nobody waits for any more.
func ContextReader(ctx context.Context, r io.Reader) io.Reader {
	return &ctxReader{ctx: ctx, r: r}
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Spool reads size bytes of r to hash them, into memory when size is below
// memLimit and into a temporary file otherwise, and returns a reader of
// the same bytes, its lowercase hex sha256 and a function that removes the
// temporary file. A put uses it when the caller declared no sha256. It reads at most size+1 bytes, so the SizedReader that
// follows still sees (and refuses) a body that is too long.
func Spool(r io.Reader, size, memLimit int64) (io.Reader, string, func(), error) {
	h := sha256.New()
	lr := io.LimitReader(r, size+1)
	if size < memLimit {
		var buf bytes.Buffer
		buf.Grow(int(size) + 1)
		if _, err := io.Copy(io.MultiWriter(&buf, h), lr); err != nil {
			return nil, "", nil, err
		}
		return &buf, hashIfExact(h, int64(buf.Len()), size), func() {}, nil
	}
	f, err := os.CreateTemp("", "mpship-put-")
	if err != nil {
		return nil, "", nil, err
	}
	cleanup := func() {
		f.Close()
		os.Remove(f.Name())
	}
	n, err := io.Copy(io.MultiWriter(f, h), lr)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		cleanup()
		return nil, "", nil, err
	}
	// Only a Reader: an SDK that sees a Seeker would take the size from
	// the file rather than from the size the caller declared.
	return struct{ io.Reader }{f}, hashIfExact(h, n, size), cleanup, nil
}

// hashIfExact returns the hex digest, or "" when the body's length is
// wrong: the SizedReader then reports the length, not a hash mismatch.
func hashIfExact(h interface{ Sum([]byte) []byte }, n, size int64) string {
	if n != size {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}
