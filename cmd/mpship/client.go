package main

import (
	"context"
	"errors"
	"fmt"
	"io"

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
			"with a state directory standing for one device's storage.",
	}
	cmd.AddCommand(newClientLaunchCmd())
	return cmd
}

// clientLaunchOptions are the flags of 'mpship client launch'.
type clientLaunchOptions struct {
	origin    string
	trust     []string
	threshold int
	state     string
	app       string
	channel   string
	json      bool
}

// AddFlags registers the options' flags on fs.
func (o *clientLaunchOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.origin, "origin", "", "base URL of the origin or CDN, for example http://127.0.0.1:8080/ (required)")
	fs.StringArrayVar(&o.trust, "trust", nil, "public key file (signing.pub) to trust; repeat for several keys (required)")
	fs.IntVar(&o.threshold, "threshold", 1, "how many distinct trusted keys must sign each manifest")
	fs.StringVar(&o.state, "state", "", "state directory of this device (required; created if missing)")
	fs.StringVar(&o.app, "app", "", "app id to launch (required)")
	fs.StringVar(&o.channel, "channel", "", "channel to follow, for example stable (required)")
	fs.BoolVar(&o.json, "json", false, "print one JSON object instead of text")
}

func newClientLaunchCmd() *cobra.Command {
	opts := &clientLaunchOptions{}
	cmd := &cobra.Command{
		Use:   "launch --origin URL --trust PUBFILE --state DIR --app APP --channel CHANNEL",
		Short: "Cold-start a mini program: launch what is installed and check for an update",
		Long: `Cold-start a mini program as a device would.

With nothing installed, the channel's current release is downloaded, verified
and installed, then launched. Otherwise the installed version (or the version
a previous check made ready) is launched at once and the channel is checked:
one conditional GET, answered 304 when nothing changed; a new version is
downloaded, verified and made ready for the next launch. The command waits
for that check before it exits.

Exit status: 0 when a version was launched, even if the update check failed
(the failure is printed, and in --json it is "error" with "error_code");
1 when nothing could be launched; 2 for bad flags.`,
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
	LaunchedVersion string            `json:"launched_version"`
	ReadyVersion    string            `json:"ready_version"`
	Path            string            `json:"path"`
	BytesDownloaded int64             `json:"bytes_downloaded"`
	Requests        int               `json:"requests"`
	Error           string            `json:"error"`
	ErrorCode       string            `json:"error_code"`
	Check           *clientCheckShort `json:"check,omitempty"`
}

// clientCheckShort summarises the update check of a launch.
type clientCheckShort struct {
	NotModified   bool   `json:"not_modified"`
	LatestVersion string `json:"latest_version"`
	Downloaded    string `json:"downloaded"`
}

func (o *clientLaunchOptions) validate() error {
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"--origin", o.origin}, {"--state", o.state}, {"--app", o.app}, {"--channel", o.channel},
	} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(o.trust) == 0 {
		missing = append(missing, "--trust")
	}
	if len(missing) > 0 {
		return usageError{fmt.Errorf("client launch: missing %v", missing)}
	}
	if err := errors.Join(manifests.ValidateApp(o.app), manifests.ValidateChannel(o.channel)); err != nil {
		return usageError{fmt.Errorf("client launch: %w", err)}
	}
	return nil
}

func runClientLaunch(ctx context.Context, opts *clientLaunchOptions, out io.Writer) error {
	if err := opts.validate(); err != nil {
		return err
	}
	trust, err := loadTrust(opts.trust, opts.threshold)
	if err != nil {
		return usageError{err}
	}
	rt, err := client.New(client.Options{
		Origin:   opts.origin,
		Trust:    trust,
		StateDir: opts.state,
	})
	if err != nil {
		return usageError{err}
	}
	defer rt.Close()

	res, launchErr := rt.Launch(ctx, opts.app, opts.channel, client.LaunchOptions{})
	final, err := res.Wait(ctx)
	if err != nil {
		return fmt.Errorf("client launch %s: waiting for the update check: %w", opts.app, err)
	}
	if opts.json {
		if err := writeClientLaunchJSON(out, final); err != nil {
			return err
		}
	} else {
		writeClientLaunchText(out, final)
	}
	return launchErr
}

func writeClientLaunchJSON(out io.Writer, r *client.LaunchResult) error {
	rep := clientLaunchReport{
		App:             r.App,
		Channel:         r.Channel,
		Mode:            string(r.Mode),
		LaunchedVersion: r.LaunchedVersion,
		ReadyVersion:    r.ReadyVersion,
		Path:            r.Path,
		BytesDownloaded: r.BytesDownloaded,
		Requests:        r.Requests,
		ErrorCode:       client.ErrorCode(r.Err),
	}
	if r.Err != nil {
		rep.Error = r.Err.Error()
	}
	if c := r.Check; c != nil {
		rep.Check = &clientCheckShort{NotModified: c.NotModified, LatestVersion: c.LatestVersion, Downloaded: c.Downloaded}
	}
	return writeJSON(out, "client launch", rep)
}

func writeClientLaunchText(out io.Writer, r *client.LaunchResult) {
	if r.LaunchedVersion != "" {
		fmt.Fprintf(out, "launched %s %s (%s)\n", r.App, r.LaunchedVersion, r.Mode)
		fmt.Fprintf(out, "  files:   %s\n", r.Path)
	} else {
		fmt.Fprintf(out, "could not launch %s: nothing installed\n", r.App)
	}
	if c := r.Check; c != nil && c.Err == nil {
		switch {
		case c.NotModified:
			fmt.Fprintf(out, "  check:   not modified (304), latest is %s\n", c.LatestVersion)
		case c.Downloaded != "":
			fmt.Fprintf(out, "  check:   downloaded %s\n", c.Downloaded)
		default:
			fmt.Fprintf(out, "  check:   latest is %s\n", c.LatestVersion)
		}
	}
	if r.ReadyVersion != "" {
		fmt.Fprintf(out, "  ready:   %s, launched by the next cold start\n", r.ReadyVersion)
	}
	fmt.Fprintf(out, "  traffic: %d bytes in %d %s\n", r.BytesDownloaded, r.Requests, clientPlural(r.Requests, "request", "requests"))
	// When nothing launched, run prints the error; otherwise it is the
	// update check's, and the device carries on with what it has.
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
