package generator

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/mpship/mpship/manifests"
	"github.com/mpship/mpship/store"
)

// Problem is one thing wrong in a store.
type Problem struct {
	// Key is the object at fault, or the one whose reference is broken.
	Key string `json:"key"`
	// Code classifies the problem: manifests.Code's values
	// ("bad_signature", "unknown_key", "below_threshold", "expired",
	// "malformed", "mix_and_match", "size_mismatch", "hash_mismatch",
	// "too_large", "wrong_type") or "missing" for an object that is
	// referenced but absent.
	Code string `json:"code"`
	// Message says what is wrong, for a person.
	Message string `json:"message"`
}

// CodeMissing is the Problem code of a referenced object that is absent.
const CodeMissing = "missing"

// Report is what Verify found.
type Report struct {
	// Channels, Releases and Blobs count the channel manifests, release
	// manifests and distinct blobs checked.
	Channels, Releases, Blobs int
	// Problems lists what is wrong, sorted by key; empty when all is well.
	Problems []Problem
}

// Verify checks a published store as a device would, against trust and the
// clock now:
//   - every channel manifest under apps/: size cap, signatures (threshold of
//     distinct trusted keys), well-formedness, app and channel matching its
//     key, and expiry (an expired one is a problem: devices refuse it);
//   - the release manifest each channel manifest points to exists with the
//     pinned size and sha256;
//   - every release manifest in the store: signatures, well-formedness, app
//     and version matching its key;
//   - every blob those release manifests reference (packages and deltas)
//     exists with the right size and sha256, hashed as a stream.
//
// Problems are returned in the Report; the error is for failures to check
// at all (the store unavailable, the context cancelled). Verify only reads.
func Verify(ctx context.Context, st store.Store, trust *manifests.Trust, now time.Time) (*Report, error) {
	if trust == nil {
		return nil, errors.New("verify: no trusted keys given")
	}
	v := &verifier{st: st, trust: trust, now: now, blobs: map[string]bool{}, releases: map[string]releaseObj{}}
	var channels, releases []string
	err := st.List(ctx, "apps/", func(info store.Info) error {
		switch manifests.ClassifyKey(info.Key) {
		case manifests.KeyChannel:
			channels = append(channels, info.Key)
		case manifests.KeyRelease:
			releases = append(releases, info.Key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("verify %s: %w", st.Location(), err)
	}
	for _, key := range releases {
		if err := v.release(ctx, key); err != nil {
			return nil, err
		}
	}
	for _, key := range channels {
		if err := v.channel(ctx, key); err != nil {
			return nil, err
		}
	}
	rep := &Report{Channels: len(channels), Releases: len(releases), Blobs: len(v.blobs), Problems: v.problems}
	slices.SortStableFunc(rep.Problems, func(a, b Problem) int {
		return cmp.Or(strings.Compare(a.Key, b.Key), strings.Compare(a.Code, b.Code))
	})
	return rep, nil
}

type releaseObj struct {
	size int64
	sha  string
}

type verifier struct {
	st       store.Store
	trust    *manifests.Trust
	now      time.Time
	blobs    map[string]bool       // blob key → checked
	releases map[string]releaseObj // release manifests present, by key
	problems []Problem
}

func (v *verifier) report(key string, err error) {
	code := manifests.Code(err)
	if errors.Is(err, store.ErrNotExist) {
		code = CodeMissing
	}
	v.problems = append(v.problems, Problem{Key: key, Code: code, Message: err.Error()})
}

// read reads a manifest, capped; a missing object or one over the cap is
// reported and returns nil, nil.
func (v *verifier) read(ctx context.Context, key string, max int) ([]byte, error) {
	data, _, err := readCapped(ctx, v.st, key, max)
	switch {
	case errors.Is(err, store.ErrNotExist), errors.Is(err, manifests.ErrTooLarge):
		v.report(key, err)
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("verify: %w", err)
	}
	return data, nil
}

func (v *verifier) release(ctx context.Context, key string) error {
	app, file := keyParts(key)
	data, err := v.read(ctx, key, manifests.MaxReleaseSize)
	if data == nil {
		return err
	}
	v.releases[key] = releaseObj{int64(len(data)), sha256Hex(data)}
	version := strings.TrimSuffix(file, ".json")
	if err := manifests.ValidateVersion(version); err != nil {
		v.report(key, fmt.Errorf("%w: file name: %w", manifests.ErrMalformed, err))
		return nil
	}
	// The manifest is pinned to its own bytes here: the pin a channel
	// manifest holds is checked separately, in channel.
	ref := manifests.ReleaseRef{Version: version, Path: key, Size: int64(len(data)), SHA256: sha256Hex(data)}
	rel, err := manifests.VerifyRelease(data, v.trust, app, ref)
	if err != nil {
		v.report(key, err)
		return nil
	}
	for _, p := range rel.Packages {
		what := fmt.Sprintf("package %s of %s", p.Name, key)
		if err := v.blob(ctx, p.Path, p.Size, p.SHA256, what); err != nil {
			return err
		}
		for _, d := range p.Deltas {
			if err := v.blob(ctx, d.Path, d.Size, d.SHA256, fmt.Sprintf("delta from %s of %s", d.FromVersion, what)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (v *verifier) channel(ctx context.Context, key string) error {
	app, file := keyParts(key)
	data, err := v.read(ctx, key, manifests.MaxChannelSize)
	if data == nil {
		return err
	}
	// Expiry is checked apart, so that an expired manifest is reported as
	// such and its release is still checked.
	q := manifests.ChannelQuery{App: app, Channel: strings.TrimSuffix(file, ".json")}
	c, err := manifests.VerifyChannel(data, v.trust, q)
	if err != nil {
		v.report(key, err)
		return nil
	}
	if !v.now.Before(c.ExpiresAt) {
		v.report(key, fmt.Errorf("%w at %s (now %s); devices refuse it: publish a release or re-sign the channel",
			manifests.ErrExpired, c.ExpiresAt.UTC().Format(time.RFC3339), v.now.UTC().Format(time.RFC3339)))
	}
	got, ok := v.releases[c.Current.Path]
	if !ok {
		v.report(key, fmt.Errorf("current release %s: %w", c.Current.Path, store.ErrNotExist))
		return nil
	}
	if err := manifests.CheckSum(got.size, got.sha, c.Current.Size, c.Current.SHA256); err != nil {
		v.report(key, fmt.Errorf("current release %s is not the one signed: %w", c.Current.Path, err))
	}
	return nil
}

// blob checks a referenced blob once, streaming it through sha256.
func (v *verifier) blob(ctx context.Context, key string, size int64, sha, what string) error {
	if v.blobs[key] {
		return nil
	}
	v.blobs[key] = true
	obj, err := v.st.Get(ctx, key, store.GetOptions{})
	if errors.Is(err, store.ErrNotExist) {
		v.report(key, fmt.Errorf("%s: %w", what, err))
		return nil
	}
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	defer obj.Body.Close()
	if obj.Info.Size != size {
		v.report(key, fmt.Errorf("%s: %w: %d bytes, want %d", what, manifests.ErrSizeMismatch, obj.Info.Size, size))
		return nil
	}
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(obj.Body, size+1))
	if err != nil {
		return fmt.Errorf("verify: read %s/%s: %w", v.st.Location(), key, err)
	}
	if err := manifests.CheckSum(n, hex.EncodeToString(h.Sum(nil)), size, sha); err != nil {
		v.report(key, fmt.Errorf("%s: %w", what, err))
	}
	return nil
}

// keyParts returns the app and the file name of apps/<app>/<kind>/<file>.
func keyParts(key string) (app, file string) {
	parts := strings.Split(key, "/")
	return parts[1], parts[3]
}
