package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hdr is one entry of a hand-made tar.
type hdr struct {
	name     string
	typ      byte
	body     string
	linkname string
}

// makeTar writes entries as given, without any of Pack's checks, so tests
// can build hostile archives.
func makeTar(t testing.TB, entries ...hdr) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o644, Linkname: e.linkname}
		if e.typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.body != "" {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// setType rewrites the type flag of the header block at offset off and
// fixes its checksum, to build headers archive/tar refuses to write.
func setType(data []byte, off int, typ byte) []byte {
	b := data[off : off+512]
	b[156] = typ
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return data
}

func file(name, body string) hdr { return hdr{name: name, typ: tar.TypeReg, body: body} }
func dir(name string) hdr        { return hdr{name: name, typ: tar.TypeDir} }

func TestUnpackAccepts(t *testing.T) {
	tests := []struct {
		name    string
		entries []hdr
		want    map[string]string
	}{
		{name: "files with implicit parents", entries: []hdr{file("a/b/c.js", "c"), file("a/d.js", "d")},
			want: map[string]string{"a": "<dir>", "a/b": "<dir>", "a/b/c.js": "c", "a/d.js": "d"}},
		{name: "directory entry after its files", entries: []hdr{file("a/x.js", "x"), dir("a/")},
			want: map[string]string{"a": "<dir>", "a/x.js": "x"}},
		{name: "empty directory kept", entries: []hdr{dir("empty/"), file("f.js", "")},
			want: map[string]string{"empty": "<dir>", "f.js": ""}},
		{name: "unicode name", entries: []hdr{file("页面/首页.js", "ok")},
			want: map[string]string{"页面": "<dir>", "页面/首页.js": "ok"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "out")
			if _, err := Unpack(bytes.NewReader(makeTar(t, tc.entries...)), dst, Limits{}); err != nil {
				t.Fatal(err)
			}
			got := treeOf(t, dst)
			if len(got) != len(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s: got %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestUnpackRefusals(t *testing.T) {
	big := strings.Repeat("x", 100)
	tests := []struct {
		name     string
		data     []byte
		lim      Limits
		want     error
		wantPath string
	}{
		{name: "absolute path", data: makeTar(t, file("/etc/evil", "x")), want: ErrUnsafePath},
		{name: "parent traversal", data: makeTar(t, file("../evil", "x")), want: ErrUnsafePath},
		{name: "traversal inside path", data: makeTar(t, file("a/../../evil", "x")), want: ErrUnsafePath},
		{name: "dot segment", data: makeTar(t, file("./a.js", "x")), want: ErrUnsafePath},
		{name: "empty segment", data: makeTar(t, file("a//b.js", "x")), want: ErrUnsafePath},
		{name: "backslash traversal", data: makeTar(t, file(`..\evil`, "x")), want: ErrUnsafePath},
		{name: "control character", data: makeTar(t, file("a\x01b", "x")), want: ErrUnsafePath},
		{name: "file name ending in slash", data: setType(makeTar(t, dir("a/"), file("b", "x")), 0, tar.TypeReg), want: ErrUnsafePath},
		{name: "overlong name", data: makeTar(t, file(strings.Repeat("a/", MaxNameLen/2)+"x.js", "x")), want: ErrUnsafePath},
		{name: "symlink", data: makeTar(t, hdr{name: "link", typ: tar.TypeSymlink, linkname: "/etc/passwd"}), want: ErrUnsupported, wantPath: "link"},
		{name: "hard link", data: makeTar(t, file("a", "x"), hdr{name: "b", typ: tar.TypeLink, linkname: "a"}), want: ErrUnsupported, wantPath: "b"},
		{name: "char device", data: makeTar(t, hdr{name: "null", typ: tar.TypeChar}), want: ErrUnsupported},
		{name: "block device", data: makeTar(t, hdr{name: "sda", typ: tar.TypeBlock}), want: ErrUnsupported},
		{name: "fifo", data: makeTar(t, hdr{name: "p", typ: tar.TypeFifo}), want: ErrUnsupported},
		{name: "duplicate file", data: makeTar(t, file("a.js", "1"), file("a.js", "2")), want: ErrDuplicate, wantPath: "a.js"},
		{name: "duplicate directory", data: makeTar(t, dir("d/"), dir("d/")), want: ErrDuplicate},
		{name: "names differ in case", data: makeTar(t, file("A.js", "1"), file("a.js", "2")), want: ErrDuplicate},
		{name: "directory names differ in case", data: makeTar(t, file("Lib/x.js", "1"), file("lib/y.js", "2")), want: ErrDuplicate},
		{name: "file then child", data: makeTar(t, file("a", "1"), file("a/b", "2")), want: ErrDuplicate},
		{name: "child then file", data: makeTar(t, file("a/b", "1"), file("a", "2")), want: ErrDuplicate},
		{name: "file over limit", data: makeTar(t, file("big.js", big)), lim: Limits{MaxFileSize: 99}, want: ErrTooLarge, wantPath: "big.js"},
		{name: "too many files", data: makeTar(t, file("a", "1"), file("b", "2"), file("c", "3")), lim: Limits{MaxFiles: 2}, want: ErrTooLarge, wantPath: "c"},
		{name: "tar over raw limit", data: makeTar(t, file("a", big), file("b", big)), lim: Limits{MaxRawSize: 1500}, want: ErrTooLarge},
		{name: "content over raw limit", data: makeTar(t, file("a", big), file("b", big)), lim: Limits{MaxRawSize: 150}, want: ErrTooLarge},
		{name: "garbage", data: bytes.Repeat([]byte("not a tar "), 100), want: ErrMalformed},
		{name: "truncated", data: makeTar(t, file("a.js", big))[:600], want: ErrMalformed},
		{name: "no files", data: makeTar(t, dir("d/")), want: ErrEmpty},
		{name: "empty input", data: nil, want: ErrEmpty},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			dst := filepath.Join(parent, "out")
			st, err := Unpack(bytes.NewReader(tc.data), dst, tc.lim)
			if err == nil {
				t.Fatalf("Unpack: got %+v and no error, want %v", st, tc.want)
			}
			var ae *Error
			if !errors.As(err, &ae) {
				t.Fatalf("got %T %v, want *archive.Error", err, err)
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("got %v, want it to wrap %v", err, tc.want)
			}
			if tc.wantPath != "" && ae.Path != tc.wantPath {
				t.Errorf("got path %q, want %q", ae.Path, tc.wantPath)
			}
			// Unpack created dst, so on error it removes it, and nothing
			// else may appear beside it.
			ents, _ := os.ReadDir(parent)
			if len(ents) != 0 {
				t.Errorf("after the refusal %s holds %d entries, want none", parent, len(ents))
			}
		})
	}
}

// A destination that already holds a symlink out of it must not let the
// archive write through it.
func TestUnpackDoesNotFollowSymlinksOut(t *testing.T) {
	outside := t.TempDir()
	dst := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dst, "lib")); err != nil {
		t.Fatal(err)
	}
	_, err := Unpack(bytes.NewReader(makeTar(t, file("lib/evil.js", "pwned"))), dst, Limits{})
	if err == nil {
		t.Fatal("Unpack wrote through a symlink in the destination")
	}
	ents, _ := os.ReadDir(outside)
	if len(ents) != 0 {
		t.Fatalf("%d entries appeared outside the destination", len(ents))
	}
	if _, err := os.Lstat(filepath.Join(dst, "lib")); err != nil {
		t.Errorf("an existing destination must be left as it was: %v", err)
	}
}

func TestUnpackNeverOverwrites(t *testing.T) {
	dst := t.TempDir()
	if err := os.WriteFile(filepath.Join(dst, "a.js"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Unpack(bytes.NewReader(makeTar(t, file("a.js", "theirs"))), dst, Limits{})
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("got %v, want fs.ErrExist", err)
	}
	b, _ := os.ReadFile(filepath.Join(dst, "a.js"))
	if string(b) != "mine" {
		t.Errorf("existing file now holds %q, want %q", b, "mine")
	}
}
