package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mpship/mpship/client"
	"github.com/mpship/mpship/manifests"
)

// newClientCmd is 'mpship client': verbs that play one device.
func newClientCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "client",
		Short: "Play one device: launch mini programs from a state directory",
		Long: "The client verbs run the device side of mpship (the client library) against an origin, " +
			"with a state directory standing for one device's storage: 'launch' is a cold (or warm) start, " +
			"'background' one periodic pass over recently used mini programs, 'status' what the device holds. " +
			"--now sets the device's clock, so a script can travel in time.",
	}
	cmd.AddCommand(newClientLaunchCmd(), newClientBackgroundCmd(), newClientStatusCmd())
	return cmd
}

// clientDeviceOptions are the flags every device verb that talks to the
// origin shares.
type clientDeviceOptions struct {
	origin    string
	trust     []string
	threshold int
	state     string
	now       string
	network   string
	timeout   time.Duration
	json      bool
}

// AddFlags registers the options' flags on fs.
func (o *clientDeviceOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.origin, "origin", "", "base URL of the origin or CDN, for example http://127.0.0.1:8080/ (required)")
	fs.StringArrayVar(&o.trust, "trust", nil, "public key file (signing.pub) to trust; repeat for several keys (required)")
	fs.IntVar(&o.threshold, "threshold", 1, "how many distinct trusted keys must sign each manifest")
	fs.StringVar(&o.state, "state", "", "state directory of this device (required; created if missing)")
	fs.StringVar(&o.now, "now", "", "the device's clock, RFC 3339 (for example 2026-03-01T10:00:00Z); default the real time")
	fs.StringVar(&o.network, "network", "good", "network quality the host reports: good, weak, metered or offline")
	fs.DurationVar(&o.timeout, "timeout", client.DefaultSyncTimeout, "longest a synchronous launch waits for an update (wall time), 100ms to 60s")
	fs.BoolVar(&o.json, "json", false, "print one JSON object instead of text")
}

