// Package local is the store.Store backend on a local directory, the
// embedded default: no service to run, objects are plain files.
//
// # Layout
//
// An object with key K is the file ROOT/K. Everything the backend needs for
// itself lives under ROOT/.mpship, which no key can name (store.ValidateKey
// refuses segments starting with '.'):
//
//	.mpship/lock          flock(2) taken around every commit
//	.mpship/tmp/          data and metadata being written
//	.mpship/meta/H.json   metadata of the object whose key hashes to H
//
// A metadata sidecar is named by the sha256 of its key, so sidecars of keys
// such as "a.json" and "a.json/b" cannot collide whatever the keys look like.
// It records the object's size, sha256, Content-Type and Cache-Control and
// the identity (device, inode and mtime) of the data file it describes.
//
// # Writes
//
// Put copies into a temporary file under .mpship/tmp while hashing, checks
// the size and any declared sha256, and fsyncs. Then, holding an exclusive
// flock on .mpship/lock (so the check of a PutIf condition and the write are
// atomic across goroutines and processes), it writes the sidecar (temporary
// file, fsync, rename) and renames the data into place, then fsyncs the
// directory. A writer killed at any point leaves at most a temporary file,
// which is never listed or served; Open removes temporary files untouched
// for StaleTempAge.
//
// # Reads
//
// Get and Stat trust a sidecar only if it describes the very file opened
// (same identity and size). Otherwise (a crash between the sidecar and the
// data rename, or a file copied in by hand) the sha256 is computed from the
// file, so a wrong hash is never served; Content-Type and Cache-Control are
// then empty, and the caller falls back to its defaults.
//
// The ETag is the quoted sha256 of the content, so two directories holding
// the same bytes agree, and it never depends on mtime.
package local

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mpship/mpship/store"
)

const (
	privDir = ".mpship"
	tmpDir  = privDir + "/tmp"
	metaDir = privDir + "/meta"
	lockFil = privDir + "/lock"
)

// StaleTempAge is how long a temporary file under .mpship/tmp may go
// unmodified before Open deletes it as the leftover of a killed writer.
// A live writer modifies its temporary file with every chunk it copies.
const StaleTempAge = 24 * time.Hour

// Options configure Open. The zero value opens an existing directory.
type Options struct {
	// Create makes the root directory (and its parents, mode 0755) when it
	// is missing. Default false: a missing root is an error, so a typo in
	// --store is not silently served as an empty store.
	Create bool
}

// Store is a store.Store on a local directory. It is safe for concurrent use
// by goroutines, and several Stores, in one process or many, may share one
// directory: commits are serialised by a flock on the directory's lock file.
type Store struct {
	dir  string // absolute path of the root
	loc  string // file:///dir
	root *os.Root
	mu   sync.Mutex // serialises commits where flock is unavailable

	// metas caches the Info of data files already described, by key, for
	// as long as the file's identity and size are the ones recorded: a
	// file is never rewritten in place by a Put (commits rename a new
	// file over it), and a change by hand changes its mtime, so a hit
	// saves reading and decoding the sidecar on every Get and Stat.
	metaMu sync.Mutex
	metas  map[string]cachedMeta
}

// cachedMeta is what describe learnt about one data file.
type cachedMeta struct {
	file string // fileID of the data file
	size int64
	meta store.Meta
}

// maxCachedMetas bounds the metadata cache; past it the cache starts over.
const maxCachedMetas = 4096

// Open opens the store rooted at the directory dir. It does not write
// anything unless opts.Create has to make the directory, apart from removing
// temporary files older than StaleTempAge; a read-only directory can be
// served. Close releases the directory handle.
func Open(dir string, opts Options) (*Store, error) {
	if dir == "" {
		return nil, &store.Error{Op: "open", Location: "file://", Err: errors.New("empty store directory; pass a directory path")}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, &store.Error{Op: "open", Location: dir, Err: err}
	}
	loc := (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist) && opts.Create:
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return nil, &store.Error{Op: "open", Location: loc, Err: fmt.Errorf("create store directory: %w", err)}
		}
	case errors.Is(err, fs.ErrNotExist):
		return nil, &store.Error{Op: "open", Location: loc, Err: missingDirError{abs}}
	case err != nil:
		return nil, &store.Error{Op: "open", Location: loc, Err: err}
	case !fi.IsDir():
		return nil, &store.Error{Op: "open", Location: loc, Err: fmt.Errorf("store path %s is not a directory; pass a directory", abs)}
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, &store.Error{Op: "open", Location: loc, Err: err}
	}
	s := &Store{dir: abs, loc: loc, root: root}
	s.removeStaleTemps(time.Now().Add(-StaleTempAge))
	return s, nil
}

