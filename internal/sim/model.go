package sim

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// eventKind is something a device's user or platform does.
type eventKind int

const (
	// evSession: the super app comes to the foreground; the host runs the
	// periodic pass (Runtime.Background) if it is due.
	evSession eventKind = iota
	// evOpen: a cold start of the mini program (Runtime.Launch).
	evOpen
	// evWarm: a warm start (Runtime.Launch with Warm).
	evWarm
	// evBackground: the platform may wake the host for a background task
	// (a pass, if due); the next wake-up is Runtime.NextBackground later.
	evBackground
)

type event struct {
	at   time.Duration // since the release
	kind eventKind
}

// device is one simulated device's draw from the usage model.
type device struct {
	index      int
	class      int
	pop        int
	background bool          // the host may run passes in the background
	dormant    bool          // off the network for the whole run
	lastBefore time.Duration // last cold start before the warm-up
	events     []event       // sessions, opens and warm starts, in time order
	offline    []spell       // sorted, not overlapping
	firstPass  time.Duration // when the host's first periodic pass is due
}

type spell struct{ from, to time.Duration }

// hourOf returns the local hour of day at t after the release.
func (c *Config) hourOf(t time.Duration) int {
	h := (float64(c.Usage.ReleaseHour) + t.Hours())
	return int(math.Mod(math.Mod(h, 24)+24, 24))
}

// drawDevice draws device i from the usage model. The draw depends only on
// the seed and i, so results do not depend on how devices are spread over
// workers.
func (c *Config) drawDevice(i int) *device {
	r := rand.New(rand.NewPCG(c.Seed, uint64(i)))
	u := &c.Usage
	d := &device{index: i, pop: r.IntN(c.CDN.POPs)}
	total := 0.0
	for _, cl := range u.Classes {
		total += cl.Share
	}
	x := r.Float64() * total
	for j, cl := range u.Classes {
		if x < cl.Share || j == len(u.Classes)-1 {
			d.class = j
			break
		}
		x -= cl.Share
	}
	cl := u.Classes[d.class]
	d.background = r.Float64() < u.BackgroundShare
	d.dormant = r.Float64() < u.DormantShare
	start, end := -c.Warmup, c.Horizon

	// The last cold start before the warm-up: opens are a Poisson process,
	// so the time back to the last one is exponential. Devices that have
	// not opened it for half a year are kept at half a year.
	back := 180 * 24 * time.Hour
	if cl.OpensPerDay > 0 {
		back = min(back, time.Duration(r.ExpFloat64()/cl.OpensPerDay*float64(24*time.Hour)))
	}
	d.lastBefore = start - max(back, time.Minute)

	for _, t := range c.poisson(r, cl.SessionsPerDay, start, end) {
		d.events = append(d.events, event{t, evSession})
	}
	for _, t := range c.poisson(r, cl.OpensPerDay, start, end) {
		d.events = append(d.events, event{t, evOpen})
		if r.Float64() < u.WarmShare {
			d.events = append(d.events, event{t + time.Minute + time.Duration(r.Int64N(int64(4*time.Minute))), evWarm})
		}
	}
	slices.SortStableFunc(d.events, func(a, b event) int { return cmp.Compare(a.at, b.at) })

	if d.dormant {
		d.offline = []spell{{start - time.Hour, end + time.Hour}}
	} else if u.OfflineSpellsPerDay > 0 {
		rate := u.OfflineSpellsPerDay / float64(24*time.Hour)
		for t := start - 24*time.Hour; ; {
			t += time.Duration(r.ExpFloat64() / rate)
			if t >= end {
				break
			}
			length := time.Duration(float64(u.OfflineSpellMedian) * math.Exp(u.OfflineSpellSigma*r.NormFloat64()))
			s := spell{t, t + length}
			if n := len(d.offline); n > 0 && s.from <= d.offline[n-1].to {
				d.offline[n-1].to = max(d.offline[n-1].to, s.to)
			} else {
				d.offline = append(d.offline, s)
			}
		}
	}
	interval := c.Policy.CheckInterval
	if interval <= 0 {
		interval = time.Hour
	}
	d.firstPass = start + time.Duration(r.Int64N(int64(interval)))
	return d
}

// poisson draws the times of a Poisson process of perDay events a day over
// [start, end), modulated by the Diurnal rates (by thinning).
func (c *Config) poisson(r *rand.Rand, perDay float64, start, end time.Duration) []time.Duration {
	if perDay <= 0 {
		return nil
	}
	peak := slices.Max(Diurnal[:])
	rate := perDay * peak / float64(24*time.Hour) // events per nanosecond at the peak
	var out []time.Duration
	for t := start; ; {
		t += time.Duration(r.ExpFloat64() / rate)
		if t >= end {
			return out
		}
		if r.Float64()*peak < Diurnal[c.hourOf(t)] {
			out = append(out, t)
		}
	}
}

// offlineAt reports whether the device has no network at t.
func (d *device) offlineAt(t time.Duration) bool {
	i, _ := slices.BinarySearchFunc(d.offline, t, func(s spell, t time.Duration) int {
		switch {
		case s.to <= t:
			return -1
		case s.from > t:
			return 1
		}
		return 0
	})
	return i < len(d.offline) && d.offline[i].from <= t && t < d.offline[i].to
}
