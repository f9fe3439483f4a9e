package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mpship/mpship/manifests"
)

// execCLI runs mpship with args and returns the exit status and output.
func execCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// makeKeys runs keygen into a new directory and returns it.
func makeKeys(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "keys")
	if code, _, stderr := execCLI(t, "keygen", "--out", dir); code != exitOK {
		t.Fatalf("keygen: exit %d: %s", code, stderr)
	}
	return dir
}

func TestKeygen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	code, stdout, stderr := execCLI(t, "keygen", "--out", dir)
	if code != exitOK {
		t.Fatalf("exit %d, want 0: %s", code, stderr)
	}
	privPath, pubPath := filepath.Join(dir, "signing.key"), filepath.Join(dir, "signing.pub")
	for path, want := range map[string]os.FileMode{privPath: 0o600, pubPath: 0o644} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %v, want %v", path, got, want)
		}
	}
	privPEM, _ := os.ReadFile(privPath)
	pubPEM, _ := os.ReadFile(pubPath)
	priv, err := manifests.ParsePrivateKey(privPEM)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := manifests.ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(manifests.NewSigner(priv).Public()) {
		t.Error("signing.pub is not the public half of signing.key")
	}
	id := manifests.KeyID(pub)
	if !strings.Contains(stdout, "key id "+id) {
		t.Errorf("output %q does not print the key id %s", stdout, id)
	}

	// A second keygen refuses to overwrite, and leaves the pair alone.
	code, _, stderr = execCLI(t, "keygen", "--out", dir)
	if code != exitError || !strings.Contains(stderr, "--force") {
		t.Errorf("second keygen: exit %d, stderr %q; want 1 and a hint about --force", code, stderr)
	}
	if again, _ := os.ReadFile(privPath); !bytes.Equal(again, privPEM) {
		t.Error("refused keygen changed signing.key")
	}

	// --force replaces it; --json prints the new id.
	code, stdout, stderr = execCLI(t, "keygen", "--out", dir, "--force", "--json")
	if code != exitOK {
		t.Fatalf("keygen --force: exit %d: %s", code, stderr)
	}
	var out struct {
		KeyID      string `json:"key_id"`
		PrivateKey string `json:"private_key"`
		PublicKey  string `json:"public_key"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("--json output %q: %v", stdout, err)
	}
	pubPEM2, _ := os.ReadFile(pubPath)
	pub2, err := manifests.ParsePublicKey(pubPEM2)
	if err != nil {
		t.Fatal(err)
	}
	if out.KeyID == id || out.KeyID != manifests.KeyID(pub2) || out.PublicKey != pubPath || out.PrivateKey != privPath {
		t.Errorf("--force --json: %+v; want a new key id matching %s", out, pubPath)
	}
}

func TestKeygenUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"no --out", []string{"keygen"}},
		{"argument", []string{"keygen", "--out", t.TempDir(), "extra"}},
		{"unknown flag", []string{"keygen", "--out", t.TempDir(), "--bits", "4096"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if code, _, stderr := execCLI(t, tc.args...); code != exitUsage {
				t.Errorf("exit %d, want %d (%s)", code, exitUsage, stderr)
			}
		})
	}
}
