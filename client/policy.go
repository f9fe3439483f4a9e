package client

import (
	"fmt"
	"strings"
	"time"
)

// Policy holds the update mechanism's rules (see the package documentation,
// "The rules"). Zero fields take the defaults given on each field; a
// negative duration, where a field says so, turns its rule off. The
// defaults are the ones docs/client.md and 'mpship simulate' show reaching
// more than 99% of recently active devices within 24 hours of a release.
type Policy struct {
	// NoColdStartCheck turns off rule 1's check on every cold start.
	// Default false: every cold start checks (one conditional GET when
	// nothing changed). Hosts that turn it off rely on periodic checks;
	// 'mpship simulate' uses it to measure what rule 1 contributes.
	NoColdStartCheck bool

	// RecentWindow is rule 2's window: a mini program launched within it
	// is checked by periodic background checks. Default 7 days; from
	// 1 hour to 365 days.
	RecentWindow time.Duration

	// CheckInterval is rule 2's period: a recently used mini program is
	// checked by a background pass when its last check is at least this
	// old. Default 1 hour; from 1 minute to 7 days; negative turns
	// periodic checks off.
	CheckInterval time.Duration

	// CheckJitter spreads periodic checks so that devices do not
	// synchronise: each pass (and NextBackground) draws a uniform offset
	// in [-CheckJitter, +CheckJitter] and adds it to CheckInterval.
	// Default CheckInterval/6 (10 minutes for the default interval); at
	// most CheckInterval/2; negative means no jitter.
	CheckJitter time.Duration

	// NoBackgroundDownload keeps periodic checks from downloading: an
	// update they find only marks the mini program, and its next launch
	// downloads it synchronously. Default false: where the host lets the
	// runtime work in the background, the package is fetched ahead so the
	// next launch is instant.
	NoBackgroundDownload bool

	// SyncTimeout bounds a synchronous launch (rules 3 and 4) in wall-clock
	// time, whatever Options.Now says: after it, the installed version
	// launches and the download carries on in the background. Default
	// 5 seconds; from 100 milliseconds to 60 seconds; negative turns
	// synchronous launches off (marked and long-unused mini programs then
	// launch like any other).
	SyncTimeout time.Duration

	// DisuseAfter is rule 4's threshold: a mini program last launched at
	// least this long ago gets a synchronous check before it opens.
	// Default 14 days; from 1 hour to 365 days; negative turns rule 4 off.
	DisuseAfter time.Duration

	// DeferOnWeak and DeferOnMetered defer downloads (rule 5) while the
	// network is weak or metered: a check still runs and an update it
	// finds marks the mini program, whose next launch on a good network
	// downloads it. Default false for both: downloads proceed (they never
	// block a launch on such networks, since synchronous updates fall
	// back to the installed version there).
	DeferOnWeak, DeferOnMetered bool
}

// Policy defaults and limits.
const (
	DefaultRecentWindow  = 7 * 24 * time.Hour
	DefaultCheckInterval = time.Hour
	DefaultSyncTimeout   = 5 * time.Second
	DefaultDisuseAfter   = 14 * 24 * time.Hour

	minRecentWindow  = time.Hour
	maxRecentWindow  = 365 * 24 * time.Hour
	minCheckInterval = time.Minute
	maxCheckInterval = 7 * 24 * time.Hour
	minSyncTimeout   = 100 * time.Millisecond
	maxSyncTimeout   = 60 * time.Second
	minDisuseAfter   = time.Hour
	maxDisuseAfter   = 365 * 24 * time.Hour
)

