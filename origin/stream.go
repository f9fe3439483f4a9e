package origin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/mpship/mpship/store"
)

// errChanged: the object was replaced while it was being served.
var errChanged = errors.New("object changed while being read")

// lazyReader is an io.ReadSeeker over a store object that does no I/O until
// Read: Seek only moves the position, and Read opens a ranged Get from the
// position (reusing the open body while reads are sequential). Not safe for
// concurrent use; http.ServeContent uses it from one goroutine.
type lazyReader struct {
	ctx  context.Context
	st   store.Store
	key  string
	size int64
	etag string // the backend ETag every Get must report

	pos     int64
	body    io.ReadCloser // holds bytes [pos, bodyEnd) when pos == bodyPos
	bodyPos int64
	bodyEnd int64
	hint    *store.Range // the range ServeContent is expected to read first
}

func newLazyReader(ctx context.Context, st store.Store, info store.Info, hint *store.Range) *lazyReader {
	return &lazyReader{ctx: ctx, st: st, key: info.Key, size: info.Size, etag: info.ETag, hint: hint}
}

// Seek implements io.Seeker. Positions past the end are allowed and read
// as end of file.
func (l *lazyReader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = l.pos + offset
	case io.SeekEnd:
		abs = l.size + offset
	default:
		return l.pos, fmt.Errorf("seek %s: invalid whence %d", l.key, whence)
	}
	if abs < 0 {
		return l.pos, fmt.Errorf("seek %s: negative position %d", l.key, abs)
	}
	l.pos = abs
	return abs, nil
}

// Read implements io.Reader.
func (l *lazyReader) Read(p []byte) (int, error) {
	if l.pos >= l.size {
		return 0, io.EOF
	}
	if l.body == nil || l.bodyPos != l.pos || l.pos >= l.bodyEnd {
		if err := l.open(); err != nil {
			return 0, err
		}
	}
	if rem := l.bodyEnd - l.pos; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := l.body.Read(p)
	l.pos += int64(n)
	l.bodyPos = l.pos
	if errors.Is(err, io.EOF) {
		if l.pos < l.bodyEnd {
			return n, fmt.Errorf("read %s: body ended at byte %d of %d: %w", l.key, l.pos, l.bodyEnd, io.ErrUnexpectedEOF)
		}
		err = nil
	}
	return n, err
}

// open starts a Get at pos: the hinted range if it starts there, else to
// the end of the object.
func (l *lazyReader) open() error {
	l.closeBody()
	end := l.size
	var opts store.GetOptions
	if h := l.hint; h != nil && h.Offset == l.pos {
		end = h.Offset + h.Length
		l.hint = nil
	}
	if l.pos != 0 || end != l.size {
		opts.Range = &store.Range{Offset: l.pos, Length: end - l.pos}
	}
	obj, err := l.st.Get(l.ctx, l.key, opts)
	if err != nil {
		return err
	}
	if l.etag != "" && obj.Info.ETag != "" && obj.Info.ETag != l.etag {
		obj.Body.Close()
		return fmt.Errorf("read %s: %w (ETag %s, then %s)", l.key, errChanged, l.etag, obj.Info.ETag)
	}
	l.body, l.bodyPos, l.bodyEnd = obj.Body, l.pos, end
	return nil
}

func (l *lazyReader) closeBody() {
	if l.body != nil {
		l.body.Close()
		l.body = nil
	}
}

// Close releases the open body, if any.
func (l *lazyReader) Close() error {
	l.closeBody()
	return nil
}

// rangeHint parses a Range header holding one satisfiable byte range of an
// object of size bytes, as http.ServeContent will, and returns it; it
// returns nil for anything else. It is only a hint: a wrong guess costs one
// extra ranged Get, never wrong bytes.
func rangeHint(h string, size int64) *store.Range {
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok || strings.Contains(spec, ",") || size <= 0 {
		return nil
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return nil
	}
	first, last = strings.TrimSpace(first), strings.TrimSpace(last)
	if first == "" {
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n <= 0 {
			return nil
		}
		n = min(n, size)
		return &store.Range{Offset: size - n, Length: n}
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 || start >= size {
		return nil
	}
	end := size - 1
	if last != "" {
		e, err := strconv.ParseInt(last, 10, 64)
		if err != nil || e < start {
			return nil
		}
		end = min(e, size-1)
	}
	return &store.Range{Offset: start, Length: end - start + 1}
}

// Compile-time interface guards.
var _ io.ReadSeekCloser = (*lazyReader)(nil)
