package archive

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rawFile is one entry of a hand-made archive: a name and a body, or with
// ref > 0 the same content as the ref-th distinct content back.
type rawFile struct {
	name, body string
	ref        uint64
}

func file(name, body string) rawFile { return rawFile{name: name, body: body} }

// rawArchive writes entries in the order given, without any of Encode's
// checks, so tests can build hostile archives.
func rawArchive(entries ...rawFile) []byte {
	out := binary.AppendUvarint([]byte(Magic), uint64(len(entries)))
	prev := ""
	for _, e := range entries {
		cp := commonPrefix(prev, e.name)
		out = binary.AppendUvarint(out, uint64(cp))
		out = binary.AppendUvarint(out, uint64(len(e.name)-cp))
		out = append(out, e.name[cp:]...)
		prev = e.name
	}
	var sizes, bodies []byte
	for _, e := range entries {
		out = binary.AppendUvarint(out, e.ref)
		if e.ref == 0 {
			sizes = binary.AppendUvarint(sizes, uint64(len(e.body)))
			bodies = append(bodies, e.body...)
		}
	}
	return append(append(out, sizes...), bodies...)
}

// setSize rewrites the single content size of a one-file archive made by
// rawArchive (name shorter than 128 bytes, size below 128).
func setSize(data []byte, size uint64) []byte {
	name := int(data[len(Magic)+2])
	at := len(Magic) + 3 + name + 1 // magic, count, prefix, length, name, ref
	out := append([]byte{}, data[:at]...)
	out = binary.AppendUvarint(out, size)
	return append(out, data[at+1:]...)
}

