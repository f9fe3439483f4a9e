package generator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/mpship/mpship/internal/httpmeta"
	"github.com/mpship/mpship/manifests"
	"github.com/mpship/mpship/store"
)

// Defaults and limits of Options.Parallelism.
const (
	// DefaultParallelism is how many blobs are checked and uploaded at
	// once by default.
	DefaultParallelism = 4
	// MaxParallelism is the largest Options.Parallelism accepted.
	MaxParallelism = 64
)

// ProgressEvent says what a Progress report is about.
type ProgressEvent string

// Progress events, in the order a blob goes through them.
const (
	// ProgressSkipped: the blob is already in the store with the same
	// sha256 and is not uploaded.
	ProgressSkipped ProgressEvent = "skipped"
	// ProgressStarted: the blob's upload started.
	ProgressStarted ProgressEvent = "started"
	// ProgressSent: the store read more of the blob's bytes.
	ProgressSent ProgressEvent = "sent"
	// ProgressUploaded: the blob's upload finished.
	ProgressUploaded ProgressEvent = "uploaded"
)

// Progress is a snapshot of the publish step's blob uploads, passed to
// Options.Progress. It is plain data.
type Progress struct {
	// Event is what just happened, to the blob at Key.
	Event ProgressEvent
	Key   string
	// Blobs is the number of distinct blobs in the release and Done how
	// many of them are finished (skipped or uploaded).
	Blobs, Done int
	// Bytes is the size of the blobs being uploaded (skipped ones left
	// out, once known to be skipped) and Sent how much of them the store
	// has read so far.
	Bytes, Sent int64
}

// blob is one content-addressed object to publish, and the packages it is
// the bytes of (two packages with the same bytes share one blob).
type blob struct {
	key, sha string
	data     []byte
	what     string // for messages: "package main"
	pkgs     []*Package
}

// blobs lists the distinct blobs of the release, in package order. (Steps
// that add other blobs, such as deltas, add them here.)
func (r *Release) blobs() []*blob {
	var out []*blob
	byKey := map[string]*blob{}
	for _, p := range r.Packages {
		key := manifests.BlobPath(p.SHA256)
		if b, ok := byKey[key]; ok {
			b.pkgs = append(b.pkgs, p)
			continue
		}
		b := &blob{key: key, sha: p.SHA256, data: p.Blob, what: "package " + p.Name, pkgs: []*Package{p}}
		byKey[key] = b
		out = append(out, b)
	}
	for _, p := range r.Packages {
		for _, d := range p.Deltas {
			if _, ok := byKey[d.Path]; !ok {
				b := &blob{key: d.Path, sha: d.SHA256, data: d.Blob, what: "package " + p.Name + " delta from " + d.FromVersion}
				byKey[d.Path] = b
				out = append(out, b)
			}
		}
	}
	return out
}

// publishStep writes the blobs (Options.Parallelism at a time), then, once
// every one of them is in the store, the release manifest, then the channel
// manifest last, so that every object the channel manifest reaches is in
// the store before it is.
type publishStep struct{}

func (publishStep) String() string { return "publish" }

