package client_test

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpship/mpship/client"
)

// TestCrashLeftovers: what a crash can leave in the state directory (a
// half-written state file, half-done downloads, a version directory renamed
// into place but never recorded) is ignored, then cleaned up, and never
// launched.
func TestCrashLeftovers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const v1, v2 = "1.10.24", "1.11.0"
	e.publish(app, channel, v1, source(t, v1))
	state := t.TempDir()
	rt := e.runtime(state)
	if _, err := rt.Launch(e.ctx, app, channel, client.LaunchOptions{}); err != nil {
		t.Fatal(err)
	}
	appDir := filepath.Join(state, "apps", app)
	stateBefore, err := os.ReadFile(filepath.Join(appDir, "state.json"))
	if err != nil {
		t.Fatal(err)
	}

	// A crash while writing the state file leaves its temporary file.
	halfState := filepath.Join(appDir, ".state.json.123456.tmp")
	if err := os.WriteFile(halfState, []byte(`{"schema_version":1,"app":"`+app+`","installed":"9.9.9`), 0o644); err != nil {
		t.Fatal(err)
	}
	// A crash during a download leaves staging behind: an old one and one
	// that could belong to a download still running elsewhere.
	oldStage := filepath.Join(appDir, "tmp", "stage-1.11.0-111")
	newStage := filepath.Join(appDir, "tmp", "stage-1.11.0-222")
	for _, d := range []string{oldStage, newStage} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "app.js"), []byte("half"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(oldStage, old, old); err != nil {
		t.Fatal(err)
	}
	// A crash after renaming a version into place but before recording it
	// (or a directory made by anything else) leaves an unreferenced,
	// possibly incomplete version directory.
	debris := filepath.Join(appDir, "versions", v2)
	if err := os.MkdirAll(debris, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(debris, "partial.js"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}

	res, err := rt.Launch(e.ctx, app, channel, client.LaunchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	final, err := res.Wait(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if final.LaunchedVersion != v1 || final.ReadyVersion != "" || final.Err != nil {
		t.Errorf("got launched %q ready %q err %v, want %s, nothing ready, no error", final.LaunchedVersion, final.ReadyVersion, final.Err, v1)
	}
	for _, c := range []struct {
		path   string
		exists bool
	}{
		{halfState, false}, {oldStage, false}, {newStage, true}, {debris, false},
	} {
		if _, err := os.Stat(c.path); (err == nil) != c.exists {
			t.Errorf("%s: got exists=%v, want %v", c.path, err == nil, c.exists)
		}
	}
	st, err := rt.State(e.ctx, app)
	if err != nil {
		t.Fatal(err)
	}
	if st.Installed != v1 {
		t.Errorf("got installed %q, want %s (state before: %s)", st.Installed, v1, stateBefore)
	}

	// Debris named like the next version is replaced by the real thing.
	if err := os.MkdirAll(debris, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(debris, "partial.js"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	src2 := source(t, v2)
	e.publish(app, channel, v2, src2)
	res, err = rt.Launch(e.ctx, app, channel, client.LaunchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if final, err = res.Wait(e.ctx); err != nil || final.ReadyVersion != v2 {
		t.Fatalf("got ready %q, %v, %v; want %s", final.ReadyVersion, err, final.Err, v2)
	}
	res, err = rt.Launch(e.ctx, app, channel, client.LaunchOptions{})
	if err != nil || res.LaunchedVersion != v2 {
		t.Fatalf("got %q, %v; want %s", res.LaunchedVersion, err, v2)
	}
	sameTree(t, res.Path, src2)
}

// TestCorruptState: a state file that is not valid (a disk error, a hand
// edit) is moved aside and reported; the app is reinstalled and launches.
func TestCorruptState(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
	}{
		{"truncated", `{"schema_version":1,"app":"` + app + `","inst`},
		{"not json", "\x00\x01garbage"},
		{"other app", `{"schema_version":1,"app":"com.example.other","installed":"1.10.24"}`},
		{"path in version", `{"schema_version":1,"app":"` + app + `","installed":"../../../etc"}`},
		{"future schema", `{"schema_version":99,"app":"` + app + `"}`},
	}
	e := newEnv(t)
	const v1 = "1.10.24"
	src := source(t, v1)
	e.publish(app, channel, v1, src)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := e.fork(t)
			state := t.TempDir()
			rt := e.runtime(state)
			if _, err := rt.Launch(e.ctx, app, channel, client.LaunchOptions{}); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(state, "apps", app, "state.json")
			if err := os.WriteFile(p, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			res, err := rt.Launch(e.ctx, app, channel, client.LaunchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if res.LaunchedVersion != v1 || res.Mode != client.ModeFirstInstall || client.ErrorCode(res.Err) != "state" {
				t.Errorf("got %q %q code %q (%v), want %s reinstalled, code state", res.LaunchedVersion, res.Mode, client.ErrorCode(res.Err), res.Err, v1)
			}
			sameTree(t, res.Path, src)
			if b, err := os.ReadFile(p + ".corrupt"); err != nil || string(b) != tc.content {
				t.Errorf("got %q, %v in state.json.corrupt, want the corrupt content", b, err)
			}
			res, err = rt.Launch(e.ctx, app, channel, client.LaunchOptions{})
			if err != nil || res.Err != nil || res.Mode != client.ModeAsync {
				t.Errorf("next launch: got %q %v %v, want async without error", res.Mode, err, res.Err)
			}
			if _, err := res.Wait(e.ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestConcurrentLaunches: launches at once, by two Runtimes sharing a state
// directory as two processes would, all launch a complete version and
// leave a consistent state.
func TestConcurrentLaunches(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const v1, v2 = "1.10.24", "1.11.0"
	srcs := map[string]string{v1: source(t, v1), v2: source(t, v2)}
	e.publish(app, channel, v1, srcs[v1])
	state := t.TempDir()
	rts := []*client.Runtime{e.runtime(state), e.runtime(state)}

	launchAll := func(n int) []*client.LaunchResult {
		var wg sync.WaitGroup
		results := make([]*client.LaunchResult, n)
		for i := range n {
			wg.Go(func() {
				res, err := rts[i%2].Launch(e.ctx, app, channel, client.LaunchOptions{})
				if err != nil {
					t.Errorf("launch %d: %v", i, err)
					return
				}
				if results[i], err = res.Wait(e.ctx); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		return results
	}
	check := func(phase string, results []*client.LaunchResult, allowed ...string) {
		t.Helper()
		for i, res := range results {
			if res == nil {
				continue
			}
			if !slices.Contains(allowed, res.LaunchedVersion) || res.Err != nil {
				t.Errorf("%s launch %d: got %q, %v; want one of %v, no error", phase, i, res.LaunchedVersion, res.Err, allowed)
				continue
			}
			sameTree(t, res.Path, srcs[res.LaunchedVersion])
		}
		st, err := rts[0].State(e.ctx, app)
		if err != nil {
			t.Fatalf("%s: %v", phase, err)
		}
		entries, err := os.ReadDir(filepath.Join(state, "apps", app, "versions"))
		if err != nil {
			t.Fatal(err)
		}
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
			t.Errorf("%s: got version directories %v, state names %v", phase, onDisk, named)
		}
		if tmp, _ := os.ReadDir(filepath.Join(state, "apps", app, "tmp")); len(tmp) != 0 {
			t.Errorf("%s: %d entries left in tmp", phase, len(tmp))
		}
	}

	check("first install", launchAll(4), v1)
	e.publish(app, channel, v2, srcs[v2])
	check("update", launchAll(4), v1, v2)
	res, err := rts[1].Launch(e.ctx, app, channel, client.LaunchOptions{})
	if err != nil || res.LaunchedVersion != v2 {
		t.Errorf("after the update: got %q, %v; want %s", res.LaunchedVersion, err, v2)
	}
	if _, err := res.Wait(e.ctx); err != nil {
		t.Fatal(err)
	}
}

// TestTransientRetry: a failure known to be transient is retried and the
// check succeeds; the retry is counted.
func TestTransientRetry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		fail func(w http.ResponseWriter, blob []byte)
	}{
		{"503", func(w http.ResponseWriter, _ []byte) {
			http.Error(w, "busy", http.StatusServiceUnavailable)
		}},
		{"body cut short", func(w http.ResponseWriter, blob []byte) {
			// Declare the whole blob, send half, and hang up.
			w.Header().Set("Content-Length", strconv.Itoa(len(blob)))
			w.Write(blob[:len(blob)/2])
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			const v1, v2 = "1.10.24", "1.11.0"
			e.publish(app, channel, v1, source(t, v1))
			rt := e.runtime(t.TempDir())
			if _, err := rt.Launch(e.ctx, app, channel, client.LaunchOptions{}); err != nil {
				t.Fatal(err)
			}
			pub := e.publish(app, channel, v2, source(t, v2))
			// The first request for the blob fails; the next is served.
			key := pub.Release.Packages[0].Path
			blob, _ := e.get(key)
			var calls atomic.Int32
			e.override("/"+key, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) == 1 {
					tc.fail(w, blob)
					return
				}
				serveBytes(blob).ServeHTTP(w, r)
			}))
			res, err := rt.Launch(e.ctx, app, channel, client.LaunchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			final, err := res.Wait(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if final.Err != nil || final.ReadyVersion != v2 || final.Requests != 4 {
				t.Errorf("got err %v ready %q requests %d, want no error, %s ready, 4 requests (one retried)", final.Err, final.ReadyVersion, final.Requests, v2)
			}
		})
	}
}

// TestFirstInstallFails: with nothing installed and nothing to install,
// Launch fails with ErrNotInstalled and the cause, and launches nothing.
func TestFirstInstallFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rt := e.runtime(t.TempDir())
	res, err := rt.Launch(e.ctx, app, channel, client.LaunchOptions{})
	if err == nil || res.LaunchedVersion != "" || res.Err != err || res.Mode != client.ModeFirstInstall {
		t.Fatalf("got %q %q err %v (result err %v), want nothing launched and an error", res.LaunchedVersion, res.Mode, err, res.Err)
	}
	if !errors.Is(err, client.ErrNotInstalled) || client.ErrorCode(err) != "http_status" {
		t.Errorf("got %v (code %q), want ErrNotInstalled and http_status", err, client.ErrorCode(err))
	}
	if res.Requests != 1 {
		t.Errorf("got %d requests, want 1 (a 404 is not retried)", res.Requests)
	}
}
