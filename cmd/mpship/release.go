package main

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mpship/mpship/generator"
	"github.com/mpship/mpship/manifests"
	"github.com/mpship/mpship/store"
	"github.com/mpship/mpship/store/local"
	"github.com/mpship/mpship/store/location"
)

// releaseOptions are the flags and argument of 'mpship release'.
type releaseOptions struct {
	store       string
	keys        []string
	app         string
	channel     string
	version     string
	subpackages []string
	expires     time.Duration
	notes       string
	json        bool
	parallelism int
	deltas      int
	source      string           // the SRC_DIR argument
	now         func() time.Time // the clock; time.Now when nil (tests set it)
	stdin       io.Reader        // for the test hook (testhook.go); nil: none
	stderr      io.Writer        // progress, when a terminal; nil: none
}

// AddFlags registers the options' flags on fs.
func (o *releaseOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.store, "store", "", "store to publish to: "+location.Forms+" (required; a local directory is created if missing)")
	fs.StringArrayVar(&o.keys, "key", nil, "signing key file (signing.key from 'mpship keygen'); repeat to sign with several keys (required)")
	fs.StringVar(&o.app, "app", "", "app id, for example com.example.shop (required)")
	fs.StringVar(&o.channel, "channel", "", "channel to publish to, for example stable (required)")
	fs.StringVar(&o.version, "version", "", "semantic version of this release, greater than the channel's current one (required)")
	fs.StringArrayVar(&o.subpackages, "subpackage", nil, "NAME=DIR: pack the directory DIR of SRC_DIR as subpackage NAME; repeatable")
	fs.DurationVar(&o.expires, "expires", generator.DefaultExpiry, "how long devices accept the channel manifest (1h to 8784h)")
	fs.StringVar(&o.notes, "notes", "", "release notes recorded in the release manifest")
	fs.BoolVar(&o.json, "json", false, "print one JSON object instead of text")
	fs.IntVar(&o.parallelism, "parallelism", generator.DefaultParallelism, "how many blobs to check and upload at once (1 to 64)")
	fs.IntVar(&o.deltas, "deltas", generator.DefaultDeltas, "make deltas from this many earlier releases on the channel (0 for none, at most 10)")
}

