package client

// Routes: how a package's archive reaches the device. The cheapest verified
// one wins: a package the device already holds (0 bytes), a delta from a
// version it holds (a few kilobytes), or the full package.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mpship/mpship/internal/archive"
	"github.com/mpship/mpship/internal/delta"
	"github.com/mpship/mpship/manifests"
)

// Route names reported in CheckResult.Route and LaunchResult.Route.
const (
	// RouteFull: at least one package was downloaded whole.
	RouteFull = "full"
	// RouteDeltaPrefix starts "delta:<version>": every package downloaded
	// came as a delta, the main package's (or else the first one's) from
	// that installed version.
	RouteDeltaPrefix = "delta:"
)

// maxBaseVersions is how many version directories, newest first, are
// considered as bases: the state keeps three (installed, previous, ready).
const maxBaseVersions = 4

// base is a version on the device that may serve as the base of a package:
// its archive, rebuilt from the installed files, has rawSHA256.
type base struct {
	version   string
	dir       string   // the package's directory in the version
	exclude   []string // subpackage roots left out of the main package
	rawSHA256 string
}

// packageArchive returns the verified uncompressed archive of package p of
// rel in a temporary file in tmp, positioned at its start, and a function
// that closes and deletes it. It takes the cheapest route that verifies:
//
//  1. a version on the device whose files, packed again exactly as the
//     generator packs them, give p's archive (same raw sha256): nothing is
//     downloaded;
//  2. the smallest of p's deltas whose base (from_raw_sha256) is such a
//     rebuilt archive of a version on the device: the delta is downloaded,
//     verified against its signed size and sha256, and applied with
//     bounded memory (delta.Limits), and the result checked against p's
//     signed raw size and sha256;
//  3. the full package, decompressed with a decoder bounded by p's raw
//     size and checked likewise.
//
// A version whose files were modified on disk rebuilds to another sha256
// and is never a base. Routes 1 and 2 are tried only for packages within
// the delta limits (the smaller of 64 MiB and Limits.MaxRawSize), which
// bound the memory rebuilding a base takes. Any failure of route 2 (a corrupt or hostile delta,
// a base that changed meanwhile) is logged and route 3 taken; only a
// cancelled context stops the fallback. The route taken and the package or
// delta bytes received are recorded in m.
func (r *Runtime) packageArchive(ctx context.Context, tmp string, rel *manifests.Release, p *manifests.Package, m *meter) (*os.File, func(), error) {
	var bases []base
	if p.RawSize <= r.deltaLimits().MaxSize {
		bases = r.packageBases(rel, p)
	}
	for _, b := range bases {
		if b.rawSHA256 != p.RawSHA256 {
			continue
		}
		raw, err := r.baseArchive(b, p.RawSHA256)
		if err == nil {
			var f *os.File
			var done func()
			if f, done, err = writeTemp(tmp, raw); err == nil {
				m.routes = append(m.routes, "reuse:"+b.version)
				r.opts.Logger.Info("package unchanged: reused from disk", "app", rel.App, "version", rel.Version, "package", p.Name, "from", b.version)
				return f, done, nil
			}
		}
		r.opts.Logger.Warn("reuse of an installed package failed", "app", rel.App, "package", p.Name, "from", b.version, "err", err)
	}
	if d, b := r.pickDelta(p, bases); d != nil {
		f, done, err := r.viaDelta(ctx, tmp, p, d, b, m)
		if err == nil {
			m.routes = append(m.routes, RouteDeltaPrefix+d.FromVersion)
			return f, done, nil
		}
		if ctx.Err() != nil {
			return nil, nil, err
		}
		r.opts.Logger.Warn("delta failed; downloading the full package", "app", rel.App, "version", rel.Version,
			"package", p.Name, "from", d.FromVersion, "code", ErrorCode(err), "err", err)
	}
	f, done, err := r.viaFull(ctx, tmp, p, m)
	if err != nil {
		return nil, nil, err
	}
	m.routes = append(m.routes, RouteFull)
	return f, done, nil
}