func TestUnpackAccepts(t *testing.T) {
	tests := []struct {
		name    string
		entries []rawFile
		want    map[string]string
	}{
		{name: "files with implicit parents", entries: []rawFile{file("a/b/c.js", "c"), file("a/d.js", "d")},
			want: map[string]string{"a": "<dir>", "a/b": "<dir>", "a/b/c.js": "c", "a/d.js": "d"}},
		{name: "duplicate content", entries: []rawFile{file("a/x.js", "same"), {name: "b/x.js", ref: 1}, file("y.js", "y"), {name: "z.js", ref: 2}},
			want: map[string]string{"a": "<dir>", "a/x.js": "same", "b": "<dir>", "b/x.js": "same", "y.js": "y", "z.js": "same"}},
		{name: "empty file", entries: []rawFile{file("f.js", "")},
			want: map[string]string{"f.js": ""}},
		{name: "unicode name", entries: []rawFile{file("页面/首页.js", "ok")},
			want: map[string]string{"页面": "<dir>", "页面/首页.js": "ok"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := rawArchive(tc.entries...)
			if _, err := Parse(data, Limits{}); err != nil {
				t.Fatalf("Parse: %v", err)
			}
			dst := filepath.Join(t.TempDir(), "out")
			st, err := Unpack(bytes.NewReader(data), dst, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if st.Files != len(tc.entries) || st.RawSize != int64(len(data)) {
				t.Errorf("stats %+v, want %d files and raw size %d", st, len(tc.entries), len(data))
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
	good := rawArchive(file("a.js", big))
	tests := []struct {
		name     string
		data     []byte
		lim      Limits
		want     error
		wantPath string
	}{
		{name: "absolute path", data: rawArchive(file("/etc/evil", "x")), want: ErrUnsafePath},
		{name: "parent traversal", data: rawArchive(file("../evil", "x")), want: ErrUnsafePath},
		{name: "traversal inside path", data: rawArchive(file("a/../../evil", "x")), want: ErrUnsafePath},
		{name: "dot segment", data: rawArchive(file("./a.js", "x")), want: ErrUnsafePath},
		{name: "empty segment", data: rawArchive(file("a//b.js", "x")), want: ErrUnsafePath},
		{name: "trailing slash", data: rawArchive(file("a/", "x")), want: ErrUnsafePath},
		{name: "backslash traversal", data: rawArchive(file(`..\evil`, "x")), want: ErrUnsafePath},
		{name: "control character", data: rawArchive(file("a\x01b", "x")), want: ErrUnsafePath},
		{name: "invalid UTF-8", data: rawArchive(file("a\xffb", "x")), want: ErrUnsafePath},
		{name: "overlong name", data: rawArchive(file(strings.Repeat("a/", MaxNameLen/2)+"x.js", "x")), want: ErrUnsafePath},
		{name: "duplicate file", data: rawArchive(file("a.js", "1"), file("a.js", "2")), want: ErrDuplicate, wantPath: "a.js"},
		{name: "names differ in case", data: rawArchive(file("A.js", "1"), file("a.js", "2")), want: ErrDuplicate, wantPath: "a.js"},
		{name: "directory names differ in case", data: rawArchive(file("Lib/x.js", "1"), file("lib/y.js", "2")), want: ErrDuplicate},
		{name: "file then child", data: rawArchive(file("a", "1"), file("a/b", "2")), want: ErrDuplicate, wantPath: "a/b"},
		{name: "child then file", data: rawArchive(file("x/a", "1"), file("x", "2")), want: ErrDuplicate, wantPath: "x"},
		{name: "out of order", data: rawArchive(file("b.js", "1"), file("a.js", "2")), want: ErrMalformed, wantPath: "a.js"},
		{name: "reference to nothing", data: rawArchive(file("a.js", "1"), rawFile{name: "b.js", ref: 2}), want: ErrMalformed},
		{name: "first entry a reference", data: rawArchive(rawFile{name: "a.js", ref: 1}), want: ErrMalformed},
		{name: "file over limit", data: good, lim: Limits{MaxFileSize: 99}, want: ErrTooLarge, wantPath: "a.js"},
		{name: "too many files", data: rawArchive(file("a", "1"), file("b", "2"), file("c", "3")), lim: Limits{MaxFiles: 2}, want: ErrTooLarge},
		{name: "archive over raw limit", data: rawArchive(file("a", big), file("b", big+"y")), lim: Limits{MaxRawSize: 200}, want: ErrTooLarge},
		{name: "duplicates unpack over raw limit", data: rawArchive(file("a", big), rawFile{name: "b", ref: 1}, rawFile{name: "c", ref: 1}), lim: Limits{MaxRawSize: 250}, want: ErrTooLarge, wantPath: "c"},
		{name: "huge size claimed", data: setSize(rawArchive(file("a.js", "x")), 1<<40), want: ErrTooLarge},
		{name: "size beyond the end", data: setSize(rawArchive(file("a.js", "x")), 100), want: ErrMalformed},
		{name: "bytes after the end", data: append(bytes.Clone(good), 'z'), want: ErrMalformed},
		{name: "truncated contents", data: good[:len(good)-1], want: ErrMalformed},
		{name: "truncated header", data: good[:7], want: ErrMalformed},
		{name: "overlong varint", data: append([]byte(Magic), 0x81, 0x00), want: ErrMalformed},
		{name: "garbage", data: bytes.Repeat([]byte("not an archive "), 100), want: ErrMalformed},
		{name: "a tar", data: append([]byte("package.json"), make([]byte, 1012)...), want: ErrMalformed},
		{name: "no files", data: []byte(Magic + "\x00"), want: ErrEmpty},
		{name: "empty input", data: nil, want: ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, perr := Parse(tc.data, tc.lim)
			if !errors.Is(perr, tc.want) {
				t.Errorf("Parse: got %v, want %v", perr, tc.want)
			}
			parent := t.TempDir()
			dst := filepath.Join(parent, "out")
			st, err := Unpack(bytes.NewReader(tc.data), dst, tc.lim)
			if err == nil {
				t.Fatalf("Unpack: got %+v and no error, want %v", st, tc.want)
			}
			t.Log(err)
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
	_, err := Unpack(bytes.NewReader(rawArchive(file("lib/evil.js", "pwned"))), dst, Limits{})
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
	_, err := Unpack(bytes.NewReader(rawArchive(file("a.js", "theirs"))), dst, Limits{})
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("got %v, want fs.ErrExist", err)
	}
	b, _ := os.ReadFile(filepath.Join(dst, "a.js"))
	if string(b) != "mine" {
		t.Errorf("existing file now holds %q, want %q", b, "mine")
	}
}
