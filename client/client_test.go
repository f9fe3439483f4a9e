package client_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mpship/mpship/client"
	"github.com/mpship/mpship/manifests"
)

const (
	app     = "com.example.vant"
	channel = "stable"
)

func TestFirstInstall(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	src := source(t, "1.10.24")
	e.publish(app, channel, "1.10.24", src)
	state := t.TempDir()
	rt := e.runtime(state)

	res, err := rt.Launch(e.ctx, app, channel, client.LaunchOptions{})
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	if res.Mode != client.ModeFirstInstall || res.LaunchedVersion != "1.10.24" || res.ReadyVersion != "" || res.Err != nil {
		t.Errorf("got mode %q launched %q ready %q err %v, want first-install 1.10.24, no ready, no error",
			res.Mode, res.LaunchedVersion, res.ReadyVersion, res.Err)
	}
	if want := filepath.Join(state, "apps", app, "versions", "1.10.24"); res.Path != want {
		t.Errorf("got path %s, want %s", res.Path, want)
	}
	sameTree(t, res.Path, src)

	reqs := e.takeRequests()
	rel := e.release(app, "1.10.24")
	wantPaths := []string{"/" + manifests.ChannelPath(app, channel), "/" + manifests.ReleasePath(app, "1.10.24"), "/" + rel.Packages[0].Path}
	var gotPaths []string
	for _, r := range reqs {
		gotPaths = append(gotPaths, r.Path)
	}
	if !slices.Equal(gotPaths, wantPaths) || res.Requests != 3 {
		t.Errorf("got requests %v (client counted %d), want %v", gotPaths, res.Requests, wantPaths)
	}
	if min := rel.Packages[0].Size; res.BytesDownloaded <= min {
		t.Errorf("got %d bytes downloaded, want more than the %d-byte package", res.BytesDownloaded, min)
	}
	_, out := e.wire.reset()
	if res.BytesDownloaded != out {
		t.Errorf("client counted %d bytes, the server wrote %d", res.BytesDownloaded, out)
	}

	// The state file records it, and there is no background work.
	if _, err := res.Wait(e.ctx); err != nil {
		t.Fatal(err)
	}
	var st client.AppState
	b, err := os.ReadFile(filepath.Join(state, "apps", app, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	cs := st.Channels[channel]
	if st.Installed != "1.10.24" || st.Ready != "" || cs.Sequence != 1 || cs.ETag == "" || !st.LastUsed.Equal(e.clock.Now()) {
		t.Errorf("got state %+v, want 1.10.24 installed, sequence 1, an ETag, last used now", st)
	}
}

// TestNoUpdateCheck: a cold start with nothing new launches at once and
// costs exactly one request, answered 304.
func TestNoUpdateCheck(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.publish(app, channel, "1.10.24", source(t, "1.10.24"))
	rt := e.runtime(t.TempDir())
	if _, err := rt.Launch(e.ctx, app, channel, client.LaunchOptions{}); err != nil {
		t.Fatal(err)
	}
	e.takeRequests()
	e.wire.reset()

	res, err := rt.Launch(e.ctx, app, channel, client.LaunchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Mode != client.ModeAsync || res.LaunchedVersion != "1.10.24" {
		t.Errorf("got mode %q version %q, want async 1.10.24", res.Mode, res.LaunchedVersion)
	}
	final, err := res.Wait(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	reqs := e.takeRequests()
	want := []request{{"GET", "/" + manifests.ChannelPath(app, channel), 304}}
	if !slices.Equal(reqs, want) {
		t.Errorf("got requests %v, want %v", reqs, want)
	}
	if final.Err != nil || !final.Check.NotModified || final.Requests != 1 || final.ReadyVersion != "" {
		t.Errorf("got err %v not-modified %v requests %d ready %q, want nil, true, 1, none",
			final.Err, final.Check.NotModified, final.Requests, final.ReadyVersion)
	}
	in, out := e.wire.reset()
	t.Logf("no-update check: request %d bytes, response %d bytes on the wire; client counted %d", in, out, final.BytesDownloaded)
	if final.BytesDownloaded != out {
		t.Errorf("client counted %d bytes, the server wrote %d", final.BytesDownloaded, out)
	}
	if out >= 400 {
		t.Errorf("304 response is %d bytes on the wire, want under 400", out)
	}
}

// TestUpdate: a new release is made ready by one cold start and launched by
// the next; the previous version is kept and older ones pruned.
func TestUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	state := t.TempDir()
	rt := e.runtime(state)
	versions := []string{"1.10.24", "1.11.0", "1.11.5"}
	srcs := map[string]string{}
	for _, v := range versions {
		srcs[v] = source(t, v)
	}
	e.publish(app, channel, versions[0], srcs[versions[0]])
	if _, err := rt.Launch(e.ctx, app, channel, client.LaunchOptions{}); err != nil {
		t.Fatal(err)
	}
	for i, v := range versions[1:] {
		prev := versions[i]
		e.publish(app, channel, v, srcs[v])
		e.clock.Advance(3600e9)

		res, err := rt.Launch(e.ctx, app, channel, client.LaunchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		final, err := res.Wait(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if final.LaunchedVersion != prev || final.ReadyVersion != v || final.Err != nil || final.Check.Downloaded != v {
			t.Errorf("publish %s: got launched %q ready %q downloaded %q err %v, want launched %s, %s ready",
				v, final.LaunchedVersion, final.ReadyVersion, final.Check.Downloaded, final.Err, prev, v)
		}
		if final.Requests != 3 {
			t.Errorf("publish %s: got %d requests, want 3 (channel, release, blob)", v, final.Requests)
		}

		res, err = rt.Launch(e.ctx, app, channel, client.LaunchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.LaunchedVersion != v || res.Mode != client.ModeAsync {
			t.Errorf("next start after %s: got %s %q, want %s async", v, res.LaunchedVersion, res.Mode, v)
		}
		sameTree(t, res.Path, srcs[v])
		final, err = res.Wait(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !final.Check.NotModified || final.ReadyVersion != "" {
			t.Errorf("next start after %s: got not-modified %v ready %q, want a 304 and nothing ready", v, final.Check.NotModified, final.ReadyVersion)
		}
		st, err := rt.State(e.ctx, app)
		if err != nil {
			t.Fatal(err)
		}
		if st.Installed != v || st.Previous != prev {
			t.Errorf("after %s: got installed %q previous %q, want %s and %s", v, st.Installed, st.Previous, v, prev)
		}
		entries, err := os.ReadDir(filepath.Join(state, "apps", app, "versions"))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, en := range entries {
			got = append(got, en.Name())
		}
		if want := []string{prev, v}; !slices.Equal(got, want) {
			t.Errorf("after %s: got version directories %v, want %v", v, got, want)
		}
	}
}
