package sim

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"time"

	"github.com/mpship/mpship/client"
	"github.com/mpship/mpship/internal/httpmeta"
)

// Config describes one simulation. The zero value runs the defaults: 10,000
// devices with the default client policy and usage model for 48 hours after
// a release.
type Config struct {
	// Devices is the population. Default 10,000; from 1 to 1,000,000.
	Devices int
	// Horizon is how long after the release the devices are followed.
	// Default 48 hours; from 1 hour to 30 days.
	Horizon time.Duration
	// Warmup is how long before the release the devices are already
	// running (with the previous version), so that their last checks and
	// uses at the release are those of a device in use, not of a fresh
	// install. Default 6 hours; from 0 (negative) to 7 days.
	Warmup time.Duration
	// Seed makes the run reproducible: the same Config gives the same
	// Result, whatever Workers is. Default 1.
	Seed uint64
	// Policy is the client policy under test, passed as it is to every
	// device's client.Runtime (zero fields take the client's defaults).
	Policy client.Policy
	// Usage is the usage model. Zero fields take the defaults documented on
	// Usage.
	Usage Usage
	// CDN models the cache in front of the origin.
	CDN CDN
	// Workers is how many devices are simulated at once. Default
	// GOMAXPROCS; at most 256.
	Workers int
	// Dir is where device state directories are made (and removed once a
	// device is done). Default: a new temporary directory, removed at the
	// end.
	Dir string
	// Progress, when not nil, is called with the number of devices done,
	// from any goroutine, at most about once per percent.
	Progress func(done, total int)
}

// Usage is how people use the super app and the mini program, the model
// docs/simulation.md describes. Zero fields take the defaults given.
type Usage struct {
	// Classes of users, with their shares of the population. Default
	// DefaultClasses.
	Classes []Class
	// ReleaseHour is the local hour (0-23) at which the release goes out;
	// usage follows the local time of day (Diurnal). Default 10; -1 for
	// midnight.
	ReleaseHour int
	// OfflineSpellsPerDay is how often a device loses its network (a
	// subway ride, a flight, a dead spot), uniformly over the day. Default
	// 2; negative for never.
	OfflineSpellsPerDay float64
	// OfflineSpellMedian is the median length of a spell; lengths are
	// log-normal with OfflineSpellSigma. Default 20 minutes, sigma 1.2
	// (mean about 40 minutes; one in a hundred spells lasts over 5 hours).
	OfflineSpellMedian time.Duration
	OfflineSpellSigma  float64
	// DormantShare is the share of devices off the network for the whole
	// simulation (switched off, abroad without data). Default 0.003;
	// negative for none.
	DormantShare float64
	// WeakShare and MeteredShare are the chances that the network, when
	// there is one, is weak or metered at a given moment (rule 5). Default
	// 0.10 and 0.05; negative for never.
	WeakShare, MeteredShare float64
	// BackgroundShare is the share of devices whose host may run periodic
	// passes while the super app is in the background (Android services,
	// iOS background refresh). Default 0.6; negative for none.
	BackgroundShare float64
	// BackgroundGrant is the chance that the platform actually runs a
	// background pass the host scheduled. Default 0.5; negative for never.
	BackgroundGrant float64
	// WarmShare is the chance that a cold start of the mini program is
	// followed, 1 to 5 minutes later, by a warm start (the user switched
	// away and back). Default 0.25; negative for never.
	WarmShare float64
}

// Class is a kind of user.
type Class struct {
	// Name names the class in reports.
	Name string
	// Share is the class's share of the population; shares are
	// normalised to add up to 1.
	Share float64
	// SessionsPerDay is how often the super app comes to the foreground.
	// At each, the host runs a periodic pass (the client checks only what
	// is due).
	SessionsPerDay float64
	// OpensPerDay is how often the mini program is cold-started.
	OpensPerDay float64
}

// DefaultClasses is the population of the default usage model: people who
// have the mini program, from those who open it every day to those who
// opened it once, months ago.
var DefaultClasses = []Class{
	{Name: "heavy", Share: 0.15, SessionsPerDay: 30, OpensPerDay: 3},
	{Name: "regular", Share: 0.35, SessionsPerDay: 15, OpensPerDay: 0.7},
	{Name: "occasional", Share: 0.30, SessionsPerDay: 8, OpensPerDay: 0.2},
	{Name: "rare", Share: 0.20, SessionsPerDay: 4, OpensPerDay: 0.05},
}

// Diurnal is the relative rate of super-app sessions and mini-program
// opens in each local hour of the day (mean 1): low at night, peaks at
// the morning commute, lunch and the evening.
var Diurnal = normalise([24]float64{
	0.50, 0.25, 0.12, 0.08, 0.08, 0.12, 0.35, 0.80, 1.20, 1.30, 1.30, 1.35,
	1.50, 1.30, 1.15, 1.15, 1.20, 1.30, 1.40, 1.50, 1.65, 1.70, 1.45, 0.95,
})