func newReleaseCmd() *cobra.Command {
	opts := &releaseOptions{}
	cmd := &cobra.Command{
		Use:   "release --store STORE --key KEYFILE --app APP --channel CHANNEL --version VERSION SRC_DIR",
		Short: "Pack, sign and publish a release of a mini program",
		Long: `Pack SRC_DIR into a deterministic MPK1 archive (the same tree always gives
the same package and sha256), compress it with zstd, make deltas from the
channel's last --deltas releases (read back from the store; a delta is kept
when at most half the package), sign a release manifest and a channel
manifest, and publish: blobs first, then the release manifest, then
the channel manifest last, on the condition that nobody else published to the
channel meanwhile. A refused release leaves the store unchanged. Blobs already
in the store (same key and sha256) are not uploaded again, so a release that
failed or was killed part-way is finished by running it again. Progress is
shown on stderr when it is a terminal.

Refused: a version not greater than the channel's current one, an invalid app,
channel or version, a missing or empty source, a symlink leaving the source
tree, a file or package over its size limit (32 MiB per file, 256 MiB per
package), a key that does not parse.

Exit status: 0 when published; 1 when the release failed or was refused
(version not newer, bad source tree, store error, someone else published to
the channel meanwhile); 2 for bad flags, arguments or key files.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("release takes one argument, the source directory SRC_DIR; got %d", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.source = args[0]
			opts.stdin, opts.stderr = cmd.InOrStdin(), cmd.ErrOrStderr()
			return runRelease(cmd.Context(), opts, cmd.OutOrStdout())
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// validate checks what can be checked without touching the store, so that
// a mistyped flag creates no store directory.
func (o *releaseOptions) validate() ([]generator.Subpackage, error) {
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"--store", o.store}, {"--app", o.app}, {"--channel", o.channel}, {"--version", o.version},
	} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(o.keys) == 0 {
		missing = append(missing, "--key")
	}
	if len(missing) > 0 {
		return nil, usageError{fmt.Errorf("release: missing %s", strings.Join(missing, ", "))}
	}
	if o.deltas < 0 || o.deltas > generator.MaxDeltas {
		return nil, usageError{fmt.Errorf("--deltas %d: use 0 to %d", o.deltas, generator.MaxDeltas)}
	}
	if o.parallelism < 1 || o.parallelism > generator.MaxParallelism {
		return nil, usageError{fmt.Errorf("--parallelism %d: use 1 to %d", o.parallelism, generator.MaxParallelism)}
	}
	if err := errors.Join(manifests.ValidateApp(o.app), manifests.ValidateChannel(o.channel), manifests.ValidateVersion(o.version)); err != nil {
		return nil, usageError{err}
	}
	var subs []generator.Subpackage
	for _, s := range o.subpackages {
		name, dir, ok := strings.Cut(s, "=")
		if !ok || name == "" || dir == "" {
			return nil, usageError{fmt.Errorf("--subpackage %q: use NAME=DIR, for example --subpackage shop=packageA", s)}
		}
		subs = append(subs, generator.Subpackage{Name: name, Dir: strings.TrimSuffix(dir, "/")})
	}
	return subs, nil
}

// releaseReport is the --json output of 'mpship release'.
type releaseReport struct {
	Store           string                    `json:"store"`
	App             string                    `json:"app"`
	Channel         string                    `json:"channel"`
	Version         string                    `json:"version"`
	PreviousVersion string                    `json:"previous_version"`
	Sequence        uint64                    `json:"sequence"`
	IssuedAt        time.Time                 `json:"issued_at"`
	ExpiresAt       time.Time                 `json:"expires_at"`
	ReleaseManifest releaseReportObject       `json:"release_manifest"`
	ChannelManifest releaseReportObject       `json:"channel_manifest"`
	Packages        []generator.PackageResult `json:"packages"`
	Uploaded        int                       `json:"uploaded"`
	UploadedBytes   int64                     `json:"uploaded_bytes"`
	Skipped         int                       `json:"skipped"`
	SkippedBytes    int64                     `json:"skipped_bytes"`
}

type releaseReportObject struct {
	Path   string `json:"path"`
	Size   int    `json:"size"`
	SHA256 string `json:"sha256"`
	Reused bool   `json:"reused,omitempty"`
}

func runRelease(ctx context.Context, opts *releaseOptions, out io.Writer) (rerr error) {
	subs, err := opts.validate()
	if err != nil {
		return err
	}
	signers, err := loadSigners(opts.keys)
	if err != nil {
		return usageError{err}
	}
	st, err := location.Open(ctx, opts.store, location.Options{})
	created := false
	if errors.Is(err, fs.ErrNotExist) {
		// A local directory that is not there yet: make it, and take it
		// away again if the release is refused before writing anything.
		st, err = location.Open(ctx, opts.store, location.Options{Create: true})
		created = err == nil
	}
	if err != nil {
		return err
	}
	if c, ok := st.(io.Closer); ok {
		defer c.Close()
	}
	if created {
		defer func() {
			if rerr != nil {
				removeIfEmpty(st)
			}
		}()
	}
	st, err = withTestHook(st, opts.stdin, opts.stderr)
	if err != nil {
		return usageError{err}
	}
	progress := newProgressLine(opts.stderr)
	res, err := generator.Run(ctx, generator.Options{
		Store:       st,
		Signers:     signers,
		App:         opts.app,
		Channel:     opts.channel,
		Version:     opts.version,
		Source:      opts.source,
		Subpackages: subs,
		Now:         opts.now,
		Expiry:      opts.expires,
		Notes:       opts.notes,
		Parallelism: opts.parallelism,
		Deltas:      cmp.Or(opts.deltas, -1), // the flag's 0 is "none"
		Progress:    progress.callback(),
	})
	progress.finish()
	if errors.Is(err, generator.ErrInvalid) {
		return usageError{err}
	}
	if err != nil {
		return err
	}

	if opts.json {
		return writeJSON(out, "release", releaseReport{
			Store:           st.Location(),
			App:             opts.app,
			Channel:         opts.channel,
			Version:         opts.version,
			PreviousVersion: res.PreviousVersion,
			Sequence:        res.Channel.Sequence,
			IssuedAt:        res.Channel.IssuedAt,
			ExpiresAt:       res.Channel.ExpiresAt,
			ReleaseManifest: releaseReportObject{res.ReleasePath, len(res.ReleaseManifest), res.Channel.Current.SHA256, res.ReusedRelease},
			ChannelManifest: releaseReportObject{Path: res.ChannelPath, Size: len(res.ChannelManifest), SHA256: releaseSHA256(res.ChannelManifest)},
			Packages:        res.Packages,
			Uploaded:        res.Uploaded,
			UploadedBytes:   res.UploadedBytes,
			Skipped:         res.Skipped,
			SkippedBytes:    res.SkippedBytes,
		})
	}
	was := "first release on this channel"
	if res.PreviousVersion != "" {
		was = "was " + res.PreviousVersion
	}
	fmt.Fprintf(out, "released %s %s on %s (sequence %d, %s)\n", opts.app, opts.version, opts.channel, res.Channel.Sequence, was)
	for _, p := range res.Packages {
		name := p.Name
		if p.Root != "" {
			name += " (" + p.Root + "/)"
		}
		fmt.Fprintf(out, "  package %s: %d files, %d B source, %d B archive, %d B zstd\n", name, p.Files, p.SourceBytes, p.RawSize, p.Size)
		fmt.Fprintf(out, "    sha256 %s\n", p.SHA256)
		for _, d := range p.Deltas {
			fmt.Fprintf(out, "    delta from %s: %d B (%.1f%% of the package)\n", d.FromVersion, d.Size, 100*float64(d.Size)/float64(p.Size))
		}
		for _, d := range p.DeltaSkips {
			fmt.Fprintf(out, "    no delta from %s: %s\n", d.FromVersion, d.Reason)
		}
	}
	reused := ""
	if res.ReusedRelease {
		reused = ", already published on another channel"
	}
	fmt.Fprintf(out, "  release manifest %s (%d B%s)\n", res.ReleasePath, len(res.ReleaseManifest), reused)
	fmt.Fprintf(out, "  channel manifest %s, expires %s\n", res.ChannelPath, res.Channel.ExpiresAt.Format(time.RFC3339))
	fmt.Fprintf(out, "  blobs: %d uploaded (%d B), %d already in the store (%d B)\n", res.Uploaded, res.UploadedBytes, res.Skipped, res.SkippedBytes)
	return nil
}

func releaseSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// removeIfEmpty deletes a local store directory that this run created, if
// it holds no object: a refused release leaves no trace.
func removeIfEmpty(st store.Store) {
	ls, ok := st.(*local.Store)
	if !ok {
		return
	}
	empty := true
	err := ls.List(context.Background(), "", func(store.Info) error {
		empty = false
		return errors.New("not empty")
	})
	if empty && err == nil {
		ls.Close()
		os.RemoveAll(ls.Dir())
	}
}
