package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mpship/mpship/internal/archive/archivetest"
	"github.com/mpship/mpship/manifests"
)

type clientLaunchJSON struct {
	App             string `json:"app"`
	Mode            string `json:"mode"`
	LaunchedVersion string `json:"launched_version"`
	ReadyVersion    string `json:"ready_version"`
	Path            string `json:"path"`
	BytesDownloaded int64  `json:"bytes_downloaded"`
	Requests        int    `json:"requests"`
	Error           string `json:"error"`
	ErrorCode       string `json:"error_code"`
	Check           *struct {
		NotModified bool `json:"not_modified"`
	} `json:"check"`
}

// launchJSON runs 'mpship client launch --json' and decodes its output.
func launchJSON(t *testing.T, base, keys, state string) (int, clientLaunchJSON, string) {
	t.Helper()
	code, stdout, stderr := execCLI(t, "client", "launch", "--origin", base, "--trust", filepath.Join(keys, "signing.pub"),
		"--state", state, "--app", "demo", "--channel", "stable", "--json")
	var got clientLaunchJSON
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("client launch --json: exit %d, output %q is not one JSON object: %v; stderr: %s", code, stdout, err, stderr)
	}
	return code, got, stderr
}

// TestClientLaunchCommand plays a newcomer's flow with the real verbs:
// keygen, release, serve, and a device launching through first install, a
// 304 check, an update made ready, and its launch; then a tampered manifest.
func TestClientLaunchCommand(t *testing.T) {
	keys := makeKeys(t)
	storeDir := filepath.Join(t.TempDir(), "store")
	if code, _, stderr := execCLI(t, releaseArgs(storeDir, keys, "1.11.6", archivetest.Extract(t, "1.11.6"))...); code != exitOK {
		t.Fatalf("release: exit %d: %s", code, stderr)
	}
	base, _, _ := startServe(t, "--store", storeDir, "--listen", "127.0.0.1:0", "--cache-bytes", "-1")
	state := filepath.Join(t.TempDir(), "device")

	code, got, stderr := launchJSON(t, base, keys, state)
	if code != exitOK || got.Mode != "first-install" || got.LaunchedVersion != "1.11.6" || got.ReadyVersion != "" ||
		got.Error != "" || got.ErrorCode != "" || got.Requests != 3 || got.BytesDownloaded < 100_000 {
		t.Errorf("first launch: exit %d, got %+v (stderr %s); want first-install of 1.11.6 in 3 requests", code, got, stderr)
	}
	if _, err := os.Stat(filepath.Join(got.Path, "package.json")); err != nil {
		t.Errorf("launched files: %v", err)
	}

	code, got, _ = launchJSON(t, base, keys, state)
	if code != exitOK || got.Mode != "async" || got.LaunchedVersion != "1.11.6" || got.Requests != 1 ||
		got.Check == nil || !got.Check.NotModified || got.BytesDownloaded >= 400 {
		t.Errorf("second launch: exit %d, got %+v; want async 1.11.6 and one 304 under 400 bytes", code, got)
	}
	t.Logf("no-update check: %d bytes downloaded", got.BytesDownloaded)

	if code, _, stderr := execCLI(t, releaseArgs(storeDir, keys, "1.11.7", archivetest.Extract(t, "1.11.7"))...); code != exitOK {
		t.Fatalf("release: exit %d: %s", code, stderr)
	}
	code, got, _ = launchJSON(t, base, keys, state)
	if code != exitOK || got.LaunchedVersion != "1.11.6" || got.ReadyVersion != "1.11.7" || got.Error != "" {
		t.Errorf("launch after release: exit %d, got %+v; want 1.11.6 launched, 1.11.7 ready", code, got)
	}
	code, got, _ = launchJSON(t, base, keys, state)
	if code != exitOK || got.LaunchedVersion != "1.11.7" || got.ReadyVersion != "" || got.Error != "" {
		t.Errorf("next launch: exit %d, got %+v; want 1.11.7 launched", code, got)
	}

	// A manifest tampered with in the store: the device stays on 1.11.7,
	// exits 0, and names the error.
	chanFile := filepath.Join(storeDir, filepath.FromSlash(manifests.ChannelPath("demo", "stable")))
	data, err := os.ReadFile(chanFile)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(data), `"payload": "`) + len(`"payload": "`) + 40
	if data[i] == 'A' {
		data[i] = 'B'
	} else {
		data[i] = 'A'
	}
	// Rewrite through a release would re-sign; write the file in place
	// and drop its metadata so the origin serves it with a new ETag.
	if err := os.WriteFile(chanFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(storeDir, ".mpship", "meta")); err != nil {
		t.Fatal(err)
	}
	code, got, _ = launchJSON(t, base, keys, state)
	if code != exitOK || got.LaunchedVersion != "1.11.7" || got.ErrorCode != "bad_signature" || !strings.Contains(got.Error, "bad signature") {
		t.Errorf("tampered manifest: exit %d, got %+v; want 1.11.7 launched and bad_signature", code, got)
	}

	// Human output says the same.
	code, stdout, _ := execCLI(t, "client", "launch", "--origin", base, "--trust", filepath.Join(keys, "signing.pub"),
		"--state", state, "--app", "demo", "--channel", "stable")
	for _, want := range []string{"launched demo 1.11.7 (async)", "error:   bad_signature (still on 1.11.7)"} {
		if code != exitOK || !strings.Contains(stdout, want) {
			t.Errorf("human output: exit %d, got %q, want it to contain %q", code, stdout, want)
		}
	}
}

