package archive

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mpship/mpship/internal/archive/archivetest"
)

// writeTree creates files (name → content, slash-separated) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func pack(t *testing.T, src string, opts PackOptions) ([]byte, Stats) {
	t.Helper()
	var buf bytes.Buffer
	st, err := Pack(&buf, src, opts)
	if err != nil {
		t.Fatalf("Pack(%s): %v", src, err)
	}
	return buf.Bytes(), st
}

// names returns the entry names of an archive, in archive order.
func names(t *testing.T, data []byte) []string {
	t.Helper()
	es, err := Parse(data, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var ns []string
	for _, e := range es {
		ns = append(ns, e.Name)
	}
	return ns
}

func TestPackDeterministic(t *testing.T) {
	a := archivetest.Extract(t, "1.11.7")
	b := archivetest.Extract(t, "1.11.7")
	// Make the second copy differ in everything Pack must ignore: times,
	// permission bits, and a directory created in another order.
	i := 0
	err := filepath.WalkDir(b, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		i++
		mt := time.Date(2001, 2, 3, 4, 5, i%60, 123456789, time.UTC)
		if err := os.Chtimes(p, mt, mt); err != nil {
			return err
		}
		if !d.IsDir() {
			return os.Chmod(p, []fs.FileMode{0o600, 0o755, 0o640, 0o444}[i%4])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(b, "dist"), 0o700); err != nil {
		t.Fatal(err)
	}
	pa, sa := pack(t, a, PackOptions{})
	pb, sb := pack(t, b, PackOptions{})
	if !bytes.Equal(pa, pb) {
		t.Fatalf("packs of the same tree differ: %d bytes vs %d bytes", len(pa), len(pb))
	}
	if sa != sb {
		t.Errorf("stats differ: %+v vs %+v", sa, sb)
	}
	if sa.Files != 935 || sa.RawSize != int64(len(pa)) {
		t.Errorf("stats %+v: want 935 files and RawSize %d", sa, len(pa))
	}
	var za, zb bytes.Buffer
	if err := Compress(&za, pa); err != nil {
		t.Fatal(err)
	}
	if err := Compress(&zb, pb); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(za.Bytes(), zb.Bytes()) {
		t.Fatal("compressed packages differ")
	}

	ns := names(t, pa)
	if !slices.IsSortedFunc(ns, Compare) {
		t.Error("entries are not in archive order")
	}
	if len(ns) != 935 {
		t.Errorf("got %d entries, want 935", len(ns))
	}
}

// treeOf maps every file under dir to its content and every directory to
// "<dir>".
func treeOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			m[rel] = "<dir>"
			return nil
		}
		if !d.Type().IsRegular() {
			t.Errorf("%s: type %v, want regular", rel, d.Type())
		}
		b, err := os.ReadFile(p)
		m[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPackRoundTrip(t *testing.T) {
	src := archivetest.Extract(t, "1.10.24")
	raw, st := pack(t, src, PackOptions{})
	var z bytes.Buffer
	if err := Compress(&z, raw); err != nil {
		t.Fatal(err)
	}
	dec, err := NewDecompressor(bytes.NewReader(z.Bytes()), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	dst := filepath.Join(t.TempDir(), "out")
	ust, err := Unpack(dec, dst, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if ust != st {
		t.Errorf("unpack stats %+v, pack stats %+v", ust, st)
	}
	want, got := treeOf(t, src), treeOf(t, dst)
	if len(got) != len(want) {
		t.Errorf("got %d entries, want %d", len(got), len(want))
	}
	for name, w := range want {
		if g, ok := got[name]; !ok || g != w {
			t.Errorf("%s: missing or different after the round trip", name)
		}
	}
	fi, err := os.Stat(filepath.Join(dst, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o111 != 0 {
		t.Errorf("package.json mode %v, want no executable bits", fi.Mode())
	}
}

func TestPackIgnoresAndExcludes(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, map[string]string{
		"app.js":                "App({})",
		".eslintrc":             "{}",
		".git/config":           "[core]",
		"pages/.DS_Store":       "junk",
		"pages/index/index.js":  "Page({})",
		"sub/pages/a.js":        "Page({})",
		"pages/sub/keep.js":     "kept: only the top-level sub is excluded",
		"vendor/.svn/entries":   "svn",
		"vendor/Thumbs.db":      "junk",
		"vendor/lib/bundle.min": "x",
	})
	raw, st := pack(t, src, PackOptions{Exclude: []string{"sub"}})
	got := names(t, raw)
	// Archive order: by extension, then by file name, then up the tree.
	want := []string{".eslintrc", "app.js", "pages/index/index.js", "pages/sub/keep.js", "vendor/lib/bundle.min"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("entries\n got %v\nwant %v", got, want)
	}
	if st.Files != 5 || st.RawSize != int64(len(raw)) {
		t.Errorf("stats %+v, want 5 files and RawSize %d", st, len(raw))
	}
}

func TestPackSymlinkInsideIsFollowed(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, map[string]string{"lib/real.js": "real content"})
	if err := os.Symlink(filepath.Join("lib", "real.js"), filepath.Join(src, "alias.js")); err != nil {
		t.Fatal(err)
	}
	raw, st := pack(t, src, PackOptions{})
	es, err := Parse(raw, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || es[0].Name != "alias.js" || string(es[0].Data) != "real content" || string(es[1].Data) != "real content" {
		t.Errorf("entries %q, want alias.js and lib/real.js, both holding %q", es, "real content")
	}
	// The content is stored once.
	if want := int64(2 * len("real content")); st.ContentSize != want || st.RawSize >= want+20 {
		t.Errorf("stats %+v: want content %d and the body stored once", st, want)
	}
}

func TestPackRefusals(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret.txt")
	if err := os.WriteFile(outside, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	symlink := func(target, name string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	files := func(m map[string]string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) { writeTree(t, dir, m) }
	}
	base := map[string]string{"app.js": "App({})"}
	tests := []struct {
		name     string
		setup    func(t *testing.T, dir string)
		src      string // relative to the temp dir; "" means the dir itself
		opts     PackOptions
		want     error
		wantPath string
	}{
		{name: "absolute symlink outside", setup: symlink(outside, "secret.js"), want: ErrUnsafePath, wantPath: "secret.js"},
		{name: "relative symlink outside", setup: symlink("../../../../../../../../etc/hostname", "h.js"), want: ErrUnsafePath, wantPath: "h.js"},
		{name: "dangling symlink", setup: symlink("nowhere.js", "gone.js"), want: ErrUnsafePath, wantPath: "gone.js"},
		{name: "symlink to directory", setup: func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{"lib/a.js": "a"})
			symlink("lib", "lib2")(t, dir)
		}, want: ErrUnsupported, wantPath: "lib2"},
		{name: "file over limit", setup: files(map[string]string{"big.js": strings.Repeat("x", 11)}), opts: PackOptions{Limits: Limits{MaxFileSize: 10}}, want: ErrTooLarge, wantPath: "big.js"},
		{name: "too many files", setup: files(map[string]string{"a.js": "a", "b.js": "b", "c.js": "c"}), opts: PackOptions{Limits: Limits{MaxFiles: 2}}, want: ErrTooLarge, wantPath: "c.js"},
		{name: "content over raw limit", setup: files(map[string]string{"a.js": strings.Repeat("a", 600), "b.js": strings.Repeat("b", 600)}), opts: PackOptions{Limits: Limits{MaxRawSize: 1000}}, want: ErrTooLarge, wantPath: "b.js"},
		{name: "archive over raw limit", setup: files(map[string]string{"a.js": "aaaa", "b.js": "bbbb"}), opts: PackOptions{Limits: Limits{MaxRawSize: 10}}, want: ErrTooLarge},
		{name: "no files", setup: files(map[string]string{".git/HEAD": "ref", ".DS_Store": "x"}), want: ErrEmpty},
		{name: "only empty directories", setup: func(t *testing.T, dir string) {
			if err := os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, want: ErrEmpty},
		{name: "missing source", src: "nope", want: fs.ErrNotExist},
		{name: "source is a file", setup: files(base), src: "app.js"},
		{name: "names differ only in case", setup: files(map[string]string{"Index.js": "a", "index.js": "b"}), want: ErrDuplicate, wantPath: "index.js"},
		{name: "backslash in name", setup: files(map[string]string{`a\b.js`: "x"}), want: ErrUnsafePath, wantPath: `a\b.js`},
		{name: "newline in name", setup: files(map[string]string{"a\nb.js": "x"}), want: ErrUnsafePath, wantPath: "a\nb.js"},
		{name: "invalid UTF-8 name", setup: files(map[string]string{"a\xffb.js": "x"}), want: ErrUnsafePath, wantPath: "a\xffb.js"},
		{name: "excluded directory missing", setup: files(base), opts: PackOptions{Exclude: []string{"sub"}}, wantPath: "sub"},
		{name: "excluded path is a file", setup: files(base), opts: PackOptions{Exclude: []string{"app.js"}}, wantPath: "app.js"},
		{name: "excluded path escapes", setup: files(base), opts: PackOptions{Exclude: []string{"../x"}}, want: ErrUnsafePath, wantPath: "../x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			src := dir
			if tc.src != "" {
				src = filepath.Join(dir, tc.src)
			}
			var buf bytes.Buffer
			st, err := Pack(&buf, src, tc.opts)
			if err == nil {
				t.Fatalf("Pack: got %+v and no error, want an error", st)
			}
			var ae *Error
			if !errors.As(err, &ae) {
				t.Fatalf("got %T %v, want *archive.Error", err, err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("got %v, want it to wrap %v", err, tc.want)
			}
			if tc.wantPath != "" && ae.Path != tc.wantPath {
				t.Errorf("got path %q, want %q (err %v)", ae.Path, tc.wantPath, err)
			}
			if buf.Len() != 0 {
				t.Errorf("wrote %d bytes before refusing", buf.Len())
			}
			t.Log(err)
		})
	}
}

// Long, deep and non-ASCII names are packed deterministically and come
// back intact.
func TestPackLongAndUnicodeNames(t *testing.T) {
	files := map[string]string{
		strings.Repeat("long-component-", 12) + ".js":                           "long",
		"页面/首页/index.js":                                                        "unicode",
		strings.Repeat("d/", 80) + "deep.js":                                    "deep",
		"components/" + strings.Repeat("x", 99) + "/" + strings.Repeat("y", 99): "split",
	}
	a, b := t.TempDir(), t.TempDir()
	writeTree(t, a, files)
	writeTree(t, b, files)
	pa, _ := pack(t, a, PackOptions{})
	pb, _ := pack(t, b, PackOptions{})
	if !bytes.Equal(pa, pb) {
		t.Fatal("packs of the same tree differ")
	}
	dst := filepath.Join(t.TempDir(), "out")
	if _, err := Unpack(bytes.NewReader(pa), dst, Limits{}); err != nil {
		t.Fatal(err)
	}
	got := treeOf(t, dst)
	for name, content := range files {
		if got[name] != content {
			t.Errorf("%s: got %q, want %q", name, got[name], content)
		}
	}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"a.js", "a.js", 0},
		{"b.css", "a.js", -1},           // extension first
		{"z/index.js", "a/main.js", -1}, // then the file name
		{"dist/button/index.js", "lib/button/index.js", -1},
		{"lib/button/index.js", "dist/card/index.js", -1}, // then up the tree
		{"index.js", "a/index.js", -1},                    // fewer segments first
		{"LICENSE", "README", -1},
		{"Makefile", "x.js", -1}, // no extension sorts first
		{"x/a", "x", -1},
	}
	for _, tc := range tests {
		if got := Compare(tc.a, tc.b); got != tc.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := Compare(tc.b, tc.a); got != -tc.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
	}
}

func TestEncode(t *testing.T) {
	es := []Entry{
		{Name: "pages/b/index.js", Data: []byte("same")},
		{Name: "app.json", Data: []byte("{}")},
		{Name: "pages/a/index.js", Data: []byte("same")},
		{Name: "empty.txt", Data: nil},
	}
	a, err := Encode(es, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	rev := slices.Clone(es)
	slices.Reverse(rev)
	b, err := Encode(rev, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("the order of the entries given changed the archive")
	}
	if es[0].Name != "pages/b/index.js" {
		t.Error("Encode modified its argument")
	}
	got, err := Parse(a, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"pages/a/index.js", "pages/b/index.js", "app.json", "empty.txt"}
	if g := names(t, a); !slices.Equal(g, want) {
		t.Errorf("order %v, want %v", g, want)
	}
	for _, e := range got {
		i := slices.IndexFunc(es, func(x Entry) bool { return x.Name == e.Name })
		if !bytes.Equal(e.Data, es[i].Data) {
			t.Errorf("%s: got %q, want %q", e.Name, e.Data, es[i].Data)
		}
	}
	if n := bytes.Count(a, []byte("same")); n != 1 {
		t.Errorf("duplicate content stored %d times, want once", n)
	}

	refusals := []struct {
		name string
		es   []Entry
		lim  Limits
		want error
	}{
		{"none", nil, Limits{}, ErrEmpty},
		{"unsafe name", []Entry{{Name: "../x"}}, Limits{}, ErrUnsafePath},
		{"duplicate", []Entry{{Name: "a"}, {Name: "a"}}, Limits{}, ErrDuplicate},
		{"case", []Entry{{Name: "a"}, {Name: "A"}}, Limits{}, ErrDuplicate},
		{"file and directory", []Entry{{Name: "a"}, {Name: "a/b"}}, Limits{}, ErrDuplicate},
		{"too many files", []Entry{{Name: "a"}, {Name: "b"}}, Limits{MaxFiles: 1}, ErrTooLarge},
		{"file too large", []Entry{{Name: "a", Data: []byte("xx")}}, Limits{MaxFileSize: 1}, ErrTooLarge},
		{"content too large", []Entry{{Name: "a", Data: []byte("xx")}, {Name: "b", Data: []byte("xx")}}, Limits{MaxRawSize: 3}, ErrTooLarge},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Encode(tc.es, tc.lim)
			var ae *Error
			if !errors.Is(err, tc.want) || !errors.As(err, &ae) || ae.Op != "encode" {
				t.Errorf("got %v, want an encode *Error wrapping %v", err, tc.want)
			}
		})
	}
}
