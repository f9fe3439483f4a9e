package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/mpship/mpship/client"
	"github.com/mpship/mpship/internal/sim"
)

// simulateOptions are the flags of 'mpship simulate'.
type simulateOptions struct {
	devices int
	hours   float64
	warmup  float64
	seed    uint64
	workers int
	json    bool
	svg     string
	png     string

	// Policy.
	interval             time.Duration
	window               time.Duration
	jitter               time.Duration
	syncTimeout          time.Duration
	disuse               time.Duration
	noPeriodic           bool
	noSync               bool
	noColdStartCheck     bool
	noBackgroundDownload bool
	deferOnWeak          bool
	deferOnMetered       bool

	// Usage and CDN.
	backgroundShare float64
	backgroundGrant float64
	dormantShare    float64
	offlinePerDay   float64
	releaseHour     int
	pops            int
	manifestMaxAge  time.Duration
}

// AddFlags registers the options' flags on fs.
func (o *simulateOptions) AddFlags(fs *pflag.FlagSet) {
	fs.IntVar(&o.devices, "devices", sim.DefaultDevices, "devices in the population")
	fs.Float64Var(&o.hours, "hours", sim.DefaultHorizon.Hours(), "hours followed after the release")
	fs.Float64Var(&o.warmup, "warmup", sim.DefaultWarmup.Hours(), "hours the devices run before the release")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed: the same flags give the same result")
	fs.IntVar(&o.workers, "workers", 0, "devices simulated at once (default: one per CPU)")
	fs.BoolVar(&o.json, "json", false, "print one JSON object instead of the table")
	fs.StringVar(&o.svg, "svg", "", "write the coverage chart to this SVG file")
	fs.StringVar(&o.png, "png", "", "write the coverage chart to this PNG file")

	fs.DurationVar(&o.interval, "interval", client.DefaultCheckInterval, "policy: periodic check interval (rule 2)")
	fs.DurationVar(&o.window, "window", client.DefaultRecentWindow, "policy: periodic checks cover mini programs used within this window (rule 2)")
	fs.DurationVar(&o.jitter, "jitter", 0, "policy: periodic check jitter (default interval/6)")
	fs.DurationVar(&o.syncTimeout, "sync-timeout", client.DefaultSyncTimeout, "policy: synchronous launch timeout (rule 3)")
	fs.DurationVar(&o.disuse, "disuse", client.DefaultDisuseAfter, "policy: synchronous check after this long unused (rule 4)")
	fs.BoolVar(&o.noPeriodic, "no-periodic", false, "policy: turn periodic checks off (rule 2)")
	fs.BoolVar(&o.noSync, "no-sync", false, "policy: turn synchronous launches off (rules 3 and 4)")
	fs.BoolVar(&o.noColdStartCheck, "no-cold-start-check", false, "policy: turn the check on every cold start off (rule 1)")
	fs.BoolVar(&o.noBackgroundDownload, "no-background-download", false, "policy: periodic checks only mark, never download")
	fs.BoolVar(&o.deferOnWeak, "defer-on-weak", false, "policy: defer downloads on weak networks (rule 5)")
	fs.BoolVar(&o.deferOnMetered, "defer-on-metered", false, "policy: defer downloads on metered networks (rule 5)")

	fs.Float64Var(&o.backgroundShare, "background-share", 0.6, "usage: share of devices whose host runs background tasks")
	fs.Float64Var(&o.backgroundGrant, "background-grant", 0.5, "usage: chance the platform runs a scheduled background task")
	fs.Float64Var(&o.dormantShare, "dormant-share", 0.003, "usage: share of devices without network for the whole run")
	fs.Float64Var(&o.offlinePerDay, "offline-spells", 2, "usage: network losses per device per day")
	fs.IntVar(&o.releaseHour, "release-hour", 10, "usage: local hour of the release, 0-23")
	fs.IntVar(&o.pops, "pops", 30, "CDN: points of presence")
	fs.DurationVar(&o.manifestMaxAge, "manifest-max-age", 60*time.Second, "CDN: channel manifest max-age")
}