// withDefaults fills in p's defaults and checks its limits.
func (p Policy) withDefaults() (Policy, error) {
	var errs []string
	dur := func(v *time.Duration, def, lo, hi time.Duration, name string, negOff bool) {
		switch {
		case *v == 0:
			*v = def
		case *v < 0 && negOff:
			*v = -1
		case *v < lo || *v > hi:
			off := ""
			if negOff {
				off = ", negative to turn it off"
			}
			errs = append(errs, fmt.Sprintf("policy %s %s out of range %s..%s (0 for the default %s%s)", name, *v, lo, hi, def, off))
		}
	}
	dur(&p.RecentWindow, DefaultRecentWindow, minRecentWindow, maxRecentWindow, "recent_window", false)
	dur(&p.CheckInterval, DefaultCheckInterval, minCheckInterval, maxCheckInterval, "check_interval", true)
	dur(&p.SyncTimeout, DefaultSyncTimeout, minSyncTimeout, maxSyncTimeout, "sync_timeout", true)
	dur(&p.DisuseAfter, DefaultDisuseAfter, minDisuseAfter, maxDisuseAfter, "disuse_after", true)
	switch {
	case p.CheckInterval < 0 || p.CheckJitter < 0:
		p.CheckJitter = 0
	case p.CheckJitter == 0:
		p.CheckJitter = p.CheckInterval / 6
	case p.CheckJitter > p.CheckInterval/2:
		errs = append(errs, fmt.Sprintf("policy check_jitter %s over half the check interval %s", p.CheckJitter, p.CheckInterval))
	}
	if len(errs) > 0 {
		return p, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return p, nil
}

// Network is the quality of the device's network as the host reports it
// (rule 5).
type Network string

// Network qualities.
const (
	// NetworkGood: updates proceed, synchronous launches wait for them.
	NetworkGood Network = "good"
	// NetworkWeak: synchronous launches fall back to the installed version
	// at once; checks run; downloads run unless Policy.DeferOnWeak.
	NetworkWeak Network = "weak"
	// NetworkMetered: as weak, with Policy.DeferOnMetered.
	NetworkMetered Network = "metered"
	// NetworkOffline: no request is made; everything launches what is
	// installed.
	NetworkOffline Network = "offline"
)

// ParseNetwork returns the Network named s ("good", "weak", "metered",
// "offline").
func ParseNetwork(s string) (Network, error) {
	switch n := Network(s); n {
	case NetworkGood, NetworkWeak, NetworkMetered, NetworkOffline:
		return n, nil
	}
	return "", fmt.Errorf("network %q: want good, weak, metered or offline", s)
}

// Reasons a launch chose its mode (LaunchResult.Reason).
const (
	ReasonNotInstalled = "not-installed" // nothing installed: first install
	ReasonColdStart    = "cold-start"    // rule 1: launch at once, check in the background
	ReasonWarm         = "warm"          // a warm start: no check
	ReasonMarked       = "marked"        // rule 2: a periodic check found an update
	ReasonDisuse       = "disuse"        // rule 4: not used for Policy.DisuseAfter
	ReasonWeakNetwork  = "weak-network"  // rule 5: a synchronous launch was due, but the network is not good
	ReasonSimulated    = "simulated"     // rule 7: a developer's simulated update
)

// launchPlan is what a cold start of an installed mini program does,
// decided by plan from the state, the clock and the network alone.
type launchPlan struct {
	mode   Mode   // ModeAsync or ModeSync
	reason string // one of the Reason constants
	// blocking is true when the launch waits for a check (rule 3); false
	// for a marked launch whose update is already on disk, which launches
	// at once.
	blocking bool
	// check is true when a check runs after the launch, in the
	// background (rule 1).
	check bool
	// download is false when a check may not download (rule 5).
	download bool
}

// plan decides a cold start of an installed mini program. st is the state
// after the ready version, if any, was promoted.
func (p *Policy) plan(st *AppState, now time.Time, net Network, simulate bool) launchPlan {
	lp := launchPlan{mode: ModeAsync, reason: ReasonColdStart, download: p.mayDownload(net)}
	if simulate {
		// Rule 7: no network at all.
		lp.reason = ReasonSimulated
		return lp
	}
	lp.check = !p.NoColdStartCheck && net != NetworkOffline
	disused := p.DisuseAfter > 0 && !st.LastUsed.IsZero() && now.Sub(st.LastUsed) >= p.DisuseAfter
	marked := st.Marked != ""
	if p.SyncTimeout < 0 || !disused && !marked {
		return lp
	}
	lp.reason = ReasonMarked
	if disused {
		lp.reason = ReasonDisuse
	}
	if marked && !disused && st.Marked == st.Installed {
		// The periodic check downloaded it ahead: the launch is
		// synchronous and instant.
		lp.mode = ModeSync
		return lp
	}
	if net != NetworkGood {
		// Rule 5: fall back to the installed version at once; the mark
		// stays for a launch on a good network.
		lp.reason = ReasonWeakNetwork
		return lp
	}
	lp.mode, lp.blocking, lp.check, lp.download = ModeSync, true, false, true
	return lp
}

// mayDownload reports whether a check on net may download (rule 5).
func (p *Policy) mayDownload(net Network) bool {
	switch net {
	case NetworkOffline:
		return false
	case NetworkWeak:
		return !p.DeferOnWeak
	case NetworkMetered:
		return !p.DeferOnMetered
	}
	return true
}

// backgroundDue reports whether a periodic pass at now, with the pass's
// jitter offset, checks the mini program st describes, and if not, why.
func (p *Policy) backgroundDue(st *AppState, now time.Time, jitter time.Duration) (bool, string) {
	switch {
	case st.Installed == "":
		return false, "not installed"
	case st.Channel == "":
		return false, "never launched"
	case st.LastUsed.IsZero() || now.Sub(st.LastUsed) > p.RecentWindow:
		return false, fmt.Sprintf("not used within %s", fmtDuration(p.RecentWindow))
	}
	last := st.Channels[st.Channel].CheckedAt
	if since := now.Sub(last); !last.IsZero() && since < p.CheckInterval+jitter {
		return false, fmt.Sprintf("checked %s ago", fmtDuration(since))
	}
	return true, ""
}

// fmtDuration prints d compactly: "7d", "1h0m0s" → "1h", "90s".
func fmtDuration(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
