package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/mpship/mpship/manifests"
)

// ErrClosed is returned by a Runtime after Close.
var ErrClosed = errors.New("client runtime closed")

// Runtime is the update mechanism a super app embeds: it launches mini
// programs from its state directory and keeps them up to date from an
// origin. A Runtime is safe for concurrent use; launches of one app are
// serialised where they touch the state directory (also across processes
// sharing it), and launches of different apps are independent.
type Runtime struct {
	opts  Options
	fetch *fetcher

	mu       sync.Mutex
	appLocks map[string]*appSlot
	managers map[string]*UpdateManager
	active   int           // background checks and event goroutines running
	idle     chan struct{} // closed when active drops to 0
	closed   bool
	net      Network // set by SetNetwork
	randMu   sync.Mutex

	appList     []string    // apps() as last listed
	appListInfo os.FileInfo // of the apps directory then

	bgCtx    context.Context // canceled by Close
	bgCancel context.CancelFunc
}

// New returns a Runtime for opts, creating opts.StateDir if needed. See
// Options for what is required and the defaults.
func New(opts Options) (*Runtime, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(o.StateDir, "apps"), 0o755); err != nil {
		return nil, fmt.Errorf("client state directory %s: %w: %w", o.StateDir, ErrState, err)
	}
	idle := make(chan struct{})
	close(idle)
	ctx, cancel := context.WithCancel(context.Background())
	return &Runtime{
		opts:     o,
		fetch:    &fetcher{hc: o.HTTPClient, base: o.Origin, retry: o.Retry, log: o.Logger},
		appLocks: make(map[string]*appSlot),
		managers: make(map[string]*UpdateManager),
		net:      NetworkGood,
		idle:     idle,
		bgCtx:    ctx,
		bgCancel: cancel,
	}, nil
}

