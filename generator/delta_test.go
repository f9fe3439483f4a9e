package generator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/mpship/mpship/internal/delta"
	"github.com/mpship/mpship/internal/miniotest"
	"github.com/mpship/mpship/manifests"
	"github.com/mpship/mpship/store"
)

// jsTree returns a source tree of n files of deterministic JavaScript-like
// text, version v changing file v%n, so consecutive versions differ a
// little.
func jsTree(t *testing.T, n, v int) string {
	files := map[string]string{}
	for i := range n {
		var b strings.Builder
		for j := range 120 {
			fmt.Fprintf(&b, "Component({ props: { value%d: %d }, methods: { tap%d() { this.setData({ n: %d }) } } })\n", j, (i*31+j)%97, j, i)
		}
		if i == v%n {
			fmt.Fprintf(&b, "// changed in version %d\n", v)
		}
		files[fmt.Sprintf("components/c%d/index.js", i)] = b.String()
	}
	files["app.json"] = fmt.Sprintf(`{"version": %d}`, v)
	return writeTree(t, files)
}

// rawOf reads a package back from the store as a device's base would be.
func rawOf(t *testing.T, st store.Store, p manifests.Package) []byte {
	t.Helper()
	raw, err := readPackage(context.Background(), st, &p)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// withDeltas is opts with the default number of deltas.
func withDeltas(st store.Store, version, src string) Options {
	o := opts(st, version, src)
	o.Deltas = 0
	return o
}

func TestDeltas(t *testing.T) {
	st := newStore(t)
	var results []*Result
	for v := 1; v <= 5; v++ {
		o := opts(st, fmt.Sprintf("1.0.%d", v), jsTree(t, 6, v))
		if v == 5 {
			o.Deltas = 0 // the default: three
		}
		results = append(results, mustRun(t, o))
	}
	last := results[4].Packages[0]
	var from []string
	for _, d := range last.Deltas {
		from = append(from, d.FromVersion)
	}
	slices.Sort(from)
	if want := []string{"1.0.2", "1.0.3", "1.0.4"}; !slices.Equal(from, want) {
		t.Fatalf("deltas of 1.0.5 from %v, want %v (the last three)", from, want)
	}
	checkDeltas(t, st, results, last)
	verifyClean(t, st, testTrust(t, 1, testSigner(1)))
}

// checkDeltas checks that each delta of p is a published blob that rebuilds
// its archive from the base's, exactly.
func checkDeltas(t *testing.T, st store.Store, results []*Result, last PackageResult) {
	t.Helper()
	want := rawOf(t, st, last.Package)
	for _, d := range last.Deltas {
		if d.Encoding != manifests.DeltaEncodingMPD1 || d.Size*2 > last.Size {
			t.Errorf("delta from %s: encoding %q size %d, want mpd1 and at most half of %d", d.FromVersion, d.Encoding, d.Size, last.Size)
		}
		obj, err := st.Get(context.Background(), d.Path, store.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var patch bytes.Buffer
		_, err = patch.ReadFrom(obj.Body)
		obj.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(patch.Bytes()); hex.EncodeToString(sum[:]) != d.SHA256 {
			t.Errorf("delta from %s: stored bytes do not match its sha256", d.FromVersion)
		}
		var base manifests.Package
		for _, r := range results {
			if r.Release.Version == d.FromVersion {
				base = r.Packages[0].Package
			}
		}
		if base.RawSHA256 != d.FromRawSHA256 {
			t.Errorf("delta from %s: from_raw_sha256 %s, want the base's %s", d.FromVersion, d.FromRawSHA256, base.RawSHA256)
		}
		got, err := delta.Patch(rawOf(t, st, base), patch.Bytes(), delta.Target{Size: int64(len(want)), SHA256: sha256.Sum256(want)}, delta.Limits{})
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("delta from %s does not rebuild the new package: %v", d.FromVersion, err)
		}
	}
}

// Releasing reads the earlier packages back from the store whatever its
// backend: here a MinIO bucket, through each client library.
func TestDeltasOnBucket(t *testing.T) {
	srv := miniotest.Start(t)
	for _, b := range bucketBackends {
		t.Run(b.name, func(t *testing.T) {
			st, err := b.open(context.Background(), srv, "deltas-"+b.name)
			if err != nil {
				t.Fatal(err)
			}
			first := mustRun(t, opts(st, "1.0.0", jsTree(t, 4, 0)))
			second := mustRun(t, withDeltas(st, "1.0.1", jsTree(t, 4, 1)))
			if d := second.Packages[0].Deltas; len(d) != 1 || d[0].FromVersion != "1.0.0" {
				t.Fatalf("deltas %+v (skips %+v), want one from 1.0.0", d, second.Packages[0].DeltaSkips)
			}
			checkDeltas(t, st, []*Result{first, second}, second.Packages[0])
			verifyClean(t, st, testTrust(t, 1, testSigner(1)))
		})
	}
}

func TestDeltaBases(t *testing.T) {
	st := newStore(t)
	n := 0
	release := func(channel, version string, k int) *Result {
		n++
		o := opts(st, version, jsTree(t, 4, n))
		o.Channel, o.Deltas = channel, k
		return mustRun(t, o)
	}
	from := func(r *Result) []string {
		var out []string
		for _, d := range r.Packages[0].Deltas {
			out = append(out, d.FromVersion)
		}
		for _, s := range r.Packages[0].DeltaSkips {
			out = append(out, s.FromVersion+"(skipped)")
		}
		slices.Sort(out)
		return out
	}
	release("stable", "1.0.0", -1)
	release("beta", "1.1.0-beta.1", -1)
	release("beta", "1.1.0-beta.2", -1)
	tests := []struct {
		name, channel, version string
		k                      int
		want                   []string
	}{
		// A stable release is patched from stable releases only.
		{"stable skips pre-releases", "stable", "1.1.0", 0, []string{"1.0.0"}},
		// A pre-release from everything below it, the channel's current
		// version first.
		{"beta takes all", "beta", "1.2.0-beta.1", 2, []string{"1.1.0", "1.1.0-beta.2"}},
		{"none", "stable", "1.2.0", -1, nil},
		{"limit", "stable", "1.3.0", 1, []string{"1.2.0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := from(release(tc.channel, tc.version, tc.k))
			if !slices.Equal(got, tc.want) {
				t.Errorf("bases %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDeltaSkips(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	mustRun(t, opts(st, "1.0.0", writeTree(t, map[string]string{"app.js": "App({ a: 1 })"})))
	second := mustRun(t, withDeltas(st, "1.0.1", jsTree(t, 3, 1)))
	// A tiny package changed completely: the delta is not worth it.
	if s := second.Packages[0].DeltaSkips; len(s) != 1 || s[0].FromVersion != "1.0.0" || !strings.Contains(s[0].Reason, "more than half") {
		t.Errorf("skips %+v, want 1.0.0: more than half the package", s)
	}
	// A damaged base is skipped, and the release goes on.
	damaged := second.Packages[0]
	if err := st.Put(ctx, damaged.Path, bytes.NewReader(bytes.Repeat([]byte{'x'}, int(damaged.Size))), damaged.Size, store.Meta{}); err != nil {
		t.Fatal(err)
	}
	third := mustRun(t, withDeltas(st, "1.0.2", jsTree(t, 3, 2)))
	var reasons []string
	for _, s := range third.Packages[0].DeltaSkips {
		reasons = append(reasons, s.FromVersion+": "+s.Reason)
	}
	if len(third.Packages[0].Deltas) != 0 || len(reasons) != 2 || !strings.Contains(reasons[0], "1.0.1: its package is missing or damaged") {
		t.Errorf("deltas %d, skips %q; want none, and 1.0.1 skipped as damaged", len(third.Packages[0].Deltas), reasons)
	}
	// A version released again on another channel reuses its release
	// manifest and makes no deltas.
	o := withDeltas(st, "1.0.2", jsTree(t, 3, 2))
	o.Channel = "beta"
	promoted := mustRun(t, o)
	if !promoted.ReusedRelease || len(promoted.Packages[0].DeltaSkips) != 0 {
		t.Errorf("promotion: reused %v, skips %v; want reused and no delta work", promoted.ReusedRelease, promoted.Packages[0].DeltaSkips)
	}
}