// runtime checks the shared flags and returns a Runtime for them.
func (o *clientDeviceOptions) runtime(verb string, alsoMissing []string, policy client.Policy) (*client.Runtime, error) {
	var missing []string
	for _, f := range []struct{ name, v string }{{"--origin", o.origin}, {"--state", o.state}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	missing = append(missing, alsoMissing...)
	if len(o.trust) == 0 {
		missing = append(missing, "--trust")
	}
	if len(missing) > 0 {
		return nil, usageError{fmt.Errorf("%s: missing %v", verb, missing)}
	}
	now, err := parseNow(o.now)
	if err != nil {
		return nil, usageError{fmt.Errorf("%s: %w", verb, err)}
	}
	net, err := client.ParseNetwork(o.network)
	if err != nil {
		return nil, usageError{fmt.Errorf("%s: --%w", verb, err)}
	}
	trust, err := loadTrust(o.trust, o.threshold)
	if err != nil {
		return nil, usageError{err}
	}
	policy.SyncTimeout = o.timeout
	rt, err := client.New(client.Options{
		Origin:   o.origin,
		Trust:    trust,
		StateDir: o.state,
		Now:      now,
		Policy:   policy,
	})
	if err != nil {
		return nil, usageError{fmt.Errorf("%s: %w", verb, err)}
	}
	rt.SetNetwork(net)
	return rt, nil
}

// parseNow returns the clock --now asks for: a fixed instant, or the real
// time when s is empty.
func parseNow(s string) (func() time.Time, error) {
	if s == "" {
		return time.Now, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil, fmt.Errorf("--now %q: want RFC 3339, for example 2026-03-01T10:00:00Z", s)
	}
	return func() time.Time { return t }, nil
}

// clientLaunchOptions are the flags of 'mpship client launch'.
type clientLaunchOptions struct {
	clientDeviceOptions
	app            string
	channel        string
	warm           bool
	simulateUpdate bool
	apply          bool
	wait           time.Duration
}

// AddFlags registers the options' flags on fs.
func (o *clientLaunchOptions) AddFlags(fs *pflag.FlagSet) {
	o.clientDeviceOptions.AddFlags(fs)
	fs.StringVar(&o.app, "app", "", "app id to launch (required)")
	fs.StringVar(&o.channel, "channel", "", "channel to follow, for example stable (required)")
	fs.BoolVar(&o.warm, "warm", false, "a warm start (the mini program returns from the background): no check")
	fs.BoolVar(&o.simulateUpdate, "simulate-update", false, "for developers: behave as if a new version had been published (no request, nothing changes)")
	fs.BoolVar(&o.apply, "apply", false, "when the update manager reports an update ready, restart into it (ApplyUpdate)")
	fs.DurationVar(&o.wait, "wait", 2*time.Minute, "longest to wait for the background check after the launch; then it is canceled and a partial download kept")
}

func newClientLaunchCmd() *cobra.Command {
	opts := &clientLaunchOptions{}
	cmd := &cobra.Command{
		Use:   "launch --origin URL --trust PUBFILE --state DIR --app APP --channel CHANNEL",
		Short: "Start a mini program as a device would, updating it by the client policy",
		Long: `Start a mini program as a device would.

With nothing installed, the channel's current release is downloaded, verified
and installed, then launched (mode first-install). Otherwise a cold start
launches the installed version, or the one a previous check made ready, at
once and checks the channel in the background (mode async): one conditional
GET, answered 304 when nothing changed; a new version is downloaded, verified
and made ready for the next launch. The command waits for that check (at
most --wait) before it exits.

A mini program that a periodic check ('mpship client background') marked, or
that was last used 14 days ago or more, is updated before it starts (mode
sync), waiting at most --timeout; after that the installed version starts
(sync-timeout) and the command exits at once: the part of the download that
arrived is kept, and the next launch or background pass resumes it. A failed
update starts the installed version too (sync-failed). On a weak, metered or
offline --network the installed version starts at once. --warm is a warm
start (mode warm): no check. --simulate-update runs the update manager's
events as if a new version had been published, with no request.

--json prints one object: app, channel, mode, reason, network,
launched_version, ready_version, path, bytes_downloaded (everything received,
manifests included), package_bytes (the package and delta blobs among them),
route ("full", "delta:<installed version>", or "" when no package was
downloaded), requests, error,
error_code, simulated, events (the update manager's, in order), check, and
applied_version with --apply.

Exit status: 0 when a version was launched, even if the update failed (the
failure is printed, and in --json it is "error" with "error_code"); 1 when
nothing could be launched; 2 for bad flags.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runClientLaunch(cmd.Context(), opts, cmd.OutOrStdout())
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// clientLaunchReport is the --json output of 'mpship client launch'.
type clientLaunchReport struct {
	App             string            `json:"app"`
	Channel         string            `json:"channel"`
	Mode            string            `json:"mode"`
	Reason          string            `json:"reason"`
	Network         string            `json:"network"`
	LaunchedVersion string            `json:"launched_version"`
	ReadyVersion    string            `json:"ready_version"`
	Path            string            `json:"path"`
	BytesDownloaded int64             `json:"bytes_downloaded"`
	PackageBytes    int64             `json:"package_bytes"`
	Route           string            `json:"route"`
	Requests        int               `json:"requests"`
	Error           string            `json:"error"`
	ErrorCode       string            `json:"error_code"`
	Simulated       bool              `json:"simulated"`
	Events          []clientEvent     `json:"events"`
	Check           *clientCheckShort `json:"check,omitempty"`
	AppliedVersion  string            `json:"applied_version,omitempty"`
}

// clientEvent is one update-manager event in --json output.
type clientEvent struct {
	Event     string `json:"event"`
	HasUpdate *bool  `json:"has_update,omitempty"`
	Version   string `json:"version,omitempty"`
	Error     string `json:"error,omitempty"`
	ErrorCode string `json:"error_code,omitempty"`
}

// clientCheckShort summarises an update check.
type clientCheckShort struct {
	NotModified   bool   `json:"not_modified"`
	LatestVersion string `json:"latest_version"`
	Downloaded    string `json:"downloaded"`
	Deferred      bool   `json:"deferred"`
	Marked        bool   `json:"marked"`
}

func (o *clientLaunchOptions) validate() ([]string, error) {
	var missing []string
	for _, f := range []struct{ name, v string }{{"--app", o.app}, {"--channel", o.channel}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if o.app != "" && o.channel != "" {
		if err := errors.Join(manifests.ValidateApp(o.app), manifests.ValidateChannel(o.channel)); err != nil {
			return nil, usageError{fmt.Errorf("client launch: %w", err)}
		}
	}
	if o.warm && o.simulateUpdate {
		return nil, usageError{errors.New("client launch: --warm and --simulate-update exclude each other: a simulated update needs a cold start")}
	}
	return missing, nil
}

func runClientLaunch(ctx context.Context, opts *clientLaunchOptions, out io.Writer) error {
	missing, err := opts.validate()
	if err != nil {
		return err
	}
	rt, err := opts.runtime("client launch", missing, client.Policy{})
	if err != nil {
		return err
	}
	defer rt.Close()

	res, launchErr := rt.Launch(ctx, opts.app, opts.channel, client.LaunchOptions{Warm: opts.warm, SimulateUpdate: opts.simulateUpdate})
	final, finished := res, false
	if res.Mode != client.ModeSyncTimeout {
		// The check the launch started: the device keeps running for it.
		wctx, cancel := context.WithTimeout(ctx, opts.wait)
		if w, err := res.Wait(wctx); err == nil {
			final, finished = w, true
		}
		cancel()
	}
	applied := ""
	if opts.apply && finished && hasReady(final.Events) {
		um, err := rt.UpdateManager(opts.app)
		if err != nil {
			return usageError{err}
		}
		a, err := um.ApplyUpdate(ctx)
		if err != nil {
			return fmt.Errorf("client launch %s: apply update: %w", opts.app, err)
		}
		applied = a.LaunchedVersion
	}
	// Exiting cancels what still runs (after a sync-timeout, or past
	// --wait) and delivers its events; a partial download stays on disk
	// for the next launch to resume.
	rt.Close()
	if !finished {
		if w, err := res.Wait(ctx); err == nil {
			final = w
		}
	}
	if opts.json {
		if err := writeClientLaunchJSON(out, final, applied); err != nil {
			return err
		}
	} else {
		writeClientLaunchText(out, final, applied)
	}
	return launchErr
}

// hasReady reports whether events include update_ready.
func hasReady(events []client.Event) bool {
	for _, e := range events {
		if e.Kind == client.EventUpdateReady {
			return true
		}
	}
	return false
}

func toClientEvents(es []client.Event) []clientEvent {
	out := []clientEvent{}
	for _, e := range es {
		ce := clientEvent{Event: string(e.Kind)}
		switch e.Kind {
		case client.EventCheckForUpdate:
			has := e.HasUpdate
			ce.HasUpdate = &has
		case client.EventUpdateReady:
			ce.Version = e.Version
		case client.EventUpdateFailed:
			ce.Error, ce.ErrorCode = e.Err.Error(), client.ErrorCode(e.Err)
		}
		out = append(out, ce)
	}
	return out
}

func checkShort(c *client.CheckResult) *clientCheckShort {
	if c == nil {
		return nil
	}
	return &clientCheckShort{NotModified: c.NotModified, LatestVersion: c.LatestVersion, Downloaded: c.Downloaded, Deferred: c.Deferred, Marked: c.Marked}
}

func writeClientLaunchJSON(out io.Writer, r *client.LaunchResult, applied string) error {
	rep := clientLaunchReport{
		App:             r.App,
		Channel:         r.Channel,
		Mode:            string(r.Mode),
		Reason:          r.Reason,
		Network:         string(r.Network),
		LaunchedVersion: r.LaunchedVersion,
		ReadyVersion:    r.ReadyVersion,
		Path:            r.Path,
		BytesDownloaded: r.BytesDownloaded,
		PackageBytes:    r.PackageBytes,
		Route:           r.Route,
		Requests:        r.Requests,
		ErrorCode:       client.ErrorCode(r.Err),
		Simulated:       r.Simulated,
		Events:          toClientEvents(r.Events),
		Check:           checkShort(r.Check),
		AppliedVersion:  applied,
	}
	if r.Err != nil {
		rep.Error = r.Err.Error()
	}
	return writeJSON(out, "client launch", rep)
}

func writeClientLaunchText(out io.Writer, r *client.LaunchResult, applied string) {
	if r.LaunchedVersion != "" {
		fmt.Fprintf(out, "launched %s %s (%s)\n", r.App, r.LaunchedVersion, r.Mode)
		fmt.Fprintf(out, "  reason:  %s, network %s\n", r.Reason, r.Network)
		fmt.Fprintf(out, "  files:   %s\n", r.Path)
	} else {
		fmt.Fprintf(out, "could not launch %s: nothing installed\n", r.App)
	}
	if c := r.Check; c != nil && c.Err == nil {
		switch {
		case c.Deferred:
			fmt.Fprintf(out, "  check:   %s available, download deferred on this network; next launch is synchronous\n", c.LatestVersion)
		case c.NotModified && c.Downloaded == "":
			fmt.Fprintf(out, "  check:   not modified (304), latest is %s\n", c.LatestVersion)
		case c.Downloaded != "":
			fmt.Fprintf(out, "  check:   downloaded %s\n", c.Downloaded)
		default:
			fmt.Fprintf(out, "  check:   latest is %s\n", c.LatestVersion)
		}
	}
	if len(r.Events) > 0 {
		var s []string
		for _, e := range toClientEvents(r.Events) {
			switch {
			case e.HasUpdate != nil:
				s = append(s, fmt.Sprintf("%s(%v)", e.Event, *e.HasUpdate))
			case e.Version != "":
				s = append(s, fmt.Sprintf("%s(%s)", e.Event, e.Version))
			case e.ErrorCode != "":
				s = append(s, fmt.Sprintf("%s(%s)", e.Event, e.ErrorCode))
			}
		}
		fmt.Fprintf(out, "  events:  %s\n", strings.Join(s, " "))
	}
	if r.Simulated {
		fmt.Fprintf(out, "  simulated update: nothing was requested and nothing changed\n")
	}
	if applied != "" {
		fmt.Fprintf(out, "  applied: restarted into %s\n", applied)
	} else if r.ReadyVersion != "" {
		fmt.Fprintf(out, "  ready:   %s, launched by the next cold start\n", r.ReadyVersion)
	}
	fmt.Fprintf(out, "  traffic: %d bytes in %d %s\n", r.BytesDownloaded, r.Requests, clientPlural(r.Requests, "request", "requests"))
	if r.Route != "" {
		fmt.Fprintf(out, "  package: %d bytes, route %s\n", r.PackageBytes, r.Route)
	}
	// When nothing launched, run prints the error; otherwise it is the
	// update's, and the device carries on with what it has.
	if r.Err != nil && r.LaunchedVersion != "" {
		fmt.Fprintf(out, "  error:   %s (still on %s): %v\n", client.ErrorCode(r.Err), r.LaunchedVersion, r.Err)
	}
}

func clientPlural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// clientBackgroundOptions are the flags of 'mpship client background'.
type clientBackgroundOptions struct {
	clientDeviceOptions
	noDownload bool
}

// AddFlags registers the options' flags on fs.
func (o *clientBackgroundOptions) AddFlags(fs *pflag.FlagSet) {
	o.clientDeviceOptions.AddFlags(fs)
	fs.BoolVar(&o.noDownload, "no-download", false, "the host allows no background download: an update found only marks the mini program")
}

func newClientBackgroundCmd() *cobra.Command {
	opts := &clientBackgroundOptions{}
	cmd := &cobra.Command{
		Use:   "background --origin URL --trust PUBFILE --state DIR",
		Short: "Run one periodic pass: check recently used mini programs",
		Long: `Run one periodic background pass, as the host does every hour (with jitter).

Every mini program in the state directory launched within the last 7 days
whose channel was last checked an hour ago or more (give or take the pass's
jitter of up to 10 minutes) is checked. An update found marks it, so that its
next launch is synchronous, and is downloaded, verified and made ready
(unless --no-download, or the --network defers it), so that launch is
instant. Offline, nothing is checked.

Exit status: 0 when the pass ran, even if a check failed (printed, and in
--json "error" with "error_code" per app); 2 for bad flags.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runClientBackground(cmd.Context(), opts, cmd.OutOrStdout())
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// clientBackgroundReport is the --json output of 'mpship client background'.
type clientBackgroundReport struct {
	At      time.Time             `json:"at"`
	Network string                `json:"network"`
	Apps    []clientBackgroundApp `json:"apps"`
}

type clientBackgroundApp struct {
	App             string `json:"app"`
	Channel         string `json:"channel"`
	Checked         bool   `json:"checked"`
	Skipped         string `json:"skipped,omitempty"`
	NotModified     bool   `json:"not_modified"`
	LatestVersion   string `json:"latest_version,omitempty"`
	Downloaded      string `json:"downloaded,omitempty"`
	ReadyVersion    string `json:"ready_version,omitempty"`
	Marked          bool   `json:"marked"`
	Deferred        bool   `json:"deferred"`
	BytesDownloaded int64  `json:"bytes_downloaded"`
	Requests        int    `json:"requests"`
	Error           string `json:"error"`
	ErrorCode       string `json:"error_code"`
}

func runClientBackground(ctx context.Context, opts *clientBackgroundOptions, out io.Writer) error {
	rt, err := opts.runtime("client background", nil, client.Policy{NoBackgroundDownload: opts.noDownload})
	if err != nil {
		return err
	}
	defer rt.Close()
	res, err := rt.Background(ctx)
	if res == nil {
		return fmt.Errorf("client background: %w", err)
	}
	rep := clientBackgroundReport{At: res.At, Network: string(res.Network), Apps: []clientBackgroundApp{}}
	for _, a := range res.Apps {
		ba := clientBackgroundApp{App: a.App, Channel: a.Channel, Checked: a.Checked, Skipped: a.Skipped}
		if c := a.Check; c != nil {
			ba.NotModified, ba.LatestVersion, ba.Downloaded, ba.ReadyVersion = c.NotModified, c.LatestVersion, c.Downloaded, c.ReadyVersion
			ba.Marked, ba.Deferred, ba.BytesDownloaded, ba.Requests = c.Marked, c.Deferred, c.BytesDownloaded, c.Requests
			if c.Err != nil {
				ba.Error, ba.ErrorCode = c.Err.Error(), client.ErrorCode(c.Err)
			}
		}
		rep.Apps = append(rep.Apps, ba)
	}
	if opts.json {
		return writeJSON(out, "client background", rep)
	}
	fmt.Fprintf(out, "background pass at %s, network %s\n", rep.At.UTC().Format(time.RFC3339), rep.Network)
	if len(rep.Apps) == 0 {
		fmt.Fprintln(out, "  no mini programs on this device")
	}
	for _, a := range rep.Apps {
		switch {
		case !a.Checked:
			fmt.Fprintf(out, "  %-24s skipped: %s\n", a.App, a.Skipped)
		case a.Error != "":
			fmt.Fprintf(out, "  %-24s failed: %s: %s\n", a.App, a.ErrorCode, a.Error)
		case a.Deferred:
			fmt.Fprintf(out, "  %-24s %s available, not downloaded; marked: the next launch is synchronous\n", a.App, a.LatestVersion)
		case a.Downloaded != "":
			fmt.Fprintf(out, "  %-24s downloaded %s, ready; marked: the next launch starts it\n", a.App, a.Downloaded)
		case a.NotModified:
			fmt.Fprintf(out, "  %-24s not modified (304), latest is %s\n", a.App, a.LatestVersion)
		default:
			fmt.Fprintf(out, "  %-24s latest is %s\n", a.App, a.LatestVersion)
		}
	}
	return nil
}

// clientStatusOptions are the flags of 'mpship client status'.
type clientStatusOptions struct {
	state   string
	now     string
	network string
	json    bool
}

// AddFlags registers the options' flags on fs.
func (o *clientStatusOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.state, "state", "", "state directory of this device (required)")
	fs.StringVar(&o.now, "now", "", "the device's clock, RFC 3339; default the real time")
	fs.StringVar(&o.network, "network", "good", "network quality assumed for the next launch: good, weak, metered or offline")
	fs.BoolVar(&o.json, "json", false, "print one JSON object instead of text")
}

func newClientStatusCmd() *cobra.Command {
	opts := &clientStatusOptions{}
	cmd := &cobra.Command{
		Use:   "status --state DIR",
		Short: "Print what a device holds: installed, ready and marked versions",
		Long: `Print, for every mini program in the state directory, the installed,
previous and ready versions, the mark a periodic check left, the last use and
check, and what the next cold start and background pass would do at --now.
Nothing is changed and nothing is requested.

Exit status: 0; 1 when the state directory cannot be read; 2 for bad flags.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runClientStatus(cmd.Context(), opts, cmd.OutOrStdout())
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// clientStatusReport is the --json output of 'mpship client status'.
type clientStatusReport struct {
	Now  time.Time         `json:"now"`
	Apps []clientStatusApp `json:"apps"`
}

type clientStatusApp struct {
	App            string    `json:"app"`
	Channel        string    `json:"channel"`
	Installed      string    `json:"installed_version"`
	Previous       string    `json:"previous_version"`
	Ready          string    `json:"ready_version"`
	Marked         string    `json:"marked_version"`
	MarkedAt       time.Time `json:"marked_at,omitzero"`
	LastUsed       time.Time `json:"last_used,omitzero"`
	Sequence       uint64    `json:"sequence"`
	LatestVersion  string    `json:"latest_version"`
	CheckedAt      time.Time `json:"checked_at,omitzero"`
	NextLaunch     string    `json:"next_launch"`
	NextReason     string    `json:"next_reason"`
	BackgroundDue  bool      `json:"background_due"`
	BackgroundSkip string    `json:"background_skip,omitempty"`
	Error          string    `json:"error,omitempty"`
}

func runClientStatus(_ context.Context, opts *clientStatusOptions, out io.Writer) error {
	if opts.state == "" {
		return usageError{errors.New("client status: missing [--state]")}
	}
	clock, err := parseNow(opts.now)
	if err != nil {
		return usageError{fmt.Errorf("client status: %w", err)}
	}
	net, err := client.ParseNetwork(opts.network)
	if err != nil {
		return usageError{fmt.Errorf("client status: --%w", err)}
	}
	now := clock()
	apps, err := client.ReadStatus(opts.state, client.Policy{}, now, net)
	if err != nil {
		return err
	}
	rep := clientStatusReport{Now: now, Apps: []clientStatusApp{}}
	for _, a := range apps {
		st := a.State
		cs := st.Channels[st.Channel]
		sa := clientStatusApp{
			App: st.App, Channel: st.Channel, Installed: st.Installed, Previous: st.Previous, Ready: st.Ready,
			Marked: st.Marked, MarkedAt: st.MarkedAt, LastUsed: st.LastUsed,
			Sequence: cs.Sequence, LatestVersion: cs.Version, CheckedAt: cs.CheckedAt,
			NextLaunch: string(a.NextLaunch), NextReason: a.NextReason,
			BackgroundDue: a.BackgroundDue, BackgroundSkip: a.BackgroundSkip,
		}
		if a.Err != nil {
			sa.Error = a.Err.Error()
		}
		rep.Apps = append(rep.Apps, sa)
	}
	if opts.json {
		return writeJSON(out, "client status", rep)
	}
	fmt.Fprintf(out, "device %s at %s\n", opts.state, now.UTC().Format(time.RFC3339))
	if len(rep.Apps) == 0 {
		fmt.Fprintln(out, "  no mini programs on this device")
	}
	ago := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return fmt.Sprintf("%s (%s ago)", t.UTC().Format(time.RFC3339), now.Sub(t).Round(time.Second))
	}
	or := func(s, def string) string {
		if s == "" {
			return def
		}
		return s
	}
	for _, a := range rep.Apps {
		fmt.Fprintf(out, "%s (channel %s)\n", a.App, or(a.Channel, "-"))
		if a.Error != "" {
			fmt.Fprintf(out, "  error:       %s\n", a.Error)
			continue
		}
		fmt.Fprintf(out, "  installed:   %s (previous %s)\n", or(a.Installed, "none"), or(a.Previous, "none"))
		fmt.Fprintf(out, "  ready:       %s\n", or(a.Ready, "none"))
		fmt.Fprintf(out, "  marked:      %s\n", or(a.Marked, "no"))
		fmt.Fprintf(out, "  last used:   %s\n", ago(a.LastUsed))
		fmt.Fprintf(out, "  checked:     %s, sequence %d, latest %s\n", ago(a.CheckedAt), a.Sequence, or(a.LatestVersion, "unknown"))
		fmt.Fprintf(out, "  next launch: %s (%s)\n", a.NextLaunch, a.NextReason)
		if a.BackgroundDue {
			fmt.Fprintf(out, "  background:  due\n")
		} else {
			fmt.Fprintf(out, "  background:  not due: %s\n", a.BackgroundSkip)
		}
	}
	return nil
}
