package generator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mpship/mpship/internal/httpmeta"
	"github.com/mpship/mpship/manifests"
	"github.com/mpship/mpship/store"
)

// validateStep checks the options and reads what the release builds on from
// the store: the channel's current manifest and any existing release
// manifest of this version.
type validateStep struct{}

func (validateStep) String() string { return "validate" }

func (validateStep) Run(ctx context.Context, r *Release) error {
	o := &r.Options
	if err := checkOptions(o); err != nil {
		return err
	}
	r.Now = o.Now().UTC().Truncate(time.Second)
	st := o.Store

	key := manifests.ChannelPath(o.App, o.Channel)
	data, etag, err := readCapped(ctx, st, key, manifests.MaxChannelSize)
	switch {
	case errors.Is(err, store.ErrNotExist):
	case err != nil:
		return fmt.Errorf("read current channel manifest: %w", err)
	default:
		prev, err := decodeChannel(data, o.App, o.Channel)
		if err != nil {
			return fmt.Errorf("current channel manifest %s/%s is unreadable, so the next sequence number is unknown; restore it from a backup or delete it to restart the channel: %w", st.Location(), key, err)
		}
		switch c := manifests.CompareVersions(o.Version, prev.Current.Version); {
		case c == 0:
			// Also what a re-run of a release that completed (its publisher
			// killed before it could say so) finds.
			return refuse(ErrNotNewer, "version %s is already the current release on channel %s (sequence %d); nothing to publish: to publish a change, pass a higher --version",
				o.Version, o.Channel, prev.Sequence)
		case c < 0:
			return refuse(ErrNotNewer, "version %s is not newer than %s on channel %s; pass a higher --version or use 'mpship rollback'",
				o.Version, prev.Current.Version, o.Channel)
		}
		r.Previous, r.PreviousETag = prev, etag
	}

	rkey := manifests.ReleasePath(o.App, o.Version)
	data, _, err = readCapped(ctx, st, rkey, manifests.MaxReleaseSize)
	switch {
	case errors.Is(err, store.ErrNotExist):
	case err != nil:
		return fmt.Errorf("read existing release manifest: %w", err)
	default:
		r.Existing = data
	}

	r.Packages = []*Package{{Name: manifests.MainPackage, Dir: o.Source}}
	for _, sp := range o.Subpackages {
		r.Packages[0].Exclude = append(r.Packages[0].Exclude, sp.Dir)
		r.Packages = append(r.Packages, &Package{Name: sp.Name, Root: sp.Dir, Dir: filepath.Join(o.Source, filepath.FromSlash(sp.Dir))})
	}
	slices.SortFunc(r.Packages, func(a, b *Package) int { return strings.Compare(a.Name, b.Name) })
	return nil
}

// checkOptions fills defaults and checks every option, joining all problems
// into one ErrInvalid error.
func checkOptions(o *Options) error {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Expiry == 0 {
		o.Expiry = DefaultExpiry
	}
	if o.ManifestMaxAge == 0 {
		o.ManifestMaxAge = httpmeta.DefaultManifestMaxAge
	}
	var errs []error
	if o.Store == nil {
		errs = append(errs, errors.New("no store given"))
	}
	if len(o.Signers) == 0 {
		errs = append(errs, errors.New("no signing key given; make one with 'mpship keygen' and pass --key"))
	}
	for i, s := range o.Signers {
		if s == nil {
			errs = append(errs, fmt.Errorf("signing key %d is nil", i))
		}
	}
	errs = append(errs, manifests.ValidateApp(o.App), manifests.ValidateChannel(o.Channel), manifests.ValidateVersion(o.Version))
	if o.Expiry < MinExpiry || o.Expiry > MaxExpiry {
		errs = append(errs, fmt.Errorf("expiry %v out of range %v to %v", o.Expiry, MinExpiry, MaxExpiry))
	}
	if o.Deltas > MaxDeltas {
		errs = append(errs, fmt.Errorf("deltas %d over the maximum of %d", o.Deltas, MaxDeltas))
	}
	if o.Parallelism < 0 || o.Parallelism > MaxParallelism {
		errs = append(errs, fmt.Errorf("parallelism %d out of range 1 to %d", o.Parallelism, MaxParallelism))
	}
	if o.ManifestMaxAge < 0 {
		errs = append(errs, fmt.Errorf("manifest max-age %v is negative", o.ManifestMaxAge))
	}
	if o.Source == "" {
		errs = append(errs, errors.New("no source directory given"))
	} else if fi, err := os.Stat(o.Source); err != nil {
		errs = append(errs, fmt.Errorf("source directory: %w", err))
	} else if !fi.IsDir() {
		errs = append(errs, fmt.Errorf("source %s is not a directory", o.Source))
	} else {
		errs = append(errs, checkSubpackages(o.Source, o.Subpackages))
	}
	if err := errors.Join(errs...); err != nil {
		return &refusal{kind: ErrInvalid, err: err}
	}
	return nil
}

