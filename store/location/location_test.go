package location

import (
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mpship/mpship/store"
	"github.com/mpship/mpship/store/local"
)

func TestOpen(t *testing.T) {
	base := t.TempDir()
	odd := filepath.Join(base, "with space#and?marks")
	if err := os.Mkdir(odd, 0o755); err != nil {
		t.Fatal(err)
	}
	oddURL := (&url.URL{Scheme: "file", Path: filepath.ToSlash(odd)}).String()
	cases := []struct {
		name    string
		raw     string
		opts    Options
		wantDir string // the local directory opened; "" when an error is wanted
		wantErr string // substring of the error
	}{
		{name: "plain path", raw: base, wantDir: base},
		{name: "file URL", raw: "file://" + filepath.ToSlash(base), wantDir: base},
		{name: "file URL with localhost", raw: "file://localhost" + filepath.ToSlash(base), wantDir: base},
		{name: "FILE scheme in capitals", raw: "FILE://" + filepath.ToSlash(base), wantDir: base},
		{name: "percent-encoded file URL", raw: oddURL, wantDir: odd},
		{name: "missing dir", raw: filepath.Join(base, "nope"), wantErr: "does not exist; create it"},
		{name: "missing dir with Create", raw: filepath.Join(base, "made"), opts: Options{Create: true}, wantDir: filepath.Join(base, "made")},
		{name: "missing file URL with Create", raw: "file://" + filepath.ToSlash(filepath.Join(base, "made2")), opts: Options{Create: true}, wantDir: filepath.Join(base, "made2")},
		{name: "empty", raw: "", wantErr: "empty location"},
		{name: "empty file URL", raw: "file://", wantErr: "no directory after file://"},
		{name: "file URL with query", raw: "file:///srv/mp?x=1", wantErr: "takes no query"},
		{name: "unknown scheme", raw: "ftp://host/dir", wantErr: `unknown scheme "ftp"; use ` + Forms},
		{name: "gs scheme", raw: "gs://bucket", wantErr: "unknown scheme"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(t.Context(), tc.raw, tc.opts)
			if tc.wantErr != "" {
				if s != nil {
					t.Errorf("Open(%q): got store %v with error, want nil", tc.raw, s)
				}
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Open(%q): got error %v, want one containing %q", tc.raw, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open(%q): %v", tc.raw, err)
			}
			ls, ok := s.(*local.Store)
			if !ok {
				t.Fatalf("Open(%q): got %T, want *local.Store", tc.raw, s)
			}
			defer ls.Close()
			if ls.Dir() != tc.wantDir {
				t.Errorf("Open(%q): got directory %q, want %q", tc.raw, ls.Dir(), tc.wantDir)
			}
			// Location round-trips through Open.
			again, err := Open(t.Context(), s.Location(), Options{})
			if err != nil {
				t.Fatalf("Open(Location() = %q): %v", s.Location(), err)
			}
			defer again.(*local.Store).Close()
			if got := again.(*local.Store).Dir(); got != tc.wantDir {
				t.Errorf("Open(%q): got directory %q, want %q", s.Location(), got, tc.wantDir)
			}
		})
	}
}

func TestOpenMissingIsNotExist(t *testing.T) {
	_, err := Open(t.Context(), filepath.Join(t.TempDir(), "nope"), Options{})
	var se *store.Error
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &se) {
		t.Errorf("Open of a missing directory: got %T %v, want a *store.Error matching fs.ErrNotExist", err, err)
	}
}