// missingDirError is the error of Open for a missing root without
// Options.Create. It matches fs.ErrNotExist.
type missingDirError struct{ dir string }

func (e missingDirError) Error() string {
	return fmt.Sprintf("store directory %s does not exist; create it or pass a path to an existing one", e.dir)
}

func (e missingDirError) Is(target error) bool { return target == fs.ErrNotExist }

// Dir returns the absolute path of the store's root directory.
func (s *Store) Dir() string { return s.dir }

// Location returns "file://" followed by the absolute root directory.
func (s *Store) Location() string { return s.loc }

// Close releases the handle on the root directory. Using the Store after
// Close fails.
func (s *Store) Close() error { return s.root.Close() }

// Capabilities reports ConditionalPut (enforced with flock where the
// platform has it) and Local.
func (s *Store) Capabilities() store.Capabilities {
	return store.Capabilities{ConditionalPut: haveFlock, Local: true}
}

func (s *Store) fail(op, key string, err error) error {
	return &store.Error{Op: op, Location: s.loc, Key: key, Err: err}
}

// Get opens key. The Body of a whole-object Get is the *os.File itself, so
// it is an io.ReadSeeker (http.ServeContent can use it and sendfile); a
// ranged Body is an *io.SectionReader over the file with a Close.
func (s *Store) Get(ctx context.Context, key string, opts store.GetOptions) (*store.Object, error) {
	f, info, err := s.open(ctx, key)
	if err != nil {
		return nil, s.fail("get", key, err)
	}
	if opts.IfNoneMatch != "" && opts.IfNoneMatch == info.ETag {
		f.Close()
		return nil, s.fail("get", key, store.ErrNotModified)
	}
	if opts.Range == nil {
		return &store.Object{Info: info, Body: f}, nil
	}
	r := *opts.Range
	if r.Offset < 0 || r.Offset >= info.Size || r.Length == 0 || r.Length < -1 {
		f.Close()
		return nil, s.fail("get", key, fmt.Errorf("%w: offset %d length %d of a %d-byte object", store.ErrInvalidRange, r.Offset, r.Length, info.Size))
	}
	if r.Length == -1 || r.Length > info.Size-r.Offset {
		r.Length = info.Size - r.Offset
	}
	body := &sectionBody{SectionReader: io.NewSectionReader(f, r.Offset, r.Length), f: f}
	return &store.Object{Info: info, Range: &r, Body: body}, nil
}

// sectionBody is a ranged Get's body.
type sectionBody struct {
	*io.SectionReader
	f *os.File
}

func (b *sectionBody) Close() error { return b.f.Close() }

// Stat returns key's Info.
func (s *Store) Stat(ctx context.Context, key string) (store.Info, error) {
	f, info, err := s.open(ctx, key)
	if err != nil {
		return store.Info{}, s.fail("stat", key, err)
	}
	f.Close()
	return info, nil
}

// open opens the data file of key and describes it.
func (s *Store) open(ctx context.Context, key string) (*os.File, store.Info, error) {
	if err := store.ValidateKey(key); err != nil {
		return nil, store.Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return nil, store.Info{}, err
	}
	f, err := s.root.Open(filepath.FromSlash(key))
	if err != nil {
		return nil, store.Info{}, notExist(err)
	}
	info, err := s.describe(ctx, key, f)
	if err != nil {
		f.Close()
		return nil, store.Info{}, err
	}
	return f, info, nil
}

// notExist maps the ways a path can be absent to store.ErrNotExist.
func notExist(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return store.ErrNotExist
	}
	return err
}

