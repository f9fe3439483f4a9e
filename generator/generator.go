package generator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mpship/mpship/internal/archive"
	"github.com/mpship/mpship/manifests"
	"github.com/mpship/mpship/store"
)

// Defaults and limits of Options.
const (
	// DefaultExpiry is how long a channel manifest stays valid: 30 days.
	DefaultExpiry = 30 * 24 * time.Hour
	// MaxExpiry is the longest Options.Expiry accepted: 366 days. A longer
	// validity would let a stale manifest be replayed for too long.
	MaxExpiry = 366 * 24 * time.Hour
	// MinExpiry is the shortest Options.Expiry accepted: one hour.
	MinExpiry = time.Hour
)

// Errors Run wraps, for errors.Is. Other failures wrap the archive
// package's errors (archive.ErrTooLarge, archive.ErrUnsafePath, ...) or the
// store's (store.ErrUnavailable, ...).
var (
	// ErrInvalid: an option is missing or malformed (app, channel, version,
	// source directory, subpackage, expiry, keys).
	ErrInvalid = errors.New("invalid release options")
	// ErrNotNewer: the version is not greater than the channel's current
	// version.
	ErrNotNewer = errors.New("version not newer than the channel's")
	// ErrImmutable: a release manifest for this app and version already
	// exists with different packages.
	ErrImmutable = errors.New("release already exists with different content")
	// ErrConflict: the channel manifest changed between the moment it was
	// read and the conditional write of the new one: another publisher won.
	ErrConflict = errors.New("moved underneath you")
)

// Subpackage is a directory of the source packed as its own package.
type Subpackage struct {
	// Name is the package name (manifests.ValidatePackageName), not "main".
	Name string
	// Dir is the subpackage's directory relative to Options.Source,
	// slash-separated, for example "packageA". The main package leaves it
	// out. Subpackage directories may not nest.
	Dir string
}

// Options describe one release. Store, Signers, App, Channel, Version and
// Source are required. Options are read, never modified, by Run.
type Options struct {
	// Store is where the release is published.
	Store store.Store
	// Signers sign both manifests; each signs once. Devices need a
	// threshold of the matching public keys.
	Signers []*manifests.Signer
	// App, Channel and Version name the release (manifests.ValidateApp,
	// ValidateChannel, ValidateVersion). Version must be greater than the
	// channel's current version.
	App, Channel, Version string
	// Source is the directory holding the mini program.
	Source string
	// Subpackages are directories of Source packed separately. Default none.
	Subpackages []Subpackage
	// Now is the clock; default time.Now. Times are recorded in UTC at
	// whole seconds.
	Now func() time.Time
	// Expiry is how long the channel manifest is valid after Now. Default
	// DefaultExpiry (30 days); between MinExpiry and MaxExpiry.
	Expiry time.Duration
	// Notes is free text recorded in the release manifest. Default none.
	Notes string
	// Limits bound each package; zero fields take archive's defaults
	// (32 MiB per file, 256 MiB per package, 50,000 files).
	Limits archive.Limits
	// ManifestMaxAge is the max-age in the Cache-Control stored with the
	// channel manifest, for CDNs that serve the bucket directly. Default
	// httpmeta.DefaultManifestMaxAge (60 s).
	ManifestMaxAge time.Duration
	// Parallelism is how many blobs are checked and uploaded at once.
	// Default DefaultParallelism (4); at most MaxParallelism (64).
	Parallelism int
	// Progress, when not nil, is called as blobs are checked and uploaded.
	// Calls come one at a time, from the uploading goroutines: it must
	// return quickly. Default nil.
	Progress func(Progress)
	// Deltas is how many earlier releases get a delta to this one (see
	// the delta step in pipeline.go). Default DefaultDeltas (3) when 0; a
	// negative value makes none; at most MaxDeltas (10).
	Deltas int
}

// PackageResult describes one published package.
type PackageResult struct {
	manifests.Package
	// SourceBytes is the sum of the sizes of the files packed.
	SourceBytes int64 `json:"source_bytes"`
	// Uploaded is false when the blob was already in the store.
	Uploaded bool `json:"uploaded"`
	// DeltaSkips lists the earlier releases that got no delta, and why.
	DeltaSkips []DeltaSkip `json:"delta_skips,omitempty"`
}

// Result describes a published release. It is plain data.
type Result struct {
	// Release is the release manifest the channel now points to.
	Release *manifests.Release
	// ReleaseManifest is its published envelope and ReleasePath its key.
	ReleaseManifest []byte
	ReleasePath     string
	// ReusedRelease is true when the release manifest already existed with
	// the same packages (the version was published on another channel
	// first) and was reused as it was.
	ReusedRelease bool
	// Channel is the new channel manifest, ChannelManifest its published
	// envelope and ChannelPath its key.
	Channel         *manifests.Channel
	ChannelManifest []byte
	ChannelPath     string
	// PreviousVersion is the version the channel pointed to before, or ""
	// for a channel's first release.
	PreviousVersion string
	// Packages are the packages in the release, sorted by name.
	Packages []PackageResult
	// Uploaded and Skipped count blobs written and blobs already present;
	// UploadedBytes and SkippedBytes are their sizes.
	Uploaded, Skipped           int
	UploadedBytes, SkippedBytes int64
}

// Run builds the release described by opts and publishes it, running the
// pipeline's steps in order and stopping at the first error. See the
// package documentation for what a failure leaves in the store. Run may be
// called concurrently; releases racing on one channel are settled by the
// store's conditional put.
func Run(ctx context.Context, opts Options) (*Result, error) {
	r := &Release{Options: opts}
	for _, s := range pipeline {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := s.Run(ctx, r); err != nil {
			return nil, err
		}
	}
	return r.result(), nil
}

func (r *Release) result() *Result {
	res := &Result{
		Release:         r.Manifest,
		ReleaseManifest: r.ManifestBytes,
		ReleasePath:     manifests.ReleasePath(r.Options.App, r.Options.Version),
		ReusedRelease:   r.Reused,
		Channel:         r.Channel,
		ChannelManifest: r.ChannelBytes,
		ChannelPath:     manifests.ChannelPath(r.Options.App, r.Options.Channel),
		Uploaded:        r.Uploaded,
		Skipped:         r.Skipped,
		UploadedBytes:   r.UploadedBytes,
		SkippedBytes:    r.SkippedBytes,
	}
	if r.Previous != nil {
		res.PreviousVersion = r.Previous.Current.Version
	}
	for _, p := range r.Packages {
		res.Packages = append(res.Packages, PackageResult{Package: p.manifest(), SourceBytes: p.Stats.ContentSize, Uploaded: p.Uploaded, DeltaSkips: p.DeltaSkips})
	}
	return res
}

// refusal is an error with a complete message for a person that also
// matches one of the package's sentinel errors and wraps its cause.
type refusal struct {
	kind error
	err  error
}

func (e *refusal) Error() string   { return e.err.Error() }
func (e *refusal) Unwrap() []error { return []error{e.kind, e.err} }

// refuse returns a refusal of the given kind; format may use %w.
func refuse(kind error, format string, args ...any) error {
	return &refusal{kind: kind, err: fmt.Errorf(format, args...)}
}
