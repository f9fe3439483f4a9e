package archive

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
)

// Unpack reads an uncompressed MPK1 archive from r and writes its files
// under dst, which is created if missing and should be empty: existing files
// are never overwritten (that is an error). It reads r as a stream, holding
// only the archive's header in memory, and refuses what Parse refuses (see
// Parse), with an *Error naming the entry: unsafe names (ErrUnsafePath),
// duplicates, case-only differences and file/directory conflicts
// (ErrDuplicate), anything over lim (ErrTooLarge), anything that is not an
// MPK1 archive or has bytes after it (ErrMalformed), an archive with no file
// (ErrEmpty). Errors reading r are wrapped as they are.
//
// Files are created with mode 0644 and directories 0755 (less the umask),
// all through an os.Root opened on dst, so nothing is ever written outside
// dst even if dst already holds symlinks. On error the partial output is
// left in dst, except that a dst Unpack created is removed: unpack into a
// new temporary directory and rename it into place on success. Callers that
// have the archive's signed sha256 should check it before unpacking, as the
// client does. Unpack may be called concurrently with different
// destinations.
func Unpack(r io.Reader, dst string, lim Limits) (st Stats, err error) {
	lim = lim.withDefaults()
	created := false
	if _, serr := os.Lstat(dst); errors.Is(serr, fs.ErrNotExist) {
		created = true
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return Stats{}, &Error{Op: "unpack", Path: dst, Err: err}
	}
	if created {
		defer func() {
			if err != nil {
				os.RemoveAll(dst)
			}
		}()
	}
	root, err := os.OpenRoot(dst)
	if err != nil {
		return Stats{}, &Error{Op: "unpack", Path: dst, Err: err}
	}
	defer root.Close()
	return unpack(r, root, lim)
}

func unpack(r io.Reader, root *os.Root, lim Limits) (Stats, error) {
	cr := &countReader{r: r, max: lim.MaxRawSize}
	br := newHeaderReader(cr)
	h, err := readHeader(br, lim, lim.MaxRawSize)
	if err != nil {
		return Stats{}, readErr("", err, cr, lim)
	}
	// owner[k] is the first entry holding content k: later entries with
	// the same content are copied from its file.
	owner := make([]string, len(h.sizes))
	next := 0
	for i, name := range h.names {
		if dir := path.Dir(name); dir != "." {
			if err := root.MkdirAll(dir, 0o755); err != nil {
				return Stats{}, &Error{Op: "unpack", Path: name, Err: err}
			}
		}
		k := h.refs[i]
		size := h.sizes[k]
		var n int64
		if k == next {
			owner[k] = name
			next++
			n, err = writeFile(root, name, io.LimitReader(br, size))
		} else {
			n, err = copyFile(root, owner[k], name, size)
		}
		if err != nil {
			return Stats{}, readErr(name, err, cr, lim)
		}
		if n != size {
			if cr.over {
				return Stats{}, readErr(name, ErrTooLarge, cr, lim)
			}
			return Stats{}, errorf("unpack", name, "%w: archive truncated: %d of the file's %d bytes", ErrMalformed, n, size)
		}
	}
	switch _, err := br.ReadByte(); {
	case err == nil:
		return Stats{}, errorf("unpack", "", "%w: bytes after the end of the archive", ErrMalformed)
	case !errors.Is(err, io.EOF):
		return Stats{}, readErr("", err, cr, lim)
	}
	return Stats{Files: len(h.names), ContentSize: h.files, RawSize: cr.n}, nil
}

// writeFile creates name (which must not exist) and copies r into it.
func writeFile(root *os.Root, name string, r io.Reader) (int64, error) {
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// copyFile creates name (which must not exist) with the first size bytes of
// the file from.
func copyFile(root *os.Root, from, name string, size int64) (int64, error) {
	f, err := root.Open(from)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return writeFile(root, name, io.LimitReader(f, size))
}

// readErr makes err an *Error of op "unpack", reporting an archive over the
// raw size limit as such whatever the reader made of it.
func readErr(name string, err error, cr *countReader, lim Limits) error {
	if cr.over {
		return errorf("unpack", name, "%w: archive is over the %s raw size limit", ErrTooLarge, mib(lim.MaxRawSize))
	}
	if ae, ok := err.(*Error); ok {
		if ae.Op == "" {
			ae.Op = "unpack"
		}
		return ae
	}
	return &Error{Op: "unpack", Path: name, Err: err}
}

// countReader counts bytes and fails once more than max have been read.
type countReader struct {
	r    io.Reader
	n    int64
	max  int64
	over bool
}

func (c *countReader) Read(p []byte) (int, error) {
	if c.n >= c.max+1 {
		c.over = true
		return 0, ErrTooLarge
	}
	if rem := c.max + 1 - c.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.max {
		c.over = true
		return n, ErrTooLarge
	}
	return n, err
}

var _ io.Reader = (*countReader)(nil)

// truncated is what readHeader reports for a failed read: ErrMalformed
// for a short one, the reader's error otherwise.
func truncated(what string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: truncated %s", ErrMalformed, what)
	}
	return fmt.Errorf("read %s: %w", what, err)
}
