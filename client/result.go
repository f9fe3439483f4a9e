package client

import (
	"context"
	"time"
)

// Mode says how a launch decided which version to start.
type Mode string

// Launch modes.
const (
	// ModeFirstInstall: nothing was installed, so the launch checked,
	// downloaded, verified and installed before starting.
	ModeFirstInstall Mode = "first-install"
	// ModeAsync: the installed (or just promoted ready) version started at
	// once and the update check, if any, runs in the background (rule 1).
	ModeAsync Mode = "async"
	// ModeSync: the launch updated before it started: a synchronous
	// check found nothing newer or downloaded and installed the newest
	// version (rules 3 and 4), or a periodic check had downloaded it
	// ahead (rule 2).
	ModeSync Mode = "sync"
	// ModeSyncTimeout: a synchronous update did not finish within
	// Policy.SyncTimeout; the installed version started and the update
	// carries on in the background.
	ModeSyncTimeout Mode = "sync-timeout"
	// ModeSyncFailed: a synchronous update failed; the installed version
	// started.
	ModeSyncFailed Mode = "sync-failed"
	// ModeWarm: a warm start; the installed version, no check.
	ModeWarm Mode = "warm"
	// ModeApply: UpdateManager.ApplyUpdate restarted into the ready
	// version.
	ModeApply Mode = "apply"
)

// LaunchOptions qualify one launch. The zero value is a cold start.
type LaunchOptions struct {
	// Warm makes the launch a warm start: the mini program returns from
	// the background, so the installed version launches with no check
	// and no promotion of a ready version (rule 1).
	Warm bool
	// SimulateUpdate is rule 7, for developers: this cold start launches
	// the installed version without any request, and its update manager
	// reports check_for_update(true) then update_ready, as if a new version
	// had been published and downloaded; ApplyUpdate then restarts into
	// the installed version. Nothing on disk changes but the last-use time.
	// It is ignored by a warm start.
	SimulateUpdate bool
}

// LaunchResult is what a launch did. The fields are final when Launch
// returns, except that a background check may still be running (see Done
// and Wait); Wait returns a copy that includes it. A LaunchResult is safe
// for concurrent use.
type LaunchResult struct {
	// App and Channel are the ones launched.
	App, Channel string
	// Mode says how the version to start was chosen, and Reason why
	// (ReasonColdStart, ReasonMarked, ReasonDisuse, ReasonWeakNetwork, ...).
	Mode   Mode
	Reason string
	// Network is the network quality in effect when the launch began.
	Network Network
	// Simulated is true for a launch with LaunchOptions.SimulateUpdate and
	// an ApplyUpdate after one.
	Simulated bool
	// LaunchedVersion is the version started; "" when nothing could be.
	LaunchedVersion string
	// Path is the directory holding the launched version's files. It stays
	// valid at least until two more versions have been installed.
	Path string
	// ReadyVersion is the version the next cold start will launch when it
	// differs from LaunchedVersion; "" when there is none (yet).
	ReadyVersion string
	// BytesDownloaded counts what this launch received from the origin:
	// every response's status line and header block (as HTTP/1.1 frames
	// them) and body bytes. Request bytes sent are not counted.
	BytesDownloaded int64
	// PackageBytes counts the body bytes of package and delta blobs this
	// launch received, a part of BytesDownloaded.
	PackageBytes int64
	// Route says how the packages downloaded by this launch came: RouteFull
	// ("full"), "delta:<version>" (RouteDeltaPrefix), or "" when none was
	// downloaded (none needed, or all reused from versions on the device).
	Route string
	// Requests is the number of HTTP requests the Runtime made, its retries
	// included. (The HTTP transport may itself resend a GET whose reused
	// connection closed before any answer; that is not counted.)
	Requests int
	// Err is the first failure of this launch, or of its background check
	// in the copy Wait returns; nil when all went well. A failure of the
	// check never affects the launched version. ErrorCode(Err) names it.
	Err error
	// Check is the outcome of the launch's check: set when Launch
	// returns for a first install and a synchronous launch that finished,
	// and in the copy Wait returns when a check ran in the background; nil
	// otherwise.
	Check *CheckResult
	// Events are the update-manager events of this run so far, in order
	// (see UpdateManager); the copy Wait returns has them all.
	Events []Event

	bg   *background
	sess *session
}

// background is a check running after a launch.
type background struct {
	done   chan struct{}
	result *CheckResult // written before done is closed
}

// Done returns a channel closed when the launch's background work is
// finished. It is closed already when there is none.
func (r *LaunchResult) Done() <-chan struct{} {
	if r.bg == nil {
		return closedChan
	}
	return r.bg.done
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Wait blocks until the launch's background work is finished and returns a
// copy of r updated with it: ReadyVersion is then what the next cold start
// will launch, BytesDownloaded and Requests include the check's, Err is the
// launch's failure or else the check's, and Check is set. If ctx ends first
// it returns ctx's error and the work carries on (Runtime.Close stops it).
func (r *LaunchResult) Wait(ctx context.Context) (*LaunchResult, error) {
	c := *r
	if r.bg == nil {
		return &c, nil
	}
	select {
	case <-r.bg.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	cr := r.bg.result
	c.Check = cr
	c.ReadyVersion = cr.ReadyVersion
	if c.ReadyVersion == c.LaunchedVersion {
		c.ReadyVersion = ""
	}
	c.BytesDownloaded += cr.BytesDownloaded
	c.Requests += cr.Requests
	c.PackageBytes += cr.PackageBytes
	if cr.Route != "" {
		c.Route = cr.Route
	}
	if c.Err == nil {
		c.Err = cr.Err
	}
	c.Events = r.sess.snapshot()
	return &c, nil
}

// CheckResult is the outcome of one update check of an app on a channel.
type CheckResult struct {
	// App and Channel are the ones checked.
	App, Channel string
	// NotModified is true when the origin answered 304: nothing changed
	// since the manifest accepted last.
	NotModified bool
	// Sequence and LatestVersion are the accepted channel manifest's
	// sequence and current version (the remembered ones on a 304); zero
	// when the check failed before accepting one.
	Sequence      uint64
	LatestVersion string
	// HasUpdate is true when the channel names a version other than the
	// installed one.
	HasUpdate bool
	// InstalledVersion is the installed version after the check.
	InstalledVersion string
	// ReadyVersion is what the next cold start will launch if it differs
	// from InstalledVersion; "" when there is none.
	ReadyVersion string
	// Downloaded is the version downloaded and installed by this check;
	// "" when nothing was.
	Downloaded string
	// Deferred is true when the check found an update and did not
	// download it (rule 5, Policy.NoBackgroundDownload).
	Deferred bool
	// Marked is true when the check marked the app so that its next
	// launch is synchronous (AppState.Marked).
	Marked bool
	// BytesDownloaded and Requests count this check's traffic, as in
	// LaunchResult.
	BytesDownloaded int64
	Requests        int
	// PackageBytes and Route say what the packages downloaded cost and how
	// they came, as in LaunchResult.
	PackageBytes int64
	Route        string
	// CheckedAt is the Runtime's clock when the check began.
	CheckedAt time.Time
	// Err is the check's failure, nil if none. ErrorCode(Err) names it.
	Err error
}
