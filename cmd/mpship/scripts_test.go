package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mpship/mpship/internal/archive/archivetest"
)

// The README's walk-throughs, run as a newcomer would: real mpship
// processes, a real origin on a loopback port, curl for the conditional GET.

func runScript(t *testing.T, script string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not installed")
	}
	cmd := exec.Command("bash", append([]string{filepath.Join("..", "..", "scripts", script)}, args...)...)
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return string(out)
}

func TestDemoScript(t *testing.T) {
	out := runScript(t, "demo.sh", mpshipBinary(t))
	if !strings.Contains(out, "demo: ok") {
		t.Errorf("demo output does not end with 'demo: ok':\n%s", out)
	}
}

func TestNewcomerScript(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("curl is not installed; the walk-through needs it (apt-get install curl)")
		}
		t.Skip("curl not installed")
	}
	data := filepath.Dir(archivetest.Tarball(t, "1.11.7"))
	out := runScript(t, "newcomer.sh", mpshipBinary(t), data)
	for _, want := range []string{
		"ok: conditional GET status = 304",
		"ok: requests = 1",
		"ok: ready_version = 1.11.7",
		"ok: error_code = bad_signature",
		"ok: error_code = hash_mismatch",
		"newcomer walk-through: ok",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("walk-through output lacks %q:\n%s", want, out)
		}
	}
}
