package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/mpship/mpship/client"
)

// testConfig is a population large enough for the 99% figure to mean
// something (2,000 devices, about 1,500 of them active: one device is 0.07
// points), followed for the 24 hours the claim is about.
func testConfig(p client.Policy) Config {
	return Config{Devices: 2000, Horizon: 24 * time.Hour, Warmup: 3 * time.Hour, Seed: 7, Policy: p, Dir: ""}
}

// TestDefaultPolicyReaches99Percent is the claim of docs/client.md: with the
// default policy, 99% of the devices active in the week before a release
// hold the new version within 24 hours. A weak policy, on the same devices,
// does not: the assertion can fail.
func TestDefaultPolicyReaches99Percent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		policy client.Policy
		check  func(t *testing.T, r *Result)
	}{
		{
			name: "default policy",
			check: func(t *testing.T, r *Result) {
				if r.Coverage24h < 0.99 || r.P99Hours == nil || *r.P99Hours > 24 {
					t.Errorf("got coverage %.4f at 24 h, p99 %v, want at least 0.99 within 24 h", r.Coverage24h, r.P99Hours)
				}
				if r.LaunchModes["sync"] == 0 || r.LaunchModes["async"] == 0 {
					t.Errorf("got launch modes %v, want both sync (marked, disused) and async launches", r.LaunchModes)
				}
			},
		},
		{
			name:   "no periodic checks, no cold-start check, no synchronous launches",
			policy: client.Policy{CheckInterval: -1, NoColdStartCheck: true, SyncTimeout: -1},
			check: func(t *testing.T, r *Result) {
				if r.Coverage24h > 0.05 || r.Requests.Edge != 0 {
					t.Errorf("got coverage %.4f and %d requests, want nothing updated without any check", r.Coverage24h, r.Requests.Edge)
				}
			},
		},
		{
			name:   "cold-start checks only",
			policy: client.Policy{CheckInterval: -1, SyncTimeout: -1},
			check: func(t *testing.T, r *Result) {
				if r.Coverage24h >= 0.95 || r.Coverage24h < 0.3 {
					t.Errorf("got coverage %.4f at 24 h, want far below 99%%: only devices opened after the release update", r.Coverage24h)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := Run(t.Context(), testConfig(tc.policy))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d devices, %d active: coverage %.4f at 24 h, p50 %s p90 %s p99 %s, %.2f requests/device/day at the edge, %.3f at the origin, %s",
				r.Devices, r.ActiveDevices, r.Coverage24h, hours(r.P50Hours), hours(r.P90Hours), hours(r.P99Hours),
				r.RequestsPerDeviceDay, r.OriginRequestsPerDeviceDay, r.Elapsed.Round(time.Millisecond))
			if r.Devices != 2000 || r.ActiveDevices < 1000 || r.ActiveDevices > 1900 {
				t.Errorf("got %d devices, %d active; want 2000 with most, not all, active", r.Devices, r.ActiveDevices)
			}
			if r.CheckErrors != 0 {
				t.Errorf("got %d failed checks, first %s", r.CheckErrors, r.FirstCheckError)
			}
			tc.check(t, r)
		})
	}
}

func hours(p *float64) string {
	if p == nil {
		return "never"
	}
	return fmtHours(*p)
}