// packageBases lists the versions on the device (version directories, the
// newest maxBaseVersions) with the sha256 of package p's archive rebuilt
// from each. A version whose files cannot be packed (missing, or changed
// into something the generator would refuse) is left out.
func (r *Runtime) packageBases(rel *manifests.Release, p *manifests.Package) []base {
	entries, _ := os.ReadDir(filepath.Join(r.appDir(rel.App), versionsDir))
	var versions []string
	for _, e := range entries {
		if e.IsDir() && manifests.ValidateVersion(e.Name()) == nil {
			versions = append(versions, e.Name())
		}
	}
	slices.SortFunc(versions, func(a, b string) int { return manifests.CompareVersions(b, a) })
	var out []base
	for _, v := range versions[:min(len(versions), maxBaseVersions)] {
		b := base{version: v, dir: r.versionDir(rel.App, v)}
		if p.Name == manifests.MainPackage {
			// The main package is the version's tree less the
			// subpackages' roots, taken from the new release: a version
			// laid out otherwise rebuilds to another sha256 and is not
			// used.
			for _, q := range rel.Packages {
				if q.Name != manifests.MainPackage {
					if fi, err := os.Stat(filepath.Join(b.dir, filepath.FromSlash(q.Root))); err == nil && fi.IsDir() {
						b.exclude = append(b.exclude, q.Root)
					}
				}
			}
		} else {
			b.dir = filepath.Join(b.dir, filepath.FromSlash(p.Root))
		}
		h := sha256.New()
		if _, err := archive.Pack(h, b.dir, archive.PackOptions{Exclude: b.exclude, Limits: r.archiveLimits()}); err != nil {
			continue
		}
		b.rawSHA256 = hex.EncodeToString(h.Sum(nil))
		out = append(out, b)
	}
	return out
}

// archiveLimits bound the rebuilding of a base: the delta limits.
func (r *Runtime) archiveLimits() archive.Limits {
	l := r.deltaLimits()
	return archive.Limits{MaxFileSize: l.MaxSize, MaxRawSize: l.MaxSize, MaxFiles: l.MaxFiles}
}

// baseArchive packs b's files again and checks the archive still has the
// sha256 want: the files may have changed since packageBases looked.
func (r *Runtime) baseArchive(b base, want string) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := archive.Pack(&buf, b.dir, archive.PackOptions{Exclude: b.exclude, Limits: r.archiveLimits()}); err != nil {
		return nil, fmt.Errorf("base %s: %w", b.version, err)
	}
	raw := buf.Bytes()
	sum := sha256.Sum256(raw)
	if got := hex.EncodeToString(sum[:]); got != want {
		return nil, fmt.Errorf("base %s: %w: its files changed on disk (archive sha256 %s, want %s)", b.version, manifests.ErrHashMismatch, got, want)
	}
	return raw, nil
}

// pickDelta returns the smallest delta of p that this device can apply: a
// known encoding, smaller than the package, within the delta limits, from
// a version on the device whose rebuilt archive is the delta's base.
func (r *Runtime) pickDelta(p *manifests.Package, bases []base) (*manifests.Delta, *base) {
	var best *manifests.Delta
	var from *base
	for i := range p.Deltas {
		d := &p.Deltas[i]
		if d.Encoding != manifests.DeltaEncodingMPD1 || d.Size >= p.Size || d.Size > r.opts.Limits.MaxPackageSize ||
			!manifests.ValidHex(d.SHA256) || d.Path != manifests.BlobPath(d.SHA256) || (best != nil && d.Size >= best.Size) {
			continue
		}
		for j := range bases {
			if bases[j].version == d.FromVersion && bases[j].rawSHA256 == d.FromRawSHA256 {
				best, from = d, &bases[j]
			}
		}
	}
	return best, from
}

// deltaLimits bound delta application on this device: the delta package's
// defaults, or the device's raw size limit when lower.
func (r *Runtime) deltaLimits() delta.Limits {
	return delta.Limits{MaxSize: min(r.opts.Limits.MaxRawSize, delta.DefaultMaxSize), MaxFiles: r.opts.Limits.MaxFiles}
}

