package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/mpship/mpship/manifests"
)

// staleTempAge is how old (by file modification time, the wall clock) an
// entry of an app's tmp directory must be before it is deleted as left over
// from a crash. Downloads still running are younger. Partial downloads
// kept for resuming (rule 8) live longer: partialMaxAge.
const staleTempAge = time.Hour

// checkOpts qualify one check.
type checkOpts struct {
	// first: nothing is installed, so a new version is installed directly
	// instead of being made ready, and the request is never conditional.
	first bool
	// download: the check may download an update; otherwise an update it
	// finds is recorded, the app is marked, and Deferred is set.
	download bool
	// periodic: a periodic check (rule 2); an update it finds marks the
	// app, so that its next launch is synchronous.
	periodic bool
	// sess receives the update-manager events; nil for none.
	sess *session
}

// check runs one update check of app on channel and returns its outcome,
// never nil. The network part runs without the app's lock; the lock is
// taken to read the state and again to commit.
func (r *Runtime) check(ctx context.Context, app, channel string, co checkOpts) *CheckResult {
	m := &meter{}
	res := &CheckResult{App: app, Channel: channel, CheckedAt: r.opts.Now()}
	err := r.doCheck(ctx, app, channel, co, m, res)
	res.BytesDownloaded, res.Requests = m.bytes, m.requests
	res.PackageBytes, res.Route = m.packageBytes, summarizeRoute(m.routes)
	if err != nil {
		res.Err = fmt.Errorf("check %s on channel %s: %w", app, channel, err)
		r.opts.Logger.Warn("update check failed", "app", app, "channel", channel, "code", ErrorCode(err), "err", err)
	} else {
		r.opts.Logger.Info("update check", "app", app, "channel", channel, "not_modified", res.NotModified,
			"latest", res.LatestVersion, "installed", res.InstalledVersion, "ready", res.ReadyVersion,
			"downloaded", res.Downloaded, "deferred", res.Deferred, "marked", res.Marked,
			"bytes", res.BytesDownloaded, "requests", res.Requests)
	}
	co.sess.finish(res)
	return res
}

func (r *Runtime) doCheck(ctx context.Context, app, channel string, co checkOpts, m *meter, res *CheckResult) error {
	now := res.CheckedAt
	unlock, err := r.lock(ctx, app)
	if err != nil {
		return err
	}
	st, stateErr := r.loadState(app)
	if st == nil {
		unlock()
		return stateErr
	}
	installed := st.Installed
	if !r.hasVersion(app, installed) {
		installed = ""
	}
	unlock()
	cs := st.Channels[channel]
	res.InstalledVersion, res.ReadyVersion = installed, st.Ready

	// A conditional request only makes sense when the answer "not
	// modified" leaves something to launch.
	etag := ""
	if !co.first && installed != "" {
		etag = cs.ETag
	}
	accepted, err := r.fetchChannel(ctx, app, channel, etag, cs, now, m)
	if errors.Is(err, errNotModified) {
		res.NotModified = true
		accepted = cs
		accepted.CheckedAt = now
	} else if err != nil {
		return err
	}
	target := accepted.Version
	res.Sequence, res.LatestVersion = accepted.Sequence, target
	res.HasUpdate = target != installed
	co.sess.checkedUpdate(res.HasUpdate)

	// A version already on disk (installed, ready, or the previous one a
	// rollback returns to) needs no download.
	stage := ""
	onDisk := (target == installed || target == st.Ready || target == st.Previous) && r.statVersion(app, target)
	if !onDisk {
		if !co.download {
			res.Deferred = true
			return errors.Join(r.commitDeferred(ctx, app, channel, accepted, now, res), stateErr)
		}
		ref := accepted.Release
		if ref.Path == "" {
			// A 304 for a manifest accepted by a build that did not keep
			// the reference: fetch the manifest in full.
			if accepted, err = r.fetchChannel(ctx, app, channel, "", cs, now, m); err != nil {
				return err
			}
			ref, target = accepted.Release, accepted.Version
			res.NotModified = false
			res.Sequence, res.LatestVersion = accepted.Sequence, target
		}
		rel, err := r.fetchRelease(ctx, app, ref, m)
		if err == nil {
			stage, err = r.stage(ctx, app, rel, m)
		}
		if err != nil {
			if !co.first && IsTransient(err) {
				// Try again at the next launch, synchronously.
				if merr := r.mark(ctx, app, target, now, res); merr != nil {
					r.opts.Logger.Warn("mark", "app", app, "err", merr)
				}
			}
			return err
		}
		defer os.RemoveAll(stage) // a no-op once renamed into place
		res.Downloaded = target
	}
	if err := r.commit(ctx, app, channel, target, stage, accepted, co, res); err != nil {
		return err
	}
	return stateErr
}

