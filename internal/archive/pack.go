package archive

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// ignoredNames are file and directory names Pack skips wherever they occur:
// version control metadata and files desktop systems drop into folders. No
// other name is skipped. The package documentation lists them.
var ignoredNames = []string{".git", ".hg", ".svn", ".DS_Store", "Thumbs.db"}

// PackOptions qualify Pack.
type PackOptions struct {
	// Exclude lists directories, relative to the source and slash-separated
	// ("packageA" or "pages/sub"), left out of this package, typically
	// because they are subpackages packed separately. Each must exist and
	// be a directory.
	Exclude []string
	// Limits bound the package; zero fields take the defaults.
	Limits Limits
}

type entry struct {
	name string // slash-separated, relative to the source
	abs  string // path to read (a symlink's resolved target)
	size int64
}

// Pack writes the MPK1 archive of the directory src to w and returns what it
// holds. See the package documentation for what is packed, skipped and
// refused. The files are read into memory (at most Limits.MaxRawSize bytes)
// and everything is checked before the first byte is written, so on error w
// holds nothing from this call. Pack may be called concurrently.
func Pack(w io.Writer, src string, opts PackOptions) (Stats, error) {
	lim := opts.Limits.withDefaults()
	found, err := collect(src, opts.Exclude, lim)
	if err != nil {
		return Stats{}, err
	}
	entries := make([]Entry, len(found))
	var st Stats
	for i, e := range found {
		data, err := readFile(e)
		if err != nil {
			var ae *Error
			if errors.As(err, &ae) {
				return Stats{}, err
			}
			return Stats{}, &Error{Op: "pack", Path: e.name, Err: err}
		}
		entries[i] = Entry{Name: e.name, Data: data}
		st.ContentSize += int64(len(data))
	}
	raw, err := Encode(entries, lim)
	if err != nil {
		var ae *Error
		if errors.As(err, &ae) {
			ae.Op = "pack"
			if errors.Is(err, ErrTooLarge) {
				ae.Err = fmt.Errorf("%w; make the package smaller or split it into subpackages", ae.Err)
			}
		}
		return Stats{}, err
	}
	if _, err := w.Write(raw); err != nil {
		return Stats{}, &Error{Op: "pack", Err: err}
	}
	st.Files = len(entries)
	st.RawSize = int64(len(raw))
	return st, nil
}

// readFile reads one file, checking that it is still a regular file of the
// size it had when the tree was walked.
func readFile(e entry) ([]byte, error) {
	f, err := os.Open(e.abs)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() || fi.Size() != e.size {
		return nil, errorf("pack", e.name, "%w: was %d bytes, now %d; re-run when the source is stable", ErrChanged, e.size, fi.Size())
	}
	data := make([]byte, e.size)
	n, err := io.ReadFull(f, data)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return nil, errorf("pack", e.name, "%w: shrank to %d bytes while being read; re-run when the source is stable", ErrChanged, n)
	}
	if err != nil {
		return nil, err
	}
	var one [1]byte
	if k, _ := f.Read(one[:]); k > 0 {
		return nil, errorf("pack", e.name, "%w: grew while being read; re-run when the source is stable", ErrChanged)
	}
	return data, nil
}

