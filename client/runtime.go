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
	appLocks map[string]chan struct{} // one-slot semaphores, by app
	active   int                      // background checks running
	idle     chan struct{}            // closed when active drops to 0
	closed   bool

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
		appLocks: make(map[string]chan struct{}),
		idle:     idle,
		bgCtx:    ctx,
		bgCancel: cancel,
	}, nil
}

// Launch is a cold start of app on channel. It never returns a nil
// result: the result says what was launched and carries the error too.
//
// With a version installed, Launch first promotes a ready version to
// installed (keeping the one it replaces as the previous version), launches
// the installed version at once (ModeAsync), and starts a background check
// of the channel: one conditional GET, which costs one 304 when nothing
// changed; a new version is downloaded, verified and made ready for the
// next cold start. The check's outcome is in the result's Wait.
//
// With nothing installed, Launch checks, downloads, verifies and installs
// before launching (ModeFirstInstall); if that fails there is nothing to
// launch and the error, which wraps ErrNotInstalled and the cause, is
// returned.
//
// Any failure of a check leaves the installed version launchable. The
// error is returned only when nothing could be launched; otherwise it is
// in the result's Err.
func (r *Runtime) Launch(ctx context.Context, app, channel string, _ LaunchOptions) (*LaunchResult, error) {
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
	// Promote the version a background check made ready: this is the
	// cold start it was downloaded for.
	if r.hasVersion(app, st.Ready) && st.Ready != st.Installed {
		r.opts.Logger.Info("promote ready version", "app", app, "from", st.Installed, "to", st.Ready)
		st.Previous, st.Installed, st.Ready = st.Installed, st.Ready, ""
	}
	r.tidy(app, st)
	if st.Installed != "" {
		st.LastUsed = now
		st.Channel = channel
		saveErr := r.saveState(app, st)
		if saveErr == nil {
			r.prune(app, st)
		}
		unlock()
		res.Mode = ModeAsync
		res.LaunchedVersion = st.Installed
		res.Path = r.versionDir(app, st.Installed)
		res.ReadyVersion = st.Ready
		// A state that cannot be saved is reported, but the version is
		// on disk and launches; the next launch promotes again.
		res.Err = errors.Join(stateErr, saveErr)
		if res.Err != nil {
			res.Err = fmt.Errorf("launch %s: %w", app, res.Err)
		}
		res.bg = r.startBackground(ctx, app, channel)
		return res, nil
	}
	unlock()

	res.Mode = ModeFirstInstall
	cr := r.check(ctx, app, channel, true)
	res.BytesDownloaded, res.Requests = cr.BytesDownloaded, cr.Requests
	if cr.Err == nil && cr.InstalledVersion == "" {
		cr.Err = fmt.Errorf("check %s on channel %s: %w: nothing installed after the check", app, channel, ErrState)
	}
	if cr.Err != nil {
		return fail(fmt.Errorf("launch %s: %w: %w", app, ErrNotInstalled, cr.Err))
	}
	res.LaunchedVersion = cr.InstalledVersion
	res.Path = r.versionDir(app, cr.InstalledVersion)
	res.ReadyVersion = cr.ReadyVersion
	if stateErr != nil {
		res.Err = fmt.Errorf("launch %s: %w", app, stateErr)
	}
	return res, nil
}

// startBackground runs a check of app on channel in a new goroutine. It
// keeps ctx's values but not its cancellation: the launch's caller may be
// done with ctx as soon as Launch returns. Close cancels it.
func (r *Runtime) startBackground(ctx context.Context, app, channel string) *background {
	bg := &background{done: make(chan struct{})}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		bg.result = &CheckResult{App: app, Channel: channel, Err: fmt.Errorf("check %s: %w", app, ErrClosed)}
		close(bg.done)
		return bg
	}
	if r.active == 0 {
		r.idle = make(chan struct{})
	}
	r.active++
	r.mu.Unlock()

	bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(r.bgCtx, cancel)
	go func() {
		defer func() {
			stop()
			cancel()
			r.mu.Lock()
			r.active--
			if r.active == 0 {
				close(r.idle)
			}
			r.mu.Unlock()
		}()
		bg.result = r.check(bctx, app, channel, false)
		close(bg.done)
	}()
	return bg
}

// Check runs one update check of app on channel now and waits for it: the
// same check a cold start runs in the background. A new version is
// downloaded, verified and made ready for the next cold start (with nothing
// installed it is made ready too, and the next Launch starts it). The
// error, also in the result's Err, is nil when the check succeeded.
func (r *Runtime) Check(ctx context.Context, app, channel string) (*CheckResult, error) {
	if err := validateNames(app, channel); err != nil {
		err = fmt.Errorf("check: %w", err)
		return &CheckResult{App: app, Channel: channel, Err: err}, err
	}
	if r.isClosed() {
		err := fmt.Errorf("check %s: %w", app, ErrClosed)
		return &CheckResult{App: app, Channel: channel, Err: err}, err
	}
	res := r.check(ctx, app, channel, false)
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
// it waits, has finished, or until ctx ends.
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

// lock takes app's lock: a semaphore for this Runtime and an exclusive
// lock on StateDir/apps/<app>/lock for other Runtimes and processes. It
// waits until both are held or ctx ends, and returns the function that
// releases them.
func (r *Runtime) lock(ctx context.Context, app string) (func(), error) {
	r.mu.Lock()
	sem, ok := r.appLocks[app]
	if !ok {
		sem = make(chan struct{}, 1)
		r.appLocks[app] = sem
	}
	r.mu.Unlock()
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("lock state of %s: %w", app, ctx.Err())
	}
	release := func() { <-sem }
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
	// Poll rather than block in flock(2), so that waiting respects ctx.
	delay := time.Millisecond
	for {
		ok, err := tryLockFile(f)
		if err != nil {
			f.Close()
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
			f.Close()
			release()
			return nil, fmt.Errorf("lock state of %s: %w", app, ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, 50*time.Millisecond)
	}
	return func() {
		unlockFile(f)
		f.Close()
		release()
	}, nil
}