func (publishStep) Run(ctx context.Context, r *Release) error {
	o := &r.Options
	st := o.Store
	if err := publishBlobs(ctx, r); err != nil {
		return err
	}

	// The release manifest is immutable: create it only if absent. If
	// another publisher created it meanwhile with the same bytes, that is
	// the same release.
	rkey := manifests.ReleasePath(o.App, o.Version)
	if !r.Reused {
		_, err := st.PutIf(ctx, rkey, bytes.NewReader(r.ManifestBytes), int64(len(r.ManifestBytes)), objectMeta(o, rkey, sha256Hex(r.ManifestBytes)), store.Condition{IfNoneMatch: true})
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
	// the one validate read: If-Match its ETag, or If-None-Match * for a
	// channel's first release.
	ckey := manifests.ChannelPath(o.App, o.Channel)
	cond := store.Condition{IfMatch: r.PreviousETag}
	if r.Previous == nil {
		cond = store.Condition{IfNoneMatch: true}
	}
	_, err := st.PutIf(ctx, ckey, bytes.NewReader(r.ChannelBytes), int64(len(r.ChannelBytes)), objectMeta(o, ckey, sha256Hex(r.ChannelBytes)), cond)
	if errors.Is(err, store.ErrPrecondition) {
		return refuse(ErrConflict, "channel %s moved underneath you (someone else published); re-run the release", ckey)
	}
	if err != nil {
		return fmt.Errorf("publish channel manifest: %w", err)
	}
	return nil
}

// objectMeta is the metadata stored with key: the Content-Type and
// Cache-Control the origin would send, and the content's sha256.
func objectMeta(o *Options, key, sha string) store.Meta {
	return store.Meta{
		ContentType:  httpmeta.ContentType(key),
		CacheControl: httpmeta.CacheControl(key, o.ManifestMaxAge),
		SHA256:       sha,
	}
}

// publishBlobs writes the blobs that are not already in the store,
// Options.Parallelism at a time. The first failure cancels the others and
// is returned; blobs written before it stay (they are content-addressed,
// and the next attempt skips them).
func publishBlobs(ctx context.Context, r *Release) error {
	o := &r.Options
	blobs := r.blobs()
	tr := &tracker{fn: o.Progress, p: Progress{Blobs: len(blobs)}}
	for _, b := range blobs {
		tr.p.Bytes += int64(len(b.data))
	}
	n := o.Parallelism
	if n <= 0 {
		n = DefaultParallelism
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(n)
	for _, b := range blobs {
		g.Go(func() error {
			uploaded, err := publishBlob(gctx, o, b, tr)
			if err != nil {
				return fmt.Errorf("publish %s: %w", b.what, err)
			}
			size := int64(len(b.data))
			tr.mu.Lock()
			defer tr.mu.Unlock()
			if uploaded {
				r.Uploaded++
				r.UploadedBytes += size
				for _, p := range b.pkgs {
					p.Uploaded = true
				}
			} else {
				r.Skipped++
				r.SkippedBytes += size
			}
			return nil
		})
	}
	return g.Wait()
}

// publishBlob writes one blob unless the store already holds it, and
// reports whether it wrote it.
func publishBlob(ctx context.Context, o *Options, b *blob, tr *tracker) (bool, error) {
	st := o.Store
	size := int64(len(b.data))
	// Content-addressed: an object under the blob's key with the right size
	// and sha256 is the same bytes. One with other bytes (or no recorded
	// sha256) is damage, or a foreign upload, and is overwritten.
	info, err := st.Stat(ctx, b.key)
	switch {
	case err == nil && info.Size == size && info.Meta.SHA256 == b.sha:
		tr.skipped(b.key, size)
		return false, nil
	case err != nil && !errors.Is(err, store.ErrNotExist):
		return false, err
	}
	tr.report(ProgressStarted, b.key, 0)
	body := &progressReader{r: bytes.NewReader(b.data), key: b.key, tr: tr}
	if err := st.Put(ctx, b.key, body, size, objectMeta(o, b.key, b.sha)); err != nil {
		return false, err
	}
	tr.uploaded(b.key, size-body.max)
	return true, nil
}

// tracker keeps the running Progress and calls the caller's function with
// it, one call at a time. Its mutex also guards the Release's counters.
type tracker struct {
	mu sync.Mutex
	fn func(Progress)
	p  Progress
}

// report adds sent bytes and passes a snapshot on.
func (t *tracker) report(ev ProgressEvent, key string, sent int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.p.Sent += sent
	t.emit(ev, key)
}

func (t *tracker) skipped(key string, size int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.p.Done++
	t.p.Bytes -= size
	t.emit(ProgressSkipped, key)
}

// uploaded finishes a blob; rest is what the store did not read through
// the progress reader (a backend may send a body it buffered itself).
func (t *tracker) uploaded(key string, rest int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.p.Done++
	t.p.Sent += rest
	t.emit(ProgressUploaded, key)
}

func (t *tracker) emit(ev ProgressEvent, key string) {
	if t.fn == nil {
		return
	}
	p := t.p
	p.Event, p.Key = ev, key
	t.fn(p)
}

// progressReader reports how far into a blob the store has read. It seeks
// like the bytes.Reader it wraps, so a backend or decorator may rewind it
// for a retry; bytes read again are not counted again.
type progressReader struct {
	r   *bytes.Reader
	key string
	tr  *tracker
	max int64 // furthest offset reached
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		pos := p.r.Size() - int64(p.r.Len())
		if pos > p.max {
			p.tr.report(ProgressSent, p.key, pos-p.max)
			p.max = pos
		}
	}
	return n, err
}

func (p *progressReader) Seek(offset int64, whence int) (int64, error) {
	return p.r.Seek(offset, whence)
}

// Compile-time checks.
var (
	_ Step          = publishStep{}
	_ io.ReadSeeker = (*progressReader)(nil)
)
