package client_test

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpship/mpship/client"
	"github.com/mpship/mpship/manifests"
)

// The tests in this file exercise the update rules one by one (see the
// package documentation) against the real origin over loopback, on small
// mini programs, with the env's clock.

const (
	tiny = "com.example.tiny"
	day  = 24 * time.Hour
)

// tinySource writes a small mini program whose app.js names version, plus
// extra bytes of random data (which compresses to about as much) so a
// download can be cut in the middle.
func tinySource(t *testing.T, version string, extra int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "src-"+version)
	files := map[string]string{
		"app.js":               "App({version: '" + version + "'})\n",
		"app.json":             `{"pages": ["pages/index/index"]}` + "\n",
		"pages/index/index.js": "Page({})\n",
	}
	if extra > 0 {
		b := make([]byte, extra)
		crand.Read(b)
		files["assets/blob.bin"] = string(b)
	}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// device is a Runtime on its own state directory with options adjusted
// from the env's defaults.
func (e *env) device(adjust func(*client.Options)) (*client.Runtime, string) {
	e.t.Helper()
	state := e.t.TempDir()
	opts := e.options(state)
	opts.Rand = rand.New(rand.NewPCG(1, 2))
	if adjust != nil {
		adjust(&opts)
	}
	rt, err := client.New(opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { rt.Close() })
	return rt, state
}

// launch launches tiny and waits for its background work.
func (e *env) launch(rt *client.Runtime, opts client.LaunchOptions) *client.LaunchResult {
	e.t.Helper()
	res, err := rt.Launch(e.ctx, tiny, channel, opts)
	if err != nil {
		e.t.Fatalf("launch: %v", err)
	}
	final, err := res.Wait(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return final
}

func (e *env) state(rt *client.Runtime) *client.AppState {
	e.t.Helper()
	st, err := rt.State(e.ctx, tiny)
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// paths returns the paths of requests, in order.
func paths(reqs []request) []string {
	var p []string
	for _, r := range reqs {
		p = append(p, fmt.Sprintf("%s %d", r.Path, r.Status))
	}
	return p
}

// eventsString prints events compactly: "check(true) ready(1.1.0)".
func eventsString(es []client.Event) string {
	var s []string
	for _, e := range es {
		switch e.Kind {
		case client.EventCheckForUpdate:
			s = append(s, fmt.Sprintf("check(%v)", e.HasUpdate))
		case client.EventUpdateReady:
			s = append(s, fmt.Sprintf("ready(%s)", e.Version))
		case client.EventUpdateFailed:
			s = append(s, fmt.Sprintf("failed(%s)", client.ErrorCode(e.Err)))
		}
	}
	return strings.Join(s, " ")
}

// stall is a handler that holds every request until released (or the
// client goes away), to play a stalled origin. released tells whether the
// test let it go: a launch that returns while it is held was bounded by its
// timeout, not by the origin.
type stall struct {
	entered  chan struct{}
	release  chan struct{}
	once     sync.Once
	released atomic.Bool
}

func newStall(t *testing.T) *stall {
	s := &stall{entered: make(chan struct{}), release: make(chan struct{})}
	t.Cleanup(s.Release)
	return s
}

func (s *stall) Release() {
	if s.released.CompareAndSwap(false, true) {
		close(s.release)
	}
}

func (s *stall) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.once.Do(func() { close(s.entered) })
	select {
	case <-s.release:
		http.Error(w, "stalled", http.StatusServiceUnavailable)
	case <-r.Context().Done():
	}
}

// TestRule1ColdAndWarmStarts: a cold start launches at once and checks in
// the background; a warm start does neither.
func TestRule1ColdAndWarmStarts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.publish(tiny, channel, "1.0.0", tinySource(t, "1.0.0", 0))
	rt, _ := e.device(nil)
	if got := e.launch(rt, client.LaunchOptions{}); got.Mode != client.ModeFirstInstall || got.LaunchedVersion != "1.0.0" ||
		eventsString(got.Events) != "check(false)" {
		t.Fatalf("first launch: got %s %s events %q, want first-install 1.0.0, check(false)", got.Mode, got.LaunchedVersion, eventsString(got.Events))
	}
	e.publish(tiny, channel, "1.1.0", tinySource(t, "1.1.0", 0))
	e.takeRequests()

	steps := []struct {
		name                   string
		warm                   bool
		wantMode               client.Mode
		wantLaunched, wantRdy  string
		wantRequests           int
		wantEvents, wantReason string
	}{
		{"warm start before the check", true, client.ModeWarm, "1.0.0", "", 0, "", client.ReasonWarm},
		{"cold start finds the update", false, client.ModeAsync, "1.0.0", "1.1.0", 3, "check(true) ready(1.1.0)", client.ReasonColdStart},
		{"warm start keeps what runs", true, client.ModeWarm, "1.0.0", "1.1.0", 0, "", client.ReasonWarm},
		{"cold start launches it", false, client.ModeAsync, "1.1.0", "", 1, "check(false)", client.ReasonColdStart},
	}
	for _, s := range steps {
		e.clock.Advance(time.Minute)
		got := e.launch(rt, client.LaunchOptions{Warm: s.warm})
		reqs := e.takeRequests()
		if got.Mode != s.wantMode || got.Reason != s.wantReason || got.LaunchedVersion != s.wantLaunched || got.ReadyVersion != s.wantRdy ||
			len(reqs) != s.wantRequests || got.Requests != s.wantRequests || eventsString(got.Events) != s.wantEvents || got.Err != nil {
			t.Errorf("%s: got %s (%s) launched %q ready %q, %d requests %v, events %q, err %v; want %s (%s) %q ready %q, %d requests, events %q",
				s.name, got.Mode, got.Reason, got.LaunchedVersion, got.ReadyVersion, got.Requests, paths(reqs), eventsString(got.Events), got.Err,
				s.wantMode, s.wantReason, s.wantLaunched, s.wantRdy, s.wantRequests, s.wantEvents)
		}
		if st := e.state(rt); !st.LastUsed.Equal(e.clock.Now()) {
			t.Errorf("%s: last used %s, want now %s", s.name, st.LastUsed, e.clock.Now())
		}
	}
}

