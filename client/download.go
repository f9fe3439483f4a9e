package client

// The download path: from a verified release manifest to a staged version
// directory. A check calls stage; everything about how package bytes reach
// the device (full blobs, resumed with Range and If-Range) lives here.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mpship/mpship/internal/archive"
	"github.com/mpship/mpship/manifests"
)

// partialMaxAge is how long (by modification time) a partial download is
// kept in an app's tmp directory for a later check to resume.
const partialMaxAge = 7 * 24 * time.Hour

// Names of partial downloads in an app's tmp directory: the blob's bytes so
// far, and the validator (ETag) of the response they came from.
const (
	partialPrefix  = "blob-"
	partialSuffix  = ".part"
	validatorSufix = ".etag"
)

func isPartial(name string) bool {
	return strings.HasPrefix(name, partialPrefix) &&
		(strings.HasSuffix(name, partialSuffix) || strings.HasSuffix(name, validatorSufix))
}

// stage downloads, verifies and unpacks every package of rel into a new
// directory under the app's tmp directory, syncs it to disk, and returns
// it. The main package fills the directory; a subpackage fills its root
// inside it. On error nothing is left behind but partial downloads, which
// the next check resumes.
func (r *Runtime) stage(ctx context.Context, app string, rel *manifests.Release, m *meter) (_ string, err error) {
	tmp := filepath.Join(r.appDir(app), tmpDir)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return "", fmt.Errorf("stage %s@%s: %w: %w", app, rel.Version, ErrState, err)
	}
	dir, err := os.MkdirTemp(tmp, "stage-"+rel.Version+"-")
	if err != nil {
		return "", fmt.Errorf("stage %s@%s: %w: %w", app, rel.Version, ErrState, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	main := rel.Package(manifests.MainPackage)
	if err := r.installPackage(ctx, tmp, dir, rel, main, m); err != nil {
		return "", fmt.Errorf("install %s@%s: %w", app, rel.Version, err)
	}
	for i := range rel.Packages {
		p := &rel.Packages[i]
		if p.Name == manifests.MainPackage {
			continue
		}
		if err := r.installPackage(ctx, tmp, filepath.Join(dir, filepath.FromSlash(p.Root)), rel, p, m); err != nil {
			return "", fmt.Errorf("install %s@%s: %w", app, rel.Version, err)
		}
	}
	if !r.opts.NoSync {
		if err := syncTree(dir); err != nil {
			return "", fmt.Errorf("install %s@%s: %w: sync: %w", app, rel.Version, ErrState, err)
		}
	}
	return dir, nil
}

// installPackage obtains package p's archive by the cheapest verified route
// (packageArchive in route.go: reused from the device, a delta, or the full
// blob, its raw size and sha256 checked against the signed manifest before
// a byte of it is unpacked) and unpacks it into dst.
func (r *Runtime) installPackage(ctx context.Context, tmp, dst string, rel *manifests.Release, p *manifests.Package, m *meter) error {
	f, done, err := r.packageArchive(ctx, tmp, rel, p, m)
	if err != nil {
		return fmt.Errorf("package %s: %w", p.Name, err)
	}
	defer done()
	// A file's bytes are in the archive at least once, so none is larger
	// than it; a content stored once for several names unpacks to more
	// than the archive, so the total is bounded by the device's limit.
	if _, err := archive.Unpack(f, dst, archive.Limits{
		MaxFileSize: p.RawSize, MaxRawSize: r.opts.Limits.MaxRawSize, MaxFiles: r.opts.Limits.MaxFiles,
	}); err != nil {
		return fmt.Errorf("package %s: %w: %w", p.Name, ErrUnpack, err)
	}
	return nil
}

// downloadBlob fetches package p's blob into a file in tmp and checks its
// signed size and sha256: nothing downstream ever sees unverified bytes. It
// returns the file, positioned anywhere, and a function that closes and
// deletes it.
//
// The bytes go to tmp/blob-<sha256>.part, kept when the transfer breaks
// (a network error, a timeout, a crash), so that the next attempt, in this
// check or a later one, asks only for the rest (rule 8): Range from the
// bytes on disk, and If-Range with the ETag of the response they came from,
// so a server whose object changed sends it all again (200) rather than a
// tail that does not fit. The file is locked while in use; a second
// download of the same blob at the same time (another Runtime or process)
// uses a private file instead. The whole blob is hashed when complete, so
// a partial file damaged by a power loss costs one failed check, never a
// bad install: a mismatch deletes it.
func (r *Runtime) downloadBlob(ctx context.Context, tmp string, p *manifests.Package, m *meter) (*os.File, func(), error) {
	u := r.fetch.url(p.Path)
	if !manifests.ValidHex(p.SHA256) {
		return nil, nil, fmt.Errorf("download %s: %w: sha256 %q", u, manifests.ErrMalformed, p.SHA256)
	}
	part := filepath.Join(tmp, partialPrefix+p.SHA256+partialSuffix)
	vfile := strings.TrimSuffix(part, partialSuffix) + validatorSufix
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("download %s: %w: %w", u, ErrState, err)
	}
	locked, err := tryLockFile(f)
	if err != nil || !locked {
		// Someone else is downloading this blob into the shared file.
		f.Close()
		if f, err = os.CreateTemp(tmp, "dl-*"); err != nil {
			return nil, nil, fmt.Errorf("download %s: %w: %w", u, ErrState, err)
		}
		part, vfile = f.Name(), f.Name()+validatorSufix
	}
	done := func() {
		if locked {
			unlockFile(f)
		}
		f.Close()
		os.Remove(part)
		os.Remove(vfile)
	}
	keep := func() {
		if locked {
			unlockFile(f)
		}
		f.Close()
		if !locked {
			os.Remove(part)
			os.Remove(vfile)
		}
	}
	err = r.fetch.withRetry(ctx, func() error {
		return r.fetchInto(ctx, u, p, f, vfile, m)
	})
	if err == nil {
		return f, done, nil
	}
	// Keep what a transient failure or a cancellation (Close, a process
	// that exits) left for the next attempt to resume; never resume from
	// bad bytes or for an object that is gone.
	resumable := IsTransient(err) || errors.Is(err, context.Canceled)
	if fi, serr := f.Stat(); serr == nil && fi.Size() > 0 && resumable {
		keep()
	} else {
		done()
	}
	return nil, nil, err
}