func normalise(w [24]float64) [24]float64 {
	sum := 0.0
	for _, v := range w {
		sum += v
	}
	for i := range w {
		w[i] *= 24 / sum
	}
	return w
}

// CDN models the cache between devices and the origin.
type CDN struct {
	// POPs is the number of points of presence, each with its own cache;
	// devices are spread evenly over them. Default 30; at most 10,000.
	POPs int
	// ManifestMaxAge is the channel manifest's max-age: a POP asks the
	// origin for it at most once per this long. Default the origin's
	// default, 60 seconds; from 1 second to 1 day.
	ManifestMaxAge time.Duration
}

// ErrConfig is wrapped by Run's error for a Config out of its limits,
// including a client policy the client refuses.
var ErrConfig = errors.New("invalid simulation")

// Defaults.
const (
	DefaultDevices = 10_000
	DefaultHorizon = 48 * time.Hour
	DefaultWarmup  = 6 * time.Hour
)

// withDefaults fills in c's defaults and checks its limits.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	intField := func(v *int, def, lo, hi int, name string) {
		switch {
		case *v == 0:
			*v = def
		case *v < lo || *v > hi:
			errs = append(errs, fmt.Errorf("%s %d out of range %d..%d", name, *v, lo, hi))
		}
	}
	durField := func(v *time.Duration, def, lo, hi time.Duration, name string) {
		switch {
		case *v == 0:
			*v = def
		case *v < lo || *v > hi:
			errs = append(errs, fmt.Errorf("%s %s out of range %s..%s", name, *v, lo, hi))
		}
	}
	intField(&c.Devices, DefaultDevices, 1, 1_000_000, "devices")
	durField(&c.Horizon, DefaultHorizon, time.Hour, 30*24*time.Hour, "horizon")
	switch {
	case c.Warmup == 0:
		c.Warmup = DefaultWarmup
	case c.Warmup < 0:
		c.Warmup = 0
	case c.Warmup > 7*24*time.Hour:
		errs = append(errs, fmt.Errorf("warmup %s over 7 days", c.Warmup))
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	intField(&c.Workers, runtime.GOMAXPROCS(0), 1, 256, "workers")
	intField(&c.CDN.POPs, 30, 1, 10_000, "cdn pops")
	durField(&c.CDN.ManifestMaxAge, httpmeta.DefaultManifestMaxAge, time.Second, 24*time.Hour, "cdn manifest max-age")

	u := &c.Usage
	if len(u.Classes) == 0 {
		u.Classes = DefaultClasses
	}
	total := 0.0
	for _, cl := range u.Classes {
		if cl.Share < 0 || cl.SessionsPerDay < 0 || cl.OpensPerDay < 0 || math.IsNaN(cl.Share+cl.SessionsPerDay+cl.OpensPerDay) {
			errs = append(errs, fmt.Errorf("usage class %q: shares and rates must not be negative", cl.Name))
		}
		total += cl.Share
	}
	if total <= 0 {
		errs = append(errs, errors.New("usage classes: shares add up to 0"))
	}
	switch {
	case u.ReleaseHour == 0:
		u.ReleaseHour = 10
	case u.ReleaseHour == -1:
		u.ReleaseHour = 0
	case u.ReleaseHour < 0 || u.ReleaseHour > 23:
		errs = append(errs, fmt.Errorf("usage release hour %d out of range 0..23", u.ReleaseHour))
	}
	rate := func(v *float64, def float64, name string, hi float64) {
		switch {
		case *v == 0:
			*v = def
		case *v < 0:
			*v = 0
		case *v > hi || math.IsNaN(*v):
			errs = append(errs, fmt.Errorf("usage %s %g out of range 0..%g", name, *v, hi))
		}
	}
	rate(&u.OfflineSpellsPerDay, 2, "offline spells per day", 100)
	rate(&u.OfflineSpellSigma, 1.2, "offline spell sigma", 5)
	rate(&u.DormantShare, 0.003, "dormant share", 1)
	rate(&u.WeakShare, 0.10, "weak share", 1)
	rate(&u.MeteredShare, 0.05, "metered share", 1)
	rate(&u.BackgroundShare, 0.6, "background share", 1)
	rate(&u.BackgroundGrant, 0.5, "background grant", 1)
	rate(&u.WarmShare, 0.25, "warm share", 1)
	if u.WeakShare+u.MeteredShare > 1 {
		errs = append(errs, fmt.Errorf("usage weak share %g and metered share %g add up to more than 1", u.WeakShare, u.MeteredShare))
	}
	durField(&u.OfflineSpellMedian, 20*time.Minute, time.Minute, 7*24*time.Hour, "usage offline spell median")
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return c, nil
}
