package manifests

import (
	"encoding/json"
	"time"
)

// SchemaVersion is the version of the document schema this package writes.
// Readers accept documents with this schema version or lower; a higher one
// is refused as ErrMalformed, since its meaning is unknown.
const SchemaVersion = 1

// Payload types bound into every signature (DSSE payloadType), so that a
// signed release can never be accepted as a channel manifest or the reverse.
const (
	ChannelPayloadType = "application/vnd.mpship.channel+json"
	ReleasePayloadType = "application/vnd.mpship.release+json"
)

// Size caps: a client reads at most this many bytes of a document before
// verifying it, and the generator refuses to write a larger one.
const (
	MaxChannelSize = 64 << 10 // 64 KiB
	MaxReleaseSize = 1 << 20  // 1 MiB
)

// Encodings and formats of code packages and deltas.
const (
	// EncodingZstd: a package blob is one zstd frame of the archive.
	EncodingZstd = "zstd"
	// FormatMPK1: the archive is MPK1, mpship's compact deterministic
	// archive of a directory (see docs/manifests.md).
	FormatMPK1 = "mpk1"
	// DeltaEncodingMPD1: a delta blob is an MPD1 patch, which rebuilds
	// the MPK1 archive from the archive of an earlier release's package of
	// the same name (see docs/manifests.md). Clients skip deltas with an
	// encoding they do not know.
	DeltaEncodingMPD1 = "mpd1"
)

// MainPackage is the name of the package every release has; subpackages have
// other names.
const MainPackage = "main"

// Channel is the channel manifest: the small, mutable, signed pointer to the
// current release of one app on one channel. Devices poll it with
// conditional GETs.
type Channel struct {
	// SchemaVersion is the schema this document follows (see SchemaVersion).
	SchemaVersion int `json:"schema_version"`
	// App is the app id, for example "demo" or "com.example.shop".
	App string `json:"app"`
	// Channel is the channel name, for example "stable" or "beta".
	Channel string `json:"channel"`
	// Sequence increases strictly with every publish to this channel. A
	// client refuses a channel manifest whose sequence is lower than the last
	// one it accepted (ErrRollback).
	Sequence uint64 `json:"sequence"`
	// IssuedAt is when the generator signed this document.
	IssuedAt time.Time `json:"issued_at"`
	// ExpiresAt is when clients stop trusting this document (ErrExpired);
	// re-publish or re-sign before then.
	ExpiresAt time.Time `json:"expires_at"`
	// Current is the release devices should run.
	Current ReleaseRef `json:"current"`

	// Reserved for staged rollouts: the share of devices, 0 to 100, that
	// take Current; absent means 100. Clients of schema 1 ignore it.
	Rollout *float64 `json:"rollout,omitempty"`
	// Reserved: the lowest version still allowed to launch; devices below it
	// must update synchronously. Clients of schema 1 ignore it.
	MinVersion string `json:"min_version,omitempty"`
	// Reserved: constraints on the host runtime (super app and base library
	// versions). Clients of schema 1 ignore it.
	Runtime *RuntimeConstraints `json:"runtime,omitempty"`
}

// RuntimeConstraints is reserved for constraints on the host that runs the
// mini program. Schema 1 defines the fields but no client acts on them yet.
type RuntimeConstraints struct {
	// MinHostVersion is the lowest super app version that can run Current.
	MinHostVersion string `json:"min_host_version,omitempty"`
	// MinLibVersion is the lowest base library version that can run Current.
	MinLibVersion string `json:"min_lib_version,omitempty"`
}

// ReleaseRef points from a channel manifest to an immutable release
// manifest, pinning its exact bytes by size and sha256.
type ReleaseRef struct {
	// Version is the release's semantic version.
	Version string `json:"version"`
	// Path is the release manifest's key in the bucket, relative to the
	// bucket root: apps/<app>/releases/<version>.json.
	Path string `json:"path"`
	// Size is the length in bytes of the release manifest envelope.
	Size int64 `json:"size"`
	// SHA256 is the lowercase hex sha256 of the release manifest envelope.
	SHA256 string `json:"sha256"`
}

