package client_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mpship/mpship/client"
	"github.com/mpship/mpship/generator"
	"github.com/mpship/mpship/manifests"
	"github.com/mpship/mpship/store"
)

// publishDeltas releases src as app@version on channel with deltas from
// the last three releases (the default), and the given subpackages.
func (e *env) publishDeltas(version, src string, subs ...generator.Subpackage) *generator.Result {
	e.t.Helper()
	res, err := generator.Run(e.ctx, generator.Options{
		Store: e.st, Signers: []*manifests.Signer{e.signer},
		App: app, Channel: channel, Version: version, Source: src, Subpackages: subs,
		Now: e.clock.Now,
	})
	if err != nil {
		e.t.Fatalf("publish %s@%s: %v", app, version, err)
	}
	return res
}

// firstInstall installs what the channel points to now on a new device.
func firstInstall(t *testing.T, e *env, want string) *client.Runtime {
	t.Helper()
	rt := e.runtime(t.TempDir())
	res, err := rt.Launch(e.ctx, app, channel, client.LaunchOptions{})
	if err != nil || res.LaunchedVersion != want || res.Route != client.RouteFull {
		t.Fatalf("first install: got %s route %q err %v, want %s by the full package", res.LaunchedVersion, res.Route, err, want)
	}
	return rt
}

// update launches once (the background check downloads the channel's new
// version and makes it ready), then again (the new version starts), and
// returns the first launch's final result and the path launched second.
func update(t *testing.T, e *env, rt *client.Runtime, want string) (*client.LaunchResult, string) {
	t.Helper()
	e.clock.Advance(time.Hour)
	res, err := rt.Launch(e.ctx, app, channel, client.LaunchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	final, err := res.Wait(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if final.Err != nil || final.ReadyVersion != want {
		t.Fatalf("update: got ready %q err %v, want %s ready", final.ReadyVersion, final.Err, want)
	}
	next, err := rt.Launch(e.ctx, app, channel, client.LaunchOptions{})
	if err != nil || next.LaunchedVersion != want {
		t.Fatalf("launch after the update: got %s err %v, want %s", next.LaunchedVersion, err, want)
	}
	return final, next.Path
}

// withOneChange copies the source tree src with one line added to one file.
func withOneChange(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dst, "dist", "button", "index.js")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, append(b, "\n// one more line\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestDeltaRoutes publishes the vant-weapp releases, then N (1.11.7 with
// one line changed) with deltas from the last three, and updates devices
// that hold various versions: the one with N-1 takes the delta; the one
// with N-5 has no delta and takes the full package; one whose installed
// copy was modified on disk and one served a corrupt delta take the full
// package too; every one ends on a verified N.
func TestDeltaRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	corrupt := e.fork(t) // a CDN that serves a corrupt delta

	olds := []string{"1.10.24", "1.11.0", "1.11.5", "1.11.6", "1.11.7"}
	srcs := map[string]string{}
	for _, v := range olds {
		srcs[v] = source(t, v)
	}
	const n = "1.11.8"
	srcs[n] = withOneChange(t, srcs["1.11.7"])

	// Only N's deltas matter here: the earlier releases, made without,
	// keep the test quick.
	e.publish(app, channel, olds[0], srcs[olds[0]])
	oldest := firstInstall(t, e, olds[0])
	for _, v := range olds[1:] {
		e.publish(app, channel, v, srcs[v])
	}
	latest := firstInstall(t, e, "1.11.7")
	modified := firstInstall(t, e, "1.11.7")
	corrupted := firstInstall(t, corrupt, "1.11.7")
	// A file of the installed copy changes on disk.
	mod := filepath.Join(installedPath(t, modified), "dist", "button", "index.wxss")
	if err := os.WriteFile(mod, []byte("/* edited on the device */"), 0o644); err != nil {
		t.Fatal(err)
	}

	e.publishDeltas(n, srcs[n])
	p := e.release(app, n).Package(manifests.MainPackage)
	var fromPrev *manifests.Delta
	for i, d := range p.Deltas {
		if d.FromVersion == "1.11.7" {
			fromPrev = &p.Deltas[i]
		}
	}
	if len(p.Deltas) != 3 || fromPrev == nil {
		t.Fatalf("release %s has deltas %+v, want three, one from 1.11.7", n, p.Deltas)
	}
	t.Logf("%s: package %d B, delta from 1.11.7 %d B", n, p.Size, fromPrev.Size)
	junk := bytes.Repeat([]byte{0xa5}, int(fromPrev.Size))
	corrupt.override("/"+fromPrev.Path, serveBytes(junk))

	tests := []struct {
		name      string
		env       *env
		rt        *client.Runtime
		wantRoute string
		wantBytes int64
	}{
		{"N-1 takes the delta", e, latest, "delta:1.11.7", fromPrev.Size},
		{"N-5 has no delta", e, oldest, client.RouteFull, p.Size},
		{"modified copy", e, modified, client.RouteFull, p.Size},
		{"corrupt delta", corrupt, corrupted, client.RouteFull, fromPrev.Size + p.Size},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, path := update(t, tc.env, tc.rt, n)
			if res.Route != tc.wantRoute || res.Check.Route != tc.wantRoute {
				t.Errorf("route %q (check %q), want %q", res.Route, res.Check.Route, tc.wantRoute)
			}
			if res.PackageBytes != tc.wantBytes {
				t.Errorf("package bytes %d, want %d", res.PackageBytes, tc.wantBytes)
			}
			if res.BytesDownloaded <= res.PackageBytes || res.Check.PackageBytes != res.PackageBytes {
				t.Errorf("bytes downloaded %d, package bytes %d (check %d): want the manifests counted on top",
					res.BytesDownloaded, res.PackageBytes, res.Check.PackageBytes)
			}
			t.Logf("route %s, %d package bytes, %d bytes in all", res.Route, res.PackageBytes, res.BytesDownloaded)
			sameTree(t, path, srcs[n])
		})
	}
}

