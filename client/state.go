package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mpship/mpship/manifests"
)

// stateSchemaVersion is the version of state.json this package writes.
const stateSchemaVersion = 1

// AppState is what a device remembers about one app, stored in
// StateDir/apps/<app>/state.json. A version named here has its files under
// StateDir/apps/<app>/versions/<version>/; no other version directory is
// kept.
type AppState struct {
	// SchemaVersion is the version of this file's format.
	SchemaVersion int `json:"schema_version"`
	// App is the app id.
	App string `json:"app"`
	// Channel is the channel of the last launch.
	Channel string `json:"channel,omitempty"`
	// Installed is the version launched by cold starts; "" when nothing is
	// installed.
	Installed string `json:"installed,omitempty"`
	// Previous is the version Installed replaced, kept on disk so a
	// rollback to it needs no download.
	Previous string `json:"previous,omitempty"`
	// Ready is a verified, unpacked version that the next cold start
	// promotes to Installed; "" when there is none.
	Ready string `json:"ready,omitempty"`
	// LastUsed is when the app was last launched, by the Runtime's clock.
	LastUsed time.Time `json:"last_used,omitzero"`
	// Marked is the version a check found but could not launch (rule 2: a
	// periodic check; or a check whose download was deferred or failed
	// for a transient reason): the next cold start is synchronous. It is
	// cleared when that version, or the channel's newest, is installed.
	Marked string `json:"marked,omitempty"`
	// MarkedAt is when Marked was set, by the Runtime's clock.
	MarkedAt time.Time `json:"marked_at,omitzero"`
	// Channels holds what was last accepted from each channel.
	Channels map[string]ChannelState `json:"channels,omitempty"`
}

// ChannelState is what a device remembers about one channel of an app.
type ChannelState struct {
	// Sequence is the highest channel manifest sequence accepted: a lower
	// one is refused as a rollback.
	Sequence uint64 `json:"sequence"`
	// ETag is the ETag of the accepted manifest, sent as If-None-Match.
	ETag string `json:"etag,omitempty"`
	// Version is the version the accepted manifest names.
	Version string `json:"version,omitempty"`
	// Release is the accepted manifest's reference to the release
	// manifest of Version, so that an update can be downloaded after a
	// 304 (when an earlier check deferred it).
	Release manifests.ReleaseRef `json:"release,omitzero"`
	// ExpiresAt is when the accepted manifest expires. A 304 answer after
	// that is refused as expired, so an origin cannot freeze a device on a
	// stale manifest by answering "not modified" forever.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// CheckedAt is when the origin last answered a check (200 or 304) that
	// was accepted, by the Runtime's clock.
	CheckedAt time.Time `json:"checked_at,omitzero"`
}

// clone returns a deep copy of s.
func (s *AppState) clone() *AppState {
	c := *s
	c.Channels = make(map[string]ChannelState, len(s.Channels))
	for k, v := range s.Channels {
		c.Channels[k] = v
	}
	return &c
}

// validate checks what the Runtime relies on: the app, and version names
// that are safe to use as directory names.
func (s *AppState) validate(app string) error {
	if s.SchemaVersion < 1 || s.SchemaVersion > stateSchemaVersion {
		return fmt.Errorf("schema_version %d not supported (this build reads 1 to %d)", s.SchemaVersion, stateSchemaVersion)
	}
	if s.App != app {
		return fmt.Errorf("app %q, want %q", s.App, app)
	}
	for _, v := range []string{s.Installed, s.Previous, s.Ready, s.Marked} {
		if v != "" {
			if err := manifests.ValidateVersion(v); err != nil {
				return err
			}
		}
	}
	for ch := range s.Channels {
		if err := manifests.ValidateChannel(ch); err != nil {
			return err
		}
	}
	return nil
}

// The layout of the state directory.
const (
	stateFile   = "state.json"
	lockFile    = "lock"
	versionsDir = "versions"
	tmpDir      = "tmp"
)

func (r *Runtime) appDir(app string) string {
	return filepath.Join(r.opts.StateDir, "apps", app)
}

func (r *Runtime) versionDir(app, version string) string {
	return filepath.Join(r.appDir(app), versionsDir, version)
}

// hasVersion reports whether version's directory exists. The caller holds
// the app's lock: a directory seen once is remembered while the state file
// is the one this Runtime last read or wrote (nothing else then installed
// or pruned anything), which saves a stat per reference on every check.
func (r *Runtime) hasVersion(app, version string) bool {
	if version == "" {
		return false
	}
	s := r.slot(app)
	if s.info != nil && s.versions[version] {
		return true
	}
	ok := r.statVersion(app, version)
	if ok && s.info != nil {
		if s.versions == nil {
			s.versions = map[string]bool{}
		}
		s.versions[version] = true
	}
	return ok
}

// statVersion reports whether version's directory exists, asking the file
// system. Any goroutine may call it.
func (r *Runtime) statVersion(app, version string) bool {
	if version == "" {
		return false
	}
	fi, err := os.Stat(r.versionDir(app, version))
	return err == nil && fi.IsDir()
}