func newSimulateCmd() *cobra.Command {
	opts := &simulateOptions{}
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Simulate a population of devices through a release and report coverage over time",
		Long: `Simulate a population of devices through a full release and report how fast
it reaches them: the share of active devices (those that opened the mini
program in the 7 days before the release) holding the new version, hour by
hour, with the times at which 50%, 90% and 99% did, and the requests it cost
per device per day at the CDN edge and at the origin behind it.

Every device runs the real client library with its own state directory and
virtual clock against the real origin handler, in process; the usage model
(docs/simulation.md) decides when people open the super app and the mini
program, when the platform grants background work, and when the network is
missing, weak or metered. The --no-* and policy flags show what each rule
costs and brings.

Exit status: 0; 1 when the simulation could not run; 2 for bad flags.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSimulate(cmd.Context(), opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// negativeIfZero maps a share flag of 0 to the simulation's "none".
func negativeIfZero(v float64) float64 {
	if v == 0 {
		return -1
	}
	return v
}

func (o *simulateOptions) config() (sim.Config, error) {
	if o.hours <= 0 || o.warmup < 0 {
		return sim.Config{}, errors.New("simulate: --hours must be positive and --warmup not negative")
	}
	p := client.Policy{
		RecentWindow: o.window, CheckInterval: o.interval, CheckJitter: o.jitter,
		SyncTimeout: o.syncTimeout, DisuseAfter: o.disuse,
		NoColdStartCheck: o.noColdStartCheck, NoBackgroundDownload: o.noBackgroundDownload,
		DeferOnWeak: o.deferOnWeak, DeferOnMetered: o.deferOnMetered,
	}
	if o.noPeriodic {
		p.CheckInterval = -1
	}
	if o.noSync {
		p.SyncTimeout, p.DisuseAfter = -1, -1
	}
	warmup := time.Duration(o.warmup * float64(time.Hour))
	if warmup == 0 {
		warmup = -1
	}
	hour := o.releaseHour
	if hour == 0 {
		hour = -1
	}
	return sim.Config{
		Devices: o.devices,
		Horizon: time.Duration(o.hours * float64(time.Hour)),
		Warmup:  warmup,
		Seed:    o.seed,
		Workers: o.workers,
		Policy:  p,
		Usage: sim.Usage{
			BackgroundShare: negativeIfZero(o.backgroundShare), BackgroundGrant: negativeIfZero(o.backgroundGrant),
			DormantShare: negativeIfZero(o.dormantShare), OfflineSpellsPerDay: negativeIfZero(o.offlinePerDay),
			ReleaseHour: hour,
		},
		CDN: sim.CDN{POPs: o.pops, ManifestMaxAge: o.manifestMaxAge},
	}, nil
}

func runSimulate(ctx context.Context, opts *simulateOptions, out, errOut io.Writer) error {
	cfg, err := opts.config()
	if err != nil {
		return usageError{err}
	}
	if f, ok := errOut.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		cfg.Progress = func(done, total int) {
			fmt.Fprintf(errOut, "\rsimulating: %d/%d devices", done, total)
			if done == total {
				fmt.Fprintln(errOut)
			}
		}
	}
	res, err := sim.Run(ctx, cfg)
	if errors.Is(err, sim.ErrConfig) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	for _, f := range []struct {
		path  string
		write func(io.Writer) error
	}{{opts.svg, res.WriteSVG}, {opts.png, res.WritePNG}} {
		if f.path == "" {
			continue
		}
		if err := writeChart(f.path, f.write); err != nil {
			return fmt.Errorf("simulate: %w", err)
		}
	}
	if opts.json {
		return writeJSON(out, "simulate", res)
	}
	res.WriteTable(out)
	fmt.Fprintf(out, "simulated in %s\n", res.Elapsed.Round(100*time.Millisecond))
	return nil
}

// writeChart writes a chart to path through a temporary file, so a failure
// leaves no half-written file.
func writeChart(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	err = write(f)
	if err == nil {
		// CreateTemp makes the file private; a chart is for sharing.
		err = f.Chmod(0o644)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}