// describe returns the Info of the open data file f of key, from its
// sidecar when the sidecar is about this very file, else by hashing f.
func (s *Store) describe(ctx context.Context, key string, f *os.File) (store.Info, error) {
	fi, err := f.Stat()
	if err != nil {
		return store.Info{}, err
	}
	if !fi.Mode().IsRegular() {
		return store.Info{}, store.ErrNotExist
	}
	info := store.Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}
	id := fileID(fi)
	s.metaMu.Lock()
	c, hit := s.metas[key]
	s.metaMu.Unlock()
	if hit && c.file == id && c.size == fi.Size() {
		info.Meta = c.meta
	} else if sc, ok := s.readSidecar(key); ok && sc.Size == fi.Size() && sc.File == id {
		info.Meta = store.Meta{ContentType: sc.ContentType, CacheControl: sc.CacheControl, SHA256: sc.SHA256}
	} else {
		h := sha256.New()
		if _, err := io.Copy(h, ctxReader{ctx, io.NewSectionReader(f, 0, fi.Size())}); err != nil {
			return store.Info{}, fmt.Errorf("hash object without valid metadata: %w", err)
		}
		info.Meta = store.Meta{SHA256: hex.EncodeToString(h.Sum(nil))}
	}
	if !hit || c.file != id || c.size != fi.Size() {
		s.metaMu.Lock()
		if s.metas == nil || len(s.metas) >= maxCachedMetas {
			s.metas = make(map[string]cachedMeta)
		}
		s.metas[key] = cachedMeta{file: id, size: fi.Size(), meta: info.Meta}
		s.metaMu.Unlock()
	}
	info.ETag = etag(info.Meta.SHA256)
	return info, nil
}

func etag(sha string) string { return `"` + sha + `"` }

// sidecar is the JSON metadata file of one object.
type sidecar struct {
	Key          string `json:"key"`
	Size         int64  `json:"size"`
	SHA256       string `json:"sha256"`
	ContentType  string `json:"content_type,omitempty"`
	CacheControl string `json:"cache_control,omitempty"`
	// File identifies the data file described (device, inode and mtime on
	// Unix), so a sidecar written just before a crash, or before someone
	// replaced the file by hand, is not taken for the current file's.
	File string `json:"file"`
}

func metaName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return metaDir + "/" + hex.EncodeToString(sum[:]) + ".json"
}

func (s *Store) readSidecar(key string) (sidecar, bool) {
	b, err := s.root.ReadFile(filepath.FromSlash(metaName(key)))
	if err != nil {
		return sidecar{}, false
	}
	var sc sidecar
	if json.Unmarshal(b, &sc) != nil || sc.Key != key || !isHex64(sc.SHA256) {
		return sidecar{}, false
	}
	return sc, true
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Put writes key atomically; see the package documentation for the steps.
// If meta.SHA256 is set and the bytes read hash differently, the put fails
// and nothing is written; if it is empty, the computed hash is stored.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, meta store.Meta) error {
	_, err := s.put(ctx, "put", key, r, size, meta, nil)
	return err
}

// PutIf is Put with cond checked under the store's lock, atomically with
// the write, against every goroutine and process writing this directory.
// A cond.IfMatch on a missing object fails with store.ErrPrecondition.
func (s *Store) PutIf(ctx context.Context, key string, r io.Reader, size int64, meta store.Meta, cond store.Condition) (store.Info, error) {
	if cond.IfNoneMatch == (cond.IfMatch != "") {
		return store.Info{}, s.fail("put", key, errors.New("condition must set exactly one of IfMatch and IfNoneMatch"))
	}
	return s.put(ctx, "put", key, r, size, meta, &cond)
}

func (s *Store) put(ctx context.Context, op, key string, r io.Reader, size int64, meta store.Meta, cond *store.Condition) (store.Info, error) {
	if err := store.ValidateKey(key); err != nil {
		return store.Info{}, s.fail(op, key, err)
	}
	if size < 0 {
		return store.Info{}, s.fail(op, key, fmt.Errorf("negative size %d", size))
	}
	if err := ctx.Err(); err != nil {
		return store.Info{}, s.fail(op, key, err)
	}
	if err := s.root.MkdirAll(filepath.FromSlash(tmpDir), 0o755); err != nil {
		return store.Info{}, s.fail(op, key, fmt.Errorf("create private directory: %w", err))
	}
	if err := s.root.MkdirAll(filepath.FromSlash(metaDir), 0o755); err != nil {
		return store.Info{}, s.fail(op, key, fmt.Errorf("create private directory: %w", err))
	}
	tmp, fi, sum, err := s.writeTemp(ctx, r, size)
	if err != nil {
		return store.Info{}, s.fail(op, key, err)
	}
	defer s.root.Remove(tmp) // a no-op once renamed into place
	if meta.SHA256 == "" {
		meta.SHA256 = sum
	} else if meta.SHA256 != sum {
		return store.Info{}, s.fail(op, key, fmt.Errorf("hash mismatch: content sha256 is %s, Meta.SHA256 says %s; nothing written", sum, meta.SHA256))
	}
	info := store.Info{Key: key, Size: size, ETag: etag(sum), ModTime: fi.ModTime(), Meta: meta}

	unlock, err := s.lock()
	if err != nil {
		return store.Info{}, s.fail(op, key, err)
	}
	defer unlock()
	if err := ctx.Err(); err != nil {
		return store.Info{}, s.fail(op, key, err)
	}
	if cond != nil {
		if err := s.check(ctx, key, *cond); err != nil {
			return store.Info{}, s.fail(op, key, err)
		}
	}
	if err := s.commit(key, tmp, fi, meta); err != nil {
		return store.Info{}, s.fail(op, key, err)
	}
	return info, nil
}

