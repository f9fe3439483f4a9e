package client

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/mpship/mpship/manifests"
)

// BackgroundResult is what one periodic pass did (Runtime.Background). It
// is plain data.
type BackgroundResult struct {
	// At is the Runtime's clock when the pass began.
	At time.Time
	// Network is the network quality in effect.
	Network Network
	// Jitter is the offset this pass added to Policy.CheckInterval.
	Jitter time.Duration
	// Apps are the apps of the state directory, by app id.
	Apps []BackgroundApp
	// Err joins the failures of the checks; nil when all succeeded.
	Err error
}

// BackgroundApp is one app in a periodic pass.
type BackgroundApp struct {
	// App and Channel (of its last launch) name it.
	App, Channel string
	// Checked is true when the pass checked it; Skipped then says why not
	// ("not used within 7d", "checked 20m ago", "offline", ...).
	Checked bool
	Skipped string
	// Check is the check's outcome when Checked.
	Check *CheckResult
}

// Background runs one periodic pass (rule 2): every app of the state
// directory launched within Policy.RecentWindow whose channel was last
// checked at least Policy.CheckInterval (± the pass's jitter) ago is
// checked, one after another. An update found marks the app, so that its
// next launch is synchronous; unless Policy.NoBackgroundDownload, or the
// network's quality defers downloads (rule 5), it is downloaded, verified
// and made ready too, so that launch is instant. Offline, nothing is
// checked.
//
// The host calls Background from whatever runs while the mini programs do
// not: a timer while the super app is in the foreground, a background task
// where the platform grants one. NextBackground says when the next pass is
// due. The error, also in the result's Err, joins the checks' failures.
func (r *Runtime) Background(ctx context.Context) (*BackgroundResult, error) {
	if r.isClosed() {
		return nil, fmt.Errorf("background pass: %w", ErrClosed)
	}
	p := &r.opts.Policy
	res := &BackgroundResult{At: r.opts.Now(), Network: r.network()}
	apps, err := r.apps()
	if err != nil {
		return res, fmt.Errorf("background pass: %w", err)
	}
	if p.CheckInterval > 0 {
		res.Jitter = r.jitter()
	}
	var errs []error
	for _, app := range apps {
		ba := BackgroundApp{App: app}
		unlock, err := r.lock(ctx, app)
		if err != nil {
			return res, fmt.Errorf("background pass: %w", err)
		}
		st, stateErr := r.loadState(app)
		unlock()
		if st == nil {
			errs = append(errs, stateErr)
			ba.Skipped = "state unreadable"
			res.Apps = append(res.Apps, ba)
			continue
		}
		ba.Channel = st.Channel
		due, why := p.backgroundDue(st, res.At, res.Jitter)
		switch {
		case p.CheckInterval < 0:
			ba.Skipped = "periodic checks off"
		case !due:
			ba.Skipped = why
		case res.Network == NetworkOffline:
			ba.Skipped = "offline"
		default:
			ba.Checked = true
			ba.Check = r.check(ctx, app, st.Channel, checkOpts{
				download: !p.NoBackgroundDownload && p.mayDownload(res.Network),
				periodic: true,
			})
			if ba.Check.Err != nil {
				errs = append(errs, ba.Check.Err)
			}
		}
		res.Apps = append(res.Apps, ba)
	}
	res.Err = errors.Join(errs...)
	return res, res.Err
}

// NextBackground returns how long after a pass the next one is due:
// Policy.CheckInterval plus a jitter drawn from Options.Rand. It returns
// false when periodic checks are off.
func (r *Runtime) NextBackground() (time.Duration, bool) {
	p := &r.opts.Policy
	if p.CheckInterval < 0 {
		return 0, false
	}
	return p.CheckInterval + r.jitter(), true
}

// jitter draws an offset in [-CheckJitter, +CheckJitter].
func (r *Runtime) jitter() time.Duration {
	j := r.opts.Policy.CheckJitter
	if j <= 0 {
		return 0
	}
	r.randMu.Lock()
	defer r.randMu.Unlock()
	return time.Duration(r.opts.Rand.Int64N(int64(2*j)+1)) - j
}

// Apps returns the ids of the apps in the state directory, sorted.
func (r *Runtime) Apps() ([]string, error) { return r.apps() }

// apps lists the apps, reading the apps directory again only when its
// modification time says an entry was added or removed.
func (r *Runtime) apps() ([]string, error) {
	dir := filepath.Join(r.opts.StateDir, "apps")
	fi, err := os.Stat(dir)
	r.mu.Lock()
	cached, cachedInfo := r.appList, r.appListInfo
	r.mu.Unlock()
	if err == nil && cachedInfo != nil && os.SameFile(fi, cachedInfo) && fi.ModTime().Equal(cachedInfo.ModTime()) {
		return slices.Clone(cached), nil
	}
	apps, lerr := listApps(r.opts.StateDir)
	if lerr == nil && err == nil {
		r.mu.Lock()
		r.appList, r.appListInfo = apps, fi
		r.mu.Unlock()
	}
	return slices.Clone(apps), lerr
}

func listApps(stateDir string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(stateDir, "apps"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list apps in %s: %w: %w", stateDir, ErrState, err)
	}
	var apps []string
	for _, e := range entries {
		if e.IsDir() && manifests.ValidateApp(e.Name()) == nil {
			apps = append(apps, e.Name())
		}
	}
	slices.Sort(apps)
	return apps, nil
}

// AppStatus is what a device holds for one app and what the policy would
// do with it now (ReadStatus). It is plain data.
type AppStatus struct {
	// State is the app's state file.
	State AppState
	// NextLaunch and NextReason are the mode and reason a cold start at
	// the given time would have, before any network answer.
	NextLaunch Mode
	NextReason string
	// BackgroundDue is true when a periodic pass at that time (without
	// jitter) would check the app; BackgroundSkip says why not.
	BackgroundDue  bool
	BackgroundSkip string
	// Err is set when the state file cannot be read; State is then empty.
	Err error
}

// ReadStatus reads the state of every app in stateDir without changing
// anything (no lock is taken: state files are replaced atomically) and
// says what policy would do at now on network net. policy's zero fields
// take their defaults. It is safe for concurrent use with Runtimes on the
// same directory.
func ReadStatus(stateDir string, policy Policy, now time.Time, net Network) ([]AppStatus, error) {
	p, err := policy.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	apps, err := listApps(stateDir)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	var out []AppStatus
	for _, app := range apps {
		st, err := readState(filepath.Join(stateDir, "apps", app), app)
		if err != nil {
			out = append(out, AppStatus{State: AppState{App: app}, Err: err})
			continue
		}
		as := AppStatus{State: *st}
		switch {
		case st.Installed == "":
			as.NextLaunch, as.NextReason = ModeFirstInstall, ReasonNotInstalled
		default:
			next := st.clone()
			if next.Ready != "" {
				next.Previous, next.Installed, next.Ready = next.Installed, next.Ready, ""
			}
			lp := p.plan(next, now, net, false)
			as.NextLaunch, as.NextReason = lp.mode, lp.reason
		}
		if p.CheckInterval < 0 {
			as.BackgroundSkip = "periodic checks off"
		} else {
			as.BackgroundDue, as.BackgroundSkip = p.backgroundDue(st, now, 0)
		}
		out = append(out, as)
	}
	return out, nil
}