// TestRule2PeriodicChecks: a background pass checks what was used recently
// and not checked for an interval, downloads ahead and marks; the next
// launch is synchronous and instant.
func TestRule2PeriodicChecks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.publish(tiny, channel, "1.0.0", tinySource(t, "1.0.0", 0))
	src2 := tinySource(t, "1.1.0", 0)
	noJitter := func(o *client.Options) { o.Policy.CheckJitter = -1 }

	t.Run("downloads ahead", func(t *testing.T) {
		e := e.fork(t)
		rt, _ := e.device(noJitter)
		e.launch(rt, client.LaunchOptions{})
		e.takeRequests()
		e.clock.Advance(30 * time.Minute)
		bg, err := rt.Background(e.ctx)
		if err != nil || len(bg.Apps) != 1 || bg.Apps[0].Checked || bg.Apps[0].Skipped != "checked 30m ago" || len(e.takeRequests()) != 0 {
			t.Fatalf("pass at +30m: got %+v, %v; want %s skipped as checked 30m ago, no request", bg.Apps, err, tiny)
		}
		// The same pass with nothing new: one 304, nothing marked.
		e.clock.Advance(40 * time.Minute)
		bg, err = rt.Background(e.ctx)
		if err != nil || !bg.Apps[0].Checked || !bg.Apps[0].Check.NotModified || bg.Apps[0].Check.Marked {
			t.Fatalf("pass at +70m: got %+v, %v; want a 304 and no mark", bg.Apps[0], err)
		}
		if reqs := e.takeRequests(); len(reqs) != 1 || reqs[0].Status != http.StatusNotModified {
			t.Errorf("pass at +70m: got requests %v, want one 304", paths(reqs))
		}

		e.publish(tiny, channel, "1.1.0", src2)
		e.clock.Advance(2 * time.Hour)
		bg, err = rt.Background(e.ctx)
		if err != nil || !bg.Apps[0].Checked {
			t.Fatalf("pass after the release: got %+v, %v; want a check", bg.Apps, err)
		}
		if c := bg.Apps[0].Check; c.Downloaded != "1.1.0" || !c.Marked || c.ReadyVersion != "1.1.0" {
			t.Errorf("pass after the release: got downloaded %q marked %v ready %q, want 1.1.0 downloaded, marked, ready", c.Downloaded, c.Marked, c.ReadyVersion)
		}
		if st := e.state(rt); st.Marked != "1.1.0" {
			t.Errorf("got mark %q, want 1.1.0", st.Marked)
		}
		e.takeRequests()

		e.clock.Advance(time.Minute)
		res, err := rt.Launch(e.ctx, tiny, channel, client.LaunchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Mode != client.ModeSync || res.Reason != client.ReasonMarked || res.LaunchedVersion != "1.1.0" || res.Requests != 0 {
			t.Errorf("launch: got %s (%s) %s after %d requests, want sync (marked) 1.1.0 at once", res.Mode, res.Reason, res.LaunchedVersion, res.Requests)
		}
		sameTree(t, res.Path, src2)
		final, _ := res.Wait(e.ctx)
		if final.Check == nil || !final.Check.NotModified || eventsString(final.Events) != "check(false)" {
			t.Errorf("launch: got check %+v events %q, want the usual background 304 and check(false)", final.Check, eventsString(final.Events))
		}
		if st := e.state(rt); st.Marked != "" {
			t.Errorf("after the launch: mark %q still set", st.Marked)
		}
	})

	t.Run("marks only", func(t *testing.T) {
		e := e.fork(t)
		rt, _ := e.device(func(o *client.Options) { noJitter(o); o.Policy.NoBackgroundDownload = true })
		// The store is shared with the other subtests: install whatever
		// the channel has, then release the next version.
		installed := e.launch(rt, client.LaunchOptions{}).LaunchedVersion
		next := nextVersion(installed)
		e.publish(tiny, channel, next, tinySource(t, next, 0))
		e.takeRequests()
		e.clock.Advance(2 * time.Hour)
		bg, err := rt.Background(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		c := bg.Apps[0].Check
		if !c.Deferred || !c.Marked || c.Downloaded != "" || c.Requests != 1 {
			t.Errorf("pass: got deferred %v marked %v downloaded %q requests %d, want deferred and marked with one request", c.Deferred, c.Marked, c.Downloaded, c.Requests)
		}
		e.takeRequests()
		e.clock.Advance(time.Minute)
		got := e.launch(rt, client.LaunchOptions{})
		reqs := e.takeRequests()
		if got.Mode != client.ModeSync || got.LaunchedVersion != next || len(reqs) != 3 || reqs[0].Status != http.StatusNotModified {
			t.Errorf("launch: got %s %s, requests %v; want sync %s after a 304, the release manifest and the blob", got.Mode, got.LaunchedVersion, paths(reqs), next)
		}
		if eventsString(got.Events) != "check(false)" {
			t.Errorf("launch: got events %q, want check(false): what runs is the newest", eventsString(got.Events))
		}
	})

	t.Run("skips what was not used recently, and everything offline", func(t *testing.T) {
		e := e.fork(t)
		rt, _ := e.device(noJitter)
		e.launch(rt, client.LaunchOptions{})
		e.takeRequests()
		rt.SetNetwork(client.NetworkOffline)
		e.clock.Advance(2 * time.Hour)
		bg, err := rt.Background(e.ctx)
		if err != nil || bg.Apps[0].Checked || bg.Apps[0].Skipped != "offline" {
			t.Errorf("offline: got %+v, %v; want skipped offline", bg.Apps[0], err)
		}
		rt.SetNetwork(client.NetworkGood)
		e.clock.Advance(8 * day)
		bg, err = rt.Background(e.ctx)
		if err != nil || bg.Apps[0].Checked || bg.Apps[0].Skipped != "not used within 7d" {
			t.Errorf("8 days later: got %+v, %v; want skipped as not used within 7d", bg.Apps[0], err)
		}
		if reqs := e.takeRequests(); len(reqs) != 0 {
			t.Errorf("got requests %v, want none", paths(reqs))
		}
	})

	t.Run("jitter", func(t *testing.T) {
		rt, _ := e.device(nil)
		seen := map[time.Duration]bool{}
		for range 200 {
			d, ok := rt.NextBackground()
			if !ok || d < 50*time.Minute || d > 70*time.Minute {
				t.Fatalf("got next pass in %s (%v), want within 1h ± 10m", d, ok)
			}
			seen[d] = true
		}
		if len(seen) < 100 {
			t.Errorf("got %d distinct delays in 200 draws, want them spread", len(seen))
		}
		off, _ := e.device(func(o *client.Options) { o.Policy.CheckInterval = -1 })
		if _, ok := off.NextBackground(); ok {
			t.Errorf("periodic checks off: NextBackground says a pass is due")
		}
	})
}

// nextVersion returns v with its minor version increased.
func nextVersion(v string) string {
	var a, b, c int
	fmt.Sscanf(v, "%d.%d.%d", &a, &b, &c)
	return fmt.Sprintf("%d.%d.0", a, b+1)
}

// TestRule3SyncLaunch: a marked launch waits for the update, never longer
// than the timeout; after the timeout the installed version starts and the
// download carries on.
func TestRule3SyncLaunch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.publish(tiny, channel, "1.0.0", tinySource(t, "1.0.0", 0))
	rt, _ := e.device(func(o *client.Options) {
		o.Policy.CheckJitter = -1
		o.Policy.NoBackgroundDownload = true
		o.Policy.SyncTimeout = 300 * time.Millisecond
	})
	e.launch(rt, client.LaunchOptions{})
	pub := e.publish(tiny, channel, "1.1.0", tinySource(t, "1.1.0", 0))
	e.clock.Advance(2 * time.Hour)
	if _, err := rt.Background(e.ctx); err != nil {
		t.Fatal(err)
	}
	if st := e.state(rt); st.Marked != "1.1.0" {
		t.Fatalf("got mark %q, want 1.1.0", st.Marked)
	}

	// The blob stalls: the launch gives up after the timeout.
	blob := "/" + pub.Release.Packages[0].Path
	s := newStall(t)
	e.override(blob, s)
	um, err := rt.UpdateManager(tiny)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var delivered []string
	um.OnCheckForUpdate(func(has bool) { mu.Lock(); delivered = append(delivered, fmt.Sprintf("check(%v)", has)); mu.Unlock() })
	um.OnUpdateReady(func() { mu.Lock(); delivered = append(delivered, "ready"); mu.Unlock() })
	um.OnUpdateFailed(func(err error) { mu.Lock(); delivered = append(delivered, "failed"); mu.Unlock() })

	start := time.Now()
	res, err := rt.Launch(e.ctx, tiny, channel, client.LaunchOptions{})
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if s.released.Load() {
		t.Fatalf("the launch returned only after the stall was released")
	}
	t.Logf("sync launch against a stalled blob returned after %s (timeout 300ms)", elapsed.Round(time.Millisecond))
	if res.Mode != client.ModeSyncTimeout || res.LaunchedVersion != "1.0.0" || !errors.Is(res.Err, client.ErrSyncTimeout) || client.ErrorCode(res.Err) != "timeout" {
		t.Errorf("got %s %s err %v (%s), want sync-timeout 1.0.0, ErrSyncTimeout", res.Mode, res.LaunchedVersion, res.Err, client.ErrorCode(res.Err))
	}
	// The check carries on and reaches the stalled blob (perhaps only now,
	// on a slow machine); once the origin answers, it completes.
	select {
	case <-s.entered:
	case <-e.ctx.Done():
		t.Fatal("the blob was never requested")
	}
	e.override(blob, nil)
	s.Release()
	final, err := res.Wait(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if final.ReadyVersion != "1.1.0" || final.Check.Err != nil || eventsString(final.Events) != "check(true) ready(1.1.0)" {
		t.Errorf("after the stall: got ready %q check err %v events %q, want 1.1.0 ready, check(true) ready(1.1.0)", final.ReadyVersion, final.Check.Err, eventsString(final.Events))
	}
	if err := rt.Wait(e.ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	// Registered after the launch that installed 1.0.0, the handlers got
	// that run's check(false) first.
	if got := strings.Join(delivered, " "); got != "check(false) check(true) ready" {
		t.Errorf("handlers got %q, want check(false) check(true) ready", got)
	}
	mu.Unlock()
	e.clock.Advance(time.Minute)
	if got := e.launch(rt, client.LaunchOptions{}); got.LaunchedVersion != "1.1.0" || got.Mode != client.ModeSync {
		t.Errorf("next launch: got %s %s, want sync 1.1.0 (the mark, now satisfied)", got.Mode, got.LaunchedVersion)
	}
}

// TestRule4Disuse: a launch after long disuse checks synchronously; on a
// weak network or a failed download the installed version opens.
func TestRule4Disuse(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.publish(tiny, channel, "1.0.0", tinySource(t, "1.0.0", 0))
	pub := e.publish(tiny, channel, "1.1.0", tinySource(t, "1.1.0", 0))
	blob := "/" + pub.Release.Packages[0].Path
	tests := []struct {
		name         string
		away         time.Duration
		net          client.Network
		blobStatus   int
		wantMode     client.Mode
		wantReason   string
		wantLaunched string
		wantEvents   string
	}{
		{"15 days", 15 * day, client.NetworkGood, 0, client.ModeSync, client.ReasonDisuse, "1.1.0", "check(false)"},
		{"13 days", 13 * day, client.NetworkGood, 0, client.ModeAsync, client.ReasonColdStart, "1.0.0", "check(true) ready(1.1.0)"},
		{"15 days on a weak network", 15 * day, client.NetworkWeak, 0, client.ModeAsync, client.ReasonWeakNetwork, "1.0.0", "check(true) ready(1.1.0)"},
		{"15 days, metered", 15 * day, client.NetworkMetered, 0, client.ModeAsync, client.ReasonWeakNetwork, "1.0.0", "check(true) ready(1.1.0)"},
		{"15 days, offline", 15 * day, client.NetworkOffline, 0, client.ModeAsync, client.ReasonWeakNetwork, "1.0.0", ""},
		{"15 days, blob missing", 15 * day, client.NetworkGood, http.StatusNotFound, client.ModeSyncFailed, client.ReasonDisuse, "1.0.0", "check(true) failed(http_status)"},
		{"15 days, blob 503", 15 * day, client.NetworkGood, http.StatusServiceUnavailable, client.ModeSyncFailed, client.ReasonDisuse, "1.0.0", "check(true) failed(http_status)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := e.fork(t)
			rt, _ := e.device(nil)
			// Install 1.0.0 as if before the release.
			e.override("/"+manifests.ChannelPath(tiny, channel), serveBytes(e.signChannel(channelFor(t, e, 1, "1.0.0"))))
			e.launch(rt, client.LaunchOptions{})
			e.override("/"+manifests.ChannelPath(tiny, channel), nil)
			if tc.blobStatus != 0 {
				e.override(blob, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					http.Error(w, "no", tc.blobStatus)
				}))
			}
			e.clock.Advance(tc.away)
			rt.SetNetwork(tc.net)
			e.takeRequests()
			res, err := rt.Launch(e.ctx, tiny, channel, client.LaunchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Mode != tc.wantMode || res.Reason != tc.wantReason || res.LaunchedVersion != tc.wantLaunched {
				t.Errorf("got %s (%s) %s err %v, want %s (%s) %s", res.Mode, res.Reason, res.LaunchedVersion, res.Err, tc.wantMode, tc.wantReason, tc.wantLaunched)
			}
			final, err := res.Wait(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := eventsString(final.Events); got != tc.wantEvents {
				t.Errorf("got events %q, want %q", got, tc.wantEvents)
			}
			reqs := e.takeRequests()
			if tc.net == client.NetworkOffline && len(reqs) != 0 {
				t.Errorf("offline: got requests %v, want none", paths(reqs))
			}
			if tc.wantMode == client.ModeSyncFailed && (final.Err == nil || !strings.Contains(final.Err.Error(), "synchronous update failed")) {
				t.Errorf("got error %v, want the synchronous update's failure", final.Err)
			}
		})
	}
}

// channelFor signs a channel manifest of tiny at version with seq, valid
// for 60 days from the env's clock.
func channelFor(t *testing.T, e *env, seq uint64, version string) *manifests.Channel {
	t.Helper()
	data, ok := e.get(manifests.ReleasePath(tiny, version))
	if !ok {
		t.Fatalf("no release manifest for %s", version)
	}
	now := e.clock.Now()
	return &manifests.Channel{
		SchemaVersion: manifests.SchemaVersion, App: tiny, Channel: channel, Sequence: seq,
		IssuedAt: now, ExpiresAt: now.Add(60 * day),
		Current: manifests.ReleaseRef{Version: version, Path: manifests.ReleasePath(tiny, version),
			Size: int64(len(data)), SHA256: sha256Hex(data)},
	}
}

// TestRule5Network: the host's network quality decides what may wait and
// what may download.
func TestRule5Network(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.publish(tiny, channel, "1.0.0", tinySource(t, "1.0.0", 0))

	var quality atomic.Value
	quality.Store(client.NetworkGood)
	rt, _ := e.device(func(o *client.Options) {
		o.Policy.DeferOnMetered = true
		o.Network = func() client.Network { return quality.Load().(client.Network) }
	})
	e.launch(rt, client.LaunchOptions{})
	e.publish(tiny, channel, "1.1.0", tinySource(t, "1.1.0", 0))
	e.takeRequests()

	// Metered: the check runs, the download is deferred, the app marked.
	quality.Store(client.NetworkMetered)
	e.clock.Advance(time.Minute)
	got := e.launch(rt, client.LaunchOptions{})
	if got.Network != client.NetworkMetered || got.Mode != client.ModeAsync || !got.Check.Deferred || !got.Check.Marked ||
		eventsString(got.Events) != "check(true) failed(deferred)" || got.Requests != 1 {
		t.Errorf("metered: got network %s mode %s deferred %v marked %v events %q requests %d; want async, deferred, marked, check(true) failed(deferred), 1 request",
			got.Network, got.Mode, got.Check.Deferred, got.Check.Marked, eventsString(got.Events), got.Requests)
	}
	// Still metered: the marked launch falls back at once; its check is a
	// 304 and the download still waits.
	e.clock.Advance(time.Minute)
	got = e.launch(rt, client.LaunchOptions{})
	if got.Mode != client.ModeAsync || got.Reason != client.ReasonWeakNetwork || got.LaunchedVersion != "1.0.0" || !got.Check.NotModified || !got.Check.Deferred {
		t.Errorf("metered again: got %s (%s) %s, not-modified %v deferred %v; want async (weak-network) 1.0.0 after a 304, deferred",
			got.Mode, got.Reason, got.LaunchedVersion, got.Check.NotModified, got.Check.Deferred)
	}
	// Offline: nothing is requested.
	quality.Store(client.NetworkOffline)
	e.takeRequests()
	got = e.launch(rt, client.LaunchOptions{})
	if got.Mode != client.ModeAsync || got.LaunchedVersion != "1.0.0" || got.Check != nil || len(e.takeRequests()) != 0 {
		t.Errorf("offline: got %s %s check %+v; want async 1.0.0 and no request", got.Mode, got.LaunchedVersion, got.Check)
	}
	if _, err := rt.Check(e.ctx, tiny, channel); !errors.Is(err, client.ErrOffline) {
		t.Errorf("offline Check: got %v, want ErrOffline", err)
	}
	// Good again: the marked launch downloads after a 304, from the
	// release the deferred check remembered.
	quality.Store(client.NetworkGood)
	got = e.launch(rt, client.LaunchOptions{})
	reqs := e.takeRequests()
	if got.Mode != client.ModeSync || got.LaunchedVersion != "1.1.0" || len(reqs) != 3 || reqs[0].Status != http.StatusNotModified {
		t.Errorf("good: got %s %s requests %v; want sync 1.1.0 after a 304, the release manifest and the blob", got.Mode, got.LaunchedVersion, paths(reqs))
	}

	// A first install ignores the quality (there is nothing else to
	// launch) unless offline.
	fresh, _ := e.device(func(o *client.Options) { o.Policy.DeferOnWeak = true })
	fresh.SetNetwork(client.NetworkOffline)
	if _, err := fresh.Launch(e.ctx, tiny, channel, client.LaunchOptions{}); !errors.Is(err, client.ErrNotInstalled) || !errors.Is(err, client.ErrOffline) {
		t.Errorf("first launch offline: got %v, want ErrNotInstalled and ErrOffline", err)
	}
	fresh.SetNetwork(client.NetworkWeak)
	if got := e.launch(fresh, client.LaunchOptions{}); got.Mode != client.ModeFirstInstall || got.LaunchedVersion != "1.1.0" {
		t.Errorf("first launch on a weak network: got %s %s, want first-install 1.1.0", got.Mode, got.LaunchedVersion)
	}
}

// TestRule6UpdateManager: events fire once per check, in order, on the
// manager's goroutine, whether handlers were registered before or after.
func TestRule6UpdateManager(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.publish(tiny, channel, "1.0.0", tinySource(t, "1.0.0", 0))
	rt, _ := e.device(nil)
	um, err := rt.UpdateManager(tiny)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.UpdateManager("Not An App"); err == nil {
		t.Errorf("UpdateManager of an invalid app id: got no error")
	}

	// A recorder that also notices handlers running at the same time.
	type rec struct {
		mu      sync.Mutex
		got     []string
		running atomic.Int32
		overlap atomic.Bool
	}
	record := func(r *rec, s string) {
		if r.running.Add(1) > 1 {
			r.overlap.Store(true)
		}
		time.Sleep(time.Millisecond) // widen any overlap
		r.mu.Lock()
		r.got = append(r.got, s)
		r.mu.Unlock()
		r.running.Add(-1)
	}
	register := func(r *rec, name string) {
		um.OnCheckForUpdate(func(has bool) { record(r, fmt.Sprintf("%s:check(%v)", name, has)) })
		um.OnUpdateReady(func() { record(r, name+":ready") })
		um.OnUpdateFailed(func(err error) { record(r, fmt.Sprintf("%s:failed(%s)", name, client.ErrorCode(err))) })
	}
	take := func(r *rec) string {
		if err := rt.Wait(e.ctx); err != nil {
			t.Fatal(err)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		s := strings.Join(r.got, " ")
		r.got = nil
		return s
	}

	r := &rec{}
	register(r, "early")
	e.launch(rt, client.LaunchOptions{})
	if got, want := take(r), "early:check(false)"; got != want {
		t.Errorf("first install: got %q, want %q", got, want)
	}
	e.publish(tiny, channel, "1.1.0", tinySource(t, "1.1.0", 0))
	res := e.launch(rt, client.LaunchOptions{})
	if got, want := take(r), "early:check(true) early:ready"; got != want {
		t.Errorf("registered before: got %q, want %q", got, want)
	}
	// Registered after the events: each fires once, for this run.
	register(r, "late")
	if got, want := take(r), "late:check(true) late:ready"; got != want {
		t.Errorf("registered after: got %q, want %q", got, want)
	}
	if got := eventsString(res.Events); got != "check(true) ready(1.1.0)" {
		t.Errorf("result events: got %q", got)
	}

	// ApplyUpdate restarts into the ready version, from a handler too.
	applied := make(chan *client.LaunchResult, 1)
	um.OnUpdateReady(func() {
		res, err := um.ApplyUpdate(e.ctx)
		if err != nil {
			t.Errorf("ApplyUpdate: %v", err)
		}
		applied <- res
	})
	a := <-applied
	take(r)
	if a == nil || a.Mode != client.ModeApply || a.LaunchedVersion != "1.1.0" {
		t.Fatalf("ApplyUpdate: got %+v, want apply 1.1.0", a)
	}
	if st := e.state(rt); st.Installed != "1.1.0" || st.Previous != "1.0.0" || st.Ready != "" {
		t.Errorf("after ApplyUpdate: got installed %q previous %q ready %q", st.Installed, st.Previous, st.Ready)
	}
	if _, err := um.ApplyUpdate(e.ctx); !errors.Is(err, client.ErrNoUpdate) {
		t.Errorf("second ApplyUpdate: got %v, want ErrNoUpdate", err)
	}

	// Nothing new: check(false) alone. The origin fails before the check
	// knows: failed alone.
	e.clock.Advance(time.Minute)
	e.launch(rt, client.LaunchOptions{})
	if got, want := take(r), "early:check(false) late:check(false)"; got != want {
		t.Errorf("no update: got %q, want %q", got, want)
	}
	e.override("/"+manifests.ChannelPath(tiny, channel), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusServiceUnavailable)
	}))
	e.launch(rt, client.LaunchOptions{})
	if got, want := take(r), "early:failed(http_status) late:failed(http_status)"; got != want {
		t.Errorf("origin down: got %q, want %q", got, want)
	}
	// A warm start starts no run: nothing is delivered, nothing replayed.
	e.launch(rt, client.LaunchOptions{Warm: true})
	if got := take(r); got != "" {
		t.Errorf("warm start: got %q, want nothing", got)
	}
	if r.overlap.Load() {
		t.Errorf("handlers ran at the same time")
	}
}