// Release is the release manifest: the immutable, signed description of one
// version of an app and its code packages.
type Release struct {
	// SchemaVersion is the schema this document follows.
	SchemaVersion int `json:"schema_version"`
	// App is the app id.
	App string `json:"app"`
	// Version is the release's semantic version (MAJOR.MINOR.PATCH with
	// optional pre-release and build parts).
	Version string `json:"version"`
	// CreatedAt is when the generator built this release.
	CreatedAt time.Time `json:"created_at"`
	// Packages lists the code packages: always one named "main", and zero
	// or more subpackages, sorted by name.
	Packages []Package `json:"packages"`
	// Notes is free text for release engineers; clients ignore it.
	Notes string `json:"notes,omitempty"`
}

// Package describes one code package: a deterministic archive of a
// directory, compressed, stored as a content-addressed blob.
type Package struct {
	// Name is "main" for the main package, or the subpackage's name.
	Name string `json:"name"`
	// Root is the directory of the source tree the package holds, "" for the
	// main package (which holds everything outside subpackages).
	Root string `json:"root,omitempty"`
	// Format is the archive format of the uncompressed bytes: "mpk1".
	Format string `json:"format"`
	// Encoding is the compression of the blob: "zstd".
	Encoding string `json:"encoding"`
	// Path is the blob's key: blobs/sha256/<SHA256>.
	Path string `json:"path"`
	// Size is the blob's (compressed) length in bytes.
	Size int64 `json:"size"`
	// SHA256 is the lowercase hex sha256 of the blob.
	SHA256 string `json:"sha256"`
	// RawSize is the uncompressed (archive) length in bytes.
	RawSize int64 `json:"raw_size"`
	// RawSHA256 is the lowercase hex sha256 of the uncompressed archive.
	RawSHA256 string `json:"raw_sha256"`
	// Files is the number of regular files in the package.
	Files int `json:"files"`
	// Deltas lists patches that rebuild this package's archive from the
	// archive of the same package in an earlier release, smallest first.
	// Empty when no earlier release had a delta worth keeping.
	Deltas []Delta `json:"deltas,omitempty"`
}

// Delta is a patch that rebuilds a package's uncompressed archive from the
// uncompressed archive of an earlier release's package of the same name.
type Delta struct {
	// FromVersion is the version the patch applies to.
	FromVersion string `json:"from_version"`
	// FromRawSHA256 is the lowercase hex sha256 of the base archive the
	// patch applies to (the earlier package's raw_sha256).
	FromRawSHA256 string `json:"from_raw_sha256"`
	// Encoding is the patch format: "mpd1".
	Encoding string `json:"encoding"`
	// Path is the patch blob's key: blobs/sha256/<SHA256>.
	Path string `json:"path"`
	// Size is the patch blob's length in bytes.
	Size int64 `json:"size"`
	// SHA256 is the lowercase hex sha256 of the patch blob.
	SHA256 string `json:"sha256"`
}

// Envelope is a DSSE envelope: a payload, its type, and signatures over
// PAE(PayloadType, Payload). Payload is raw bytes; JSON encodes it as base64.
type Envelope struct {
	PayloadType string      `json:"payloadType"`
	Payload     []byte      `json:"payload"`
	Signatures  []Signature `json:"signatures"`
}

// Signature is one signature in an envelope.
type Signature struct {
	// KeyID identifies the signing key (see KeyID).
	KeyID string `json:"keyid"`
	// Sig is the Ed25519 signature; JSON encodes it as base64.
	Sig []byte `json:"sig"`
}

// rawObject is used to detect duplicate or unexpected envelope members.
type rawObject map[string]json.RawMessage