// fetchChannel fetches and verifies app's channel manifest, conditionally
// on etag when it is not empty, and returns what to remember of it. It
// returns errNotModified for a 304, provided that the manifest accepted
// last (cs) has not expired meanwhile.
func (r *Runtime) fetchChannel(ctx context.Context, app, channel, etag string, cs ChannelState, now time.Time, m *meter) (ChannelState, error) {
	key := manifests.ChannelPath(app, channel)
	data, newETag, err := r.fetch.fetchDoc(ctx, key, etag, manifests.MaxChannelSize, m)
	if errors.Is(err, errNotModified) {
		// An origin (or a man in the middle) answering 304 forever must
		// not keep a device on an expired manifest: the freeze attack
		// TUF's expiry rule exists for. The ETag is forgotten, so the
		// next check fetches the manifest and judges it afresh; its
		// sequence is kept.
		if !now.Before(cs.ExpiresAt) {
			if ferr := r.forgetETag(ctx, app, channel, etag); ferr != nil {
				return ChannelState{}, ferr
			}
			return ChannelState{}, fmt.Errorf("%w: the origin answered 304 for channel manifest sequence %d, which expired at %s (now %s); the publisher must re-sign it",
				manifests.ErrExpired, cs.Sequence, cs.ExpiresAt.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		}
		return ChannelState{}, errNotModified
	}
	if err != nil {
		return ChannelState{}, err
	}
	// Verify before anything else is fetched: signatures and threshold,
	// app and channel, expiry and the rollback rule (manifests.VerifyChannel).
	c, err := manifests.VerifyChannel(data, r.opts.Trust, manifests.ChannelQuery{
		App: app, Channel: channel, LastSequence: cs.Sequence, Now: now,
	})
	if err != nil {
		return ChannelState{}, err
	}
	return ChannelState{
		Sequence: c.Sequence, ETag: newETag, Version: c.Current.Version, Release: c.Current,
		ExpiresAt: c.ExpiresAt, CheckedAt: now,
	}, nil
}

// forgetETag drops the remembered ETag of app's channel if it is still etag.
func (r *Runtime) forgetETag(ctx context.Context, app, channel, etag string) error {
	unlock, err := r.lock(ctx, app)
	if err != nil {
		return err
	}
	defer unlock()
	st, stateErr := r.loadState(app)
	if st == nil {
		return stateErr
	}
	if cur := st.Channels[channel]; cur.ETag == etag {
		cur.ETag = ""
		st.Channels[channel] = cur
		return r.saveState(app, st)
	}
	return nil
}

// commitDeferred records a check that found an update it may not download:
// the accepted manifest, so the next check is a conditional GET that can
// still download it after a 304, and a mark, so the next launch on a good
// network is synchronous.
func (r *Runtime) commitDeferred(ctx context.Context, app, channel string, accepted ChannelState, now time.Time, res *CheckResult) error {
	return r.commitState(ctx, app, channel, accepted, res, func(st *AppState) error {
		st.Channels[channel] = accepted
		if accepted.Version != st.Installed && st.Installed != "" {
			st.Marked, st.MarkedAt = accepted.Version, now
			res.Marked = true
		}
		return r.saveState(app, st)
	})
}

// commitState runs fn on app's state under the app's lock, to record the
// outcome of a check that accepted the channel manifest accepted; fn saves
// what it changes. If another check accepted a newer manifest of this
// channel meanwhile, that one stands and fn is not called. Unless fn fails,
// res reports the versions the state holds afterwards, and the error is the
// one loadState reported for a state it had to repair, if any.
func (r *Runtime) commitState(ctx context.Context, app, channel string, accepted ChannelState, res *CheckResult, fn func(st *AppState) error) error {
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
	} else if err := fn(st); err != nil {
		return err
	}
	res.InstalledVersion, res.ReadyVersion = st.Installed, st.Ready
	return stateErr
}