// TestRule7SimulatedUpdate: a developer's simulated update runs the update
// handlers with no request and no change to the installed code.
func TestRule7SimulatedUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	src := tinySource(t, "1.0.0", 0)
	e.publish(tiny, channel, "1.0.0", src)
	rt, state := e.device(nil)
	if _, err := rt.Launch(e.ctx, tiny, channel, client.LaunchOptions{SimulateUpdate: true}); !errors.Is(err, client.ErrNotInstalled) {
		t.Errorf("simulated update with nothing installed: got %v, want ErrNotInstalled", err)
	}
	e.launch(rt, client.LaunchOptions{})
	before := e.state(rt)
	e.takeRequests()
	um, _ := rt.UpdateManager(tiny)
	var mu sync.Mutex
	var got []string
	um.OnCheckForUpdate(func(has bool) { mu.Lock(); got = append(got, fmt.Sprintf("check(%v)", has)); mu.Unlock() })
	um.OnUpdateReady(func() { mu.Lock(); got = append(got, "ready"); mu.Unlock() })

	e.clock.Advance(time.Minute)
	res := e.launch(rt, client.LaunchOptions{SimulateUpdate: true})
	if !res.Simulated || res.LaunchedVersion != "1.0.0" || res.Requests != 0 || eventsString(res.Events) != "check(true) ready(1.0.0)" {
		t.Errorf("got simulated %v %s requests %d events %q, want simulated 1.0.0, no request, check(true) ready(1.0.0)",
			res.Simulated, res.LaunchedVersion, res.Requests, eventsString(res.Events))
	}
	if reqs := e.takeRequests(); len(reqs) != 0 {
		t.Errorf("got requests %v, want none", paths(reqs))
	}
	rt.Wait(e.ctx)
	mu.Lock()
	// The first, replayed, is the check(false) of the run before.
	if s := strings.Join(got, " "); s != "check(false) check(true) ready" {
		t.Errorf("handlers got %q, want check(false) check(true) ready", s)
	}
	mu.Unlock()
	a, err := um.ApplyUpdate(e.ctx)
	if err != nil || a.Mode != client.ModeApply || !a.Simulated || a.LaunchedVersion != "1.0.0" {
		t.Errorf("ApplyUpdate: got %+v, %v; want a simulated apply of 1.0.0", a, err)
	}
	sameTree(t, filepath.Join(state, "apps", tiny, "versions", "1.0.0"), src)
	after := e.state(rt)
	after.LastUsed = before.LastUsed
	if after.Installed != before.Installed || after.Ready != "" || after.Marked != "" || after.Channels[channel] != before.Channels[channel] {
		t.Errorf("state changed: got %+v, want %+v", after, before)
	}
	// The run after a simulated one is real again.
	if _, err := um.ApplyUpdate(e.ctx); !errors.Is(err, client.ErrNoUpdate) {
		t.Errorf("ApplyUpdate after the simulated restart: got %v, want ErrNoUpdate", err)
	}
}