// Launch starts app on channel: a cold start, or a warm start with
// opts.Warm. It never returns a nil result: the result says what was
// launched and how (Mode, Reason), and carries the error too.
//
// With nothing installed, Launch checks, downloads, verifies and installs
// before launching (ModeFirstInstall); if that fails there is nothing to
// launch and the error, which wraps ErrNotInstalled and the cause, is
// returned.
//
// A warm start (the mini program returns from the background) launches the
// installed version and does nothing else (ModeWarm).
//
// A cold start first promotes a ready version to installed (keeping the one
// it replaces as the previous version), then follows the policy:
//
//   - Rule 1: it launches the installed version at once (ModeAsync) and
//     checks the channel in the background: one conditional GET, which
//     costs one 304 when nothing changed; a new version is downloaded,
//     verified and made ready for the next cold start. The check's outcome
//     is in the result's Wait.
//   - Rules 2 to 4: when a check marked the app (AppState.Marked) or it was
//     last used Policy.DisuseAfter ago or more, the launch is synchronous:
//     it checks, downloads, verifies and installs, then launches the new
//     version (ModeSync), waiting no longer than Policy.SyncTimeout of wall
//     time. After that, or when the update fails, the installed version
//     launches (ModeSyncTimeout, ModeSyncFailed); after a timeout the
//     update carries on in the background. A marked app whose update a
//     periodic check already downloaded launches it at once (ModeSync) and
//     checks in the background as in rule 1.
//   - Rule 5: on a network that is not good, a synchronous launch falls back
//     to the installed version at once (ModeAsync, ReasonWeakNetwork); when
//     offline no check runs.
//   - Rule 7: with opts.SimulateUpdate the installed version launches with
//     no request at all and the update manager reports an update ready.
//
// Any failure of a check leaves the installed version launchable. The
// error is returned only when nothing could be launched; otherwise it is
// in the result's Err.
func (r *Runtime) Launch(ctx context.Context, app, channel string, opts LaunchOptions) (*LaunchResult, error) {
	res := &LaunchResult{App: app, Channel: channel}
	fail := func(err error) (*LaunchResult, error) {
		res.Err = err
		return res, err
	}
	if err := validateNames(app, channel); err != nil {
		return fail(fmt.Errorf("launch: %w", err))
	}
	if r.isClosed() {
		return fail(fmt.Errorf("launch %s: %w", app, ErrClosed))
	}
	net := r.network()
	res.Network = net
	unlock, err := r.lock(ctx, app)
	if err != nil {
		return fail(fmt.Errorf("launch %s: %w", app, err))
	}
	st, stateErr := r.loadState(app)
	if st == nil {
		unlock()
		return fail(fmt.Errorf("launch %s: %w", app, stateErr))
	}
	now := r.opts.Now()
	r.tidy(app, st)
	for _, v := range []string{st.Installed, st.Ready} {
		if v != "" && !r.statVersion(app, v) {
			// Deleted behind the Runtime's back: forget it.
			r.forgetVersion(app, v)
			r.tidy(app, st)
		}
	}
	if st.Installed == "" {
		unlock()
		return r.firstInstall(ctx, app, channel, opts, net, stateErr, res)
	}

	var lp launchPlan
	if opts.Warm {
		lp = launchPlan{mode: ModeWarm, reason: ReasonWarm}
	} else {
		// Promote the version a check made ready: this is the cold
		// start it was downloaded for.
		if st.Ready != "" {
			r.opts.Logger.Info("promote ready version", "app", app, "from", st.Installed, "to", st.Ready)
			st.Previous, st.Installed, st.Ready = st.Installed, st.Ready, ""
		}
		lp = r.opts.Policy.plan(st, now, net, opts.SimulateUpdate)
		if st.Marked == st.Installed {
			st.Marked, st.MarkedAt = "", time.Time{}
		}
	}
	st.LastUsed = now
	st.Channel = channel
	saveErr := r.saveState(app, st)
	if saveErr == nil {
		r.prune(app, st)
	}
	unlock()
	res.Mode, res.Reason = lp.mode, lp.reason
	res.LaunchedVersion = st.Installed
	res.Path = r.versionDir(app, st.Installed)
	res.ReadyVersion = st.Ready
	// A state that cannot be saved is reported, but the version is on disk
	// and launches; the next launch promotes again.
	if err := errors.Join(stateErr, saveErr); err != nil {
		res.Err = fmt.Errorf("launch %s: %w", app, err)
	}
	if opts.Warm {
		return res, nil
	}

	m := r.manager(app)
	sess := m.begin(opts.SimulateUpdate)
	res.sess = sess
	switch {
	case opts.SimulateUpdate:
		// Rule 7: as if a new version had been published and downloaded,
		// with no request and nothing changed on disk.
		res.Simulated = true
		sess.checkedUpdate(true)
		sess.emit(Event{Kind: EventUpdateReady, Version: st.Installed})
	case lp.blocking:
		r.syncLaunch(ctx, app, channel, sess, res)
	case lp.check:
		res.bg = r.startBackground(ctx, app, channel, checkOpts{download: lp.download, sess: sess})
	}
	res.Events = sess.snapshot()
	return res, nil
}

// firstInstall installs app from channel when nothing is installed.
func (r *Runtime) firstInstall(ctx context.Context, app, channel string, opts LaunchOptions, net Network, stateErr error, res *LaunchResult) (*LaunchResult, error) {
	res.Mode, res.Reason = ModeFirstInstall, ReasonNotInstalled
	fail := func(err error) (*LaunchResult, error) {
		err = fmt.Errorf("launch %s: %w: %w", app, ErrNotInstalled, err)
		res.Err = err
		return res, err
	}
	switch {
	case opts.SimulateUpdate:
		return fail(errors.New("a simulated update needs an installed version: launch once without it first"))
	case net == NetworkOffline:
		return fail(ErrOffline)
	}
	// Nothing else can launch, so the download is never deferred and no
	// timeout applies beyond ctx's.
	cr := r.check(ctx, app, channel, checkOpts{first: true, download: true})
	res.BytesDownloaded, res.Requests = cr.BytesDownloaded, cr.Requests
	res.PackageBytes, res.Route = cr.PackageBytes, cr.Route
	res.Check = cr
	if cr.Err == nil && cr.InstalledVersion == "" {
		cr.Err = fmt.Errorf("check %s on channel %s: %w: nothing installed after the check", app, channel, ErrState)
	}
	if cr.Err != nil {
		return fail(cr.Err)
	}
	res.LaunchedVersion = cr.InstalledVersion
	res.Path = r.versionDir(app, cr.InstalledVersion)
	res.ReadyVersion = cr.ReadyVersion
	if stateErr != nil {
		res.Err = fmt.Errorf("launch %s: %w", app, stateErr)
	}
	sess := r.manager(app).begin(false)
	sess.checkedUpdate(false)
	res.sess = sess
	res.Events = sess.snapshot()
	return res, nil
}

