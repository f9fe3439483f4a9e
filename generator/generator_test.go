package generator

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpship/mpship/internal/archive"
	"github.com/mpship/mpship/internal/archive/archivetest"
	"github.com/mpship/mpship/manifests"
	"github.com/mpship/mpship/store"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run 'go test ./generator -update' to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the golden file (run 'go test ./generator -update' if the change is intended)\n got: %s\nwant: %s", name, got, want)
	}
}

func payload(t *testing.T, envelope []byte) []byte {
	t.Helper()
	var env manifests.Envelope
	if err := json.Unmarshal(envelope, &env); err != nil {
		t.Fatal(err)
	}
	return env.Payload
}

func TestGolden(t *testing.T) {
	st := newStore(t)
	o := opts(st, "1.0.0", filepath.Join("testdata", "miniprogram"))
	o.Subpackages = []Subpackage{{Name: "package-a", Dir: "packageA"}}
	o.Notes = "first release"
	res := mustRun(t, o)
	golden(t, "release.json.golden", res.ReleaseManifest)
	golden(t, "release.payload.golden", payload(t, res.ReleaseManifest))
	golden(t, "channel.json.golden", res.ChannelManifest)
	golden(t, "channel.payload.golden", payload(t, res.ChannelManifest))

	// What was published is what Run returned.
	for key, want := range map[string][]byte{res.ReleasePath: res.ReleaseManifest, res.ChannelPath: res.ChannelManifest} {
		got, _, err := readCapped(context.Background(), st, key, manifests.MaxReleaseSize)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s in the store differs from the result", key)
		}
	}
	if got, want := len(res.Packages), 2; got != want {
		t.Fatalf("got %d packages, want %d", got, want)
	}
	if main, sub := res.Packages[0], res.Packages[1]; main.Name != "main" || main.Files != 8 || sub.Name != "package-a" || sub.Root != "packageA" || sub.Files != 2 {
		t.Errorf("packages %+v %+v: want main with 8 files, package-a at packageA with 2", main.Package, sub.Package)
	}
	verifyClean(t, st, testTrust(t, 1, testSigner(1)))
}

// TestReleaseVantVersions publishes every vant-weapp release in order, then
// the last tree again under a new version.
func TestReleaseVantVersions(t *testing.T) {
	st := newStore(t)
	trust := testTrust(t, 1, testSigner(1))
	var last *Result
	for i, v := range archivetest.Versions {
		src := archivetest.Extract(t, v)
		start := time.Now()
		o := opts(st, v, src)
		o.Deltas = DefaultDeltas
		res := mustRun(t, o)
		p := res.Packages[0]
		t.Logf("vant-weapp %s: %d files, source %d B, archive %d B, package %d B, release took %v",
			v, p.Files, p.SourceBytes, p.RawSize, p.Size, time.Since(start).Round(time.Millisecond))
		if got, want := res.Channel.Sequence, uint64(i+1); got != want {
			t.Errorf("%s: sequence %d, want %d", v, got, want)
		}
		// One delta from each earlier release, up to the default three.
		if got, want := len(p.Deltas), min(i, DefaultDeltas); got != want {
			t.Errorf("%s: %d deltas, want %d (skipped: %v)", v, got, want, p.DeltaSkips)
		}
		for j, d := range p.Deltas {
			t.Logf("  delta from %s: %d B", d.FromVersion, d.Size)
			if j > 0 && d.Size < p.Deltas[j-1].Size {
				t.Errorf("%s: deltas not sorted by size", v)
			}
		}
		if res.Uploaded != 1+len(p.Deltas) || res.Skipped != 0 || !p.Uploaded {
			t.Errorf("%s: uploaded %d skipped %d, want %d and 0", v, res.Uploaded, res.Skipped, 1+len(p.Deltas))
		}
		if i > 0 && res.PreviousVersion != archivetest.Versions[i-1] {
			t.Errorf("%s: previous version %q, want %q", v, res.PreviousVersion, archivetest.Versions[i-1])
		}
		last = res
	}
	rep := verifyClean(t, st, trust)
	if rep.Channels != 1 || rep.Releases != 5 || rep.Blobs != 5+1+2+3+3 {
		t.Errorf("verify checked %d channels, %d releases, %d blobs; want 1, 5, 14 (5 packages, 9 deltas)", rep.Channels, rep.Releases, rep.Blobs)
	}

	// The same tree, extracted afresh, released as another version gives
	// the same package: same sha256, nothing uploaded.
	o := opts(st, "1.11.8", archivetest.Extract(t, "1.11.7"))
	o.Deltas = DefaultDeltas
	again := mustRun(t, o)
	if got, want := again.Packages[0].SHA256, last.Packages[0].SHA256; got != want {
		t.Errorf("same tree released twice: sha256 %s, then %s", want, got)
	}
	// Its deltas are those of 1.11.7 from 1.11.6 and 1.11.5, already in
	// the store; 1.11.7, the same package, needs none.
	p := again.Packages[0]
	if again.Uploaded != 0 || p.Uploaded || again.Skipped != 3 || len(p.Deltas) != 2 {
		t.Errorf("second release of the same tree: uploaded %d skipped %d, %d deltas, want 0, 3, 2", again.Uploaded, again.Skipped, len(p.Deltas))
	}
	if len(p.DeltaSkips) != 1 || p.DeltaSkips[0].FromVersion != "1.11.7" {
		t.Errorf("delta skips %+v, want 1.11.7 (the same package)", p.DeltaSkips)
	}
	verifyClean(t, st, trust)
}

