package generator

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/mpship/mpship/internal/httpmeta"
	"github.com/mpship/mpship/manifests"
	"github.com/mpship/mpship/store"
)

// publishStep writes the blobs, then the release manifest, then the channel
// manifest, so that every object the channel manifest reaches is in the
// store before it is.
type publishStep struct{}

func (publishStep) String() string { return "publish" }

func (publishStep) Run(ctx context.Context, r *Release) error {
	o := &r.Options
	st := o.Store
	meta := func(key, sha string) store.Meta {
		return store.Meta{
			ContentType:  httpmeta.ContentType(key),
			CacheControl: httpmeta.CacheControl(key, o.ManifestMaxAge),
			SHA256:       sha,
		}
	}

	// Blobs: content-addressed, so one already stored with the right size
	// and sha256 is the same bytes. One with other bytes under its hash is
	// damage, and is overwritten with the right bytes.
	for _, p := range r.Packages {
		key := manifests.BlobPath(p.SHA256)
		size := int64(len(p.Blob))
		info, err := st.Stat(ctx, key)
		switch {
		case err == nil && info.Size == size && info.Meta.SHA256 == p.SHA256:
			r.Skipped++
			r.SkippedBytes += size
			continue
		case err != nil && !errors.Is(err, store.ErrNotExist):
			return fmt.Errorf("publish package %s: %w", p.Name, err)
		}
		if err := st.Put(ctx, key, bytes.NewReader(p.Blob), size, meta(key, p.SHA256)); err != nil {
			return fmt.Errorf("publish package %s: %w", p.Name, err)
		}
		p.Uploaded = true
		r.Uploaded++
		r.UploadedBytes += size
	}

	// The release manifest is immutable: create it only if absent. If
	// another publisher created it meanwhile with the same bytes, that is
	// the same release.
	rkey := manifests.ReleasePath(o.App, o.Version)
	if !r.Reused {
		sha := sha256Hex(r.ManifestBytes)
		_, err := st.PutIf(ctx, rkey, bytes.NewReader(r.ManifestBytes), int64(len(r.ManifestBytes)), meta(rkey, sha), store.Condition{IfNoneMatch: true})
		if errors.Is(err, store.ErrPrecondition) {
			got, _, rerr := readCapped(ctx, st, rkey, manifests.MaxReleaseSize)
			if rerr != nil || !bytes.Equal(got, r.ManifestBytes) {
				return refuse(ErrImmutable, "release manifest %s appeared while publishing (someone else is releasing %s %s); re-run the release", rkey, o.App, o.Version)
			}
			err = nil
		}
		if err != nil {
			return fmt.Errorf("publish release manifest: %w", err)
		}
	}

	// The channel manifest goes last, on the condition that it is still
	// the one validate read.
	ckey := manifests.ChannelPath(o.App, o.Channel)
	cond := store.Condition{IfMatch: r.PreviousETag}
	if r.Previous == nil {
		cond = store.Condition{IfNoneMatch: true}
	}
	_, err := st.PutIf(ctx, ckey, bytes.NewReader(r.ChannelBytes), int64(len(r.ChannelBytes)), meta(ckey, sha256Hex(r.ChannelBytes)), cond)
	if errors.Is(err, store.ErrPrecondition) {
		return refuse(ErrConflict, "channel %s moved underneath you (someone else published); re-run the release", ckey)
	}
	if err != nil {
		return fmt.Errorf("publish channel manifest: %w", err)
	}
	return nil
}

// Compile-time checks that the steps are Steps.
var _ Step = publishStep{}
