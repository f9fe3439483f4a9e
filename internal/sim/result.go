package sim

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/mpship/mpship/client"
)

// aggregate collects what one worker's devices did. It is used by one
// goroutine at a time.
type aggregate struct {
	devices, active int
	// updates are the times the active devices got the new version on
	// disk, for those that did; informed the times they held it or were
	// marked for it.
	updates, informed []time.Duration
	// classActive and classUpdated24 count active devices, and those
	// updated within 24 hours, by class.
	classActive, classUpdated24 []int
	// launches and launchesNew count cold starts after the release, and
	// those that ran the new version, by hour.
	launches, launchesNew []int
	modes                 map[client.Mode]int
	checkErrors           int
	firstCheckErr         error
	stats                 *counters
}

func newAggregate(cfg *Config) *aggregate {
	hours := int(math.Ceil(cfg.Horizon.Hours()))
	return &aggregate{
		classActive: make([]int, len(cfg.Usage.Classes)), classUpdated24: make([]int, len(cfg.Usage.Classes)),
		launches: make([]int, hours), launchesNew: make([]int, hours),
		modes: map[client.Mode]int{}, stats: newCounters(cfg.CDN.ManifestMaxAge),
	}
}

func (a *aggregate) device(d *device, active bool, updated, informed time.Duration) {
	a.devices++
	if !active {
		return
	}
	a.active++
	a.classActive[d.class]++
	if informed != never {
		a.informed = append(a.informed, informed)
	}
	if updated != never {
		a.updates = append(a.updates, updated)
		if updated <= 24*time.Hour {
			a.classUpdated24[d.class]++
		}
	}
}

func (a *aggregate) launch(t time.Duration, mode client.Mode, isNew bool) {
	h := int(t / time.Hour)
	if h >= len(a.launches) {
		return
	}
	a.launches[h]++
	if isNew {
		a.launchesNew[h]++
	}
	a.modes[mode]++
}

func (a *aggregate) checkErr(err error) {
	if client.ErrorCode(err) == "offline" {
		return
	}
	a.checkErrors++
	if a.firstCheckErr == nil {
		a.firstCheckErr = err
	}
}

func (a *aggregate) merge(o *aggregate) {
	a.devices += o.devices
	a.active += o.active
	a.updates = append(a.updates, o.updates...)
	a.informed = append(a.informed, o.informed...)
	for i := range a.classActive {
		a.classActive[i] += o.classActive[i]
		a.classUpdated24[i] += o.classUpdated24[i]
	}
	for i := range a.launches {
		a.launches[i] += o.launches[i]
		a.launchesNew[i] += o.launchesNew[i]
	}
	for m, n := range o.modes {
		a.modes[m] += n
	}
	a.checkErrors += o.checkErrors
	if a.firstCheckErr == nil {
		a.firstCheckErr = o.firstCheckErr
	}
	a.stats.merge(o.stats)
}

// Result is what a simulation measured. It is plain data; its JSON form is
// what 'mpship simulate --json' prints.
type Result struct {
	// Devices is the population; ActiveDevices those that cold-started
	// the mini program within ActiveWindow (7 days) before the release:
	// the devices coverage is measured on.
	Devices       int `json:"devices"`
	ActiveDevices int `json:"active_devices"`
	// HorizonHours is how long after the release the devices were
	// followed.
	HorizonHours float64 `json:"horizon_hours"`
	// Coverage24h is the fraction of active devices holding the new
	// version (installed, or verified and ready for their next cold start)
	// 24 hours after the release; -1 when the horizon is shorter.
	Coverage24h float64 `json:"coverage_24h"`
	// Informed24h is the fraction of active devices, 24 hours after the
	// release, that hold the new version or are marked for it (their next
	// cold start updates first, rule 3): the release has reached them.
	// -1 when the horizon is shorter.
	Informed24h float64 `json:"informed_24h"`
	// LaunchShare24h is the fraction of the cold starts in the 24 hours
	// after the release that ran the new version; -1 when there was none.
	LaunchShare24h float64 `json:"launch_share_24h"`
	// P50Hours, P90Hours and P99Hours are the hours after the release at
	// which 50%, 90% and 99% of active devices held it; null when the
	// share was not reached within the horizon.
	P50Hours *float64 `json:"p50_hours"`
	P90Hours *float64 `json:"p90_hours"`
	P99Hours *float64 `json:"p99_hours"`
	// RequestsPerDeviceDay is the requests devices made after the release,
	// per device of the population per day: what the CDN edge serves
	// (CDNRequestsPerDeviceDay, the same number), and what the origin
	// would serve without a CDN. OriginRequestsPerDeviceDay is what
	// reaches the origin behind the CDN.
	RequestsPerDeviceDay       float64 `json:"requests_per_device_day"`
	CDNRequestsPerDeviceDay    float64 `json:"cdn_requests_per_device_day"`
	OriginRequestsPerDeviceDay float64 `json:"origin_requests_per_device_day"`
	// Requests breaks the requests down.
	Requests RequestCounts `json:"requests"`
	// Curve is the coverage, and the share of cold starts that ran the new
	// version, over time.
	Curve []Point `json:"curve"`
	// Classes is coverage at 24 hours by class of user.
	Classes []ClassCoverage `json:"classes"`
	// LaunchModes counts the cold starts after the release by mode.
	LaunchModes map[string]int `json:"launch_modes"`
	// CheckErrors counts failed checks other than offline ones (none is
	// expected: the origin is in process); FirstCheckError is the first.
	CheckErrors     int    `json:"check_errors"`
	FirstCheckError string `json:"first_check_error,omitempty"`
	// POPs and ManifestMaxAgeSeconds are the CDN model's.
	POPs                  int     `json:"pops"`
	ManifestMaxAgeSeconds float64 `json:"manifest_max_age_seconds"`
	// Elapsed is how long the simulation took.
	Elapsed time.Duration `json:"-"`
	// ElapsedSeconds is Elapsed in seconds.
	ElapsedSeconds float64 `json:"elapsed_seconds"`
}

