package archive

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
)

// Unpack reads an uncompressed tar from r and writes its files under dst,
// which is created if missing and should be empty: existing files are never
// overwritten (that is an error). It refuses, with an *Error naming the
// entry:
//   - names that are absolute, hold "." or ".." segments, empty segments,
//     backslashes, control characters or invalid UTF-8 (ErrUnsafePath);
//   - symlinks, hard links, devices, pipes, sparse files (ErrUnsupported);
//   - the same name twice, names that differ only in case, or a file where
//     a directory is needed (ErrDuplicate);
//   - a file over lim.MaxFileSize, more than lim.MaxFiles files, or more
//     than lim.MaxRawSize bytes of tar (ErrTooLarge);
//   - bytes that are not a tar (ErrMalformed), or an archive with no file
//     (ErrEmpty).
//
// Files are created with mode 0644 and directories 0755 (less the umask),
// all through an os.Root opened on dst, so nothing is ever written outside
// dst even if dst already holds symlinks. On error the partial output is
// left in dst, except that a dst Unpack created is removed: unpack into a
// new temporary directory and rename it into place on success.
// Unpack may be called concurrently with different destinations.
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

const (
	kindFile     = 'f'
	kindDir      = 'd' // an explicit directory entry
	kindImplicit = 'i' // a directory created as the parent of an entry
)

func unpack(r io.Reader, root *os.Root, lim Limits) (Stats, error) {
	cr := &countReader{r: r, max: lim.MaxRawSize}
	tr := tar.NewReader(cr)
	kinds := make(map[string]byte)
	folded := make(map[string]string)
	var st Stats
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Stats{}, readErr("", err, cr, lim)
		}
		name, isDir, err := entryName(hdr)
		if err != nil {
			return Stats{}, &Error{Op: "unpack", Path: hdr.Name, Err: err}
		}
		if err := claim(kinds, folded, name, isDir); err != nil {
			return Stats{}, &Error{Op: "unpack", Path: name, Err: err}
		}
		if isDir {
			st.Dirs++
			if err := root.MkdirAll(name, 0o755); err != nil {
				return Stats{}, &Error{Op: "unpack", Path: name, Err: err}
			}
			continue
		}
		st.Files++
		if st.Files > lim.MaxFiles {
			return Stats{}, errorf("unpack", name, "%w: more than %d files", ErrTooLarge, lim.MaxFiles)
		}
		if hdr.Size > lim.MaxFileSize {
			return Stats{}, errorf("unpack", name, "%w: file is %d bytes, over the %s per-file limit", ErrTooLarge, hdr.Size, mib(lim.MaxFileSize))
		}
		if st.ContentSize+hdr.Size > lim.MaxRawSize {
			return Stats{}, errorf("unpack", name, "%w: files add up to more than the %s raw size limit", ErrTooLarge, mib(lim.MaxRawSize))
		}
		if dir := path.Dir(name); dir != "." {
			if err := root.MkdirAll(dir, 0o755); err != nil {
				return Stats{}, &Error{Op: "unpack", Path: name, Err: err}
			}
		}
		n, err := writeFile(root, name, tr)
		if err != nil {
			return Stats{}, readErr(name, err, cr, lim)
		}
		if n != hdr.Size {
			return Stats{}, errorf("unpack", name, "%w: entry holds %d bytes, header says %d", ErrMalformed, n, hdr.Size)
		}
		st.ContentSize += n
	}
	if st.Files == 0 {
		return Stats{}, errorf("unpack", "", "%w: archive has no regular file", ErrEmpty)
	}
	st.RawSize = cr.n
	return st, nil
}

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

func readErr(name string, err error, cr *countReader, lim Limits) error {
	var ae *Error
	switch {
	case errors.As(err, &ae):
		return err
	case cr.over:
		return errorf("unpack", name, "%w: archive is over the %s raw size limit", ErrTooLarge, mib(lim.MaxRawSize))
	case errors.Is(err, tar.ErrInsecurePath):
		return errorf("unpack", name, "%w: %v", ErrUnsafePath, err)
	case errors.Is(err, tar.ErrHeader), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, tar.ErrFieldTooLong):
		return errorf("unpack", name, "%w: not a valid tar: %v", ErrMalformed, err)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) || name != "" {
		return &Error{Op: "unpack", Path: name, Err: err}
	}
	// Anything else from tar.Reader.Next is a format problem.
	return errorf("unpack", name, "%w: not a valid tar: %v", ErrMalformed, err)
}

// entryName checks a header and returns its clean name and whether it is a
// directory.
func entryName(hdr *tar.Header) (string, bool, error) {
	var isDir bool
	switch hdr.Typeflag {
	case tar.TypeReg, '\x00': // '\x00' is the pre-POSIX regular file flag
		isDir = false
	case tar.TypeDir:
		isDir = true
	case tar.TypeSymlink:
		return "", false, fmt.Errorf("%w: symlink (to %q)", ErrUnsupported, hdr.Linkname)
	case tar.TypeLink:
		return "", false, fmt.Errorf("%w: hard link (to %q)", ErrUnsupported, hdr.Linkname)
	case tar.TypeChar, tar.TypeBlock:
		return "", false, fmt.Errorf("%w: device", ErrUnsupported)
	case tar.TypeFifo:
		return "", false, fmt.Errorf("%w: named pipe", ErrUnsupported)
	case tar.TypeGNUSparse:
		return "", false, fmt.Errorf("%w: sparse file", ErrUnsupported)
	default:
		return "", false, fmt.Errorf("%w: type flag %q", ErrUnsupported, hdr.Typeflag)
	}
	name := hdr.Name
	if isDir {
		name = strings.TrimSuffix(name, "/")
	} else if strings.HasSuffix(name, "/") {
		return "", false, fmt.Errorf("%w: regular file name ends with '/'", ErrUnsafePath)
	}
	if err := checkName(name); err != nil {
		return "", false, err
	}
	return name, isDir, nil
}

// claim records name as a file or directory, with its parents as implicit
// directories, refusing duplicates, case-only differences and file/directory
// conflicts.
func claim(kinds map[string]byte, folded map[string]string, name string, isDir bool) error {
	for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
		switch kinds[dir] {
		case kindFile:
			return fmt.Errorf("%w: %s is a file but %s needs it to be a directory", ErrDuplicate, dir, name)
		case 0:
			if err := fold(folded, dir); err != nil {
				return err
			}
			kinds[dir] = kindImplicit
		}
	}
	switch k := kinds[name]; {
	case k == kindImplicit && isDir:
		kinds[name] = kindDir
		return nil
	case k == kindImplicit:
		return fmt.Errorf("%w: %s is a file but earlier entries need it to be a directory", ErrDuplicate, name)
	case k != 0:
		return fmt.Errorf("%w: %s appears twice", ErrDuplicate, name)
	}
	if err := fold(folded, name); err != nil {
		return err
	}
	if isDir {
		kinds[name] = kindDir
	} else {
		kinds[name] = kindFile
	}
	return nil
}

func fold(folded map[string]string, name string) error {
	k := foldKey(name)
	if other, ok := folded[k]; ok && other != name {
		return fmt.Errorf("%w: %s and %s differ only in case", ErrDuplicate, other, name)
	}
	folded[k] = name
	return nil
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