// syncLaunch runs a synchronous update (rule 3) for a launch whose state
// is already saved, waits for it at most Policy.SyncTimeout of wall time,
// and fills in res with what launches.
func (r *Runtime) syncLaunch(ctx context.Context, app, channel string, sess *session, res *LaunchResult) {
	installed := res.LaunchedVersion
	sess.holdEvents()
	bg := r.startBackground(ctx, app, channel, checkOpts{download: true, sess: sess})
	timeout := r.opts.Policy.SyncTimeout
	// The timeout is wall time whatever Options.Now says: it bounds how
	// long a person looks at a splash screen.
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	select {
	case <-bg.done:
	case <-tctx.Done():
		res.Mode = ModeSyncTimeout
		cause := ErrSyncTimeout
		if ctx.Err() != nil {
			cause = ctx.Err()
		}
		res.Err = fmt.Errorf("launch %s: %w after %s; launched %s, the update carries on in the background", app, cause, timeout, installed)
		res.bg = bg
		sess.releaseEvents()
		return
	}
	cr := bg.result
	res.Check = cr
	res.BytesDownloaded += cr.BytesDownloaded
	res.Requests += cr.Requests
	res.PackageBytes += cr.PackageBytes
	if cr.Route != "" {
		res.Route = cr.Route
	}
	if cr.Err != nil {
		res.Mode = ModeSyncFailed
		res.Err = fmt.Errorf("launch %s: synchronous update failed, launched %s: %w", app, installed, cr.Err)
		sess.releaseEvents()
		if !IsTransient(cr.Err) {
			// Blocking the next launch would fail the same way: only
			// a transient failure keeps the mark.
			r.clearMark(ctx, app)
		}
		return
	}
	// Start what the check made ready.
	unlock, err := r.lock(ctx, app)
	if err != nil {
		res.Mode = ModeSyncFailed
		res.Err = fmt.Errorf("launch %s: %w", app, err)
		sess.releaseEvents()
		return
	}
	defer unlock()
	st, stateErr := r.loadState(app)
	if st == nil {
		res.Mode = ModeSyncFailed
		res.Err = fmt.Errorf("launch %s: %w", app, stateErr)
		sess.releaseEvents()
		return
	}
	r.tidy(app, st)
	if st.Ready != "" {
		r.opts.Logger.Info("promote ready version", "app", app, "from", st.Installed, "to", st.Ready)
		st.Previous, st.Installed, st.Ready = st.Installed, st.Ready, ""
	}
	if st.Marked == st.Installed {
		st.Marked, st.MarkedAt = "", time.Time{}
	}
	if err := r.saveState(app, st); err != nil {
		// The promotion is not recorded: launch what is recorded.
		res.Mode = ModeSyncFailed
		res.Err = fmt.Errorf("launch %s: %w", app, err)
		sess.releaseEvents()
		return
	}
	r.prune(app, st)
	res.LaunchedVersion = st.Installed
	res.Path = r.versionDir(app, st.Installed)
	res.ReadyVersion = st.Ready
	if st.Installed == cr.LatestVersion {
		// What runs is the newest: the run sees no update.
		sess.replaceEvents(Event{Kind: EventCheckForUpdate, HasUpdate: false})
	} else {
		sess.releaseEvents()
	}
	if stateErr != nil && res.Err == nil {
		res.Err = fmt.Errorf("launch %s: %w", app, stateErr)
	}
}

// clearMark forgets app's mark.
func (r *Runtime) clearMark(ctx context.Context, app string) {
	unlock, err := r.lock(ctx, app)
	if err != nil {
		return
	}
	defer unlock()
	st, _ := r.loadState(app)
	if st == nil || st.Marked == "" {
		return
	}
	st.Marked, st.MarkedAt = "", time.Time{}
	if err := r.saveState(app, st); err != nil {
		r.opts.Logger.Warn("clear mark", "app", app, "err", err)
	}
}

