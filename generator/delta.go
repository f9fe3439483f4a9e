package generator

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"golang.org/x/mod/semver"

	"github.com/mpship/mpship/internal/archive"
	"github.com/mpship/mpship/internal/delta"
	"github.com/mpship/mpship/manifests"
	"github.com/mpship/mpship/store"
)

// Defaults and limits of Options.Deltas.
const (
	// DefaultDeltas is how many earlier releases get a delta to the new
	// one by default.
	DefaultDeltas = 3
	// MaxDeltas is the largest Options.Deltas accepted.
	MaxDeltas = 10
)

// A delta is kept only when it is at most this fraction of the full
// package: below that, the bytes it saves devices are worth the extra blob
// and the work of applying it; above it, a device may as well download the
// package.
const (
	deltaKeepNum = 1
	deltaKeepDen = 2
)

// Delta is a delta made for one package, with its blob.
type Delta struct {
	manifests.Delta
	// Blob is the MPD1 patch.
	Blob []byte
}

// DeltaSkip says why an earlier release got no delta for a package.
type DeltaSkip struct {
	// FromVersion is the earlier release.
	FromVersion string `json:"from_version"`
	// Reason says why, for a person.
	Reason string `json:"reason"`
}

// deltaStep makes, for each package, a delta from the same package in each
// of the channel's last Options.Deltas releases (see deltaBases), reading
// their packages back from the store. A delta is kept when it is at most
// half the size of the full package; the others, bases whose package is
// missing or damaged in the store, and bases with the very same package
// (devices reuse it as it is) are recorded as skipped. A version that is
// already released (the release manifest is reused as it is) gets no new
// deltas.
type deltaStep struct{}

func (deltaStep) String() string { return "delta" }

func (deltaStep) Run(ctx context.Context, r *Release) error {
	o := &r.Options
	if o.Deltas < 0 || r.Existing != nil {
		return nil
	}
	k := o.Deltas
	if k == 0 {
		k = DefaultDeltas
	}
	bases, err := deltaBases(ctx, r, k)
	if err != nil {
		return err
	}
	for _, v := range bases {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := addDeltas(ctx, r, v); err != nil {
			return err
		}
	}
	for _, p := range r.Packages {
		slices.SortStableFunc(p.Deltas, func(a, b *Delta) int { return cmp.Compare(a.Size, b.Size) })
	}
	return nil
}