// mark records that app's next launch should be synchronous, to get
// version.
func (r *Runtime) mark(ctx context.Context, app, version string, now time.Time, res *CheckResult) error {
	unlock, err := r.lock(ctx, app)
	if err != nil {
		return err
	}
	defer unlock()
	st, stateErr := r.loadState(app)
	if st == nil {
		return stateErr
	}
	if st.Installed == "" || st.Installed == version || st.Ready == version {
		return nil
	}
	st.Marked, st.MarkedAt = version, now
	if err := r.saveState(app, st); err != nil {
		return err
	}
	res.Marked = true
	return nil
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

// commit makes the outcome of a check durable under the app's lock: it
// moves a staged version into place, records it as ready (or installed,
// for a first install), records the accepted channel manifest, and prunes
// what is no longer referenced. If another check accepted a newer manifest
// of this channel meanwhile, that one stands and this outcome is dropped.
func (r *Runtime) commit(ctx context.Context, app, channel, target, stage string, accepted ChannelState, co checkOpts, res *CheckResult) error {
	first := co.first
	return r.commitState(ctx, app, channel, accepted, res, func(st *AppState) error {
		versionsBefore := [3]string{st.Installed, st.Previous, st.Ready}
		referenced := target == st.Installed || target == st.Previous || target == st.Ready
		switch {
		case stage != "" && !(referenced && r.hasVersion(app, target)):
			// An unreferenced directory of that name is debris from a crash
			// between rename and state write: replace it.
			vdir := r.versionDir(app, target)
			r.forgetVersion(app, target)
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
		switch {
		case target == st.Installed:
			// Nothing to launch synchronously for.
			st.Marked, st.MarkedAt = "", time.Time{}
		case co.periodic || st.Marked != "":
			// Rule 2: the next launch is synchronous; it starts the version
			// made ready here at once. An older mark moves to the newest.
			st.Marked, st.MarkedAt = target, accepted.CheckedAt
			res.Marked = true
		}
		r.tidy(app, st)
		if err := r.saveState(app, st); err != nil {
			return err
		}
		if stage != "" || versionsBefore != [3]string{st.Installed, st.Previous, st.Ready} {
			// Only a change of versions leaves something to delete; a check
			// that changed nothing (a 304) costs no directory scans.
			r.prune(app, st)
		}
		return nil
	})
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
// the tmp directory older than staleTempAge (partial downloads kept for
// resuming: partialMaxAge), and temporary state files left by a crash. The caller holds the app's lock and has saved st. Failures
// are logged: they waste space but break nothing.
func (r *Runtime) prune(app string, st *AppState) {
	keep := map[string]bool{st.Installed: true, st.Previous: true, st.Ready: true}
	vroot := filepath.Join(r.appDir(app), versionsDir)
	entries, _ := os.ReadDir(vroot)
	for _, e := range entries {
		if !keep[e.Name()] {
			r.forgetVersion(app, e.Name())
			if err := os.RemoveAll(filepath.Join(vroot, e.Name())); err != nil {
				r.opts.Logger.Warn("prune old version", "app", app, "version", e.Name(), "err", err)
			}
		}
	}
	tmp := filepath.Join(r.appDir(app), tmpDir)
	entries, _ = os.ReadDir(tmp)
	for _, e := range entries {
		maxAge := staleTempAge
		if isPartial(e.Name()) {
			maxAge = partialMaxAge
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > maxAge {
			if err := os.RemoveAll(filepath.Join(tmp, e.Name())); err != nil {
				r.opts.Logger.Warn("prune stale download", "app", app, "name", e.Name(), "err", err)
			}
		}
	}
	removeStaleStateTemps(r.appDir(app))
}