func TestRefusalsLeaveStoreUnchanged(t *testing.T) {
	st := newStore(t)
	treeA := writeTree(t, map[string]string{"app.js": "App({})", "sub/page.js": "Page({})", "sub/x/y.js": "y"})
	treeB := writeTree(t, map[string]string{"app.js": "App({ b: true })"})
	mustRun(t, opts(st, "1.3.0", treeA))
	beta := opts(st, "1.4.0", treeB)
	beta.Channel = "beta"
	mustRun(t, beta)

	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("s"), 0o644); err != nil {
		t.Fatal(err)
	}
	withLink := writeTree(t, map[string]string{"app.js": "App({})"})
	if err := os.Symlink(outside, filepath.Join(withLink, "secret.js")); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()

	tests := []struct {
		name   string
		modify func(o *Options)
		want   error
	}{
		{"older version", func(o *Options) { o.Version = "1.2.0" }, ErrNotNewer},
		{"same version", func(o *Options) { o.Version = "1.3.0" }, ErrNotNewer},
		{"pre-release of the same version", func(o *Options) { o.Version = "1.3.0-rc.1" }, ErrNotNewer},
		{"invalid app", func(o *Options) { o.App = "Demo App" }, ErrInvalid},
		{"invalid channel", func(o *Options) { o.Channel = "stable/../x" }, ErrInvalid},
		{"invalid version", func(o *Options) { o.Version = "v1.4" }, ErrInvalid},
		{"build metadata", func(o *Options) { o.Version = "1.4.0+build.5" }, ErrInvalid},
		{"missing source", func(o *Options) { o.Source = filepath.Join(empty, "nope") }, ErrInvalid},
		{"no keys", func(o *Options) { o.Signers = nil }, ErrInvalid},
		{"expiry too long", func(o *Options) { o.Expiry = 400 * 24 * time.Hour }, ErrInvalid},
		{"expiry negative", func(o *Options) { o.Expiry = -time.Hour }, ErrInvalid},
		{"subpackage named main", func(o *Options) { o.Subpackages = []Subpackage{{"main", "sub"}} }, ErrInvalid},
		{"subpackage outside", func(o *Options) { o.Subpackages = []Subpackage{{"s", "../sub"}} }, ErrInvalid},
		{"subpackage missing", func(o *Options) { o.Subpackages = []Subpackage{{"s", "nope"}} }, ErrInvalid},
		{"subpackages nested", func(o *Options) { o.Subpackages = []Subpackage{{"s", "sub"}, {"t", "sub/x"}} }, ErrInvalid},
		{"subpackage names twice", func(o *Options) { o.Subpackages = []Subpackage{{"s", "sub"}, {"s", "app.js"}} }, ErrInvalid},
		{"empty source", func(o *Options) { o.Source = empty }, archive.ErrEmpty},
		{"symlink out of the source", func(o *Options) { o.Source = withLink }, archive.ErrUnsafePath},
		{"file over limit", func(o *Options) { o.Limits.MaxFileSize = 4 }, archive.ErrTooLarge},
		{"package over limit", func(o *Options) { o.Limits.MaxRawSize = 40 }, archive.ErrTooLarge},
		{"existing release with other content", func(o *Options) { o.Version = "1.4.0" }, ErrImmutable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := listing(t, st)
			o := opts(st, "1.5.0", treeA)
			tc.modify(&o)
			res, err := Run(context.Background(), o)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v (result %v), want %v", err, res, tc.want)
			}
			t.Log(err)
			if after := listing(t, st); after != before {
				t.Errorf("store changed by a refused release:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
	// And the channel still points to 1.3.0, fully verifiable.
	verifyClean(t, st, testTrust(t, 1, testSigner(1)))
}

// TestNotNewerMessage pins the wording people see.
func TestNotNewerMessage(t *testing.T) {
	st := newStore(t)
	tree := writeTree(t, map[string]string{"app.js": "App({})"})
	mustRun(t, opts(st, "1.3.0", tree))
	_, err := Run(context.Background(), opts(st, "1.2.0", tree))
	want := "version 1.2.0 is not newer than 1.3.0 on channel stable; pass a higher --version or use 'mpship rollback'"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}

// Publishing a version already released on another channel, from the same
// tree, reuses its release manifest as it is.
func TestPromoteReusesRelease(t *testing.T) {
	st := newStore(t)
	tree := writeTree(t, map[string]string{"app.js": "App({})"})
	beta := opts(st, "2.0.0", tree)
	beta.Channel = "beta"
	first := mustRun(t, beta)
	later := opts(st, "2.0.0", tree)
	later.Now = func() time.Time { return testClock.Add(48 * time.Hour) }
	later.Notes = "promoted"
	res := mustRun(t, later)
	if !res.ReusedRelease || string(res.ReleaseManifest) != string(first.ReleaseManifest) {
		t.Errorf("promotion: reused %v, same bytes %v; want the beta release manifest reused", res.ReusedRelease, string(res.ReleaseManifest) == string(first.ReleaseManifest))
	}
	if res.Uploaded != 0 || res.Channel.Sequence != 1 || !res.Channel.IssuedAt.Equal(testClock.Add(48*time.Hour)) {
		t.Errorf("promotion: uploaded %d, sequence %d, issued %v; want 0, 1, two days later", res.Uploaded, res.Channel.Sequence, res.Channel.IssuedAt)
	}
	verifyClean(t, st, testTrust(t, 1, testSigner(1)))
}

func TestSequenceExpiryAndMultipleSigners(t *testing.T) {
	st := newStore(t)
	tree := writeTree(t, map[string]string{"app.js": "App({})"})
	o := opts(st, "1.0.0", tree)
	o.Signers = []*manifests.Signer{testSigner(1), testSigner(2), testSigner(1)}
	o.Expiry = 72 * time.Hour
	res := mustRun(t, o)
	if got, want := res.Channel.ExpiresAt, testClock.Add(72*time.Hour); !got.Equal(want) {
		t.Errorf("expires_at %v, want %v", got, want)
	}
	var env manifests.Envelope
	if err := json.Unmarshal(res.ChannelManifest, &env); err != nil {
		t.Fatal(err)
	}
	if len(env.Signatures) != 2 {
		t.Errorf("got %d signatures, want 2 (a key given twice signs once)", len(env.Signatures))
	}
	verifyClean(t, st, testTrust(t, 2, testSigner(1), testSigner(2)))
	o.Version = "1.0.1"
	if res := mustRun(t, o); res.Channel.Sequence != 2 {
		t.Errorf("second release: sequence %d, want 2", res.Channel.Sequence)
	}
}

// Two publishers race on one channel: both read it before either writes.
// Exactly one wins; the other is told the channel moved.
func TestConcurrentPublishers(t *testing.T) {
	base := newStore(t)
	mustRun(t, opts(base, "1.11.5", archivetest.Extract(t, "1.11.5")))
	st := &barrierStore{Store: base, key: manifests.ChannelPath("demo", "stable"), n: 2, all: make(chan struct{})}
	versions := []string{"1.11.6", "1.11.7"}
	srcs := []string{archivetest.Extract(t, "1.11.6"), archivetest.Extract(t, "1.11.7")}
	// The timeout only keeps a broken barrier from hanging the test.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range versions {
		wg.Go(func() {
			_, errs[i] = Run(ctx, opts(st, versions[i], srcs[i]))
		})
	}
	wg.Wait()
	winners := 0
	var winner string
	for i, err := range errs {
		switch {
		case err == nil:
			winners++
			winner = versions[i]
		case errors.Is(err, ErrConflict):
			want := "channel apps/demo/channels/stable.json moved underneath you (someone else published); re-run the release"
			if err.Error() != want {
				t.Errorf("loser's error %q, want %q", err, want)
			}
		default:
			t.Errorf("release %s: %v, want success or ErrConflict", versions[i], err)
		}
	}
	if winners != 1 {
		t.Fatalf("%d publishers won, want exactly 1 (errors %v)", winners, errs)
	}
	got, _, err := readCapped(context.Background(), base, manifests.ChannelPath("demo", "stable"), manifests.MaxChannelSize)
	if err != nil {
		t.Fatal(err)
	}
	c, err := decodeChannel(got, "demo", "stable")
	if err != nil {
		t.Fatal(err)
	}
	if c.Current.Version != winner || c.Sequence != 2 {
		t.Errorf("channel at %s sequence %d, want the winner %s at sequence 2", c.Current.Version, c.Sequence, winner)
	}
	verifyClean(t, base, testTrust(t, 1, testSigner(1)))
}

// A publish that fails at any write leaves the channel manifest as it was,
// so the store stays consistent.
func TestPublishFailureKeepsChannel(t *testing.T) {
	tests := []struct {
		name string
		fail func(key string) bool
	}{
		{"blob", func(k string) bool { return strings.HasPrefix(k, "blobs/") }},
		{"release manifest", func(k string) bool { return strings.Contains(k, "/releases/") }},
		{"channel manifest", func(k string) bool { return strings.Contains(k, "/channels/") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := newStore(t)
			mustRun(t, opts(base, "1.0.0", writeTree(t, map[string]string{"app.js": "v1"})))
			key := manifests.ChannelPath("demo", "stable")
			before, err := base.Stat(context.Background(), key)
			if err != nil {
				t.Fatal(err)
			}
			st := &failStore{Store: base, fail: tc.fail}
			_, err = Run(context.Background(), opts(st, "1.1.0", writeTree(t, map[string]string{"app.js": "v2"})))
			if !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("got %v, want store.ErrUnavailable", err)
			}
			after, err := base.Stat(context.Background(), key)
			if err != nil {
				t.Fatal(err)
			}
			if after.ETag != before.ETag {
				t.Errorf("channel manifest changed by a failed publish")
			}
			verifyClean(t, base, testTrust(t, 1, testSigner(1)))
			// Re-running once the store is back publishes normally.
			if res := mustRun(t, opts(base, "1.1.0", writeTree(t, map[string]string{"app.js": "v2"}))); res.Channel.Sequence != 2 {
				t.Errorf("re-run: sequence %d, want 2", res.Channel.Sequence)
			}
			verifyClean(t, base, testTrust(t, 1, testSigner(1)))
		})
	}
}

func TestUnreadableChannelIsRefused(t *testing.T) {
	st := newStore(t)
	tree := writeTree(t, map[string]string{"app.js": "App({})"})
	key := manifests.ChannelPath("demo", "stable")
	if err := st.Put(context.Background(), key, strings.NewReader("{not json"), 9, store.Meta{}); err != nil {
		t.Fatal(err)
	}
	before := listing(t, st)
	_, err := Run(context.Background(), opts(st, "1.0.0", tree))
	if !errors.Is(err, manifests.ErrMalformed) {
		t.Fatalf("got %v, want manifests.ErrMalformed", err)
	}
	if listing(t, st) != before {
		t.Error("store changed")
	}
}