// TestRule8Resume: an interrupted download resumes with Range and If-Range,
// within a check and in a later one; a changed validator gets the whole
// object again.
func TestRule8Resume(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.publish(tiny, channel, "1.0.0", tinySource(t, "1.0.0", 0))
	pub := e.publish(tiny, channel, "1.1.0", tinySource(t, "1.1.0", 256<<10))
	pkg := pub.Release.Packages[0]
	blobPath := "/" + pkg.Path
	blob, _ := e.get(pkg.Path)

	// cut serves the first n bytes of the blob, then hangs up.
	cut := func(n int) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("ETag", `"`+pkg.SHA256+`"`)
			w.Header().Set("Content-Length", fmt.Sprint(len(blob)))
			w.Write(blob[:n])
			http.NewResponseController(w).Flush()
			if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
				c.Close()
			}
		})
	}
	type seen struct{ rng, ifRange string }
	var mu sync.Mutex
	var ranges []seen
	logRanges := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			ranges = append(ranges, seen{r.Header.Get("Range"), r.Header.Get("If-Range")})
			mu.Unlock()
			h.ServeHTTP(w, r)
		})
	}
	takeRanges := func() []seen {
		mu.Lock()
		defer mu.Unlock()
		r := ranges
		ranges = nil
		return r
	}

	t.Run("in a later check", func(t *testing.T) {
		e := e.fork(t)
		rt, state := e.device(func(o *client.Options) { o.Retry.MaxAttempts = 1 })
		e.override("/"+manifests.ChannelPath(tiny, channel), serveBytes(e.signChannel(channelFor(t, e, 1, "1.0.0"))))
		e.launch(rt, client.LaunchOptions{})
		e.override("/"+manifests.ChannelPath(tiny, channel), nil)
		half := len(blob) / 2
		e.override(blobPath, cut(half))
		res := e.launch(rt, client.LaunchOptions{})
		if client.ErrorCode(res.Err) != "network" || res.ReadyVersion != "" {
			t.Fatalf("cut download: got ready %q err %v, want a network error", res.ReadyVersion, res.Err)
		}
		part := filepath.Join(state, "apps", tiny, "tmp", "blob-"+pkg.SHA256+".part")
		if fi, err := os.Stat(part); err != nil || fi.Size() != int64(half) {
			t.Fatalf("partial download: got %v, %v; want %d bytes kept", fi, err, half)
		}
		if st := e.state(rt); st.Marked != "1.1.0" {
			t.Errorf("got mark %q after a transient failure, want 1.1.0", st.Marked)
		}
		e.override(blobPath, logRanges(serveBytes(blob)))
		e.clock.Advance(time.Minute)
		res = e.launch(rt, client.LaunchOptions{})
		if res.LaunchedVersion != "1.1.0" || res.Mode != client.ModeSync || res.Err != nil {
			t.Errorf("resumed: got %s %s err %v, want sync 1.1.0", res.Mode, res.LaunchedVersion, res.Err)
		}
		want := []seen{{fmt.Sprintf("bytes=%d-", half), `"` + pkg.SHA256 + `"`}}
		if got := takeRanges(); !slices.Equal(got, want) {
			t.Errorf("got blob requests %v, want %v", got, want)
		}
		if res.BytesDownloaded > int64(len(blob)-half)+8192 {
			t.Errorf("resumed download fetched %d bytes, want about %d", res.BytesDownloaded, len(blob)-half)
		}
		if _, err := os.Stat(part); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("partial file left after the install: %v", err)
		}
	})

	t.Run("within a check", func(t *testing.T) {
		e := e.fork(t)
		rt, _ := e.device(nil)
		e.override("/"+manifests.ChannelPath(tiny, channel), serveBytes(e.signChannel(channelFor(t, e, 1, "1.0.0"))))
		e.launch(rt, client.LaunchOptions{})
		e.override("/"+manifests.ChannelPath(tiny, channel), nil)
		var calls atomic.Int32
		e.override(blobPath, logRanges(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				cut(len(blob)/3).ServeHTTP(w, r)
				return
			}
			serveBytes(blob).ServeHTTP(w, r)
		})))
		res := e.launch(rt, client.LaunchOptions{})
		if res.ReadyVersion != "1.1.0" || res.Err != nil || res.Requests != 4 {
			t.Errorf("got ready %q err %v requests %d, want 1.1.0 ready after 4 requests", res.ReadyVersion, res.Err, res.Requests)
		}
		got := takeRanges()
		if len(got) != 2 || got[0].rng != "" || got[1].rng != fmt.Sprintf("bytes=%d-", len(blob)/3) {
			t.Errorf("got blob requests %v, want a plain GET then bytes=%d-", got, len(blob)/3)
		}
	})

	t.Run("validator changed", func(t *testing.T) {
		e := e.fork(t)
		rt, state := e.device(func(o *client.Options) { o.Retry.MaxAttempts = 1 })
		e.override("/"+manifests.ChannelPath(tiny, channel), serveBytes(e.signChannel(channelFor(t, e, 1, "1.0.0"))))
		e.launch(rt, client.LaunchOptions{})
		e.override("/"+manifests.ChannelPath(tiny, channel), nil)
		e.override(blobPath, cut(len(blob)/2))
		e.launch(rt, client.LaunchOptions{})
		// Another server (a CDN that re-encoded the object, say) has a
		// different ETag: If-Range fails and the whole blob comes back.
		etag := filepath.Join(state, "apps", tiny, "tmp", "blob-"+pkg.SHA256+".etag")
		if err := os.WriteFile(etag, []byte(`"other"`), 0o644); err != nil {
			t.Fatal(err)
		}
		e.override(blobPath, logRanges(serveBytes(blob)))
		res := e.launch(rt, client.LaunchOptions{})
		if res.LaunchedVersion != "1.1.0" || res.Err != nil {
			t.Errorf("got %s err %v, want 1.1.0", res.LaunchedVersion, res.Err)
		}
		if got := takeRanges(); len(got) != 1 || got[0].ifRange != `"other"` {
			t.Errorf("got blob requests %v, want one with If-Range \"other\"", got)
		}
		if res.BytesDownloaded < int64(len(blob)) {
			t.Errorf("got %d bytes, want the whole %d-byte blob again", res.BytesDownloaded, len(blob))
		}
	})
}