// fetchInto makes one attempt at completing f with the blob at u: a Range
// request for the rest when f holds a prefix, a plain GET otherwise. On
// success f holds exactly the blob, size and sha256 checked.
func (r *Runtime) fetchInto(ctx context.Context, u string, p *manifests.Package, f *os.File, vfile string, m *meter) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("download %s: %w: %w", u, ErrState, err)
	}
	have := fi.Size()
	if have >= p.Size {
		// Complete (a crash between download and unpack) or too long:
		// verify what is there; on a mismatch start over.
		if have == p.Size && verifyFile(f, p) == nil {
			return nil
		}
		have = 0
	}
	var hdr http.Header
	if have > 0 {
		hdr = http.Header{"Range": {fmt.Sprintf("bytes=%d-", have)}}
		if v, err := os.ReadFile(vfile); err == nil && len(v) > 0 {
			hdr.Set("If-Range", string(v))
		}
	}
	resp, err := r.fetch.get(ctx, p.Path, hdr, m)
	var se *StatusError
	if errors.As(err, &se) && se.StatusCode == http.StatusRequestedRangeNotSatisfiable {
		// The partial file does not fit the object: start over.
		if terr := f.Truncate(0); terr != nil {
			return fmt.Errorf("download %s: %w: %w", u, ErrState, terr)
		}
		have = 0
		resp, err = r.fetch.get(ctx, p.Path, nil, m)
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	start := int64(0)
	if resp.StatusCode == http.StatusPartialContent {
		first, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || first != have || total != p.Size {
			// A range other than the one asked for: refuse it; the next
			// attempt starts over.
			if terr := f.Truncate(0); terr != nil {
				return fmt.Errorf("download %s: %w: %w", u, ErrState, terr)
			}
			return networkError("download", u, fmt.Errorf("Content-Range %q does not continue %d of %d bytes", resp.Header.Get("Content-Range"), have, p.Size))
		}
		start = have
	} else {
		// A whole object: what was on disk is replaced, and its
		// validator remembered for a later resume.
		if err := f.Truncate(0); err != nil {
			return fmt.Errorf("download %s: %w: %w", u, ErrState, err)
		}
		if etag := resp.Header.Get("ETag"); etag != "" && !strings.HasPrefix(etag, "W/") {
			if err := os.WriteFile(vfile, []byte(etag), 0o644); err != nil {
				return fmt.Errorf("download %s: %w: %w", u, ErrState, err)
			}
		} else {
			os.Remove(vfile)
		}
	}
	if want := p.Size - start; resp.ContentLength >= 0 && resp.ContentLength != want {
		return fmt.Errorf("download %s: %w: Content-Length %d, want %d", u, manifests.ErrSizeMismatch, resp.ContentLength, want)
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return fmt.Errorf("download %s: %w: %w", u, ErrState, err)
	}
	body := resp.Body.(*countingBody)
	n, err := io.Copy(f, io.LimitReader(body, p.Size-start+1))
	if err != nil {
		if body.err != nil {
			return networkError("download", u, body.err)
		}
		return fmt.Errorf("download %s: %w: %w", u, ErrState, err)
	}
	if start+n < p.Size {
		// The body ended early without an error (no Content-Length):
		// keep it and resume.
		return networkError("download", u, io.ErrUnexpectedEOF)
	}
	if err := verifyFile(f, p); err != nil {
		return fmt.Errorf("download %s: %w", u, err)
	}
	return nil
}

// verifyFile checks that f holds exactly p's blob.
func verifyFile(f *os.File, p *manifests.Package) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("%w: %w", ErrState, err)
	}
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(f, p.Size+1))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrState, err)
	}
	return manifests.CheckSum(n, hex.EncodeToString(h.Sum(nil)), p.Size, p.SHA256)
}

// parseContentRange parses "bytes first-last/total".
func parseContentRange(s string) (first, total int64, ok bool) {
	rest, found := strings.CutPrefix(s, "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, tot, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, false
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, false
	}
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	total, err3 := strconv.ParseInt(tot, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || first < 0 || last < first || last >= total {
		return 0, 0, false
	}
	return first, total, true
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// syncTree flushes every file and directory under dir to stable storage, so
// that once the state file names the version, its files survive a crash.
// Files are synced by a few goroutines at once: the file system commits
// concurrent syncs together, which makes a package of a thousand files
// several times faster to sync than one file at a time.
func syncTree(dir string) error {
	var g errgroup.Group
	g.SetLimit(syncWorkers)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			return nil
		}
		g.Go(func() error {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			err = f.Sync()
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			return err
		})
		return nil
	})
	if gerr := g.Wait(); err == nil {
		err = gerr
	}
	return err
}

// syncWorkers is how many files syncTree syncs at once.
const syncWorkers = 8

var _ io.Writer = (*countWriter)(nil)