// TestReproducible: the same seed gives the same result whatever the
// number of workers; another seed gives another.
func TestReproducible(t *testing.T) {
	t.Parallel()
	run := func(seed uint64, workers int) *Result {
		r, err := Run(t.Context(), Config{Devices: 150, Horizon: 6 * time.Hour, Warmup: time.Hour, Seed: seed, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a, b, c := run(3, 1), run(3, 4), run(4, 2)
	key := func(r *Result) string {
		r.Elapsed, r.ElapsedSeconds = 0, 0
		j, _ := json.Marshal(r)
		return string(j)
	}
	if key(a) != key(b) {
		t.Errorf("seed 3 with 1 and 4 workers differ:\n%s\n%s", key(a), key(b))
	}
	if key(a) == key(c) {
		t.Errorf("seeds 3 and 4 gave the same result")
	}
	if a.Coverage24h != -1 {
		t.Errorf("6-hour horizon: got coverage_24h %v, want -1", a.Coverage24h)
	}
}

// TestUsageModel checks the draws against the model's stated rates.
func TestUsageModel(t *testing.T) {
	t.Parallel()
	cfg, err := Config{Horizon: 10 * 24 * time.Hour, Warmup: -1}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	classes := make([]int, len(cfg.Usage.Classes))
	var opens, sessions, background, dormant int
	var offline time.Duration
	byHour := make([]int, 24)
	for i := range n {
		d := cfg.drawDevice(i)
		classes[d.class]++
		if d.background {
			background++
		}
		if d.dormant {
			dormant++
			continue
		}
		for _, e := range d.events {
			switch e.kind {
			case evOpen:
				opens++
			case evSession:
				sessions++
				byHour[cfg.hourOf(e.at)]++
			}
		}
		for _, s := range d.offline {
			offline += max(0, min(s.to, cfg.Horizon)-max(s.from, 0))
		}
		if d.lastBefore >= 0 {
			t.Fatalf("device %d: last use before the release at %s", i, d.lastBefore)
		}
	}
	days := cfg.Horizon.Hours() / 24
	wantOpens, wantSessions := 0.0, 0.0
	for _, cl := range cfg.Usage.Classes {
		wantOpens += cl.Share * cl.OpensPerDay
		wantSessions += cl.Share * cl.SessionsPerDay
	}
	within := func(name string, got, want, tol float64) {
		if got < want*(1-tol) || got > want*(1+tol) {
			t.Errorf("%s: got %.3f, want %.3f ± %.0f%%", name, got, want, tol*100)
		}
	}
	live := float64(n - dormant)
	within("opens per device per day", float64(opens)/live/days, wantOpens, 0.1)
	within("sessions per device per day", float64(sessions)/live/days, wantSessions, 0.05)
	within("background share", float64(background)/n, cfg.Usage.BackgroundShare, 0.1)
	within("heavy share", float64(classes[0])/n, cfg.Usage.Classes[0].Share, 0.15)
	// Offline time: about 2 spells a day of about 40 minutes on average.
	within("offline share of time", offline.Hours()/live/cfg.Horizon.Hours(), 2*20*time.Minute.Hours()*1.75/24, 0.35)
	// Sessions follow the diurnal curve: the evening peak is busier than
	// the small hours.
	if byHour[21] < 8*byHour[3] {
		t.Errorf("got %d sessions at 21:00 and %d at 03:00, want the evening far busier", byHour[21], byHour[3])
	}
}

func TestConfigLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"devices", Config{Devices: -1}, "devices -1 out of range"},
		{"horizon", Config{Horizon: time.Minute}, "horizon 1m0s out of range"},
		{"release hour", Config{Usage: Usage{ReleaseHour: 24}}, "release hour 24"},
		{"shares", Config{Usage: Usage{WeakShare: 0.7, MeteredShare: 0.5}}, "add up to more than 1"},
		{"classes", Config{Usage: Usage{Classes: []Class{{Name: "x", Share: -1}}}}, `usage class "x"`},
		{"policy", Config{Devices: 1, Policy: client.Policy{CheckInterval: time.Second}}, "check_interval 1s out of range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(t.Context(), tc.cfg)
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want ErrConfig and %q", err, tc.want)
			}
		})
	}
}

// TestReport renders a result as a table, SVG and PNG.
func TestReport(t *testing.T) {
	t.Parallel()
	r, err := Run(t.Context(), Config{Devices: 100, Horizon: 30 * time.Hour, Warmup: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	r.WriteTable(&table)
	for _, want := range []string{"100 devices", "coverage at 24 h:", "50% / 90% / 99% of active devices by:", "requests per device per day:", "     24h"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	var svg bytes.Buffer
	if err := r.WriteSVG(&svg); err != nil {
		t.Fatal(err)
	}
	if s := svg.String(); !strings.HasPrefix(s, "<svg") || !strings.Contains(s, "<polyline") || !strings.HasSuffix(s, "</svg>\n") {
		t.Errorf("SVG: got %.200q...", s)
	}
	var pngBuf bytes.Buffer
	if err := r.WritePNG(&pngBuf); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&pngBuf)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != chartW || b.Dy() != chartH {
		t.Errorf("PNG is %v, want %dx%d", b, chartW, chartH)
	}
	// The curve is drawn: some pixels are the curve's blue.
	blue := 0
	for y := 0; y < chartH; y++ {
		for x := 0; x < chartW; x++ {
			if r, g, b, _ := img.At(x, y).RGBA(); r == 0 && g>>8 == 0x66 && b>>8 == 0xcc {
				blue++
			}
		}
	}
	if blue < 200 {
		t.Errorf("PNG has %d pixels of the curve's colour, want the curve drawn", blue)
	}
}
