package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// publishedStore releases a small tree twice and returns the store and key
// directories.
func publishedStore(t *testing.T) (storeDir, keys string) {
	t.Helper()
	keys = makeKeys(t)
	storeDir = filepath.Join(t.TempDir(), "store")
	for i, v := range []string{"1.0.0", "1.1.0"} {
		src := t.TempDir()
		if err := os.WriteFile(filepath.Join(src, "app.js"), []byte(strings.Repeat("App({})\n", i+1)), 0o644); err != nil {
			t.Fatal(err)
		}
		if code, _, stderr := execCLI(t, releaseArgs(storeDir, keys, v, src)...); code != exitOK {
			t.Fatalf("release %s: exit %d: %s", v, code, stderr)
		}
	}
	return storeDir, keys
}

type verifyJSON struct {
	OK       bool `json:"ok"`
	Channels int  `json:"channels"`
	Releases int  `json:"releases"`
	Blobs    int  `json:"blobs"`
	Problems []struct {
		Key     string `json:"key"`
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"problems"`
}

func TestVerifyCommandClean(t *testing.T) {
	storeDir, keys := publishedStore(t)
	code, stdout, stderr := execCLI(t, "verify", "--store", storeDir, "--trust", filepath.Join(keys, "signing.pub"))
	if code != exitOK || !strings.Contains(stdout, "ok: no problems found") {
		t.Fatalf("exit %d, want 0\n%s%s", code, stdout, stderr)
	}
	code, stdout, _ = execCLI(t, "verify", "--store", "file://"+storeDir, "--trust", filepath.Join(keys, "signing.pub"), "--json")
	var rep verifyJSON
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if code != exitOK || !rep.OK || rep.Channels != 1 || rep.Releases != 2 || rep.Blobs != 2 || rep.Problems == nil {
		t.Errorf("exit %d, report %+v; want 0, ok, 1 channel, 2 releases, 2 blobs, problems []", code, rep)
	}
}

func TestVerifyCommandTamperedBlob(t *testing.T) {
	storeDir, keys := publishedStore(t)
	blobs, err := filepath.Glob(filepath.Join(storeDir, "blobs", "sha256", "*"))
	if err != nil || len(blobs) != 2 {
		t.Fatalf("blobs %v, err %v; want 2", blobs, err)
	}
	// Flip one byte in place, as a bad disk or a hand edit would.
	victim := blobs[0]
	f, err := os.OpenFile(victim, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, 10); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, 10); err != nil {
		t.Fatal(err)
	}
	f.Close()

	key := "blobs/sha256/" + filepath.Base(victim)
	code, stdout, stderr := execCLI(t, "verify", "--store", storeDir, "--trust", filepath.Join(keys, "signing.pub"))
	if code != exitProblems {
		t.Errorf("exit %d, want %d", code, exitProblems)
	}
	if !strings.Contains(stdout, "PROBLEM "+key+": hash_mismatch") || !strings.Contains(stderr, "1 problems found") {
		t.Errorf("output does not name the tampered blob %s:\n%s%s", key, stdout, stderr)
	}
	code, stdout, _ = execCLI(t, "verify", "--store", storeDir, "--trust", filepath.Join(keys, "signing.pub"), "--json")
	var rep verifyJSON
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if code != exitProblems || rep.OK || len(rep.Problems) != 1 || rep.Problems[0].Key != key || rep.Problems[0].Code != "hash_mismatch" {
		t.Errorf("--json: exit %d, report %+v; want one hash_mismatch on %s", code, rep, key)
	}
}

func TestVerifyCommandProblemsAndUsage(t *testing.T) {
	storeDir, keys := publishedStore(t)
	pub := filepath.Join(keys, "signing.pub")
	other := makeKeys(t)

	// Expired: the same store checked 40 days later.
	err := runVerify(context.Background(), &verifyOptions{store: storeDir, trust: []string{pub}, threshold: 1,
		now: func() time.Time { return time.Now().Add(40 * 24 * time.Hour) }}, &strings.Builder{})
	var ce exitCodeError
	if !errors.As(err, &ce) || ce.code != exitProblems {
		t.Errorf("40 days later: got %v, want exit status %d", err, exitProblems)
	}

	tests := []struct {
		name     string
		args     []string
		want     int
		wantCode string
	}{
		{"untrusted key", []string{"verify", "--store", storeDir, "--trust", filepath.Join(other, "signing.pub")}, exitProblems, "unknown_key"},
		{"threshold not met", []string{"verify", "--store", storeDir, "--trust", pub, "--trust", filepath.Join(other, "signing.pub"), "--threshold", "2"}, exitProblems, "below_threshold"},
		{"no --trust", []string{"verify", "--store", storeDir}, exitUsage, ""},
		{"no --store", []string{"verify", "--trust", pub}, exitUsage, ""},
		{"threshold above the keys", []string{"verify", "--store", storeDir, "--trust", pub, "--threshold", "2"}, exitUsage, ""},
		{"private key as trust", []string{"verify", "--store", storeDir, "--trust", filepath.Join(keys, "signing.key")}, exitUsage, ""},
		{"missing store", []string{"verify", "--store", filepath.Join(storeDir, "nope"), "--trust", pub}, exitError, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := execCLI(t, tc.args...)
			if code != tc.want {
				t.Errorf("exit %d, want %d\n%s%s", code, tc.want, stdout, stderr)
			}
			if tc.wantCode != "" && !strings.Contains(stdout, ": "+tc.wantCode+": ") {
				t.Errorf("output does not report %s:\n%s", tc.wantCode, stdout)
			}
		})
	}
}