func TestClientLaunchCommandErrors(t *testing.T) {
	keys := makeKeys(t)
	pub := filepath.Join(keys, "signing.pub")
	storeDir := filepath.Join(t.TempDir(), "store")
	if err := os.MkdirAll(storeDir, 0o755); err != nil {
		t.Fatal(err)
	}
	base, _, _ := startServe(t, "--store", storeDir, "--listen", "127.0.0.1:0")
	state := t.TempDir()
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"missing flags", []string{"--app", "demo"}, exitUsage, "missing [--origin --state --channel --trust]"},
		{"bad origin", []string{"--origin", "ftp://x", "--trust", pub, "--state", state, "--app", "demo", "--channel", "stable"}, exitUsage, "want an http:// or https:// URL"},
		{"private key as trust", []string{"--origin", base, "--trust", filepath.Join(keys, "signing.key"), "--state", state, "--app", "demo", "--channel", "stable"}, exitUsage, "pass signing.pub"},
		{"threshold over keys", []string{"--origin", base, "--trust", pub, "--threshold", "2", "--state", state, "--app", "demo", "--channel", "stable"}, exitUsage, "threshold 2"},
		{"bad app", []string{"--origin", base, "--trust", pub, "--state", state, "--app", "Demo!", "--channel", "stable"}, exitUsage, "invalid app id"},
		{"nothing released", []string{"--origin", base, "--trust", pub, "--state", state, "--app", "demo", "--channel", "stable"}, exitError, "nothing installed"},
		{"extra argument", []string{"--origin", base, "--trust", pub, "--state", state, "--app", "demo", "--channel", "stable", "extra"}, exitUsage, "takes no arguments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := execCLI(t, append([]string{"client", "launch"}, tc.args...)...)
			if code != tc.wantCode || !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("got exit %d, stderr %q; want exit %d and %q", code, stderr, tc.wantCode, tc.wantErr)
			}
		})
	}

	// With --json a failed launch still prints its report.
	code, got, _ := launchJSON(t, base, keys, state)
	if code != exitError || got.LaunchedVersion != "" || got.ErrorCode != "http_status" || got.Mode != "first-install" {
		t.Errorf("got exit %d, %+v; want exit 1, nothing launched, http_status", code, got)
	}
}
