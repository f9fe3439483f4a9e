// Package generator builds and publishes releases: it packs a mini
// program's source tree into deterministic code packages, compresses and
// hashes them, signs a release manifest and a channel manifest, and writes
// them to a store.Store in an order that keeps the store consistent. Verify
// checks a published store.
//
// # Pipeline
//
// [Run] passes one [Release] through the steps listed in pipeline.go, in
// order: validate, pack, compress, hash, delta, sign, publish. Each step is
// a small type with a name and a Run method, so a new step slots in without
// touching the others.
//
// # Deltas
//
// The delta step gives each package an MPD1 delta (internal/delta) from the
// same package in each of up to Options.Deltas earlier releases, so a device
// that runs one of them downloads a few kilobytes instead of the package.
// The earlier releases are found by listing apps/<app>/releases/ (release
// manifests record no history): the channel's current version first, then
// the highest versions below the new one, pre-releases only when the new
// version is one. Their packages are read back from the store, checked
// against their release manifests, and diffed; a delta is kept when it is
// at most half the size of the full package, and is published as a
// content-addressed blob listed in the package's deltas. A base whose
// package is missing or damaged in the store is skipped and reported in
// PackageResult.DeltaSkips.
//
// # Packages
//
// Every release has a package named "main": the source tree minus the
// subpackage directories. Each [Subpackage] is packed on its own, with entry
// names relative to its directory (recorded as the package's Root), so a
// device unpacks it into <install dir>/<Root>. Packing is deterministic (see
// internal/archive): the same tree gives the same package sha256, and a blob
// already in the store is not uploaded again.
//
// # Consistency
//
// Publishing writes the blobs first (Options.Parallelism at a time, each
// skipped when the store already holds it with the same sha256), then, once
// every blob has landed, the release manifest, then the channel manifest
// last, with a conditional put on the ETag the channel manifest was read at
// (or on its absence, for a channel's first release).
// So a device never sees a channel manifest whose objects are not all in the
// store, and two publishers racing on one channel cannot both win: the loser
// gets ErrConflict and the store holds the winner's release. A release that
// fails after the blobs or the release manifest were written leaves them in
// place: they are content-addressed or immutable, nothing references them,
// and a later release of the same tree reuses them.
//
// Everything that can be refused (bad names, a version that is not newer
// than the channel's, a bad source tree, a release manifest that already
// exists with other content) is refused before the first write, so a refused
// release leaves the store exactly as it was.
//
// # Trust
//
// The generator reads the current channel manifest to learn its sequence
// number, version and ETag, but does not verify its signatures: it trusts
// the store it publishes to, and keys may rotate between releases. Use
// Verify ('mpship verify') to check a store against the keys devices trust.
package generator
