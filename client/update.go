package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mpship/mpship/internal/archive"
	"github.com/mpship/mpship/manifests"
)

// staleTempAge is how old (by file modification time, the wall clock) an
// entry of an app's tmp directory must be before it is deleted as left over
// from a crash. Downloads still running are younger.
const staleTempAge = time.Hour

// check runs one update check of app on channel and returns its outcome,
// never nil. With first set, nothing is installed and a new version is
// installed directly instead of being made ready, and the request is never
// conditional. The network part runs without the app's lock; the lock is
// taken to read the state and again to commit.
func (r *Runtime) check(ctx context.Context, app, channel string, first bool) *CheckResult {
	m := &meter{}
	res := &CheckResult{App: app, Channel: channel, CheckedAt: r.opts.Now()}
	err := r.doCheck(ctx, app, channel, first, m, res)
	res.BytesDownloaded, res.Requests = m.bytes, m.requests
	if err != nil {
		res.Err = fmt.Errorf("check %s on channel %s: %w", app, channel, err)
		r.opts.Logger.Warn("update check failed", "app", app, "channel", channel, "code", ErrorCode(err), "err", err)
	} else {
		r.opts.Logger.Info("update check", "app", app, "channel", channel, "not_modified", res.NotModified,
			"latest", res.LatestVersion, "installed", res.InstalledVersion, "ready", res.ReadyVersion,
			"downloaded", res.Downloaded, "bytes", res.BytesDownloaded, "requests", res.Requests)
	}
	return res
}

func (r *Runtime) doCheck(ctx context.Context, app, channel string, first bool, m *meter, res *CheckResult) error {
	now := res.CheckedAt
	unlock, err := r.lock(ctx, app)
	if err != nil {
		return err
	}
	st, stateErr := r.loadState(app)
	unlock()
	if st == nil {
		return stateErr
	}
	cs := st.Channels[channel]
	installed := st.Installed
	if !r.hasVersion(app, installed) {
		installed = ""
	}
	res.InstalledVersion, res.ReadyVersion = installed, st.Ready

	// A conditional request only makes sense when the answer "not
	// modified" leaves something to launch.
	etag := ""
	if !first && installed != "" {
		etag = cs.ETag
	}
	key := manifests.ChannelPath(app, channel)
	data, newETag, err := r.fetch.fetchDoc(ctx, key, etag, manifests.MaxChannelSize, m)
	if errors.Is(err, errNotModified) {
		return r.commitNotModified(ctx, app, channel, etag, cs, now, res)
	}
	if err != nil {
		return err
	}
	// Verify before anything else is fetched: signatures and threshold,
	// app and channel, expiry and the rollback rule (manifests.VerifyChannel).
	c, err := manifests.VerifyChannel(data, r.opts.Trust, manifests.ChannelQuery{
		App: app, Channel: channel, LastSequence: cs.Sequence, Now: now,
	})
	if err != nil {
		return err
	}
	target := c.Current.Version
	res.Sequence, res.LatestVersion = c.Sequence, target
	res.HasUpdate = target != installed
	accepted := ChannelState{Sequence: c.Sequence, ETag: newETag, Version: target, ExpiresAt: c.ExpiresAt, CheckedAt: now}

	// A version already on disk (installed, ready, or the previous one a
	// rollback returns to) needs no download.
	stage := ""
	onDisk := (target == installed || target == st.Ready || target == st.Previous) && r.hasVersion(app, target)
	if !onDisk {
		rel, err := r.fetchRelease(ctx, app, c.Current, m)
		if err != nil {
			return err
		}
		if stage, err = r.stage(ctx, app, rel, m); err != nil {
			return err
		}
		defer os.RemoveAll(stage) // a no-op once renamed into place
		res.Downloaded = target
	}
	if err := r.commit(ctx, app, channel, target, stage, accepted, first, res); err != nil {
		return err
	}
	return stateErr
}