// writeTemp copies exactly size bytes of r into a new synced temporary file
// and returns its name, its FileInfo and its sha256.
func (s *Store) writeTemp(ctx context.Context, r io.Reader, size int64) (string, fs.FileInfo, string, error) {
	name := tmpDir + "/" + rand.Text() + ".data"
	f, err := s.root.OpenFile(filepath.FromSlash(name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", nil, "", fmt.Errorf("create temporary file: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			s.root.Remove(filepath.FromSlash(name))
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(ctxReader{ctx, r}, size+1))
	if err != nil {
		return "", nil, "", fmt.Errorf("read content after %d bytes: %w", n, err)
	}
	if n != size {
		return "", nil, "", fmt.Errorf("content has %s bytes, want size %d; nothing written", countWord(n, size), size)
	}
	if err := f.Sync(); err != nil {
		return "", nil, "", err
	}
	fi, err := f.Stat()
	if err != nil {
		return "", nil, "", err
	}
	if err := f.Close(); err != nil {
		return "", nil, "", err
	}
	ok = true
	return filepath.FromSlash(name), fi, hex.EncodeToString(h.Sum(nil)), nil
}

func countWord(n, size int64) string {
	if n > size {
		return "more than " + fmt.Sprint(size)
	}
	return fmt.Sprint(n)
}

// check evaluates cond against the current object. The lock is held.
func (s *Store) check(ctx context.Context, key string, cond store.Condition) error {
	f, cur, err := s.open(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotExist):
		if cond.IfMatch != "" {
			return fmt.Errorf("%w: object does not exist, want ETag %s", store.ErrPrecondition, cond.IfMatch)
		}
		return nil
	case err != nil:
		return err
	}
	f.Close()
	if cond.IfNoneMatch {
		return fmt.Errorf("%w: object exists (ETag %s)", store.ErrPrecondition, cur.ETag)
	}
	if cur.ETag != cond.IfMatch {
		return fmt.Errorf("%w: ETag is %s, want %s", store.ErrPrecondition, cur.ETag, cond.IfMatch)
	}
	return nil
}

// commit writes the sidecar of the temporary data file tmp, then renames tmp
// to key. The lock is held.
func (s *Store) commit(key, tmp string, fi fs.FileInfo, meta store.Meta) error {
	b, err := json.Marshal(sidecar{
		Key: key, Size: fi.Size(), SHA256: meta.SHA256,
		ContentType: meta.ContentType, CacheControl: meta.CacheControl,
		File: fileID(fi),
	})
	if err != nil {
		return err
	}
	if err := s.writeFileAtomic(metaName(key), b); err != nil {
		return fmt.Errorf("write metadata: %w", err)
	}
	dst := filepath.FromSlash(key)
	if dir := path.Dir(key); dir != "." {
		if err := s.root.MkdirAll(filepath.FromSlash(dir), 0o755); err != nil {
			if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("a parent of the key is an object, and a directory store cannot hold both a key and keys below it: %w", err)
			}
			return err
		}
	}
	if fi, err := s.root.Lstat(dst); err == nil && fi.IsDir() {
		return fmt.Errorf("keys exist below this key, and a directory store cannot hold both a key and keys below it")
	}
	if err := s.root.Rename(tmp, dst); err != nil {
		return err
	}
	return s.syncDir(path.Dir(key))
}

// writeFileAtomic writes name (slash-separated, relative to the root) by
// temporary file, fsync and rename.
func (s *Store) writeFileAtomic(name string, b []byte) error {
	tmp := filepath.FromSlash(tmpDir + "/" + rand.Text() + ".meta")
	f, err := s.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = s.root.Rename(tmp, filepath.FromSlash(name))
	}
	if err != nil {
		s.root.Remove(tmp)
		return err
	}
	return s.syncDir(path.Dir(name))
}

func (s *Store) syncDir(dir string) error {
	d, err := s.root.Open(filepath.FromSlash(dir))
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}

