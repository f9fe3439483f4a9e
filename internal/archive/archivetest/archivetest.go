// Package archivetest gives tests real mini-program source trees: the
// vant-weapp releases kept beside the repository in ../shared/data/vant-weapp
// (relative to the repository root), extracted into a test's temporary
// directory.
package archivetest

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// Versions are the vant-weapp releases available, oldest first.
var Versions = []string{"1.10.24", "1.11.0", "1.11.5", "1.11.6", "1.11.7"}

// DataDir returns the directory holding vant-weapp-<version>.tgz, found by
// walking up from the working directory to the repository root (the
// directory with go.mod). When it is missing the test is skipped, or fails
// when the CI environment variable is set: in CI a skipped test is a failure.
func DataDir(tb testing.TB) string {
	tb.Helper()
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			d := filepath.Join(dir, "..", "shared", "data", "vant-weapp")
			if _, err := os.Stat(d); err != nil {
				missing(tb, fmt.Sprintf("test data %s: %v", d, err))
			}
			return d
		}
		if filepath.Dir(dir) == dir {
			tb.Fatalf("no go.mod above %s", wd)
		}
	}
}

func missing(tb testing.TB, msg string) {
	tb.Helper()
	if os.Getenv("CI") != "" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}

// Tarball returns the path of vant-weapp-<version>.tgz.
func Tarball(tb testing.TB, version string) string {
	tb.Helper()
	p := filepath.Join(DataDir(tb), "vant-weapp-"+version+".tgz")
	if _, err := os.Stat(p); err != nil {
		missing(tb, fmt.Sprintf("test data: %v", err))
	}
	return p
}

// Extract unpacks vant-weapp <version> into a new temporary directory and
// returns the source tree (the tarball's package/ directory).
func Extract(tb testing.TB, version string) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "vant-"+version)
	if err := ExtractTo(Tarball(tb, version), dir); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// ExtractTo unpacks the package/ directory of the npm tarball tgz into dir.
// It is for trusted test data only: it writes regular files and
// directories, and refuses names that would leave dir.
func ExtractTo(tgz, dir string) error {
	f, err := os.Open(tgz)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("extract %s: %w", tgz, err)
	}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("extract %s: %w", tgz, err)
		}
		name, ok := strings.CutPrefix(path.Clean(hdr.Name), "package/")
		if !ok || !fs.ValidPath(name) {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			out, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
	}
}
