package archive

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Default limits. A WeChat mini program is capped at 2 MB per package and
// 20 MB in all; these defaults leave ample room above that while keeping a
// hostile archive from filling a phone.
const (
	// DefaultMaxFileSize is the largest single file: 32 MiB.
	DefaultMaxFileSize = 32 << 20
	// DefaultMaxRawSize is the largest uncompressed package (the archive),
	// and the most bytes its files may add up to: 256 MiB.
	DefaultMaxRawSize = 256 << 20
	// DefaultMaxFiles is the most regular files in one package: 50,000.
	DefaultMaxFiles = 50_000
	// MaxNameLen is the longest entry name in bytes. It is fixed, not a
	// Limits field: longer names cannot be stored on common file systems.
	MaxNameLen = 1024
)

// Limits bound what Pack writes and Unpack accepts. A zero field means the
// default for that field. Limits is a plain value, safe to share.
type Limits struct {
	// MaxFileSize is the largest regular file in bytes. Default
	// DefaultMaxFileSize (32 MiB).
	MaxFileSize int64
	// MaxRawSize is the largest uncompressed package (the archive) in
	// bytes, and also the most its files may add up to once unpacked, a
	// content stored once for several names counted for each. Default
	// DefaultMaxRawSize (256 MiB).
	MaxRawSize int64
	// MaxFiles is the most regular files in a package. Default
	// DefaultMaxFiles (50,000).
	MaxFiles int
}

// withDefaults fills zero (or negative) fields with the defaults.
func (l Limits) withDefaults() Limits {
	if l.MaxFileSize <= 0 {
		l.MaxFileSize = DefaultMaxFileSize
	}
	if l.MaxRawSize <= 0 {
		l.MaxRawSize = DefaultMaxRawSize
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultMaxFiles
	}
	return l
}

// Stats describes a packed or unpacked package.
type Stats struct {
	// Files is the number of regular files.
	Files int
	// ContentSize is the sum of the regular files' sizes: the source bytes,
	// a file stored once for several names counted for each of them.
	ContentSize int64
	// RawSize is the length of the archive in bytes.
	RawSize int64
}

// Sentinel errors wrapped by every *Error. Test with errors.Is.
var (
	// ErrUnsafePath: an entry name is absolute, contains "..", ".", an empty
	// segment, a backslash, a control character or invalid UTF-8, is too
	// long, or a symlink points outside the source tree.
	ErrUnsafePath = errors.New("unsafe path")
	// ErrTooLarge: a file, the package or the file count is over a limit.
	ErrTooLarge = errors.New("over limit")
	// ErrUnsupported: a source entry is not a regular file, a directory or
	// a symlink to a regular file inside the source (device, pipe, socket).
	ErrUnsupported = errors.New("unsupported entry type")
	// ErrDuplicate: two entries have the same name, names that differ only
	// in case, or one is a file and the other a directory under it.
	ErrDuplicate = errors.New("duplicate entry")
	// ErrEmpty: the source or archive holds no regular file.
	ErrEmpty = errors.New("no regular files")
	// ErrMalformed: the bytes are not a valid MPK1 archive or zstd stream,
	// or an option is invalid.
	ErrMalformed = errors.New("malformed")
	// ErrChanged: a source file changed size while it was being packed.
	ErrChanged = errors.New("file changed while packing")
)

// Error is the error Pack, Unpack and the compression helpers return: the
// operation, the path concerned (an entry name, a source path, or empty) and
// the cause, which wraps one of the sentinel errors or an I/O error.
type Error struct {
	Op   string // "pack", "encode", "parse", "unpack", "compress", "decompress"
	Path string
	Err  error
}

func (e *Error) Error() string {
	if e.Path == "" {
		return e.Op + ": " + e.Err.Error()
	}
	p := e.Path
	if !printable(p) {
		p = strconv.Quote(p)
	}
	return e.Op + " " + p + ": " + e.Err.Error()
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func (e *Error) Unwrap() error { return e.Err }

func errorf(op, path string, format string, args ...any) error {
	return &Error{Op: op, Path: path, Err: fmt.Errorf(format, args...)}
}

// checkName validates a slash-separated entry name (without a trailing
// slash) as it appears in a package, returning a reason when it is unsafe.
// Pack applies it too, so that whatever Pack writes, Unpack accepts.
func checkName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty name", ErrUnsafePath)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: name is %d bytes, over the %d-byte limit", ErrUnsafePath, len(name), MaxNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: name is not valid UTF-8", ErrUnsafePath)
	case name[0] == '/':
		return fmt.Errorf("%w: absolute path", ErrUnsafePath)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: control character %q in name", ErrUnsafePath, r)
		}
		if r == '\\' {
			return fmt.Errorf("%w: backslash in name (a path separator on Windows)", ErrUnsafePath)
		}
	}
	for seg := range strings.SplitSeq(name, "/") {
		switch seg {
		case "":
			return fmt.Errorf("%w: empty path segment", ErrUnsafePath)
		case ".", "..":
			return fmt.Errorf("%w: %q path segment", ErrUnsafePath, seg)
		}
	}
	return nil
}

// foldKey is the key under which names that a case-insensitive file system
// would confuse collide.
func foldKey(name string) string { return strings.ToLower(name) }

// mib formats a byte limit for messages.
func mib(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
