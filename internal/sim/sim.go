package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mpship/mpship/client"
	"github.com/mpship/mpship/generator"
	"github.com/mpship/mpship/manifests"
	"github.com/mpship/mpship/origin"
	"github.com/mpship/mpship/store/local"
)

// The simulated release.
const (
	app        = "com.example.sim"
	channel    = "stable"
	oldVersion = "1.0.0"
	newVersion = "1.1.0"
	// ActiveWindow defines the devices coverage is measured on: those
	// that cold-started the mini program within it before the release.
	// It is rule 2's default window, whatever the policy under test.
	ActiveWindow = client.DefaultRecentWindow
)

// releaseDay is the virtual date of the release; the hour comes from
// Usage.ReleaseHour, in China Standard Time, where the diurnal model is
// set.
var (
	releaseZone = time.FixedZone("CST", 8*3600)
	releaseDay  = time.Date(2026, 3, 2, 0, 0, 0, 0, releaseZone)
)

// Run simulates cfg's population through a release and returns what it
// measured. Every device runs the real client (client.Runtime) with its own
// state directory and virtual clock against the real origin handler (in
// process, no sockets), so every decision (when to check, whether to wait,
// what to download) is the client's own. Run is safe for concurrent use;
// it fails on a bad Config, on a broken environment (a full disk) and when
// ctx ends.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	began := time.Now()
	if cfg.Dir == "" {
		dir, err := os.MkdirTemp(defaultBase(), "mpship-sim-")
		if err != nil {
			return nil, fmt.Errorf("simulation: %w", err)
		}
		defer os.RemoveAll(dir)
		cfg.Dir = dir
	}
	w, err := newWorld(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	defer w.close()

	var next, done atomic.Int64
	aggs := make([]*aggregate, cfg.Workers)
	errs := make([]error, cfg.Workers)
	var wg sync.WaitGroup
	step := max(1, cfg.Devices/100)
	for k := range cfg.Workers {
		aggs[k] = newAggregate(&cfg)
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= cfg.Devices || ctx.Err() != nil {
					return
				}
				if err := w.runDevice(ctx, i, aggs[k]); err != nil {
					errs[k] = err
					return
				}
				if n := done.Add(1); cfg.Progress != nil && (n%int64(step) == 0 || n == int64(cfg.Devices)) {
					cfg.Progress(int(n), cfg.Devices)
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(append(errs, ctx.Err())...); err != nil {
		return nil, fmt.Errorf("simulation: %w", err)
	}
	total := newAggregate(&cfg)
	for _, a := range aggs {
		total.merge(a)
	}
	res := total.result(&cfg)
	res.Elapsed = time.Since(began)
	return res, nil
}

// defaultBase is where Run makes its directory when Config.Dir is empty:
// on Linux the RAM file system at /dev/shm when it is there, since ten
// thousand devices replace hundreds of thousands of small state files, and
// the system's temporary directory otherwise.
func defaultBase() string {
	if runtime.GOOS == "linux" {
		if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
			if f, err := os.CreateTemp("/dev/shm", "mpship-sim-probe-"); err == nil {
				f.Close()
				os.Remove(f.Name())
				return "/dev/shm"
			}
		}
	}
	return os.TempDir()
}

// world is what every device shares: the origin and the publisher's key.
type world struct {
	cfg *Config
	// template is the state directory of a device that installed the
	// old version, and templateState its state.
	template      string
	templateState *client.AppState
	release       time.Time
	trust         *manifests.Trust
	hc            *http.Client
	stores        []*local.Store
}

func newWorld(ctx context.Context, cfg *Config) (*world, error) {
	w := &world{cfg: cfg, release: releaseDay.Add(time.Duration(cfg.Usage.ReleaseHour) * time.Hour)}
	pub, priv, err := manifests.GenerateKey(nil)
	if err != nil {
		return nil, fmt.Errorf("simulation: %w", err)
	}
	if w.trust, err = manifests.NewTrust(1, pub); err != nil {
		return nil, fmt.Errorf("simulation: %w", err)
	}
	signer := manifests.NewSigner(priv)
	// Two stores: before the release, with the old version only; after,
	// with both. Generated alike, the old version's objects are the same
	// bytes in both.
	var origins []http.Handler
	for _, name := range []string{"before", "after"} {
		st, err := local.Open(filepath.Join(cfg.Dir, "store-"+name), local.Options{Create: true})
		if err != nil {
			return nil, fmt.Errorf("simulation: %w", err)
		}
		w.stores = append(w.stores, st)
		versions := []string{oldVersion}
		if name == "after" {
			versions = append(versions, newVersion)
		}
		for _, v := range versions {
			src, err := writeMiniProgram(filepath.Join(cfg.Dir, "src-"+v), v)
			if err != nil {
				return nil, err
			}
			// The old manifest stays valid for any device's seed install
			// (up to half a year back) and the new for the horizon.
			at, expiry := w.release.Add(-time.Hour), generator.MaxExpiry
			if v == newVersion {
				at, expiry = w.release, max(generator.DefaultExpiry, cfg.Horizon+24*time.Hour)
			}
			_, err = generator.Run(ctx, generator.Options{
				Store: st, Signers: []*manifests.Signer{signer},
				App: app, Channel: channel, Version: v, Source: src,
				Now: func() time.Time { return at }, Expiry: expiry,
			})
			if err != nil {
				return nil, fmt.Errorf("simulation: publish %s: %w", v, err)
			}
		}
		o, err := origin.New(st, origin.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			return nil, fmt.Errorf("simulation: %w", err)
		}
		origins = append(origins, o)
	}
	w.hc = &http.Client{Transport: &transport{before: origins[0], after: origins[1], release: w.release}}
	// A policy the client refuses would fail every device: refuse it once.
	// This first device installs the old version for real; the others
	// start from a copy of its state directory (seed).
	clk := &clock{}
	dc := &devCtx{clock: clk, stats: newCounters(cfg.CDN.ManifestMaxAge)}
	w.template = filepath.Join(cfg.Dir, "template")
	tmpl, err := w.runtime(w.template, clk, dc, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	defer tmpl.Close()
	dc.set(w.release, -time.Hour, client.NetworkGood)
	res, err := tmpl.Launch(withDevice(ctx, dc), app, channel, client.LaunchOptions{})
	if err != nil {
		return nil, fmt.Errorf("simulation: install %s: %w", oldVersion, err)
	}
	if _, err := res.Wait(ctx); err != nil {
		return nil, err
	}
	if w.templateState, err = tmpl.State(ctx, app); err != nil {
		return nil, fmt.Errorf("simulation: %w", err)
	}
	return w, nil
}

// seed makes dir the state directory of a device that installed the old
// version at at (after the release, so negative): a copy of the template
// device's, its version files hard-linked, its state's times moved to at.
// The client decides everything from there on.
func (w *world) seed(dir string, at time.Duration) error {
	src := filepath.Join(w.template, "apps", app)
	dst := filepath.Join(dir, "apps", app)
	vsrc := filepath.Join(src, "versions", oldVersion)
	err := filepath.WalkDir(vsrc, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(vsrc, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, "versions", oldVersion, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if err := os.Link(p, target); err == nil {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		return fmt.Errorf("simulation: seed device: %w", err)
	}
	st := *w.templateState
	st.Channels = maps.Clone(st.Channels)
	t := w.release.Add(at)
	st.LastUsed = t
	cs := st.Channels[channel]
	cs.CheckedAt = t
	st.Channels[channel] = cs
	data, err := json.Marshal(&st)
	if err != nil {
		return fmt.Errorf("simulation: seed device: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dst, "state.json"), data, 0o644); err != nil {
		return fmt.Errorf("simulation: seed device: %w", err)
	}
	return nil
}

func (w *world) close() {
	for _, st := range w.stores {
		st.Close()
	}
}

// writeMiniProgram writes the simulated mini program at version into dir.
func writeMiniProgram(dir, version string) (string, error) {
	files := map[string]string{
		"app.js":   "App({version: '" + version + "'})\n",
		"app.json": `{"pages": ["index"]}` + "\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", fmt.Errorf("simulation: %w", err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return "", fmt.Errorf("simulation: %w", err)
		}
	}
	return dir, nil
}

// runtime returns device i's client.
func (w *world) runtime(dir string, clk *clock, dc *devCtx, i int) (*client.Runtime, error) {
	rt, err := client.New(client.Options{
		Origin:     "http://origin.sim.invalid/",
		HTTPClient: w.hc,
		Trust:      w.trust,
		StateDir:   dir,
		Now:        clk.Now,
		Policy:     w.cfg.Policy,
		Network:    dc.network,
		Rand:       rand.New(rand.NewPCG(w.cfg.Seed^0x9e3779b97f4a7c15, uint64(i))),
		NoSync:     true,
	})
	if err != nil {
		return nil, fmt.Errorf("simulation: %w", err)
	}
	return rt, nil
}

// network returns the quality the device's host reports now.
func (d *devCtx) network() client.Network {
	d.clock.mu.Lock()
	defer d.clock.mu.Unlock()
	if d.net == "" {
		return client.NetworkGood
	}
	return d.net
}

// set moves the device's clock to t after the release, with network n.
func (d *devCtx) set(release time.Time, t time.Duration, n client.Network) {
	d.clock.mu.Lock()
	defer d.clock.mu.Unlock()
	d.clock.t = release.Add(t)
	d.net = n
}

const never = time.Duration(math.MaxInt64)

// runDevice simulates device i from its seed install to the horizon and
// adds what happened to agg.
func (w *world) runDevice(ctx context.Context, i int, agg *aggregate) error {
	cfg := w.cfg
	d := cfg.drawDevice(i)
	r := rand.New(rand.NewPCG(cfg.Seed+1, uint64(i)))
	clk := &clock{}
	dc := &devCtx{clock: clk, pop: d.pop, stats: agg.stats}
	ctx = withDevice(ctx, dc)
	dir := filepath.Join(cfg.Dir, "devices", fmt.Sprint(i))
	defer os.RemoveAll(dir)
	// The device installed the old version at its last use before the
	// warm-up.
	if err := w.seed(dir, d.lastBefore); err != nil {
		return err
	}
	rt, err := w.runtime(dir, clk, dc, i)
	if err != nil {
		return err
	}
	defer rt.Close()

	lastOpen := d.lastBefore
	updated, informed := never, never
	note := func(t time.Duration, versions ...string) {
		if t >= 0 && updated == never && slices.Contains(versions, newVersion) {
			updated = t
		}
	}
	noteCheck := func(t time.Duration, c *client.CheckResult) {
		if c == nil {
			return
		}
		note(t, c.InstalledVersion, c.ReadyVersion)
		if t >= 0 && informed == never && c.LatestVersion == newVersion && (c.Marked || c.ReadyVersion == newVersion || c.InstalledVersion == newVersion) {
			informed = t
		}
		if c.Err != nil {
			agg.checkErr(c.Err)
		}
	}
	noteBG := func(t time.Duration, bg *client.BackgroundResult) {
		if bg == nil {
			return
		}
		for _, a := range bg.Apps {
			noteCheck(t, a.Check)
		}
	}
	// The host runs a periodic pass when the super app comes to the
	// foreground or the platform grants it a background task, provided
	// the pass it scheduled (Runtime.NextBackground after the last one)
	// is due: a host does not wake the Runtime more often than that.
	passDue := d.firstPass
	periodic := true
	pass := func(t time.Duration) {
		if !periodic || t < passDue {
			return
		}
		bg, _ := rt.Background(ctx)
		noteBG(t, bg)
		delay, ok := rt.NextBackground()
		periodic = ok
		passDue = t + delay
	}
	nextWake := never
	if d.background {
		nextWake = d.firstPass
	}
	for k := 0; ; {
		var t time.Duration
		var kind eventKind
		switch {
		case k < len(d.events) && d.events[k].at <= nextWake:
			t, kind = d.events[k].at, d.events[k].kind
			k++
		case nextWake != never:
			t, kind = nextWake, evBackground
		default:
			t = never
		}
		if t >= cfg.Horizon {
			break
		}
		net := client.NetworkGood
		switch x := r.Float64(); {
		case d.offlineAt(t):
			net = client.NetworkOffline
		case x < cfg.Usage.WeakShare:
			net = client.NetworkWeak
		case x < cfg.Usage.WeakShare+cfg.Usage.MeteredShare:
			net = client.NetworkMetered
		}
		dc.set(w.release, t, net)
		switch kind {
		case evSession:
			pass(t)
		case evBackground:
			if r.Float64() < cfg.Usage.BackgroundGrant {
				pass(t)
			}
			nextWake = never
			if delay, ok := rt.NextBackground(); ok {
				nextWake = t + delay
			}
		case evOpen, evWarm:
			res, err := rt.Launch(ctx, app, channel, client.LaunchOptions{Warm: kind == evWarm})
			if err != nil {
				return fmt.Errorf("device %d: launch: %w", i, err)
			}
			final, err := res.Wait(ctx)
			if err != nil {
				return err
			}
			noteCheck(t, final.Check)
			note(t, final.LaunchedVersion, final.ReadyVersion)
			if kind == evOpen && t < 0 {
				lastOpen = t
			}
			if kind == evOpen && t >= 0 {
				agg.launch(t, final.Mode, final.LaunchedVersion == newVersion)
			}
		}
	}
	agg.device(d, lastOpen >= -ActiveWindow, updated, min(informed, updated))
	return nil
}