// commitNotModified records a 304: nothing changed since the manifest
// accepted last, provided that manifest has not expired meanwhile.
func (r *Runtime) commitNotModified(ctx context.Context, app, channel, etag string, cs ChannelState, now time.Time, res *CheckResult) error {
	unlock, err := r.lock(ctx, app)
	if err != nil {
		return err
	}
	defer unlock()
	st, stateErr := r.loadState(app)
	if st == nil {
		return stateErr
	}
	// An origin (or a man in the middle) answering 304 forever must not
	// keep a device on an expired manifest: the freeze attack TUF's expiry
	// rule exists for. The ETag is forgotten, so the next check fetches
	// the manifest and judges it afresh; its sequence is kept.
	if !now.Before(cs.ExpiresAt) {
		if cur := st.Channels[channel]; cur.ETag == etag {
			cur.ETag = ""
			st.Channels[channel] = cur
			if err := r.saveState(app, st); err != nil {
				return err
			}
		}
		return fmt.Errorf("%w: the origin answered 304 for channel manifest sequence %d, which expired at %s (now %s); the publisher must re-sign it",
			manifests.ErrExpired, cs.Sequence, cs.ExpiresAt.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	res.NotModified = true
	res.Sequence, res.LatestVersion = cs.Sequence, cs.Version
	if cur := st.Channels[channel]; cur.ETag == etag && cur.Sequence == cs.Sequence {
		cur.CheckedAt = now
		st.Channels[channel] = cur
		if err := r.saveState(app, st); err != nil {
			return err
		}
	}
	res.InstalledVersion, res.ReadyVersion = st.Installed, st.Ready
	res.HasUpdate = cs.Version != "" && cs.Version != st.Installed
	return stateErr
}

// fetchRelease downloads and verifies the release manifest ref pins, and
// checks it against the device's limits.
func (r *Runtime) fetchRelease(ctx context.Context, app string, ref manifests.ReleaseRef, m *meter) (*manifests.Release, error) {
	// The channel manifest pins the release manifest's size, so no more
	// than that (plus one byte, to notice a longer body) is read.
	data, _, err := r.fetch.fetchDoc(ctx, ref.Path, "", ref.Size, m)
	if err != nil {
		return nil, err
	}
	rel, err := manifests.VerifyRelease(data, r.opts.Trust, app, ref)
	if err != nil {
		return nil, err
	}
	lim := r.opts.Limits
	for _, p := range rel.Packages {
		what := fmt.Sprintf("release %s@%s package %s", app, rel.Version, p.Name)
		switch {
		case p.Size > lim.MaxPackageSize:
			return nil, fmt.Errorf("%s: %w: %d bytes compressed, over this device's limit of %d", what, manifests.ErrTooLarge, p.Size, lim.MaxPackageSize)
		case p.RawSize > lim.MaxRawSize:
			return nil, fmt.Errorf("%s: %w: %d bytes uncompressed, over this device's limit of %d", what, manifests.ErrTooLarge, p.RawSize, lim.MaxRawSize)
		case p.Files > lim.MaxFiles:
			return nil, fmt.Errorf("%s: %w: %d files, over this device's limit of %d", what, manifests.ErrTooLarge, p.Files, lim.MaxFiles)
		}
		if p.Name != manifests.MainPackage && !validRoot(p.Root) {
			return nil, fmt.Errorf("%s: %w: root %q is not a clean relative directory", what, manifests.ErrMalformed, p.Root)
		}
	}
	return rel, nil
}

// validRoot reports whether a subpackage root is a clean, relative,
// slash-separated path that stays inside the version directory.
func validRoot(root string) bool {
	return root != "" && path.Clean(root) == root && filepath.IsLocal(filepath.FromSlash(root)) &&
		!strings.ContainsAny(root, `\:`) && !strings.HasPrefix(root, "/")
}

// stage downloads, verifies and unpacks every package of rel into a new
// directory under the app's tmp directory, syncs it to disk, and returns
// it. The main package fills the directory; a subpackage fills its root
// inside it. On error nothing is left behind.
func (r *Runtime) stage(ctx context.Context, app string, rel *manifests.Release, m *meter) (_ string, err error) {
	tmp := filepath.Join(r.appDir(app), tmpDir)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return "", fmt.Errorf("stage %s@%s: %w: %w", app, rel.Version, ErrState, err)
	}
	dir, err := os.MkdirTemp(tmp, "stage-"+rel.Version+"-")
	if err != nil {
		return "", fmt.Errorf("stage %s@%s: %w: %w", app, rel.Version, ErrState, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	main := rel.Package(manifests.MainPackage)
	if err := r.installPackage(ctx, tmp, dir, main, m); err != nil {
		return "", fmt.Errorf("install %s@%s: %w", app, rel.Version, err)
	}
	for i := range rel.Packages {
		p := &rel.Packages[i]
		if p.Name == manifests.MainPackage {
			continue
		}
		if err := r.installPackage(ctx, tmp, filepath.Join(dir, filepath.FromSlash(p.Root)), p, m); err != nil {
			return "", fmt.Errorf("install %s@%s: %w", app, rel.Version, err)
		}
	}
	if err := syncTree(dir); err != nil {
		return "", fmt.Errorf("install %s@%s: %w: sync: %w", app, rel.Version, ErrState, err)
	}
	return dir, nil
}

// installPackage downloads one package blob into a temporary file in tmp,
// checks its signed size and sha256 before decompressing a byte of it, then
// decompresses it with a decoder bounded by the signed raw size, unpacks it
// into dst, and checks the raw size and sha256 of the tar.
func (r *Runtime) installPackage(ctx context.Context, tmp, dst string, p *manifests.Package, m *meter) error {
	f, err := os.CreateTemp(tmp, "blob-*")
	if err != nil {
		return fmt.Errorf("package %s: %w: %w", p.Name, ErrState, err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if err := r.fetch.fetchBlob(ctx, p.Path, p.Size, p.SHA256, f, m); err != nil {
		return fmt.Errorf("package %s: %w", p.Name, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("package %s: %w: %w", p.Name, ErrState, err)
	}
	dec, err := archive.NewDecompressor(f, p.RawSize)
	if err != nil {
		return fmt.Errorf("package %s: %w: %w", p.Name, ErrUnpack, err)
	}
	defer dec.Close()
	h := sha256.New()
	cw := &countWriter{}
	tee := io.TeeReader(dec, io.MultiWriter(h, cw))
	if _, err := archive.Unpack(tee, dst, archive.Limits{
		MaxFileSize: p.RawSize, MaxRawSize: p.RawSize, MaxFiles: r.opts.Limits.MaxFiles,
	}); err != nil {
		return fmt.Errorf("package %s: %w: %w", p.Name, ErrUnpack, err)
	}
	// The tar reader stops at the end-of-archive marker; hash the rest.
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return fmt.Errorf("package %s: %w: %w", p.Name, ErrUnpack, err)
	}
	if err := manifests.CheckSum(cw.n, hex.EncodeToString(h.Sum(nil)), p.RawSize, p.RawSHA256); err != nil {
		return fmt.Errorf("package %s uncompressed: %w", p.Name, err)
	}
	return nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// syncTree flushes every file and directory under dir to stable storage, so
// that once the state file names the version, its files survive a crash.
// Files are synced by a few goroutines at once: the file system commits
// concurrent syncs together, which makes a package of a thousand files
// several times faster to sync than one file at a time.
func syncTree(dir string) error {
	var g errgroup.Group
	g.SetLimit(syncWorkers)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			return nil
		}
		g.Go(func() error {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			err = f.Sync()
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			return err
		})
		return nil
	})
	if gerr := g.Wait(); err == nil {
		err = gerr
	}
	return err
}

// syncWorkers is how many files syncTree syncs at once.
const syncWorkers = 8

// commit makes the outcome of a check durable under the app's lock: it
// moves a staged version into place, records it as ready (or installed,
// for a first install), records the accepted channel manifest, and prunes
// what is no longer referenced. If another check accepted a newer manifest
// of this channel meanwhile, that one stands and this outcome is dropped.
func (r *Runtime) commit(ctx context.Context, app, channel, target, stage string, accepted ChannelState, first bool, res *CheckResult) error {
	unlock, err := r.lock(ctx, app)
	if err != nil {
		return err
	}
	defer unlock()
	st, stateErr := r.loadState(app)
	if st == nil {
		return stateErr
	}
	if cur := st.Channels[channel]; cur.Sequence > accepted.Sequence {
		r.opts.Logger.Info("check superseded by a newer one", "app", app, "channel", channel,
			"sequence", accepted.Sequence, "newer", cur.Sequence)
		res.InstalledVersion, res.ReadyVersion = st.Installed, st.Ready
		return stateErr
	}
	referenced := target == st.Installed || target == st.Previous || target == st.Ready
	switch {
	case stage != "" && !(referenced && r.hasVersion(app, target)):
		// An unreferenced directory of that name is debris from a crash
		// between rename and state write: replace it.
		vdir := r.versionDir(app, target)
		if err := os.RemoveAll(vdir); err != nil {
			return fmt.Errorf("install %s@%s: %w: %w", app, target, ErrState, err)
		}
		if err := os.MkdirAll(filepath.Dir(vdir), 0o755); err != nil {
			return fmt.Errorf("install %s@%s: %w: %w", app, target, ErrState, err)
		}
		if err := os.Rename(stage, vdir); err != nil {
			return fmt.Errorf("install %s@%s: %w: %w", app, target, ErrState, err)
		}
		if err := syncDir(filepath.Dir(vdir)); err != nil {
			return fmt.Errorf("install %s@%s: %w: %w", app, target, ErrState, err)
		}
	case !r.hasVersion(app, target):
		return fmt.Errorf("install %s@%s: %w: version directory vanished during the check; the next check downloads it", app, target, ErrState)
	}
	switch {
	case target == st.Installed && r.hasVersion(app, st.Installed):
		st.Ready = "" // the channel went back to what is installed
	case first || !r.hasVersion(app, st.Installed):
		st.Previous, st.Installed = st.Installed, target
		if st.Ready == target {
			st.Ready = ""
		}
	default:
		st.Ready = target
	}
	st.Channels[channel] = accepted
	st.Channel = channel
	if first {
		st.LastUsed = accepted.CheckedAt
	}
	r.tidy(app, st)
	if err := r.saveState(app, st); err != nil {
		return err
	}
	r.prune(app, st)
	res.InstalledVersion, res.ReadyVersion = st.Installed, st.Ready
	return stateErr
}

// tidy drops references to version directories that do not exist and
// duplicate references, so state never names what cannot be launched.
func (r *Runtime) tidy(app string, st *AppState) {
	if !r.hasVersion(app, st.Installed) {
		st.Installed = ""
	}
	if !r.hasVersion(app, st.Previous) || st.Previous == st.Installed {
		st.Previous = ""
	}
	if !r.hasVersion(app, st.Ready) || st.Ready == st.Installed {
		st.Ready = ""
	}
}

// prune deletes version directories that st does not reference, entries of
// the tmp directory older than staleTempAge, and temporary state files left
// by a crash. The caller holds the app's lock and has saved st. Failures
// are logged: they waste space but break nothing.
func (r *Runtime) prune(app string, st *AppState) {
	keep := map[string]bool{st.Installed: true, st.Previous: true, st.Ready: true}
	vroot := filepath.Join(r.appDir(app), versionsDir)
	entries, _ := os.ReadDir(vroot)
	for _, e := range entries {
		if !keep[e.Name()] {
			if err := os.RemoveAll(filepath.Join(vroot, e.Name())); err != nil {
				r.opts.Logger.Warn("prune old version", "app", app, "version", e.Name(), "err", err)
			}
		}
	}
	tmp := filepath.Join(r.appDir(app), tmpDir)
	entries, _ = os.ReadDir(tmp)
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > staleTempAge {
			if err := os.RemoveAll(filepath.Join(tmp, e.Name())); err != nil {
				r.opts.Logger.Warn("prune stale download", "app", app, "name", e.Name(), "err", err)
			}
		}
	}
	removeStaleStateTemps(r.appDir(app))
}

var _ io.Writer = (*countWriter)(nil)
