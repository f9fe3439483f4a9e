package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/mpship/mpship/internal/archive/archivetest"
	"github.com/mpship/mpship/store"
	"github.com/mpship/mpship/store/local"
)

// storeListing describes every object in the local store at dir, or
// "<none>" when there is no store there.
func storeListing(t *testing.T, dir string) string {
	t.Helper()
	if _, err := os.Stat(dir); err != nil {
		return "<none>"
	}
	st, err := local.Open(dir, local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var lines []string
	err = st.List(context.Background(), "", func(i store.Info) error {
		lines = append(lines, fmt.Sprintf("%s %d %s", i.Key, i.Size, i.ETag))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// releaseJSON is the part of 'mpship release --json' tests look at.
type releaseJSON struct {
	Version         string `json:"version"`
	PreviousVersion string `json:"previous_version"`
	Sequence        uint64 `json:"sequence"`
	Packages        []struct {
		Name     string `json:"name"`
		SHA256   string `json:"sha256"`
		Size     int64  `json:"size"`
		RawSize  int64  `json:"raw_size"`
		Files    int    `json:"files"`
		Uploaded bool   `json:"uploaded"`
		Deltas   []struct {
			FromVersion string `json:"from_version"`
			Size        int64  `json:"size"`
		} `json:"deltas"`
	} `json:"packages"`
	Uploaded int `json:"uploaded"`
	Skipped  int `json:"skipped"`
}

func releaseArgs(storeDir, keys, version, src string, extra ...string) []string {
	args := []string{"release", "--store", storeDir, "--key", filepath.Join(keys, "signing.key"),
		"--app", "demo", "--channel", "stable", "--version", version}
	return append(append(args, extra...), src)
}

func TestReleaseCommand(t *testing.T) {
	keys := makeKeys(t)
	storeDir := filepath.Join(t.TempDir(), "store")

	code, stdout, stderr := execCLI(t, releaseArgs(storeDir, keys, "1.11.6", archivetest.Extract(t, "1.11.6"))...)
	if code != exitOK {
		t.Fatalf("first release: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"released demo 1.11.6 on stable (sequence 1", "package main: 935 files", "1 uploaded"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}

	v7 := archivetest.Extract(t, "1.11.7")
	code, stdout, stderr = execCLI(t, releaseArgs(storeDir, keys, "1.11.7", v7, "--json", "--notes", "second")...)
	if code != exitOK {
		t.Fatalf("second release: exit %d: %s", code, stderr)
	}
	var second releaseJSON
	if err := json.Unmarshal([]byte(stdout), &second); err != nil {
		t.Fatalf("--json output: %v\n%s", err, stdout)
	}
	// The package and its delta from 1.11.6.
	if second.Version != "1.11.7" || second.PreviousVersion != "1.11.6" || second.Sequence != 2 || second.Uploaded != 2 || len(second.Packages) != 1 {
		t.Errorf("second release: %+v", second)
	}
	if d := second.Packages[0].Deltas; len(d) != 1 || d[0].FromVersion != "1.11.6" || d[0].Size*2 > second.Packages[0].Size {
		t.Errorf("second release deltas %+v, want one from 1.11.6 under half the package", d)
	}

	// The same tree released again under a new version: same package.
	code, stdout, stderr = execCLI(t, releaseArgs(storeDir, keys, "1.11.8", archivetest.Extract(t, "1.11.7"), "--json")...)
	if code != exitOK {
		t.Fatalf("third release: exit %d: %s", code, stderr)
	}
	var third releaseJSON
	if err := json.Unmarshal([]byte(stdout), &third); err != nil {
		t.Fatal(err)
	}
	// Its delta from 1.11.6 is 1.11.7's, already in the store; 1.11.7 has
	// the same package and needs none.
	if third.Packages[0].SHA256 != second.Packages[0].SHA256 || third.Packages[0].Uploaded || third.Uploaded != 0 || third.Skipped != 2 {
		t.Errorf("same tree twice: sha256 %s then %s, uploaded %v; want the same sha256 and nothing uploaded",
			second.Packages[0].SHA256, third.Packages[0].SHA256, third.Packages[0].Uploaded)
	}

	if code, stdout, stderr := execCLI(t, "verify", "--store", storeDir, "--trust", filepath.Join(keys, "signing.pub")); code != exitOK {
		t.Errorf("verify after three releases: exit %d\n%s%s", code, stdout, stderr)
	}
}

func TestReleaseCommandSubpackagesAndKeys(t *testing.T) {
	k1, k2 := makeKeys(t), makeKeys(t)
	storeDir := filepath.Join(t.TempDir(), "store")
	src := filepath.Join("..", "..", "generator", "testdata", "miniprogram")
	args := releaseArgs(storeDir, k1, "1.0.0", src, "--key", filepath.Join(k2, "signing.key"), "--subpackage", "detail=packageA/", "--json")
	code, stdout, stderr := execCLI(t, args...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep releaseJSON
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Packages) != 2 || rep.Packages[0].Name != "detail" || rep.Packages[0].Files != 2 || rep.Packages[1].Name != "main" {
		t.Errorf("packages %+v, want detail (2 files) and main", rep.Packages)
	}
	code, stdout, stderr = execCLI(t, "verify", "--store", storeDir, "--threshold", "2",
		"--trust", filepath.Join(k1, "signing.pub"), "--trust", filepath.Join(k2, "signing.pub"))
	if code != exitOK {
		t.Errorf("verify with threshold 2: exit %d\n%s%s", code, stdout, stderr)
	}
}

func TestReleaseCommandRefusals(t *testing.T) {
	keys := makeKeys(t)
	storeDir := filepath.Join(t.TempDir(), "store")
	good := t.TempDir()
	if err := os.WriteFile(filepath.Join(good, "app.js"), []byte("App({})"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := execCLI(t, releaseArgs(storeDir, keys, "1.3.0", good)...); code != exitOK {
		t.Fatalf("setup release: exit %d: %s", code, stderr)
	}
	empty := t.TempDir()
	withLink := t.TempDir()
	if err := os.Symlink("/etc/hostname", filepath.Join(withLink, "host.js")); err != nil {
		t.Fatal(err)
	}
	bigFile := t.TempDir()
	f, err := os.Create(filepath.Join(bigFile, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(33 << 20); err != nil { // sparse: no 33 MiB written
		t.Fatal(err)
	}
	f.Close()
	garbageKey := filepath.Join(t.TempDir(), "garbage.key")
	if err := os.WriteFile(garbageKey, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(keys, "signing.key")
	pub := filepath.Join(keys, "signing.pub")
	otherStore := filepath.Join(t.TempDir(), "never-created")

	tests := []struct {
		name string
		args []string
		want int
	}{
		{"older version", releaseArgs(storeDir, keys, "1.2.0", good), exitError},
		{"same version", releaseArgs(storeDir, keys, "1.3.0", good), exitError},
		{"empty source", releaseArgs(storeDir, keys, "1.4.0", empty), exitError},
		{"symlink out of the source", releaseArgs(storeDir, keys, "1.4.0", withLink), exitError},
		{"file over 32 MiB", releaseArgs(storeDir, keys, "1.4.0", bigFile), exitError},
		{"missing source", releaseArgs(storeDir, keys, "1.4.0", filepath.Join(empty, "nope")), exitUsage},
		{"invalid app", []string{"release", "--store", storeDir, "--key", key, "--app", "Demo!", "--channel", "stable", "--version", "1.4.0", good}, exitUsage},
		{"invalid channel", []string{"release", "--store", storeDir, "--key", key, "--app", "demo", "--channel", "a/b", "--version", "1.4.0", good}, exitUsage},
		{"invalid version", releaseArgs(storeDir, keys, "1.4", good), exitUsage},
		{"public key as signing key", []string{"release", "--store", storeDir, "--key", pub, "--app", "demo", "--channel", "stable", "--version", "1.4.0", good}, exitUsage},
		{"key that does not parse", []string{"release", "--store", storeDir, "--key", garbageKey, "--app", "demo", "--channel", "stable", "--version", "1.4.0", good}, exitUsage},
		{"missing key file", []string{"release", "--store", storeDir, "--key", garbageKey + ".nope", "--app", "demo", "--channel", "stable", "--version", "1.4.0", good}, exitUsage},
		{"no --key", []string{"release", "--store", storeDir, "--app", "demo", "--channel", "stable", "--version", "1.4.0", good}, exitUsage},
		{"bad --subpackage", releaseArgs(storeDir, keys, "1.4.0", good, "--subpackage", "packageA"), exitUsage},
		{"subpackage dir missing", releaseArgs(storeDir, keys, "1.4.0", good, "--subpackage", "a=packageA"), exitUsage},
		{"expiry too short", releaseArgs(storeDir, keys, "1.4.0", good, "--expires", "5m"), exitUsage},
		{"no source argument", releaseArgs(storeDir, keys, "1.4.0", good)[:11], exitUsage},
		{"two source arguments", append(releaseArgs(storeDir, keys, "1.4.0", good), good), exitUsage},
		{"unknown flag", releaseArgs(storeDir, keys, "1.4.0", good, "--force"), exitUsage},
		{"bad flag into a new store", releaseArgs(otherStore, keys, "not-a-version", good), exitUsage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := storeListing(t, storeDir)
			code, _, stderr := execCLI(t, tc.args...)
			if code != tc.want {
				t.Errorf("exit %d, want %d; stderr: %s", code, tc.want, stderr)
			}
			if !strings.HasPrefix(stderr, "mpship: ") {
				t.Errorf("stderr %q does not start with the error", stderr)
			}
			t.Log(strings.TrimSpace(stderr))
			if after := storeListing(t, storeDir); after != before {
				t.Errorf("store changed by a refused release:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
	if _, err := os.Stat(otherStore); err == nil {
		t.Errorf("a release refused for its flags created the store directory %s", otherStore)
	}
}

// TestReleaseRefusedLeavesNoNewStore: a release refused before it writes
// anything does not leave behind the store directory it would have created
// (it used to, for a missing or empty source).
func TestReleaseRefusedLeavesNoNewStore(t *testing.T) {
	keys := makeKeys(t)
	empty := t.TempDir()
	for _, tc := range []struct {
		name string
		src  string
		code int
	}{
		{"missing source", filepath.Join(empty, "nope"), exitUsage},
		{"empty source", empty, exitError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storeDir := filepath.Join(t.TempDir(), "store")
			code, _, stderr := execCLI(t, releaseArgs(storeDir, keys, "1.0.0", tc.src)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d: %s", code, tc.code, stderr)
			}
			if _, err := os.Stat(storeDir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("store directory after a refused release: stat error %v, want it absent", err)
			}
		})
	}
}