// RequestCounts are requests made after the release.
type RequestCounts struct {
	Manifest200    int `json:"manifest_200"`
	Manifest304    int `json:"manifest_304"`
	Release        int `json:"release_manifest"`
	Blob           int `json:"blob"`
	Edge           int `json:"edge"`
	OriginManifest int `json:"origin_manifest"`
	OriginObjects  int `json:"origin_objects"`
	Origin         int `json:"origin"`
}

// Point is one sample of the curves.
type Point struct {
	Hours float64 `json:"hours"`
	// Coverage is the fraction of active devices holding the new version.
	Coverage float64 `json:"coverage"`
	// LaunchShare is the fraction of the cold starts in the hour before
	// (after the release) that ran the new version; -1 when there was none.
	LaunchShare float64 `json:"launch_share"`
}

// ClassCoverage is coverage at 24 hours for one class of user.
type ClassCoverage struct {
	Class       string  `json:"class"`
	Active      int     `json:"active"`
	Coverage24h float64 `json:"coverage_24h"`
}

func (a *aggregate) result(cfg *Config) *Result {
	slices.Sort(a.updates)
	days := cfg.Horizon.Hours() / 24
	res := &Result{
		Devices: a.devices, ActiveDevices: a.active, HorizonHours: cfg.Horizon.Hours(),
		LaunchModes: map[string]int{}, CheckErrors: a.checkErrors,
		POPs: cfg.CDN.POPs, ManifestMaxAgeSeconds: cfg.CDN.ManifestMaxAge.Seconds(),
	}
	if a.firstCheckErr != nil {
		res.FirstCheckError = a.firstCheckErr.Error()
	}
	slices.Sort(a.informed)
	res.Coverage24h, res.Informed24h, res.LaunchShare24h = -1, -1, -1
	if cfg.Horizon >= 24*time.Hour {
		res.Coverage24h = a.coverage(24 * time.Hour)
		n, _ := slices.BinarySearch(a.informed, 24*time.Hour+1)
		res.Informed24h = float64(n) / float64(max(a.active, 1))
	}
	launches, onNew := 0, 0
	for h := 0; h < min(24, len(a.launches)); h++ {
		launches += a.launches[h]
		onNew += a.launchesNew[h]
	}
	if launches > 0 {
		res.LaunchShare24h = float64(onNew) / float64(launches)
	}
	quantile := func(q float64) *float64 {
		n := int(math.Ceil(q * float64(a.active)))
		if a.active == 0 || n > len(a.updates) {
			return nil
		}
		h := a.updates[max(n-1, 0)].Hours()
		return &h
	}
	res.P50Hours, res.P90Hours, res.P99Hours = quantile(0.50), quantile(0.90), quantile(0.99)
	s := a.stats
	res.Requests = RequestCounts{
		Manifest200: s.manifest200, Manifest304: s.manifest304, Release: s.release, Blob: s.blob, Edge: s.edge(),
		OriginManifest: len(s.manifestWindows), OriginObjects: len(s.objects), Origin: s.origin(),
	}
	perDeviceDay := func(n int) float64 { return float64(n) / float64(a.devices) / days }
	res.RequestsPerDeviceDay = perDeviceDay(s.edge())
	res.CDNRequestsPerDeviceDay = res.RequestsPerDeviceDay
	res.OriginRequestsPerDeviceDay = perDeviceDay(s.origin())
	for t := time.Duration(0); t <= cfg.Horizon; t += 10 * time.Minute {
		p := Point{Hours: t.Hours(), Coverage: a.coverage(t), LaunchShare: -1}
		if h := int(t/time.Hour) - 1; t%time.Hour == 0 && h >= 0 && h < len(a.launches) && a.launches[h] > 0 {
			p.LaunchShare = float64(a.launchesNew[h]) / float64(a.launches[h])
		}
		res.Curve = append(res.Curve, p)
	}
	for i, cl := range cfg.Usage.Classes {
		cc := ClassCoverage{Class: cl.Name, Active: a.classActive[i]}
		if cc.Active > 0 {
			cc.Coverage24h = float64(a.classUpdated24[i]) / float64(cc.Active)
		}
		res.Classes = append(res.Classes, cc)
	}
	for m, n := range a.modes {
		res.LaunchModes[string(m)] = n
	}
	return res
}