// TestRule8SyncFaults: whatever the origin does during a synchronous
// launch, the installed version starts, no later than the timeout.
func TestRule8SyncFaults(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.publish(tiny, channel, "1.0.0", tinySource(t, "1.0.0", 0))
	pub := e.publish(tiny, channel, "1.1.0", tinySource(t, "1.1.0", 64<<10))
	blobPath := "/" + pub.Release.Packages[0].Path
	chanPath := "/" + manifests.ChannelPath(tiny, channel)
	blob, _ := e.get(pub.Release.Packages[0].Path)
	reset := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
			c.Close()
		}
	})
	truncate := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(blob)))
		w.Write(blob[:len(blob)/2])
	})
	status := func(code int) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", code) })
	}
	tests := []struct {
		name      string
		path      string
		h         func(t *testing.T) http.Handler
		wantModes []client.Mode // either, depending on how fast retries give up
		wantCode  string
	}{
		{"manifest stalls", chanPath, func(t *testing.T) http.Handler { return newStall(t) }, []client.Mode{client.ModeSyncTimeout}, "timeout"},
		{"blob stalls", blobPath, func(t *testing.T) http.Handler { return newStall(t) }, []client.Mode{client.ModeSyncTimeout}, "timeout"},
		{"manifest resets", chanPath, func(*testing.T) http.Handler { return reset }, []client.Mode{client.ModeSyncFailed, client.ModeSyncTimeout}, ""},
		{"blob resets", blobPath, func(*testing.T) http.Handler { return reset }, []client.Mode{client.ModeSyncFailed, client.ModeSyncTimeout}, ""},
		{"blob truncated", blobPath, func(*testing.T) http.Handler { return truncate }, []client.Mode{client.ModeSyncFailed, client.ModeSyncTimeout}, ""},
		{"manifest 503", chanPath, func(*testing.T) http.Handler { return status(http.StatusServiceUnavailable) }, []client.Mode{client.ModeSyncFailed, client.ModeSyncTimeout}, ""},
		{"blob 500", blobPath, func(*testing.T) http.Handler { return status(http.StatusInternalServerError) }, []client.Mode{client.ModeSyncFailed, client.ModeSyncTimeout}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := e.fork(t)
			rt, _ := e.device(func(o *client.Options) {
				o.Policy.SyncTimeout = 500 * time.Millisecond
				o.Retry = client.RetryPolicy{MaxAttempts: 3, BaseDelay: 50 * time.Millisecond, MaxDelay: 100 * time.Millisecond}
			})
			e.override(chanPath, serveBytes(e.signChannel(channelFor(t, e, 1, "1.0.0"))))
			e.launch(rt, client.LaunchOptions{})
			e.override(chanPath, nil)
			h := tc.h(t)
			e.override(tc.path, h)
			e.clock.Advance(15 * day)
			start := time.Now()
			res, err := rt.Launch(e.ctx, tiny, channel, client.LaunchOptions{})
			elapsed := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			if s, ok := h.(*stall); ok && s.released.Load() {
				t.Fatalf("the launch returned only after the stall ended")
			}
			t.Logf("%s: %s after %s", tc.name, res.Mode, elapsed.Round(time.Millisecond))
			if !slices.Contains(tc.wantModes, res.Mode) || res.LaunchedVersion != "1.0.0" || res.Err == nil {
				t.Errorf("got %s %s err %v, want one of %v, 1.0.0, an error", res.Mode, res.LaunchedVersion, res.Err, tc.wantModes)
			}
			if tc.wantCode != "" && client.ErrorCode(res.Err) != tc.wantCode {
				t.Errorf("got code %q, want %q", client.ErrorCode(res.Err), tc.wantCode)
			}
			if _, err := os.Stat(filepath.Join(res.Path, "app.js")); err != nil {
				t.Errorf("launched version not on disk: %v", err)
			}
			// Once the origin recovers, the next launch gets the update.
			e.override(tc.path, nil)
			if s, ok := h.(*stall); ok {
				s.Release()
			}
			if _, err := res.Wait(e.ctx); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(time.Minute)
			got := e.launch(rt, client.LaunchOptions{})
			if got.LaunchedVersion != "1.1.0" {
				got = e.launch(rt, client.LaunchOptions{})
			}
			if got.LaunchedVersion != "1.1.0" {
				t.Errorf("after recovery: got %s %s err %v, want 1.1.0", got.Mode, got.LaunchedVersion, got.Err)
			}
		})
	}
}