// viaDelta downloads delta d (resumable, verified like any blob), rebuilds
// b's archive and applies d to it.
func (r *Runtime) viaDelta(ctx context.Context, tmp string, p *manifests.Package, d *manifests.Delta, b *base, m *meter) (*os.File, func(), error) {
	blob := &manifests.Package{Name: p.Name + " delta from " + d.FromVersion, Path: d.Path, Size: d.Size, SHA256: d.SHA256}
	before := m.body
	f, done, err := r.downloadBlob(ctx, tmp, blob, m)
	m.packageBytes += m.body - before
	if err != nil {
		return nil, nil, err
	}
	patch, err := readAllFile(f, d.Size)
	done()
	if err != nil {
		return nil, nil, err
	}
	old, err := r.baseArchive(*b, d.FromRawSHA256)
	if err != nil {
		return nil, nil, err
	}
	want := delta.Target{Size: p.RawSize}
	if _, err := hex.Decode(want.SHA256[:], []byte(p.RawSHA256)); err != nil {
		return nil, nil, fmt.Errorf("%w: raw_sha256 %q", manifests.ErrMalformed, p.RawSHA256)
	}
	raw, err := delta.Patch(old, patch, want, r.deltaLimits())
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrUnpack, err)
	}
	return writeTemp(tmp, raw)
}

// viaFull downloads p's blob (resumable, verified) and decompresses it
// into a temporary file with a decoder bounded by the signed raw size,
// checking the archive's size and sha256.
func (r *Runtime) viaFull(ctx context.Context, tmp string, p *manifests.Package, m *meter) (_ *os.File, _ func(), err error) {
	before := m.body
	blob, blobDone, err := r.downloadBlob(ctx, tmp, p, m)
	m.packageBytes += m.body - before
	if err != nil {
		return nil, nil, err
	}
	defer blobDone()
	if _, err := blob.Seek(0, io.SeekStart); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrState, err)
	}
	dec, err := archive.NewDecompressor(blob, p.RawSize)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrUnpack, err)
	}
	defer dec.Close()
	f, done, err := newTemp(tmp)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			done()
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), dec)
	if err != nil {
		var ae *archive.Error
		if errors.As(err, &ae) {
			return nil, nil, fmt.Errorf("%w: %w", ErrUnpack, err)
		}
		return nil, nil, fmt.Errorf("%w: %w", ErrState, err)
	}
	if err := manifests.CheckSum(n, hex.EncodeToString(h.Sum(nil)), p.RawSize, p.RawSHA256); err != nil {
		return nil, nil, fmt.Errorf("uncompressed: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrState, err)
	}
	return f, done, nil
}

// newTemp creates a temporary file for an archive in tmp.
func newTemp(tmp string) (*os.File, func(), error) {
	f, err := os.CreateTemp(tmp, "raw-*")
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrState, err)
	}
	return f, func() { f.Close(); os.Remove(f.Name()) }, nil
}

// writeTemp writes data to a new temporary file in tmp, positioned at its
// start.
func writeTemp(tmp string, data []byte) (*os.File, func(), error) {
	f, done, err := newTemp(tmp)
	if err != nil {
		return nil, nil, err
	}
	if _, err := f.Write(data); err != nil {
		done()
		return nil, nil, fmt.Errorf("%w: %w", ErrState, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		done()
		return nil, nil, fmt.Errorf("%w: %w", ErrState, err)
	}
	return f, done, nil
}

// readAllFile reads the verified blob in f, of size bytes.
func readAllFile(f *os.File, size int64) ([]byte, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrState, err)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrState, err)
	}
	return b, nil
}

// summarizeRoute names the routes of one check's packages (see RouteFull
// and RouteDeltaPrefix): "" when nothing was downloaded.
func summarizeRoute(routes []string) string {
	first := ""
	for _, rt := range routes {
		if rt == RouteFull {
			return RouteFull
		}
		if first == "" && strings.HasPrefix(rt, RouteDeltaPrefix) {
			first = rt
		}
	}
	return first
}