// lock takes the store's commit lock: a process-local mutex plus, where the
// platform has it, an exclusive flock on .mpship/lock.
func (s *Store) lock() (unlock func(), err error) {
	if err := s.root.MkdirAll(privDir, 0o755); err != nil {
		return nil, fmt.Errorf("create private directory: %w", err)
	}
	s.mu.Lock()
	f, err := s.root.OpenFile(filepath.FromSlash(lockFil), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := flock(f); err != nil {
		f.Close()
		s.mu.Unlock()
		return nil, fmt.Errorf("lock %s: %w", lockFil, err)
	}
	return func() { f.Close(); s.mu.Unlock() }, nil // closing releases the flock
}

// List calls fn for each object under prefix in lexical key order. It skips
// .mpship, anything whose name is not a legal key, and anything that is not
// a regular file or directory (symbolic links included).
func (s *Store) List(ctx context.Context, prefix string, fn func(store.Info) error) error {
	if err := store.ValidatePrefix(prefix); err != nil {
		return s.fail("list", prefix, err)
	}
	if err := s.walk(ctx, "", prefix, fn); err != nil {
		var se *store.Error
		if errors.As(err, &se) {
			return err
		}
		return s.fail("list", prefix, err)
	}
	return nil
}

// walk lists directory dir ("" for the root, else a key prefix ending in
// '/'). Within a directory, entries sort by name with directories as
// name+"/", which visits keys in global lexical order: "a-b" < "a/b".
func (s *Store) walk(ctx context.Context, dir, prefix string, fn func(store.Info) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	name := "."
	if dir != "" {
		name = filepath.FromSlash(strings.TrimSuffix(dir, "/"))
	}
	d, err := s.root.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && dir != "" { // deleted while listing
			return nil
		}
		return err
	}
	ents, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return err
	}
	type ent struct {
		name string // key, with a trailing '/' for directories
		dir  bool
	}
	var list []ent
	for _, e := range ents {
		n := e.Name()
		if store.ValidateKey(n) != nil { // also skips .mpship
			continue
		}
		switch {
		case e.IsDir():
			k := dir + n + "/"
			if strings.HasPrefix(k, prefix) || strings.HasPrefix(prefix, k) {
				list = append(list, ent{k, true})
			}
		case e.Type().IsRegular():
			if k := dir + n; strings.HasPrefix(k, prefix) {
				list = append(list, ent{k, false})
			}
		}
	}
	slices.SortFunc(list, func(a, b ent) int { return strings.Compare(a.name, b.name) })
	for _, e := range list {
		if e.dir {
			if err := s.walk(ctx, e.name, prefix, fn); err != nil {
				return err
			}
			continue
		}
		info, err := s.Stat(ctx, e.name)
		if errors.Is(err, store.ErrNotExist) { // deleted while listing
			continue
		}
		if err != nil {
			return err
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

// Delete removes key and its metadata, then the directories left empty.
// A missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := store.ValidateKey(key); err != nil {
		return s.fail("delete", key, err)
	}
	if err := ctx.Err(); err != nil {
		return s.fail("delete", key, err)
	}
	unlock, err := s.lock()
	if err != nil {
		return s.fail("delete", key, err)
	}
	defer unlock()
	dst := filepath.FromSlash(key)
	fi, err := s.root.Lstat(dst)
	switch {
	case err != nil && notExist(err) == store.ErrNotExist:
	case err != nil:
		return s.fail("delete", key, err)
	case fi.IsDir(): // keys below key, but no object key
	default:
		if err := s.root.Remove(dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return s.fail("delete", key, err)
		}
	}
	if err := s.root.Remove(filepath.FromSlash(metaName(key))); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return s.fail("delete", key, err)
	}
	// Prune directories left empty so a later Put of a key equal to one of
	// them succeeds. Remove fails on the first non-empty one.
	dir := path.Dir(key)
	for ; dir != "."; dir = path.Dir(dir) {
		if s.root.Remove(filepath.FromSlash(dir)) != nil {
			break
		}
	}
	if err := s.syncDir(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return s.fail("delete", key, err)
	}
	return nil
}

// removeStaleTemps deletes temporary files not modified since before.
// Errors are ignored: the files are invisible either way.
func (s *Store) removeStaleTemps(before time.Time) {
	d, err := s.root.Open(filepath.FromSlash(tmpDir))
	if err != nil {
		return
	}
	ents, _ := d.ReadDir(-1)
	d.Close()
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && fi.ModTime().Before(before) {
			s.root.Remove(filepath.FromSlash(tmpDir + "/" + e.Name()))
		}
	}
}

// ctxReader fails reads once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

var _ store.Store = (*Store)(nil)
