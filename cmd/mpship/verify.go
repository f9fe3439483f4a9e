package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mpship/mpship/generator"
	"github.com/mpship/mpship/store/location"
)

// verifyOptions are the flags of 'mpship verify'.
type verifyOptions struct {
	store     string
	trust     []string
	threshold int
	json      bool
	now       func() time.Time // the clock; time.Now when nil (tests set it)
}

// AddFlags registers the options' flags on fs.
func (o *verifyOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.store, "store", "", "store to check: "+location.Forms+" (required)")
	fs.StringArrayVar(&o.trust, "trust", nil, "public key file (signing.pub) to trust; repeat for several keys (required)")
	fs.IntVar(&o.threshold, "threshold", 1, "how many distinct trusted keys must sign each manifest")
	fs.BoolVar(&o.json, "json", false, "print one JSON object instead of text")
}

func newVerifyCmd() *cobra.Command {
	opts := &verifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify --store STORE --trust PUBFILE",
		Short: "Check a store's signatures, expiry, and every referenced object",
		Long: `Check a published store as devices would: every channel manifest's
signatures (at least --threshold distinct --trust keys), expiry and names;
that the release manifest it points to is there with the pinned size and
sha256; every release manifest's signatures; and that every blob a release
references exists with the right size and sha256. Only reads the store.

Exit status: 0 when no problem was found; 3 when problems were found (each is
listed with the object, a code such as hash_mismatch or expired, and what is
wrong); 1 when the store could not be read; 2 for bad flags or key files.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runVerify(cmd.Context(), opts, cmd.OutOrStdout())
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// verifyReport is the --json output of 'mpship verify'.
type verifyReport struct {
	Store    string              `json:"store"`
	OK       bool                `json:"ok"`
	Channels int                 `json:"channels"`
	Releases int                 `json:"releases"`
	Blobs    int                 `json:"blobs"`
	Problems []generator.Problem `json:"problems"`
}

func runVerify(ctx context.Context, opts *verifyOptions, out io.Writer) error {
	if opts.store == "" || len(opts.trust) == 0 {
		return usageError{errors.New("verify: --store and --trust are required")}
	}
	trust, err := loadTrust(opts.trust, opts.threshold)
	if err != nil {
		return usageError{err}
	}
	st, err := location.Open(ctx, opts.store, location.Options{})
	if err != nil {
		return err
	}
	if c, ok := st.(io.Closer); ok {
		defer c.Close()
	}
	now := time.Now
	if opts.now != nil {
		now = opts.now
	}
	rep, err := generator.Verify(ctx, st, trust, now())
	if err != nil {
		return err
	}
	if opts.json {
		problems := rep.Problems
		if problems == nil {
			problems = []generator.Problem{}
		}
		if err := writeJSON(out, "verify", verifyReport{
			Store: st.Location(), OK: len(problems) == 0,
			Channels: rep.Channels, Releases: rep.Releases, Blobs: rep.Blobs, Problems: problems,
		}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(out, "checked %s: %d channel manifests, %d release manifests, %d blobs\n", st.Location(), rep.Channels, rep.Releases, rep.Blobs)
		for _, p := range rep.Problems {
			fmt.Fprintf(out, "PROBLEM %s: %s: %s\n", p.Key, p.Code, p.Message)
		}
		if len(rep.Problems) == 0 {
			fmt.Fprintln(out, "ok: no problems found")
		}
	}
	if n := len(rep.Problems); n > 0 {
		return exitCodeError{code: exitProblems, err: fmt.Errorf("verify: %d problems found in %s", n, st.Location())}
	}
	return nil
}