func checkSubpackages(src string, subs []Subpackage) error {
	var errs []error
	names := map[string]bool{manifests.MainPackage: true}
	for i, sp := range subs {
		what := fmt.Sprintf("subpackage %s=%s", sp.Name, sp.Dir)
		if err := manifests.ValidatePackageName(sp.Name); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		} else if names[sp.Name] {
			errs = append(errs, fmt.Errorf("%s: the name %q is taken (main is the main package's)", what, sp.Name))
		}
		names[sp.Name] = true
		d := sp.Dir
		if d == "" || d != path.Clean(d) || path.IsAbs(d) || d == "." || d == ".." || strings.HasPrefix(d, "../") || strings.ContainsAny(d, `\`) {
			errs = append(errs, fmt.Errorf("%s: the directory must be a clean relative path inside the source, like packageA or pages/sub", what))
			continue
		}
		if fi, err := os.Stat(filepath.Join(src, filepath.FromSlash(d))); err != nil || !fi.IsDir() {
			errs = append(errs, fmt.Errorf("%s: %s is not a directory in %s", what, d, src))
		}
		for _, other := range subs[:i] {
			if other.Dir == d || strings.HasPrefix(d, other.Dir+"/") || strings.HasPrefix(other.Dir, d+"/") {
				errs = append(errs, fmt.Errorf("%s: overlaps subpackage %s=%s; subpackage directories may not nest", what, other.Name, other.Dir))
			}
		}
	}
	return errors.Join(errs...)
}

// readCapped reads a whole object of at most max bytes and its ETag.
func readCapped(ctx context.Context, st store.Store, key string, max int) ([]byte, string, error) {
	obj, err := st.Get(ctx, key, store.GetOptions{})
	if err != nil {
		return nil, "", err
	}
	defer obj.Body.Close()
	data, err := io.ReadAll(io.LimitReader(obj.Body, int64(max)+1))
	if err != nil {
		return nil, "", fmt.Errorf("read %s/%s: %w", st.Location(), key, err)
	}
	if len(data) > max {
		return nil, "", fmt.Errorf("%s/%s is larger than the %d-byte cap: %w", st.Location(), key, max, manifests.ErrTooLarge)
	}
	return data, obj.Info.ETag, nil
}

// openUnverified returns the payload of an envelope of the given type
// without checking signatures: the generator trusts its own store.
func openUnverified(data []byte, payloadType string) ([]byte, error) {
	var env manifests.Envelope
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&env); err != nil {
		return nil, fmt.Errorf("%w: envelope: %v", manifests.ErrMalformed, err)
	}
	if env.PayloadType != payloadType {
		return nil, fmt.Errorf("%w: payload type %q, want %q", manifests.ErrWrongType, env.PayloadType, payloadType)
	}
	return env.Payload, nil
}

// decodeChannel decodes a stored channel manifest without verifying its
// signatures, and checks that it is well formed and for app and channel.
func decodeChannel(data []byte, app, channel string) (*manifests.Channel, error) {
	payload, err := openUnverified(data, manifests.ChannelPayloadType)
	if err != nil {
		return nil, err
	}
	var c manifests.Channel
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("%w: %v", manifests.ErrMalformed, err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.App != app || c.Channel != channel {
		return nil, fmt.Errorf("%w: it is for %s/%s", manifests.ErrMixAndMatch, c.App, c.Channel)
	}
	return &c, nil
}

// decodeRelease is decodeChannel for release manifests.
func decodeRelease(data []byte, app, version string) (*manifests.Release, error) {
	payload, err := openUnverified(data, manifests.ReleasePayloadType)
	if err != nil {
		return nil, err
	}
	var rel manifests.Release
	if err := json.Unmarshal(payload, &rel); err != nil {
		return nil, fmt.Errorf("%w: %v", manifests.ErrMalformed, err)
	}
	if err := rel.Validate(); err != nil {
		return nil, err
	}
	if rel.App != app || rel.Version != version {
		return nil, fmt.Errorf("%w: it is for %s@%s", manifests.ErrMixAndMatch, rel.App, rel.Version)
	}
	return &rel, nil
}

// Compile-time checks that the steps are Steps.
var _ Step = validateStep{}