// apply restarts app into its ready version (UpdateManager.ApplyUpdate).
func (r *Runtime) apply(ctx context.Context, app string, simulated bool) (*LaunchResult, error) {
	res := &LaunchResult{App: app, Mode: ModeApply, Network: r.network()}
	fail := func(err error) (*LaunchResult, error) {
		res.Err = err
		return res, err
	}
	if r.isClosed() {
		return fail(fmt.Errorf("apply update of %s: %w", app, ErrClosed))
	}
	unlock, err := r.lock(ctx, app)
	if err != nil {
		return fail(fmt.Errorf("apply update of %s: %w", app, err))
	}
	defer unlock()
	st, stateErr := r.loadState(app)
	if st == nil {
		return fail(fmt.Errorf("apply update of %s: %w", app, stateErr))
	}
	r.tidy(app, st)
	res.Channel = st.Channel
	switch {
	case simulated && st.Installed != "":
		// Rule 7: a simulated update changes nothing, even when a real
		// update became ready meanwhile; the next cold start takes that.
		res.Simulated = true
	case st.Ready != "":
		r.opts.Logger.Info("apply update", "app", app, "from", st.Installed, "to", st.Ready)
		st.Previous, st.Installed, st.Ready = st.Installed, st.Ready, ""
		if st.Marked == st.Installed {
			st.Marked, st.MarkedAt = "", time.Time{}
		}
		st.LastUsed = r.opts.Now()
		if err := r.saveState(app, st); err != nil {
			return fail(fmt.Errorf("apply update of %s: %w", app, err))
		}
		r.prune(app, st)
	default:
		return fail(fmt.Errorf("apply update of %s: %w: the running version %s is the newest this device has", app, ErrNoUpdate, st.Installed))
	}
	res.Reason = "apply"
	res.LaunchedVersion = st.Installed
	res.Path = r.versionDir(app, st.Installed)
	if stateErr != nil {
		res.Err = fmt.Errorf("apply update of %s: %w", app, stateErr)
	}
	return res, nil
}

// startBackground runs a check of app on channel in a new goroutine. It
// keeps ctx's values but not its cancellation: the launch's caller may be
// done with ctx as soon as Launch returns. Close cancels it.
func (r *Runtime) startBackground(ctx context.Context, app, channel string, co checkOpts) *background {
	bg := &background{done: make(chan struct{})}
	if !r.track() {
		bg.result = &CheckResult{App: app, Channel: channel, Err: fmt.Errorf("check %s: %w", app, ErrClosed)}
		co.sess.finish(bg.result)
		close(bg.done)
		return bg
	}
	bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(r.bgCtx, cancel)
	go func() {
		defer func() {
			stop()
			cancel()
			r.untrack()
		}()
		bg.result = r.check(bctx, app, channel, co)
		close(bg.done)
	}()
	return bg
}

// track counts a goroutine doing background work, for Wait and Close. It
// reports false, counting nothing, when the Runtime is closed.
func (r *Runtime) track() bool { return r.trackIf(false) }

// trackEvents counts an event goroutine. Unlike track it still counts
// after Close while other work is counted, so that the events of a check
// Close cancels are delivered before Close returns.
func (r *Runtime) trackEvents() bool { return r.trackIf(true) }

func (r *Runtime) trackIf(whileBusy bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed && !(whileBusy && r.active > 0) {
		return false
	}
	if r.active == 0 {
		r.idle = make(chan struct{})
	}
	r.active++
	return true
}

// untrack ends what track counted.
func (r *Runtime) untrack() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.active--
	if r.active == 0 {
		close(r.idle)
	}
}

// SetNetwork tells the runtime the network's quality (rule 5), for hosts
// that do not give Options.Network. It is safe to call at any time.
func (r *Runtime) SetNetwork(n Network) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.net = n
}

// network returns the quality in effect now.
func (r *Runtime) network() Network {
	if r.opts.Network != nil {
		if n, err := ParseNetwork(string(r.opts.Network())); err == nil {
			return n
		}
		return NetworkGood
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.net
}

// Check runs one update check of app on channel now and waits for it: the
// same check a cold start runs in the background, without update-manager
// events. A new version is downloaded, verified and made ready for the next
// cold start (with nothing installed it is made ready too, and the next
// Launch starts it), unless the network's quality defers downloads (rule
// 5). Offline, it fails with ErrOffline. The error, also in the result's
// Err, is nil when the check succeeded.
func (r *Runtime) Check(ctx context.Context, app, channel string) (*CheckResult, error) {
	if err := validateNames(app, channel); err != nil {
		err = fmt.Errorf("check: %w", err)
		return &CheckResult{App: app, Channel: channel, Err: err}, err
	}
	if r.isClosed() {
		err := fmt.Errorf("check %s: %w", app, ErrClosed)
		return &CheckResult{App: app, Channel: channel, Err: err}, err
	}
	net := r.network()
	if net == NetworkOffline {
		err := fmt.Errorf("check %s: %w", app, ErrOffline)
		return &CheckResult{App: app, Channel: channel, CheckedAt: r.opts.Now(), Err: err}, err
	}
	res := r.check(ctx, app, channel, checkOpts{download: r.opts.Policy.mayDownload(net)})
	return res, res.Err
}

// State returns a copy of what the device remembers about app. An app never
// launched has an empty state (no Installed version). A corrupt state file
// is moved aside and reset, as Launch would, and reported with ErrState.
func (r *Runtime) State(ctx context.Context, app string) (*AppState, error) {
	if err := manifests.ValidateApp(app); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	unlock, err := r.lock(ctx, app)
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", app, err)
	}
	defer unlock()
	st, err := r.loadState(app)
	if st == nil {
		return nil, err
	}
	return st.clone(), err
}