// coverage returns the fraction of active devices updated by t.
func (a *aggregate) coverage(t time.Duration) float64 {
	if a.active == 0 {
		return 0
	}
	n, _ := slices.BinarySearch(a.updates, t+1)
	return float64(n) / float64(a.active)
}

// CoverageAt returns the coverage at hours after the release, from Curve.
func (r *Result) CoverageAt(hours float64) float64 {
	best := -1.0
	for _, p := range r.Curve {
		if p.Hours <= hours+1e-9 {
			best = p.Coverage
		}
	}
	return best
}

// launchShareAt returns the launch share of the hour ending at hours.
func (r *Result) launchShareAt(hours float64) float64 {
	for _, p := range r.Curve {
		if math.Abs(p.Hours-hours) < 1e-9 {
			return p.LaunchShare
		}
	}
	return -1
}

// WriteTable writes the coverage table and the closing summary for people.
func (r *Result) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "%d devices, %d (%.1f%%) active: cold-started the mini program in the %s before the release\n\n",
		r.Devices, r.ActiveDevices, 100*float64(r.ActiveDevices)/float64(max(r.Devices, 1)), fmtHours(ActiveWindow.Hours()))
	fmt.Fprintf(w, "%8s  %9s  %s\n", "hours", "coverage", "cold starts on the new version (hour before)")
	for _, h := range []float64{0.5, 1, 2, 3, 4, 6, 8, 12, 16, 20, 24, 30, 36, 42, 48, 72, 96, 120, 168, 336, 720} {
		if h > r.HorizonHours {
			break
		}
		share := "-"
		if s := r.launchShareAt(h); s >= 0 {
			share = fmt.Sprintf("%.1f%%", 100*s)
		}
		fmt.Fprintf(w, "%8s  %8.2f%%  %s\n", fmtHours(h), 100*r.CoverageAt(h), share)
	}
	fmt.Fprintln(w)
	if r.Coverage24h >= 0 {
		fmt.Fprintf(w, "coverage at 24 h: %.2f%% of active devices hold the new version; %.2f%% hold it or are marked for it\n",
			100*r.Coverage24h, 100*r.Informed24h)
	}
	if r.LaunchShare24h >= 0 {
		fmt.Fprintf(w, "cold starts in the first 24 h that ran the new version: %.1f%%\n", 100*r.LaunchShare24h)
	}
	q := func(p *float64) string {
		if p == nil {
			return fmt.Sprintf("not within %s", fmtHours(r.HorizonHours))
		}
		return fmtHours(*p)
	}
	fmt.Fprintf(w, "50%% / 90%% / 99%% of active devices by: %s / %s / %s\n", q(r.P50Hours), q(r.P90Hours), q(r.P99Hours))
	var cls []string
	for _, c := range r.Classes {
		cls = append(cls, fmt.Sprintf("%s %.1f%% of %d", c.Class, 100*c.Coverage24h, c.Active))
	}
	fmt.Fprintf(w, "coverage at 24 h by class: %s\n", strings.Join(cls, ", "))
	rq := r.Requests
	fmt.Fprintf(w, "requests per device per day: %.2f at the CDN edge (= the origin's load without a CDN), %.3f at the origin behind %d POPs with a %gs manifest max-age\n",
		r.RequestsPerDeviceDay, r.OriginRequestsPerDeviceDay, r.POPs, r.ManifestMaxAgeSeconds)
	fmt.Fprintf(w, "  edge: %d manifest 304, %d manifest 200, %d release manifests, %d blobs; origin: %d manifest, %d immutable objects\n",
		rq.Manifest304, rq.Manifest200, rq.Release, rq.Blob, rq.OriginManifest, rq.OriginObjects)
	var modes []string
	for _, m := range []client.Mode{client.ModeAsync, client.ModeSync, client.ModeSyncTimeout, client.ModeSyncFailed, client.ModeFirstInstall} {
		if n := r.LaunchModes[string(m)]; n > 0 {
			modes = append(modes, fmt.Sprintf("%s %d", m, n))
		}
	}
	fmt.Fprintf(w, "cold starts after the release: %s\n", strings.Join(modes, ", "))
	if r.CheckErrors > 0 {
		fmt.Fprintf(w, "failed checks: %d (first: %s)\n", r.CheckErrors, r.FirstCheckError)
	}
}

// fmtHours prints hours compactly: "30m", "2h", "1.5h", "7d".
func fmtHours(h float64) string {
	switch {
	case h == 0:
		return "0h"
	case h < 1:
		return fmt.Sprintf("%.0fm", h*60)
	case h >= 48 && math.Mod(h, 24) == 0:
		return fmt.Sprintf("%.0fd", h/24)
	case h == math.Trunc(h):
		return fmt.Sprintf("%.0fh", h)
	}
	return fmt.Sprintf("%.1fh", h)
}
