package generator

import (
	"context"
	"fmt"
	"time"

	"github.com/mpship/mpship/internal/archive"
	"github.com/mpship/mpship/manifests"
)

// Step is one stage of the release pipeline. Run reads what earlier steps
// left in the Release and adds its own results; an error stops the
// pipeline. String is the step's name, used in messages.
type Step interface {
	fmt.Stringer
	Run(ctx context.Context, r *Release) error
}

// pipeline is the release pipeline, in order. Every step before publish
// only reads the store, so anything refused is refused before the first
// write.
var pipeline = []Step{
	// Check names, version, source and subpackages; read the channel's
	// current manifest (its sequence, version and ETag) and any existing
	// release manifest of this version; refuse a version that is not newer.
	validateStep{},
	// Pack the main package (the source minus subpackage directories) and
	// each subpackage into deterministic MPK1 archives.
	packStep{},
	// Compress each archive with zstd at the best level, window sized to
	// it.
	compressStep{},
	// Hash each archive and blob with sha256: the blob's hash is its key.
	hashStep{},
	// For each of the channel's last Options.Deltas releases (read back
	// from the store), an MPD1 delta from its package to the new one, kept
	// when at most half the full package.
	deltaStep{},
	// Build and sign the release manifest (or reuse an identical existing
	// one), then the channel manifest: sequence previous+1, issued now,
	// expiring after Options.Expiry.
	signStep{},
	// Write blobs that are not already there, then the release manifest,
	// then the channel manifest last, conditional on the ETag read by
	// validate.
	publishStep{},
}

// Release is the in-flight state of one release, handed from step to step.
// It is not safe for concurrent use.
type Release struct {
	// Options are the caller's options, with defaults filled in by the
	// validate step.
	Options Options
	// Now is the release time: Options.Now() in UTC at whole seconds.
	Now time.Time

	// Previous is the channel's current manifest and PreviousETag the ETag
	// it was read at; nil and "" for a channel's first release.
	Previous     *manifests.Channel
	PreviousETag string
	// Existing is the envelope of a release manifest already stored for
	// this app and version, or nil.
	Existing []byte

	// Packages are the code packages, sorted by name.
	Packages []*Package

	// Manifest and ManifestBytes are the release manifest and its envelope;
	// Reused is true when they are the Existing ones.
	Manifest      *manifests.Release
	ManifestBytes []byte
	Reused        bool
	// Channel and ChannelBytes are the new channel manifest and its
	// envelope.
	Channel      *manifests.Channel
	ChannelBytes []byte

	// Publishing counts: blobs written and blobs found already present.
	Uploaded, Skipped           int
	UploadedBytes, SkippedBytes int64
}

// Package is one code package being built. It is owned by the Release that
// holds it and not safe for concurrent use.
type Package struct {
	// Name is "main" or the subpackage name; Root is "" for main or the
	// subpackage directory (slash-separated, relative to the source).
	Name, Root string
	// Dir is the directory packed and Exclude the directories left out.
	Dir     string
	Exclude []string

	// Stats, Raw (the archive) and RawSHA256 are set by pack and hash.
	Stats     archive.Stats
	Raw       []byte
	RawSHA256 string
	// Blob (the compressed archive) and SHA256 are set by compress and
	// hash.
	Blob   []byte
	SHA256 string
	// Deltas (smallest first) and DeltaSkips are set by the delta step.
	Deltas     []*Delta
	DeltaSkips []DeltaSkip
	// Uploaded is set by publish when the blob was written.
	Uploaded bool
}

// manifest returns the package's entry in the release manifest.
func (p *Package) manifest() manifests.Package {
	return manifests.Package{
		Name:      p.Name,
		Root:      p.Root,
		Format:    manifests.FormatMPK1,
		Encoding:  manifests.EncodingZstd,
		Path:      manifests.BlobPath(p.SHA256),
		Size:      int64(len(p.Blob)),
		SHA256:    p.SHA256,
		RawSize:   int64(len(p.Raw)),
		RawSHA256: p.RawSHA256,
		Files:     p.Stats.Files,
		Deltas:    deltaManifests(p.Deltas),
	}
}

func deltaManifests(ds []*Delta) []manifests.Delta {
	var out []manifests.Delta
	for _, d := range ds {
		out = append(out, d.Delta)
	}
	return out
}
