package client_test

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mpship/mpship/client"
	"github.com/mpship/mpship/manifests"
)

// TestTamper: whatever a hostile or broken origin serves, the device stays
// on its installed version, launches it, and names the failure.
func TestTamper(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const v1, v2 = "1.10.24", "1.11.0"
	src1 := source(t, v1)
	e.publish(app, channel, v1, src1)
	pub2 := e.publish(app, channel, v2, source(t, v2))
	base := e.clock.Now()

	chanPath := "/" + manifests.ChannelPath(app, channel)
	blobPath := "/" + pub2.Release.Packages[0].Path
	relPath := "/" + pub2.ReleasePath
	blob2, _ := e.get(pub2.Release.Packages[0].Path)

	// channelAt signs a channel manifest for app pointing at version with
	// the given sequence, valid for 30 days from base.
	channelAt := func(seq uint64, version string) *manifests.Channel {
		data, ok := e.get(manifests.ReleasePath(app, version))
		if !ok {
			t.Fatalf("no release manifest for %s", version)
		}
		return &manifests.Channel{
			SchemaVersion: manifests.SchemaVersion, App: app, Channel: channel, Sequence: seq,
			IssuedAt: base, ExpiresAt: base.Add(30 * 24 * time.Hour),
			Current: manifests.ReleaseRef{Version: version, Path: manifests.ReleasePath(app, version),
				Size: int64(len(data)), SHA256: sha256Hex(data)},
		}
	}
	// The device installs v1 from a manifest with sequence 10.
	install := e.signChannel(channelAt(10, v1))
	update := e.signChannel(channelAt(11, v2))

	flip := func(b []byte, i int) []byte {
		c := bytes.Clone(b)
		c[i] ^= 0x01
		return c
	}
	// flipPayload changes one base64 character of the envelope's payload,
	// keeping the envelope well formed.
	flipPayload := func(env []byte) []byte {
		i := bytes.Index(env, []byte(`"payload": "`)) + len(`"payload": "`) + 40
		c := bytes.Clone(env)
		if c[i] == 'A' {
			c[i] = 'B'
		} else {
			c[i] = 'A'
		}
		return c
	}
	otherKey := func() []byte {
		_, priv, err := manifests.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := manifests.SignChannel(channelAt(11, v2), manifests.NewSigner(priv))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	status := func(code int) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, http.StatusText(code), code) })
	}

	tests := []struct {
		name      string
		overrides map[string]http.Handler
		advance   time.Duration // clock moved after the install
		limits    client.Limits
		wantCode  string
		maxBytes  int64 // if set, the most a launch may download
		wantReqs  int   // if set, the requests of each launch's check
		dropETag  bool  // the remembered ETag is forgotten
	}{
		{
			name:      "channel manifest byte flipped",
			overrides: map[string]http.Handler{chanPath: serveBytes(flipPayload(update))},
			wantCode:  "bad_signature",
		},
		{
			name:      "channel manifest signed by an unknown key",
			overrides: map[string]http.Handler{chanPath: serveBytes(otherKey())},
			wantCode:  "unknown_key",
		},
		{
			name:      "blob byte flipped",
			overrides: map[string]http.Handler{chanPath: serveBytes(update), blobPath: serveBytes(flip(blob2, len(blob2)/2))},
			wantCode:  "hash_mismatch",
		},
		{
			name:      "blob truncated",
			overrides: map[string]http.Handler{chanPath: serveBytes(update), blobPath: serveBytes(blob2[:len(blob2)/2])},
			wantCode:  "size_mismatch",
		},
		{
			name:      "blob missing",
			overrides: map[string]http.Handler{chanPath: serveBytes(update), blobPath: status(http.StatusNotFound)},
			wantCode:  "http_status",
			wantReqs:  3, // channel, release, blob: a 404 is not retried
		},
		{
			name: "release manifest byte flipped",
			overrides: map[string]http.Handler{chanPath: serveBytes(update), relPath: serveBytes(func() []byte {
				b, _ := e.get(pub2.ReleasePath)
				return flip(b, len(b)/2)
			}())},
			wantCode: "hash_mismatch",
		},
		{
			name: "expired channel manifest",
			overrides: map[string]http.Handler{chanPath: serveBytes(func() []byte {
				c := channelAt(11, v2)
				c.IssuedAt, c.ExpiresAt = base.Add(-48*time.Hour), base.Add(-time.Hour)
				return e.signChannel(c)
			}())},
			wantCode: "expired",
		},
		{
			name:     "expired manifest kept alive by 304",
			advance:  31 * 24 * time.Hour,
			wantCode: "expired",
			dropETag: true, // so the next check fetches the manifest in full
		},
		{
			name:      "rollback to a lower sequence",
			overrides: map[string]http.Handler{chanPath: serveBytes(e.signChannel(channelAt(9, v2)))},
			wantCode:  "rollback",
		},
		{
			name: "other app's channel manifest",
			overrides: map[string]http.Handler{chanPath: serveBytes(func() []byte {
				c := channelAt(11, v2)
				c.App = "com.example.other"
				c.Current.Path = manifests.ReleasePath(c.App, v2)
				return e.signChannel(c)
			}())},
			wantCode: "mix_and_match",
		},
		{
			name: "other channel's manifest",
			overrides: map[string]http.Handler{chanPath: serveBytes(func() []byte {
				c := channelAt(11, v2)
				c.Channel = "beta"
				return e.signChannel(c)
			}())},
			wantCode: "mix_and_match",
		},
		{
			name:      "oversize channel manifest",
			overrides: map[string]http.Handler{chanPath: serveBytes(bytes.Repeat([]byte(" "), manifests.MaxChannelSize+1))},
			wantCode:  "too_large",
			maxBytes:  1024, // refused on Content-Length: headers only
		},
		{
			name: "oversize channel manifest without Content-Length",
			overrides: map[string]http.Handler{chanPath: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				chunk := bytes.Repeat([]byte(" "), 4096)
				for range 64 { // 256 KiB, chunked
					if _, err := w.Write(chunk); err != nil {
						return
					}
					http.NewResponseController(w).Flush()
				}
			})},
			wantCode: "too_large",
			maxBytes: manifests.MaxChannelSize + 1 + 1024, // the cap plus one byte, and headers
		},
		{
			name:      "package over the device's limit",
			overrides: map[string]http.Handler{chanPath: serveBytes(update)},
			limits:    client.Limits{MaxPackageSize: 1000},
			wantCode:  "too_large",
		},
		{
			name:      "origin answers 503",
			overrides: map[string]http.Handler{chanPath: status(http.StatusServiceUnavailable)},
			wantCode:  "http_status",
			wantReqs:  3, // transient: retried up to MaxAttempts
		},
		{
			name: "connection reset",
			overrides: map[string]http.Handler{chanPath: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					c.Close()
				}
			})},
			wantCode: "network",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := e.fork(t)
			state := t.TempDir()
			// The install uses default limits; the launches under test use
			// the case's, on the same state directory.
			installer := e.runtime(state)
			opts := e.options(state)
			opts.Limits = tc.limits
			// Launches here are cold starts with a background check
			// (rule 1) even after the clock moves a month: rule 4's
			// synchronous launch meets the same faults in
			// TestSyncLaunchFaults.
			opts.Policy.DisuseAfter = -1
			rt, err := client.New(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer rt.Close()

			e.override(chanPath, serveBytes(install))
			res, err := installer.Launch(e.ctx, app, channel, client.LaunchOptions{})
			if err != nil || res.LaunchedVersion != v1 {
				t.Fatalf("install: got %q, %v; want %s", res.LaunchedVersion, err, v1)
			}
			before, err := rt.State(e.ctx, app)
			if err != nil {
				t.Fatal(err)
			}

			for p, h := range tc.overrides {
				e.override(p, h)
			}
			e.clock.Advance(tc.advance)
			e.takeRequests()

			// Twice: the failure is stable and never sticks the device.
			for i := range 2 {
				res, err := rt.Launch(e.ctx, app, channel, client.LaunchOptions{})
				if err != nil {
					t.Fatalf("launch %d: %v", i, err)
				}
				final, err := res.Wait(e.ctx)
				if err != nil {
					t.Fatal(err)
				}
				if final.LaunchedVersion != v1 || final.Mode != client.ModeAsync || final.ReadyVersion != "" {
					t.Errorf("launch %d: got %s %q ready %q, want %s async, nothing ready", i, final.LaunchedVersion, final.Mode, final.ReadyVersion, v1)
				}
				if got := client.ErrorCode(final.Err); got != tc.wantCode {
					t.Errorf("launch %d: got error code %q (%v), want %q", i, got, final.Err, tc.wantCode)
				}
				if tc.maxBytes > 0 && final.BytesDownloaded > tc.maxBytes {
					t.Errorf("launch %d: downloaded %d bytes, want at most %d", i, final.BytesDownloaded, tc.maxBytes)
				}
				if tc.wantReqs > 0 && final.Requests != tc.wantReqs {
					t.Errorf("launch %d: got %d requests, want %d", i, final.Requests, tc.wantReqs)
				}
				if final.Err != nil && !strings.Contains(final.Err.Error(), app) {
					t.Errorf("launch %d: error %q does not name the app", i, final.Err)
				}
				if final.Check == nil || !errors.Is(final.Err, final.Check.Err) {
					t.Errorf("launch %d: the launch's error is not the check's", i)
				}
			}
			sameTree(t, res.Path, src1)

			after, err := rt.State(e.ctx, app)
			if err != nil {
				t.Fatal(err)
			}
			b, a := before.Channels[channel], after.Channels[channel]
			wantETag := b.ETag
			if tc.dropETag {
				wantETag = ""
			}
			if after.Installed != v1 || after.Ready != "" || a.Sequence != 10 || a.ETag != wantETag {
				t.Errorf("got state installed %q ready %q sequence %d etag %s, want %s, none, 10, %q",
					after.Installed, after.Ready, a.Sequence, a.ETag, v1, wantETag)
			}
			appDir := filepath.Join(state, "apps", app)
			for dir, want := range map[string]int{"versions": 1, "tmp": 0} {
				entries, _ := os.ReadDir(filepath.Join(appDir, dir))
				if len(entries) != want {
					t.Errorf("got %d entries in %s, want %d: nothing half-done is left", len(entries), dir, want)
				}
			}
			for _, r := range e.takeRequests() {
				if r.Path == blobPath && (tc.wantCode == "bad_signature" || tc.wantCode == "rollback" || tc.wantCode == "too_large") {
					t.Errorf("the blob was requested although the manifests were refused")
				}
			}
		})
	}
}
