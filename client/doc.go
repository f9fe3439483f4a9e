// Package client is the update mechanism a super app embeds: it launches
// mini programs from a state directory on the device and keeps them up to
// date from an mpship origin (or a CDN in front of one), verifying every
// byte against the publisher's keys before it is used.
//
// # The rules
//
// [Runtime.Launch] starts a mini program; [Runtime.Background] is the
// periodic pass a host runs while the mini programs do not. Together they
// apply the update rules, with the values of [Policy] (defaults in
// parentheses; docs/client.md is the full specification, for clients in
// other languages):
//
//  1. Every cold start launches what is installed at once and checks in the
//     background (ModeAsync): one conditional GET when nothing changed; a
//     new version is made ready for the next cold start, which launches it.
//     A warm start (LaunchOptions.Warm) does not check.
//  2. A periodic pass checks every mini program launched within
//     Policy.RecentWindow (7 days) whose last check is Policy.CheckInterval
//     (1 hour, ± Policy.CheckJitter) old. An update found marks it
//     (AppState.Marked) and, unless Policy.NoBackgroundDownload, is
//     downloaded ahead.
//  3. A marked mini program launches synchronously (ModeSync): check,
//     download, verify, install, then launch the new version, waiting at
//     most Policy.SyncTimeout (5 s) of wall time; after that, or on any
//     failure, the installed version launches (ModeSyncTimeout,
//     ModeSyncFailed) and a download in progress carries on.
//  4. A mini program last launched Policy.DisuseAfter (14 days) ago or more
//     launches synchronously too.
//  5. On a weak, metered or offline network (Options.Network,
//     Runtime.SetNetwork) synchronous launches fall back to the installed
//     version at once; downloads may be deferred (Policy.DeferOnWeak,
//     DeferOnMetered); offline, nothing is requested.
//  6. [UpdateManager] reports each run's check to the mini program:
//     check_for_update, then update_ready or update_failed, and
//     ApplyUpdate restarts into the ready version.
//  7. LaunchOptions.SimulateUpdate makes a launch behave as if a new version
//     had been published, with no request and nothing changed.
//  8. Interrupted downloads resume (Range, If-Range); nothing unverified is
//     installed; concurrent launches and crashes leave a launchable version.
//
// Time comes from Options.Now only (but for the synchronous timeout, which
// bounds what a person waits for), so tests and simulations can travel in
// time.
//
// # The check
//
// One check is, in order:
//
//  1. GET apps/<app>/channels/<channel>.json with If-None-Match: the ETag
//     of the manifest accepted last. A 304 ends the check: it costs one
//     request and no body. A 304 for a manifest that has expired meanwhile
//     is refused (manifests.ErrExpired) and its ETag forgotten, so that an
//     origin cannot freeze a device on it.
//  2. At most manifests.MaxChannelSize bytes are read and verified with
//     manifests.VerifyChannel: signatures over the trust threshold, the app
//     and channel asked for, expiry against Options.Now, and a sequence not
//     lower than the last one accepted.
//  3. If the manifest names a version not on the device, the release
//     manifest it pins is fetched (its exact size is read, no more) and
//     verified with manifests.VerifyRelease; packages over Options.Limits
//     are refused.
//  4. Each package's archive is obtained by the cheapest route that
//     verifies (see Deltas below): reused from a version on the device, a
//     delta from one, or the full package blob. A blob (package or delta)
//     is streamed to a temporary file, reading at most its signed size plus
//     one byte, and its size and sha256 are checked before it is used; a
//     package is decompressed by a zstd decoder whose window and output are
//     bounded by the signed raw size. The archive's raw size and sha256 are
//     checked against the release manifest before it is unpacked into a
//     staging directory.
//  5. The staged version is synced to disk and renamed into place, then the
//     state file is replaced atomically.
//
// # Deltas
//
// A release lists, per package, MPD1 deltas from earlier versions
// (internal/delta). A version on the device serves as a delta's base only
// if its files, packed again exactly as the generator packs them, give the
// archive the delta names (from_raw_sha256): a copy modified on disk never
// does, and takes the full package. The delta is applied with memory
// bounded by delta.Limits (the smaller of 64 MiB and Limits.MaxRawSize per
// archive), and the result must have the package's signed raw size and
// sha256. Any failure of a delta (a corrupt blob, a hostile patch, a base
// that changed meanwhile) is logged and the full package downloaded
// instead. A package whose archive equals one on the device is not
// downloaded at all. [CheckResult].Route and PackageBytes say which route
// was taken and what it cost.
//
// Failures known to be transient (network errors, timeouts, 408, 429, 5xx)
// are retried per Options.Retry. Any failure leaves the installed version as
// it was and is reported, never hidden: [LaunchResult].Err and
// [CheckResult].Err carry it, and [ErrorCode] names it ("bad_signature",
// "hash_mismatch", "expired", "rollback", "network", ...).
//
// # State directory
//
// Options.StateDir holds, per app:
//
//	apps/<app>/state.json              what the device remembers (AppState)
//	apps/<app>/lock                    lock file (flock), one holder at a time
//	apps/<app>/versions/<version>/     the files of a version
//	apps/<app>/tmp/                    downloads and staging in progress
//	apps/<app>/tmp/blob-<sha256>.part  a partial download, kept to resume
//	apps/<app>/tmp/blob-<sha256>.etag  the ETag its bytes came with (If-Range)
//
// state.json is written to a temporary file that is synced, renamed over it,
// and the directory is synced; a temporary file left by a crash is never
// read. A version directory appears by one rename after it is complete and
// synced, and only a state file naming it makes it launchable. The installed
// version, the previous one and a ready one are kept; any other is deleted.
// A state file that cannot be parsed is moved to state.json.corrupt,
// reported (ErrState), and the app reinstalled.
// Several Runtimes, in one process or several, may share a state directory.
// A Runtime keeps each app's lock file open and remembers the state it last
// read or wrote while the file on disk is that same file (same inode, size
// and modification time), so a check that changes nothing reads no file.
// Partial downloads are kept for 7 days; other leftovers of a crash in tmp
// for an hour.
//
// # Bytes counted
//
// BytesDownloaded counts, for every response, its status line and header
// block as HTTP/1.1 frames them (computed from the parsed response) and its
// body bytes as read. For HTTP/1.1 without transfer compression this is the
// response's bytes on the wire, less chunked-encoding framing; request bytes
// sent are not counted.
package client
