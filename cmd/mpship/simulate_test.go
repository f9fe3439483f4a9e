package main

import (
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSimulateCommand runs a small simulation through the CLI: --json with
// the fields the documentation promises, and the charts.
func TestSimulateCommand(t *testing.T) {
	dir := t.TempDir()
	svg, pngFile := filepath.Join(dir, "coverage.svg"), filepath.Join(dir, "coverage.png")
	code, stdout, stderr := execCLI(t, "simulate", "--devices", "300", "--hours", "24", "--warmup", "2", "--json", "--svg", svg, "--png", pngFile)
	if code != exitOK {
		t.Fatalf("simulate: exit %d: %s", code, stderr)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("simulate --json: %q: %v", stdout, err)
	}
	for _, k := range []string{"devices", "coverage_24h", "p50_hours", "p90_hours", "p99_hours", "requests_per_device_day",
		"origin_requests_per_device_day", "cdn_requests_per_device_day", "curve", "active_devices"} {
		if _, ok := got[k]; !ok {
			t.Errorf("--json lacks %q", k)
		}
	}
	if got["devices"] != 300.0 {
		t.Errorf("got devices %v, want 300", got["devices"])
	}
	if c, ok := got["coverage_24h"].(float64); !ok || c <= 0.5 || c > 1 {
		t.Errorf("got coverage_24h %v, want a fraction well above one half", got["coverage_24h"])
	}
	if p, ok := got["p50_hours"].(float64); !ok || p <= 0 || p > 24 {
		t.Errorf("got p50_hours %v, want within the day", got["p50_hours"])
	}
	if r, ok := got["requests_per_device_day"].(float64); !ok || r <= 1 {
		t.Errorf("got requests_per_device_day %v, want more than one", got["requests_per_device_day"])
	}
	if b, err := os.ReadFile(svg); err != nil || !strings.HasPrefix(string(b), "<svg") {
		t.Errorf("SVG: %v, %.40q", err, b)
	}
	f, err := os.Open(pngFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("PNG: %v", err)
	}

	// The table, with a weak policy.
	code, stdout, stderr = execCLI(t, "simulate", "--devices", "200", "--hours", "24", "--warmup", "1", "--no-periodic", "--no-sync")
	for _, want := range []string{"200 devices", "coverage at 24 h:", "50% / 90% / 99% of active devices by:", "requests per device per day:"} {
		if code != exitOK || !strings.Contains(stdout, want) {
			t.Errorf("table: exit %d, got %q (stderr %s), want %q", code, stdout, stderr, want)
		}
	}
}

func TestSimulateCommandErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"devices", []string{"--devices", "-5"}, "devices -5 out of range"},
		{"hours", []string{"--hours", "0"}, "--hours must be positive"},
		{"interval", []string{"--interval", "1s"}, "check_interval 1s out of range"},
		{"release hour", []string{"--release-hour", "25"}, "release hour 25"},
		{"argument", []string{"extra"}, "takes no arguments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := execCLI(t, append([]string{"simulate"}, tc.args...)...)
			if code != exitUsage || !strings.Contains(stderr, tc.want) {
				t.Errorf("got exit %d, stderr %q; want exit %d and %q", code, stderr, exitUsage, tc.want)
			}
		})
	}
	// A chart that cannot be written fails the run and leaves nothing.
	dir := t.TempDir()
	code, _, stderr := execCLI(t, "simulate", "--devices", "20", "--hours", "2", "--warmup", "1", "--svg", filepath.Join(dir, "missing", "c.svg"))
	if code != exitError || !strings.Contains(stderr, "simulate:") {
		t.Errorf("unwritable chart: got exit %d, stderr %q", code, stderr)
	}
}