// TestConcurrentRules: synchronous launches, cold starts and background
// passes at once, by two Runtimes sharing a state directory as two
// processes would, leave a consistent state and launch only complete
// versions.
func TestConcurrentRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srcs := map[string]string{}
	for _, v := range []string{"1.0.0", "1.1.0", "1.2.0"} {
		srcs[v] = tinySource(t, v, 32<<10)
	}
	e.publish(tiny, channel, "1.0.0", srcs["1.0.0"])
	state := t.TempDir()
	var rts []*client.Runtime
	for range 2 {
		opts := e.options(state)
		opts.Policy.CheckJitter = -1
		rt, err := client.New(opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rt.Close() })
		rts = append(rts, rt)
	}
	if _, err := rts[0].Launch(e.ctx, tiny, channel, client.LaunchOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"1.1.0", "1.2.0"} {
		e.publish(tiny, channel, v, srcs[v])
		e.clock.Advance(15 * day) // every launch is synchronous (rule 4)
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Go(func() {
				rt := rts[i%2]
				if i%3 == 2 {
					if _, err := rt.Background(e.ctx); err != nil {
						t.Errorf("background: %v", err)
					}
					return
				}
				res, err := rt.Launch(e.ctx, tiny, channel, client.LaunchOptions{})
				if err != nil {
					t.Errorf("launch: %v", err)
					return
				}
				final, err := res.Wait(e.ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if src, ok := srcs[final.LaunchedVersion]; !ok {
					t.Errorf("launched %q", final.LaunchedVersion)
				} else {
					sameTree(t, final.Path, src)
				}
			})
		}
		wg.Wait()
		st, err := rts[1].State(e.ctx, tiny)
		if err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(filepath.Join(state, "apps", tiny, "versions"))
		var onDisk, named []string
		for _, en := range entries {
			onDisk = append(onDisk, en.Name())
		}
		for _, v := range []string{st.Installed, st.Previous, st.Ready} {
			if v != "" {
				named = append(named, v)
			}
		}
		slices.Sort(named)
		if !slices.Equal(onDisk, named) {
			t.Errorf("after %s: got version directories %v, state names %v", v, onDisk, named)
		}
		if st.Installed != v && st.Ready != v {
			t.Errorf("after %s: got installed %q ready %q, want %s one of them", v, st.Installed, st.Ready, v)
		}
	}
}