// collect walks src and returns the files to pack, in archive order, after
// checking names, types, symlinks and limits.
func collect(src string, exclude []string, lim Limits) ([]entry, error) {
	if src == "" {
		return nil, errorf("pack", src, "no source directory given")
	}
	root, err := filepath.EvalSymlinks(src)
	if err != nil {
		return nil, &Error{Op: "pack", Path: src, Err: fmt.Errorf("source directory: %w", err)}
	}
	root, err = filepath.Abs(root)
	if err != nil {
		return nil, &Error{Op: "pack", Path: src, Err: err}
	}
	fi, err := os.Stat(root)
	if err != nil {
		return nil, &Error{Op: "pack", Path: src, Err: err}
	}
	if !fi.IsDir() {
		return nil, errorf("pack", src, "source is not a directory")
	}
	excluded := make(map[string]bool, len(exclude))
	for _, x := range exclude {
		if err := checkName(x); err != nil {
			return nil, errorf("pack", x, "excluded directory must be a relative slash-separated path inside the source: %w", err)
		}
		excluded[x] = false
	}
	ignored := make(map[string]bool, len(ignoredNames))
	for _, n := range ignoredNames {
		ignored[n] = true
	}

	var entries []entry
	var files int
	var total int64
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if ignored[d.Name()] {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if _, ok := excluded[name]; ok {
			if !d.IsDir() {
				return errorf("pack", name, "excluded %s is not a directory", name)
			}
			excluded[name] = true
			return filepath.SkipDir
		}
		if err := checkName(name); err != nil {
			return errorf("pack", name, "%w; rename it", err)
		}
		e := entry{name: name, abs: p}
		switch t := d.Type(); {
		case t.IsDir():
			return nil // directories are implied by the names of their files
		case t.IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			e.size = info.Size()
		case t&fs.ModeSymlink != 0:
			if e.abs, e.size, err = resolveLink(root, p, name); err != nil {
				return err
			}
		default:
			return errorf("pack", name, "%w: %s is a %s; only regular files, directories and symlinks to files inside the source are packed", ErrUnsupported, name, typeName(t))
		}
		files++
		if files > lim.MaxFiles {
			return errorf("pack", name, "%w: more than %d files; remove files or split them into subpackages", ErrTooLarge, lim.MaxFiles)
		}
		if e.size > lim.MaxFileSize {
			return errorf("pack", name, "%w: file is %d bytes, over the %s per-file limit", ErrTooLarge, e.size, mib(lim.MaxFileSize))
		}
		total += e.size
		if total > lim.MaxRawSize {
			return errorf("pack", name, "%w: files add up to more than the %s raw size limit; make the package smaller or split it into subpackages", ErrTooLarge, mib(lim.MaxRawSize))
		}
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		var ae *Error
		if errors.As(err, &ae) {
			return nil, err
		}
		return nil, &Error{Op: "pack", Path: src, Err: err}
	}
	for x, found := range excluded {
		if !found {
			return nil, errorf("pack", x, "excluded directory %s does not exist in %s", x, src)
		}
	}
	if files == 0 {
		return nil, errorf("pack", src, "%w: the source directory holds none (.git, .hg, .svn, .DS_Store and Thumbs.db are skipped); is this the mini program's directory?", ErrEmpty)
	}
	// Names that a case-insensitive file system would confuse are refused
	// here, before anything is read, naming the later one in archive order.
	slices.SortFunc(entries, func(a, b entry) int { return Compare(a.name, b.name) })
	var tr tree
	for _, e := range entries {
		if err := tr.add(e.name); err != nil {
			return nil, errorf("pack", e.name, "%w; phones often have case-insensitive file systems: rename one", err)
		}
	}
	return entries, nil
}

// resolveLink follows the symlink at p (named name in the package) and
// returns the regular file it points to, refusing targets outside root,
// directories and dangling links.
func resolveLink(root, p, name string) (string, int64, error) {
	target, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", 0, errorf("pack", name, "%w: symlink %s points nowhere (%v); replace it with the file", ErrUnsafePath, name, err)
	}
	rel, err := filepath.Rel(root, target)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", 0, errorf("pack", name, "%w: symlink %s points outside the source tree; replace it with the file", ErrUnsafePath, name)
	}
	fi, err := os.Stat(target)
	if err != nil {
		return "", 0, &Error{Op: "pack", Path: name, Err: err}
	}
	if !fi.Mode().IsRegular() {
		return "", 0, errorf("pack", name, "%w: symlink %s points to %s, not a regular file; only symlinks to files are followed: replace it with a copy", ErrUnsupported, name, path.Clean(filepath.ToSlash(rel)))
	}
	return target, fi.Size(), nil
}

func typeName(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}
