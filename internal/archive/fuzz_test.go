package archive

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// miniProgram is a tiny but real mini program source tree.
var miniProgram = map[string]string{
	"app.js":                  "App({ onLaunch() {} })\n",
	"app.json":                `{"pages":["pages/index/index"]}` + "\n",
	"pages/index/index.js":    "Page({ data: { motto: 'hello' } })\n",
	"pages/index/index.wxml":  "<view>{{motto}}</view>\n",
	"pages/index/index.wxss":  "view { color: red; }\n",
	"pages/logs/logs.wxss":    "view { color: red; }\n",
	"components/btn/btn.json": `{"component":true}` + "\n",
}

func smallPackage(tb testing.TB) []byte {
	tb.Helper()
	dir := tb.TempDir()
	for name, body := range miniProgram {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := Pack(&buf, dir, PackOptions{}); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

var fuzzLimits = Limits{MaxFileSize: 1 << 16, MaxRawSize: 1 << 20, MaxFiles: 200}

// addArchiveSeeds adds well-formed and hostile archives to a fuzz corpus
// (more are in testdata/fuzz).
func addArchiveSeeds(f *testing.F) {
	f.Add(smallPackage(f))
	f.Add(rawArchive(file("../../evil.js", "x")))
	f.Add(rawArchive(file("a.js", "1"), file("A.js", "2")))
	f.Add(rawArchive(file("a", "1"), file("a/b", "2")))
	f.Add(rawArchive(file("a/x.js", "same"), rawFile{name: "b/x.js", ref: 1}))
	f.Add([]byte{})
}

func FuzzParse(f *testing.F) {
	addArchiveSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		es, err := Parse(data, fuzzLimits)
		if err != nil {
			var ae *Error
			if !errors.As(err, &ae) || ae.Op != "parse" {
				t.Fatalf("error %T %v is not a parse *archive.Error", err, err)
			}
			return
		}
		// What Parse accepts, Encode accepts, and the result parses to
		// the same entries.
		enc, err := Encode(es, fuzzLimits)
		if err != nil {
			t.Fatalf("Encode refused what Parse accepted: %v", err)
		}
		again, err := Parse(enc, fuzzLimits)
		if err != nil {
			t.Fatalf("Parse refused what Encode wrote: %v", err)
		}
		if len(again) != len(es) {
			t.Fatalf("re-encoded archive has %d entries, want %d", len(again), len(es))
		}
		for i := range es {
			if again[i].Name != es[i].Name || !bytes.Equal(again[i].Data, es[i].Data) {
				t.Fatalf("entry %d changed: %q", i, es[i].Name)
			}
		}
		if len(enc) > len(data) {
			t.Fatalf("re-encoding grew the archive from %d to %d bytes", len(data), len(enc))
		}
	})
}

func FuzzUnpack(f *testing.F) {
	addArchiveSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		dst := filepath.Join(parent, "out")
		st, err := Unpack(bytes.NewReader(data), dst, fuzzLimits)
		ents, _ := os.ReadDir(parent)
		if err != nil {
			var ae *Error
			if !errors.As(err, &ae) {
				t.Fatalf("error %T %v is not an *archive.Error", err, err)
			}
			if len(ents) != 0 {
				t.Fatalf("refused archive left %d entries behind", len(ents))
			}
			return
		}
		if len(ents) != 1 || ents[0].Name() != "out" {
			t.Fatalf("unpack wrote beside its destination: %v", ents)
		}
		if st.Files < 1 || st.Files > fuzzLimits.MaxFiles || st.ContentSize > fuzzLimits.MaxRawSize {
			t.Fatalf("stats %+v outside the limits", st)
		}
		// Whatever Unpack accepts, Parse accepts, with the same files.
		es, err := Parse(data, fuzzLimits)
		if err != nil {
			t.Fatalf("Unpack accepted what Parse refuses: %v", err)
		}
		want := map[string][]byte{}
		for _, e := range es {
			want[e.Name] = e.Data
		}
		files := 0
		err = filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			switch {
			case d.Type().IsRegular():
				files++
				rel, _ := filepath.Rel(dst, p)
				got, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				if w, ok := want[filepath.ToSlash(rel)]; !ok || !bytes.Equal(got, w) {
					t.Errorf("%s: not in the archive or different", rel)
				}
			case !d.IsDir():
				t.Errorf("%s has type %v", p, d.Type())
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if files != st.Files || files != len(es) {
			t.Fatalf("found %d files, stats say %d, Parse %d", files, st.Files, len(es))
		}
	})
}

func FuzzDecompress(f *testing.F) {
	var z bytes.Buffer
	if err := Compress(&z, smallPackage(f)); err != nil {
		f.Fatal(err)
	}
	f.Add(z.Bytes(), int64(1<<20))
	f.Add(z.Bytes(), int64(100))
	f.Add(hugeWindowFrame(), int64(1<<20))
	f.Add([]byte("\x28\xb5\x2f\xfd garbage"), int64(1<<10))
	f.Fuzz(func(t *testing.T, data []byte, max int64) {
		if max < 1 || max > 4<<20 {
			max = 1 << 20
		}
		d, err := NewDecompressor(bytes.NewReader(data), max)
		if err != nil {
			return
		}
		defer d.Close()
		n, err := io.Copy(io.Discard, d)
		if n > max {
			t.Fatalf("yielded %d bytes, over the %d allowed", n, max)
		}
		var ae *Error
		if err != nil && !errors.As(err, &ae) {
			t.Fatalf("error %T %v is not an *archive.Error", err, err)
		}
	})
}