// TestRule8Crash: a device killed in the middle of a download (a real
// process, SIGKILL) leaves its installed version launchable, and the next
// check resumes the download where the dead one stopped.
func TestRule8Crash(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.publish(tiny, channel, "1.0.0", tinySource(t, "1.0.0", 0))
	state := t.TempDir()
	rt, err := client.New(e.options(state))
	if err != nil {
		t.Fatal(err)
	}
	e.launch(rt, client.LaunchOptions{})
	rt.Close()
	pub := e.publish(tiny, channel, "1.1.0", tinySource(t, "1.1.0", 512<<10))
	pkg := pub.Release.Packages[0]
	blob, _ := e.get(pkg.Path)
	half := len(blob) / 2

	var ranges []string
	var mu sync.Mutex
	e.override("/"+pkg.Path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ranges = append(ranges, r.Header.Get("Range"))
		first := len(ranges) == 1
		mu.Unlock()
		if !first {
			serveBytes(blob).ServeHTTP(w, r)
			return
		}
		// The dying device's request: half the blob, then nothing.
		w.Header().Set("ETag", `"`+pkg.SHA256+`"`)
		w.Header().Set("Content-Length", fmt.Sprint(len(blob)))
		w.Write(blob[:half])
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
	}))

	pubFile := filepath.Join(t.TempDir(), "signing.pub")
	pem, err := manifests.MarshalPublicKey(e.signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pubFile, pem, 0o644); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(e.ctx, exe)
	cmd.Env = append(os.Environ(), "MPSHIP_CRASH_CHILD=1", "MPSHIP_ORIGIN="+e.srv.URL, "MPSHIP_STATE="+state,
		"MPSHIP_TRUST="+pubFile, "MPSHIP_NOW="+e.clock.Now().Format(time.RFC3339))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill the child once the half it was sent is on its disk.
	part := filepath.Join(state, "apps", tiny, "tmp", "blob-"+pkg.SHA256+".part")
	deadline := time.Now().Add(20 * time.Second)
	for {
		if fi, err := os.Stat(part); err == nil && fi.Size() == int64(half) {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the child never wrote half the blob; its output:\n%s", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no clean-up runs
		t.Fatal(err)
	}
	cmd.Wait()

	rt, err = client.New(e.options(state))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	res := e.launch(rt, client.LaunchOptions{})
	if res.LaunchedVersion != "1.0.0" || res.ReadyVersion != "1.1.0" || res.Err != nil {
		t.Errorf("after the crash: got launched %q ready %q err %v, want 1.0.0 launched and 1.1.0 ready", res.LaunchedVersion, res.ReadyVersion, res.Err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"", fmt.Sprintf("bytes=%d-", half)}; !slices.Equal(ranges, want) {
		t.Errorf("got blob requests with Range %q, want %q", ranges, want)
	}
}

// TestMain runs the device TestRule8Crash kills when the test binary is
// started as that child, and the tests otherwise.
func TestMain(m *testing.M) {
	if os.Getenv("MPSHIP_CRASH_CHILD") == "1" {
		crashChild()
		return
	}
	os.Exit(m.Run())
}

// crashChild launches tiny and waits for its download, which hangs until
// TestRule8Crash kills the process.
func crashChild() {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(2)
	}
	pem, err := os.ReadFile(os.Getenv("MPSHIP_TRUST"))
	if err != nil {
		fail(err)
	}
	pub, err := manifests.ParsePublicKey(pem)
	if err != nil {
		fail(err)
	}
	trust, err := manifests.NewTrust(1, pub)
	if err != nil {
		fail(err)
	}
	now, err := time.Parse(time.RFC3339, os.Getenv("MPSHIP_NOW"))
	if err != nil {
		fail(err)
	}
	rt, err := client.New(client.Options{
		Origin: os.Getenv("MPSHIP_ORIGIN"), Trust: trust, StateDir: os.Getenv("MPSHIP_STATE"),
		HTTPClient: &http.Client{}, Now: func() time.Time { return now },
	})
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	res, err := rt.Launch(ctx, tiny, channel, client.LaunchOptions{})
	if err != nil {
		fail(err)
	}
	res.Wait(ctx) // killed here
	fail(errors.New("the download was expected to hang until the process is killed"))
}

