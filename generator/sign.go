package generator

import (
	"context"
	"fmt"

	"github.com/mpship/mpship/manifests"
)

// signStep builds and signs the release manifest, or reuses the existing
// one of this version when it lists the same packages, then builds and
// signs the channel manifest pointing at it.
type signStep struct{}

func (signStep) String() string { return "sign" }

func (signStep) Run(_ context.Context, r *Release) error {
	o := &r.Options
	rel := &manifests.Release{
		SchemaVersion: manifests.SchemaVersion,
		App:           o.App,
		Version:       o.Version,
		CreatedAt:     r.Now,
		Notes:         o.Notes,
	}
	for _, p := range r.Packages {
		rel.Packages = append(rel.Packages, p.manifest())
	}
	rkey := manifests.ReleasePath(o.App, o.Version)
	if r.Existing != nil {
		old, err := decodeRelease(r.Existing, o.App, o.Version)
		if err != nil {
			return fmt.Errorf("existing release manifest %s/%s is unreadable; releases are immutable, so pass a new --version: %w", o.Store.Location(), rkey, err)
		}
		if !samePackages(old.Packages, rel.Packages) {
			return refuse(ErrImmutable, "release %s %s already exists (%s) with different packages; releases are immutable: pass a new --version",
				o.App, o.Version, rkey)
		}
		r.Manifest, r.ManifestBytes, r.Reused = old, r.Existing, true
	} else {
		data, err := manifests.SignRelease(rel, o.Signers...)
		if err != nil {
			return fmt.Errorf("sign release manifest %s: %w", rkey, err)
		}
		r.Manifest, r.ManifestBytes = rel, data
	}

	ch := &manifests.Channel{
		SchemaVersion: manifests.SchemaVersion,
		App:           o.App,
		Channel:       o.Channel,
		Sequence:      1,
		IssuedAt:      r.Now,
		ExpiresAt:     r.Now.Add(o.Expiry),
		Current: manifests.ReleaseRef{
			Version: o.Version,
			Path:    rkey,
			Size:    int64(len(r.ManifestBytes)),
			SHA256:  sha256Hex(r.ManifestBytes),
		},
	}
	if prev := r.Previous; prev != nil {
		ch.Sequence = prev.Sequence + 1
		// The floor below which devices must update survives releases;
		// rollout and runtime constraints belong to the release they came
		// with and do not.
		ch.MinVersion = prev.MinVersion
	}
	data, err := manifests.SignChannel(ch, o.Signers...)
	if err != nil {
		return fmt.Errorf("sign channel manifest %s: %w", manifests.ChannelPath(o.App, o.Channel), err)
	}
	r.Channel, r.ChannelBytes = ch, data
	return nil
}

// samePackages reports whether two package lists describe the same bytes
// (deltas aside, which a later release may add for the same packages).
func samePackages(a, b []manifests.Package) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Name != y.Name || x.Root != y.Root || x.Format != y.Format || x.Encoding != y.Encoding ||
			x.Path != y.Path || x.Size != y.Size || x.SHA256 != y.SHA256 ||
			x.RawSize != y.RawSize || x.RawSHA256 != y.RawSHA256 || x.Files != y.Files {
			return false
		}
	}
	return true
}

// Compile-time checks that the steps are Steps.
var _ Step = signStep{}
