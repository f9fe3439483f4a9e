// Package client is the update mechanism a super app embeds: it launches
// mini programs from a state directory on the device and keeps them up to
// date from an mpship origin (or a CDN in front of one), verifying every
// byte against the publisher's keys before it is used.
//
// # Launching
//
// [Runtime.Launch] is a cold start. With a version installed it launches it
// at once and checks the app's channel in the background; a new version is
// downloaded, verified and installed as "ready", and the next cold start
// launches it. With nothing installed it installs first. See
// [Runtime.Launch] for the details and [LaunchResult] for what is reported.
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
//  4. Each package blob is streamed to a temporary file, reading at most
//     its signed size plus one byte, and its size and sha256 are checked
//     before it is decompressed. It is then decompressed by a zstd decoder
//     whose window and output are bounded by the signed raw size, unpacked
//     into a staging directory, and the tar's raw size and sha256 checked.
//  5. The staged version is synced to disk and renamed into place, then the
//     state file is replaced atomically.
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
//
// state.json is written to a temporary file that is synced, renamed over it,
// and the directory is synced; a temporary file left by a crash is never
// read. A version directory appears by one rename after it is complete and
// synced, and only a state file naming it makes it launchable. The installed
// version, the previous one and a ready one are kept; any other is deleted.
// A state file that cannot be parsed is moved to state.json.corrupt,
// reported (ErrState), and the app reinstalled.
// Several Runtimes, in one process or several, may share a state directory.
//
// # Bytes counted
//
// BytesDownloaded counts, for every response, its status line and header
// block as HTTP/1.1 frames them (computed from the parsed response) and its
// body bytes as read. For HTTP/1.1 without transfer compression this is the
// response's bytes on the wire, less chunked-encoding framing; request bytes
// sent are not counted.
package client