// Wait blocks until every background check running now, or started while
// it waits, has finished and every update-manager event has been
// delivered, or until ctx ends.
func (r *Runtime) Wait(ctx context.Context) error {
	r.mu.Lock()
	idle := r.idle
	r.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close cancels background checks, waits for them to stop (a canceled
// check leaves the state as it was), and makes later calls fail with
// ErrClosed. It is safe to call more than once.
func (r *Runtime) Close() error {
	r.mu.Lock()
	r.closed = true
	idle := r.idle
	r.mu.Unlock()
	r.bgCancel()
	<-idle
	r.closeLockFiles()
	return nil
}

func (r *Runtime) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

func validateNames(app, channel string) error {
	return errors.Join(manifests.ValidateApp(app), manifests.ValidateChannel(channel))
}

// appSlot is what a Runtime keeps per app. sem is a one-slot semaphore:
// its holder holds the app's lock for this Runtime, and only it uses the
// other fields.
type appSlot struct {
	sem chan struct{}
	// lockFile is the open StateDir/apps/<app>/lock, kept open so that
	// taking the lock costs one flock(2).
	lockFile *os.File
	// state is the state last read or written, and info the state file's
	// FileInfo then: while the file on disk is the same file, unchanged,
	// the state is not read again.
	state *AppState
	info  os.FileInfo
	// versions are version directories seen to exist since (hasVersion).
	versions map[string]bool
}

func (r *Runtime) slot(app string) *appSlot {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.appLocks[app]
	if !ok {
		s = &appSlot{sem: make(chan struct{}, 1)}
		r.appLocks[app] = s
	}
	return s
}

// lock takes app's lock: a semaphore for this Runtime and an exclusive
// lock on StateDir/apps/<app>/lock for other Runtimes and processes. It
// waits until both are held or ctx ends, and returns the function that
// releases them.
func (r *Runtime) lock(ctx context.Context, app string) (func(), error) {
	s := r.slot(app)
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("lock state of %s: %w", app, ctx.Err())
	}
	release := func() { <-s.sem }
	if s.lockFile == nil {
		dir := r.appDir(app)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			release()
			return nil, fmt.Errorf("lock state of %s: %w: %w", app, ErrState, err)
		}
		f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			release()
			return nil, fmt.Errorf("lock state of %s: %w: %w", app, ErrState, err)
		}
		s.lockFile = f
	}
	// Poll rather than block in flock(2), so that waiting respects ctx.
	delay := time.Millisecond
	for {
		ok, err := tryLockFile(s.lockFile)
		if err != nil {
			release()
			return nil, fmt.Errorf("lock state of %s: %w: %w", app, ErrState, err)
		}
		if ok {
			break
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			release()
			return nil, fmt.Errorf("lock state of %s: %w", app, ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, 50*time.Millisecond)
	}
	return func() {
		unlockFile(s.lockFile)
		release()
	}, nil
}

// closeLockFiles closes the lock files kept open, waiting for each app's
// lock.
func (r *Runtime) closeLockFiles() {
	r.mu.Lock()
	slots := make([]*appSlot, 0, len(r.appLocks))
	for _, s := range r.appLocks {
		slots = append(slots, s)
	}
	r.mu.Unlock()
	for _, s := range slots {
		s.sem <- struct{}{}
		if s.lockFile != nil {
			s.lockFile.Close()
			s.lockFile = nil
		}
		<-s.sem
	}
}
