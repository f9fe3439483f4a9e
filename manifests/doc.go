// Package manifests defines mpship's signed documents: the channel manifest
// that devices poll and the immutable release manifest it points at, their
// canonical encoding, Ed25519 signing inside a DSSE envelope, and
// verification with typed errors.
//
// The package does no I/O: callers hand it bytes and an injected clock.
//
// # Documents
//
// A [Channel] is the small mutable pointer stored at
// apps/<app>/channels/<channel>.json. A [Release] is the immutable description
// of one version, stored at apps/<app>/releases/<version>.json, listing its
// code packages, which are content-addressed blobs under blobs/sha256/.
//
// # Signing
//
// Documents are signed as DSSE envelopes (https://github.com/secure-systems-lab/dsse):
// the signature covers PAE(payloadType, payload), the exact payload bytes
// prefixed by their type, so no canonicalisation of JSON is needed to verify,
// a document of one type cannot be replayed as another, and fields a newer
// generator adds survive verification by older clients. Payloads are still
// encoded deterministically (see [Encode]) so that the same inputs give the
// same bytes.
//
// # Verification
//
// [VerifyChannel] and [VerifyRelease] apply, in order: the size cap, the
// envelope, the signature threshold over distinct trusted keys, the document
// type, the app and channel asked for, expiry against the caller's clock, and
// the rollback rule on sequence numbers. Each failure wraps one of the
// sentinel errors (ErrTooLarge, ErrBadSignature, ...) so callers can tell
// them apart with errors.Is and report them with [Code].
package manifests
