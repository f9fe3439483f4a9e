package client

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mpship/mpship/manifests"
)

// FuzzLoadState: whatever bytes state.json holds, loading it never panics,
// and either yields a state whose versions are safe directory names or
// resets it with an ErrState error.
func FuzzLoadState(f *testing.F) {
	const app = "com.example.fuzz"
	for _, s := range []string{
		`{"schema_version":1,"app":"com.example.fuzz","channel":"stable","installed":"1.0.0","previous":"0.9.0","ready":"1.1.0","last_used":"2030-01-01T00:00:00Z","channels":{"stable":{"sequence":3,"etag":"\"abc\"","version":"1.1.0","expires_at":"2030-02-01T00:00:00Z","checked_at":"2030-01-01T00:00:00Z"}}}`,
		`{"schema_version":1,"app":"com.example.fuzz"}`,
		`{"schema_version":1,"app":"com.example.fuzz","installed":"../x"}`,
		`{"schema_version":1,"app":"com.example.fuzz","channels":{"../x":{}}}`,
		`{"schema_version":1,"app":"com.example.fuzz","ins`,
		`null`,
		``,
	} {
		f.Add([]byte(s))
	}
	pub, _, err := manifests.GenerateKey(nil)
	if err != nil {
		f.Fatal(err)
	}
	trust, err := manifests.NewTrust(1, pub)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		r, err := New(Options{Origin: "http://127.0.0.1:1/", Trust: trust, StateDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if err := os.MkdirAll(r.appDir(app), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(r.appDir(app), stateFile), data, 0o644); err != nil {
			t.Fatal(err)
		}
		st, err := r.loadState(app)
		if st == nil {
			t.Fatalf("got no state (err %v), want a state or a reset", err)
		}
		if err != nil && ErrorCode(err) != "state" {
			t.Fatalf("got error code %q, want state", ErrorCode(err))
		}
		if err := st.validate(app); err != nil {
			t.Fatalf("loaded state does not validate: %v", err)
		}
		for _, v := range []string{st.Installed, st.Previous, st.Ready} {
			if v != "" && !filepath.IsLocal(v) {
				t.Fatalf("version %q is not a local name", v)
			}
		}
	})
}