// deltaBases returns the versions to make deltas from, at most k, best
// first. A release manifest records no history, so the releases are found
// by listing apps/<app>/releases/: the channel's current version comes
// first (the version most devices on the channel run), then the other
// versions lower than the new one, highest first, leaving out pre-releases
// unless the new version is one (so that a stable release is patched from
// stable releases, not from the betas that led to it).
func deltaBases(ctx context.Context, r *Release, k int) ([]string, error) {
	o := &r.Options
	prefix := "apps/" + o.App + "/releases/"
	var versions []string
	err := o.Store.List(ctx, prefix, func(info store.Info) error {
		v, ok := strings.CutSuffix(strings.TrimPrefix(info.Key, prefix), ".json")
		if ok && manifests.ValidateVersion(v) == nil && manifests.CompareVersions(v, o.Version) < 0 {
			versions = append(versions, v)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list earlier releases for deltas: %w", err)
	}
	slices.SortFunc(versions, func(a, b string) int { return manifests.CompareVersions(b, a) })
	var out []string
	if r.Previous != nil && slices.Contains(versions, r.Previous.Current.Version) {
		out = append(out, r.Previous.Current.Version)
	}
	pre := semver.Prerelease("v"+o.Version) != ""
	for _, v := range versions {
		if len(out) >= k {
			break
		}
		if (pre || semver.Prerelease("v"+v) == "") && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out[:min(len(out), k)], nil
}

// addDeltas makes the deltas from release version v to every package of r
// that v also has.
func addDeltas(ctx context.Context, r *Release, v string) error {
	o := &r.Options
	skip := func(p *Package, format string, args ...any) {
		p.DeltaSkips = append(p.DeltaSkips, DeltaSkip{FromVersion: v, Reason: fmt.Sprintf(format, args...)})
	}
	key := manifests.ReleasePath(o.App, v)
	data, _, err := readCapped(ctx, o.Store, key, manifests.MaxReleaseSize)
	if err != nil && !errors.Is(err, store.ErrNotExist) && manifests.Code(err) == "" {
		return fmt.Errorf("read release manifest %s for deltas: %w", key, err)
	}
	var old *manifests.Release
	if err == nil {
		old, err = decodeRelease(data, o.App, v)
	}
	if err != nil {
		for _, p := range r.Packages {
			skip(p, "release manifest %s is unreadable: %v", key, err)
		}
		return nil
	}
	for _, p := range r.Packages {
		op := old.Package(p.Name)
		switch {
		case op == nil:
			skip(p, "release %s has no package %s", v, p.Name)
			continue
		case op.Format != manifests.FormatMPK1 || op.Encoding != manifests.EncodingZstd:
			skip(p, "its package is %s/%s, not %s/%s", op.Format, op.Encoding, manifests.FormatMPK1, manifests.EncodingZstd)
			continue
		case op.RawSHA256 == p.RawSHA256:
			// Devices that have it keep it (the client reuses a package
			// it holds): no delta needed.
			skip(p, "release %s has the same package", v)
			continue
		case op.RawSize > delta.DefaultMaxSize || int64(len(p.Raw)) > delta.DefaultMaxSize:
			skip(p, "packages over %d bytes get no deltas", delta.DefaultMaxSize)
			continue
		}
		base, err := readPackage(ctx, o.Store, op)
		if err != nil {
			if errors.Is(err, store.ErrNotExist) || manifests.Code(err) != "" || errors.Is(err, archive.ErrMalformed) || errors.Is(err, archive.ErrTooLarge) {
				skip(p, "its package is missing or damaged in the store: %v", err)
				continue
			}
			return fmt.Errorf("package %s: read the package of release %s for a delta: %w", p.Name, v, err)
		}
		d, err := delta.Diff(base, p.Raw)
		if err != nil {
			return fmt.Errorf("package %s: delta from %s: %w", p.Name, v, err)
		}
		if len(d)*deltaKeepDen > len(p.Blob)*deltaKeepNum {
			skip(p, "the delta (%d bytes) is more than half the package (%d bytes)", len(d), len(p.Blob))
			continue
		}
		sum := sha256Hex(d)
		p.Deltas = append(p.Deltas, &Delta{
			Delta: manifests.Delta{
				FromVersion:   v,
				FromRawSHA256: op.RawSHA256,
				Encoding:      manifests.DeltaEncodingMPD1,
				Path:          manifests.BlobPath(sum),
				Size:          int64(len(d)),
				SHA256:        sum,
			},
			Blob: d,
		})
	}
	return nil
}

// readPackage reads a package blob back from the store and returns its
// archive, checking the blob's size and sha256 and the archive's against
// the release manifest, with a decoder bounded by the signed raw size.
func readPackage(ctx context.Context, st store.Store, p *manifests.Package) ([]byte, error) {
	obj, err := st.Get(ctx, p.Path, store.GetOptions{})
	if err != nil {
		return nil, err
	}
	defer obj.Body.Close()
	blob, err := io.ReadAll(io.LimitReader(obj.Body, p.Size+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p.Path, err)
	}
	if err := manifests.CheckSum(int64(len(blob)), sha256Hex(blob), p.Size, p.SHA256); err != nil {
		return nil, fmt.Errorf("%s: %w", p.Path, err)
	}
	dec, err := archive.NewDecompressor(bytes.NewReader(blob), p.RawSize)
	if err != nil {
		return nil, err
	}
	defer dec.Close()
	raw, err := io.ReadAll(dec)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Path, err)
	}
	sum := sha256.Sum256(raw)
	if err := manifests.CheckSum(int64(len(raw)), hex.EncodeToString(sum[:]), p.RawSize, p.RawSHA256); err != nil {
		return nil, fmt.Errorf("%s uncompressed: %w", p.Path, err)
	}
	return raw, nil
}

// Compile-time check that the step is a Step.
var _ Step = deltaStep{}