// installedPath returns the directory of a device's installed version.
func installedPath(t *testing.T, rt *client.Runtime) string {
	t.Helper()
	res, err := rt.Launch(context.Background(), app, channel, client.LaunchOptions{Warm: true})
	if err != nil {
		t.Fatalf("warm launch: %v", err)
	}
	return res.Path
}

// resignWithBadDelta replaces, in e's current release, the delta from the
// version before with a blob that is a valid MPD1 header and nothing a base
// turns into the package, re-signs the release manifest and the channel
// manifest: a publisher's mistake that passes every signature and hash.
func resignWithBadDelta(t *testing.T, e *env) {
	t.Helper()
	ch, ok := e.get(manifests.ChannelPath(app, channel))
	if !ok {
		t.Fatal("no channel manifest")
	}
	c, err := manifests.VerifyChannel(ch, e.trust, manifests.ChannelQuery{App: app, Channel: channel, Now: e.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	rel := e.release(app, c.Current.Version)
	bad := []byte("MPD1\x04K\x01")
	sum := sha256Hex(bad)
	if err := e.st.Put(e.ctx, manifests.BlobPath(sum), bytes.NewReader(bad), int64(len(bad)), store.Meta{SHA256: sum}); err != nil {
		t.Fatal(err)
	}
	for i := range rel.Packages {
		for j := range rel.Packages[i].Deltas {
			d := &rel.Packages[i].Deltas[j]
			d.Path, d.Size, d.SHA256 = manifests.BlobPath(sum), int64(len(bad)), sum
		}
	}
	data, err := manifests.SignRelease(rel, e.signer)
	if err != nil {
		t.Fatal(err)
	}
	key := manifests.ReleasePath(app, rel.Version)
	if err := e.st.Put(e.ctx, key, bytes.NewReader(data), int64(len(data)), store.Meta{SHA256: sha256Hex(data)}); err != nil {
		t.Fatal(err)
	}
	c.Sequence++
	c.Current.Size, c.Current.SHA256 = int64(len(data)), sha256Hex(data)
	chData := e.signChannel(c)
	if err := e.st.Put(e.ctx, manifests.ChannelPath(app, channel), bytes.NewReader(chData), int64(len(chData)), store.Meta{SHA256: sha256Hex(chData)}); err != nil {
		t.Fatal(err)
	}
}

// jsTree writes a source tree with a main package and a subpackage of
// generated JavaScript; version v changes one file of the subpackage only.
func jsTree(t *testing.T, v int) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name, body string) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 4 {
		var b strings.Builder
		for j := range 150 {
			fmt.Fprintf(&b, "Component({ props: { v%d: %d }, methods: { tap%d() { this.setData({ n: %d }) } } })\n", j, (i*37+j)%101, j, i*j)
		}
		write(fmt.Sprintf("pages/p%d/index.js", i), b.String())
		extra := ""
		if i == 2 {
			extra = fmt.Sprintf("\n// shop version %d\n", v)
		}
		write(fmt.Sprintf("shop/s%d/index.js", i), b.String()+extra)
	}
	write("app.json", `{"pages": ["pages/p0/index"], "subpackages": [{"root": "shop"}]}`)
	return dir
}

// A release that changes only a subpackage: the main package is reused
// from the installed version (nothing downloaded), the subpackage comes as
// a delta.
func TestDeltaSubpackageAndReuse(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	subs := []generator.Subpackage{{Name: "shop", Dir: "shop"}}
	e.publishDeltas("2.0.0", jsTree(t, 0), subs...)
	rt := firstInstall(t, e, "2.0.0")
	src := jsTree(t, 1)
	e.publishDeltas("2.0.1", src, subs...)
	rel := e.release(app, "2.0.1")
	shop := rel.Package("shop")
	if len(shop.Deltas) != 1 || len(rel.Package(manifests.MainPackage).Deltas) != 0 {
		t.Fatalf("deltas: shop %+v, main %+v; want one for shop and none for the unchanged main", shop.Deltas, rel.Package(manifests.MainPackage).Deltas)
	}
	res, path := update(t, e, rt, "2.0.1")
	if res.Route != "delta:2.0.0" || res.PackageBytes != shop.Deltas[0].Size {
		t.Errorf("route %q, %d package bytes; want delta:2.0.0 and %d (the shop delta alone)", res.Route, res.PackageBytes, shop.Deltas[0].Size)
	}
	sameTree(t, path, src)
}

// A delta that passes every signature and hash but does not rebuild the
// package (a publisher's bug, or a hostile signer) is refused by Patch, and
// the device takes the full package.
func TestSignedBadDelta(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.publishDeltas("3.0.0", jsTree(t, 0))
	rt := firstInstall(t, e, "3.0.0")
	src := jsTree(t, 1)
	e.publishDeltas("3.0.1", src)
	resignWithBadDelta(t, e)
	p := e.release(app, "3.0.1").Package(manifests.MainPackage)
	if len(p.Deltas) != 1 {
		t.Fatalf("deltas %+v, want one", p.Deltas)
	}
	res, path := update(t, e, rt, "3.0.1")
	if res.Route != client.RouteFull || res.PackageBytes != p.Deltas[0].Size+p.Size {
		t.Errorf("route %q, %d package bytes; want full, after the %d-byte delta, %d", res.Route, res.PackageBytes, p.Deltas[0].Size, p.Deltas[0].Size+p.Size)
	}
	sameTree(t, path, src)
}