// TestRule7SimulatedApplyKeepsRealUpdate: ApplyUpdate after a simulated
// update restarts into the installed version and changes nothing, even if
// a real update became ready in between (it used to install that one).
func TestRule7SimulatedApplyKeepsRealUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.publish(tiny, channel, "1.0.0", tinySource(t, "1.0.0", 0))
	rt, _ := e.device(nil)
	e.launch(rt, client.LaunchOptions{})
	e.clock.Advance(time.Minute)
	e.launch(rt, client.LaunchOptions{SimulateUpdate: true})
	rt.Wait(e.ctx)
	e.publish(tiny, channel, "1.1.0", tinySource(t, "1.1.0", 1))
	if res, err := rt.Check(e.ctx, tiny, channel); err != nil || res.ReadyVersion != "1.1.0" {
		t.Fatalf("check: ready %q, %v; want 1.1.0 ready", res.ReadyVersion, err)
	}
	um, _ := rt.UpdateManager(tiny)
	a, err := um.ApplyUpdate(e.ctx)
	if err != nil || !a.Simulated || a.LaunchedVersion != "1.0.0" {
		t.Errorf("ApplyUpdate: got simulated %v launched %q, %v; want a simulated restart into 1.0.0", a.Simulated, a.LaunchedVersion, err)
	}
	if st := e.state(rt); st.Installed != "1.0.0" || st.Ready != "1.1.0" {
		t.Errorf("state: installed %q ready %q, want 1.0.0 with 1.1.0 still ready", st.Installed, st.Ready)
	}
}