// forgetVersion drops version from what hasVersion remembers. The caller
// holds the app's lock.
func (r *Runtime) forgetVersion(app, version string) {
	delete(r.slot(app).versions, version)
}

// loadState reads app's state. A missing file is a fresh state. A file that
// cannot be parsed or validated is moved aside to state.json.corrupt and a
// fresh state is returned together with an ErrState error saying so: the
// device keeps working (it reinstalls) and the problem is reported. The
// caller holds the app's lock.
func (r *Runtime) loadState(app string) (*AppState, error) {
	fresh := &AppState{SchemaVersion: stateSchemaVersion, App: app, Channels: map[string]ChannelState{}}
	p := filepath.Join(r.appDir(app), stateFile)
	slot := r.slot(app)
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		slot.state, slot.info, slot.versions = nil, nil, nil
		return fresh, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state %s: %w: %w", p, ErrState, err)
	}
	if slot.info != nil && os.SameFile(slot.info, fi) && slot.info.Size() == fi.Size() && slot.info.ModTime().Equal(fi.ModTime()) {
		return slot.state.clone(), nil
	}
	// Another Runtime or process wrote it: what was known is stale.
	slot.state, slot.info, slot.versions = nil, nil, nil
	data, fi, err := readFileInfo(p)
	if errors.Is(err, fs.ErrNotExist) {
		return fresh, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state %s: %w: %w", p, ErrState, err)
	}
	var st AppState
	err = json.Unmarshal(data, &st)
	if err == nil {
		err = st.validate(app)
	}
	if err != nil {
		if mvErr := os.Rename(p, p+".corrupt"); mvErr != nil {
			return nil, fmt.Errorf("read state %s: %w: corrupt (%v) and cannot be moved aside: %w", p, ErrState, err, mvErr)
		}
		r.opts.Logger.Warn("state file corrupt; starting over", "app", app, "path", p, "err", err)
		return fresh, fmt.Errorf("read state %s: %w: corrupt, moved to %s and reset (the app is reinstalled): %v", p, ErrState, filepath.Base(p)+".corrupt", err)
	}
	if st.Channels == nil {
		st.Channels = map[string]ChannelState{}
	}
	slot.state, slot.info = st.clone(), fi
	return &st, nil
}

// readFileInfo reads the file at p and returns its bytes and the FileInfo
// of the very file read.
func readFileInfo(p string) ([]byte, os.FileInfo, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	data, err := io.ReadAll(f)
	return data, fi, err
}

// readState reads the state file in appDir without changing anything: a
// missing file is a fresh state, a file that cannot be parsed or validated
// an ErrState error.
func readState(appDir, app string) (*AppState, error) {
	p := filepath.Join(appDir, stateFile)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return &AppState{SchemaVersion: stateSchemaVersion, App: app, Channels: map[string]ChannelState{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state %s: %w: %w", p, ErrState, err)
	}
	var st AppState
	err = json.Unmarshal(data, &st)
	if err == nil {
		err = st.validate(app)
	}
	if err != nil {
		return nil, fmt.Errorf("read state %s: %w: corrupt: %v", p, ErrState, err)
	}
	if st.Channels == nil {
		st.Channels = map[string]ChannelState{}
	}
	return &st, nil
}

// saveState writes app's state atomically. The caller holds the app's lock.
func (r *Runtime) saveState(app string, st *AppState) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("write state of %s: %w: %w", app, ErrState, err)
	}
	slot := r.slot(app)
	slot.state, slot.info = nil, nil
	fi, err := writeFileAtomic(r.appDir(app), stateFile, append(data, '\n'), !r.opts.NoSync)
	if err != nil {
		return fmt.Errorf("write state of %s: %w: %w", app, ErrState, err)
	}
	slot.state, slot.info = st.clone(), fi
	return nil
}

// writeFileAtomic replaces dir/name with data so that a reader, or the
// file system after a crash, sees either the old or the new content in
// full: the bytes go to a temporary file in dir, which is synced, renamed
// over name, and then dir is synced so the rename itself is durable.
// Temporary files are named ".<name>.*.tmp"; one left behind by a crash is
// never read, and removeStaleStateTemps deletes it. Without sync, the
// replacement is still atomic for readers but not durable across a power
// loss (Options.NoSync).
//
// It returns the FileInfo of the file written, now at dir/name.
func writeFileAtomic(dir, name string, data []byte, sync bool) (_ os.FileInfo, err error) {
	f, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return nil, err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return nil, err
	}
	if sync {
		if err = f.Sync(); err != nil {
			return nil, err
		}
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err = f.Close(); err != nil {
		return nil, err
	}
	if err = os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return nil, err
	}
	if sync {
		if err = syncDir(dir); err != nil {
			return nil, err
		}
	}
	return fi, nil
}

// removeStaleStateTemps deletes temporary state files left by a crash. The
// caller holds the app's lock, so no write is in progress.
func removeStaleStateTemps(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "."+stateFile+".") && strings.HasSuffix(n, ".tmp") {
			os.Remove(filepath.Join(dir, n))
		}
	}
}
