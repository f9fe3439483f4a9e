package delta

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/mpship/mpship/internal/archive"
	"github.com/mpship/mpship/internal/archive/archivetest"
)

// packVant returns the archive and the compressed package of a vant-weapp
// release.
func packVant(tb testing.TB, version string) (raw, blob []byte) {
	tb.Helper()
	var r, z bytes.Buffer
	if _, err := archive.Pack(&r, archivetest.Extract(tb, version), archive.PackOptions{}); err != nil {
		tb.Fatal(err)
	}
	if err := archive.Compress(&z, r.Bytes()); err != nil {
		tb.Fatal(err)
	}
	return r.Bytes(), z.Bytes()
}

func targetOf(b []byte) Target { return Target{Size: int64(len(b)), SHA256: sha256.Sum256(b)} }

// roundTrip diffs base to target, patches it back, and returns the delta.
func roundTrip(t *testing.T, base, target []byte) []byte {
	t.Helper()
	d, err := Diff(base, target)
	if err != nil {
		t.Fatalf("Diff: %v", err)
	}
	got, err := Patch(base, d, targetOf(target), Limits{})
	if err != nil {
		t.Fatalf("Patch: %v", err)
	}
	if !bytes.Equal(got, target) {
		t.Fatal("Patch rebuilt other bytes")
	}
	return d
}

// TestVantPairs diffs every vant-weapp release against each of the three
// before it, as a release with the default --deltas 3 does (only against
// the one before under the race detector), and checks the deltas rebuild
// the exact archive and are a small fraction of the package.
func TestVantPairs(t *testing.T) {
	vs := archivetest.Versions
	raws := make([][]byte, len(vs))
	blobs := make([][]byte, len(vs))
	for i, v := range vs {
		raws[i], blobs[i] = packVant(t, v)
	}
	for j := 1; j < len(vs); j++ {
		first := max(0, j-3)
		if raceEnabled {
			first = j - 1
		}
		for i := first; i < j; i++ {
			t.Run(vs[i]+"-"+vs[j], func(t *testing.T) {
				d := roundTrip(t, raws[i], raws[j])
				t.Logf("%s → %s: delta %d B, full package %d B (%.2f%%)", vs[i], vs[j], len(d), len(blobs[j]), 100*float64(len(d))/float64(len(blobs[j])))
				// Consecutive vant releases change a few files: their
				// deltas are a few kilobytes against ~97 KB packages.
				if limit := len(blobs[j]) / 20; len(d) > limit {
					t.Errorf("delta is %d bytes, want at most %d (5%% of the package)", len(d), limit)
				}
			})
		}
	}
}

// synthetic returns a deterministic tree of n JavaScript-like files.
func synthetic(seed uint64, n int) map[string]string {
	r := rand.New(rand.NewPCG(seed, 7))
	words := []string{"Component", "props", "data", "methods", "this.setData", "van-button", "observer", "value", "type", "size", "\n", "  ", "({", "});", "=>", "return"}
	files := map[string]string{}
	for i := range n {
		var b strings.Builder
		for b.Len() < 200+r.IntN(3000) {
			b.WriteString(words[r.IntN(len(words))])
			b.WriteByte(' ')
		}
		files[fmt.Sprintf("dist/comp%d/index.js", i)] = b.String()
		files[fmt.Sprintf("dist/comp%d/index.json", i)] = `{"component": true}`
	}
	return files
}

func encode(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var es []archive.Entry
	for name, body := range files {
		es = append(es, archive.Entry{Name: name, Data: []byte(body)})
	}
	b, err := archive.Encode(es, archive.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func edit(files map[string]string, f func(m map[string]string)) map[string]string {
	m := map[string]string{}
	for k, v := range files {
		m[k] = v
	}
	f(m)
	return m
}

func TestSynthetic(t *testing.T) {
	base := synthetic(1, 40)
	tests := []struct {
		name    string
		target  map[string]string
		maxSize int // the delta's size may not exceed this
	}{
		{"identical", base, 16},
		{"one line changed", edit(base, func(m map[string]string) {
			m["dist/comp7/index.js"] = strings.Replace(m["dist/comp7/index.js"], "props", "PROPS", 1)
		}), 80},
		{"directory renamed", edit(base, func(m map[string]string) {
			for _, f := range []string{"index.js", "index.json"} {
				m["dist/renamed/"+f] = m["dist/comp3/"+f]
				delete(m, "dist/comp3/"+f)
			}
		}), 80},
		{"files dropped", edit(base, func(m map[string]string) {
			delete(m, "dist/comp1/index.js")
			delete(m, "dist/comp2/index.json")
		}), 40},
		{"file added", edit(base, func(m map[string]string) {
			m["dist/new/readme.md"] = "a brand new file that appears nowhere in the base, with its own words"
		}), 200},
		{"file moved and changed", edit(base, func(m map[string]string) {
			m["lib/moved.js"] = m["dist/comp9/index.js"] + "\nexport default 1;\n"
			delete(m, "dist/comp9/index.js")
		}), 120},
		{"everything different", synthetic(2, 40), 1 << 20},
		{"one file", map[string]string{"app.js": "App({})"}, 100},
	}
	b := encode(t, base)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target := encode(t, tc.target)
			d := roundTrip(t, b, target)
			t.Logf("delta %d B for a %d B archive", len(d), len(target))
			if len(d) > tc.maxSize {
				t.Errorf("delta is %d bytes, want at most %d", len(d), tc.maxSize)
			}
		})
	}
}

func TestDiffDeterministic(t *testing.T) {
	a := encode(t, synthetic(1, 20))
	b := encode(t, edit(synthetic(1, 20), func(m map[string]string) { m["dist/comp0/index.js"] += "x" }))
	d1, err := Diff(a, b)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := Diff(a, b)
	if err != nil || !bytes.Equal(d1, d2) {
		t.Fatalf("two diffs of the same archives differ (err %v)", err)
	}
}

// A delta applies only to its own base: another one fails the ops or the
// final sha256 check.
func TestPatchWrongBase(t *testing.T) {
	a := encode(t, synthetic(1, 20))
	b := encode(t, edit(synthetic(1, 20), func(m map[string]string) { m["dist/comp0/index.js"] += "x" }))
	c := encode(t, edit(synthetic(1, 20), func(m map[string]string) { m["dist/comp0/index.js"] += "y" }))
	d, err := Diff(a, b)
	if err != nil {
		t.Fatal(err)
	}
	for _, base := range [][]byte{c, b, encode(t, synthetic(3, 5))} {
		if _, err := Patch(base, d, targetOf(b), Limits{}); !errors.Is(err, ErrBadDelta) {
			t.Errorf("got %v, want ErrBadDelta", err)
		}
	}
}

// op builds a delta from raw ops and an optional data frame made against
// base.
func op(t *testing.T, base []byte, ops string, data []byte) []byte {
	t.Helper()
	out := binary.AppendUvarint([]byte(Magic), uint64(len(ops))<<1)
	out = append(out, ops...)
	if data != nil {
		z, err := compress(data, base, zstd.SpeedBestCompression)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, z...)
	}
	return out
}

func uv(v uint64) string { return string(binary.AppendUvarint(nil, v)) }

func TestPatchRefusals(t *testing.T) {
	base := encode(t, map[string]string{"a.js": "alpha", "b.js": "bravo", "c.js": "charlie"})
	target := encode(t, map[string]string{"a.js": "alpha", "b.js": "bravo!", "d.js": "delta"})
	good, err := Diff(base, target)
	if err != nil {
		t.Fatal(err)
	}
	want := targetOf(target)
	otherSHA := want
	otherSHA.SHA256[0] ^= 1
	hugeOps := binary.AppendUvarint([]byte(Magic), uint64(13)<<1|1)
	hugeOps = binary.LittleEndian.AppendUint32(hugeOps, 0xFD2FB528)
	hugeOps = append(hugeOps, 0x20) // single segment, 1-byte content size... patched below
	hugeOps = append(hugeOps[:len(hugeOps)-1], 0xE0)
	hugeOps = binary.LittleEndian.AppendUint64(hugeOps, 1<<40)

	tests := []struct {
		name  string
		base  []byte
		patch []byte
		want  Target
		lim   Limits
		err   error
	}{
		{name: "empty", patch: nil, err: ErrBadDelta},
		{name: "bad magic", patch: []byte("MPD2\x00"), err: ErrBadDelta},
		{name: "truncated header", patch: []byte(Magic), err: ErrBadDelta},
		{name: "ops longer than the delta", patch: []byte(Magic + "\x7e"), err: ErrBadDelta},
		{name: "no ops", patch: op(t, base, "", nil), err: ErrBadDelta},
		{name: "keep zero", patch: op(t, base, "K\x00K\x03", nil), err: ErrBadDelta},
		{name: "keep past the end", patch: op(t, base, "K\x04", nil), err: ErrBadDelta},
		{name: "drop past the end", patch: op(t, base, "K\x01D\x03", nil), err: ErrBadDelta},
		{name: "old entries left over", patch: op(t, base, "K\x02", nil), err: ErrBadDelta},
		{name: "modify past the end", patch: op(t, base, "K\x03M\x00\x00\x00", nil), err: ErrBadDelta},
		{name: "modify shrinks below zero", patch: op(t, base, "M"+uv(zigzag(-6))+"\x00\x00K\x02", nil), err: ErrBadDelta},
		{name: "modify prefix too long", patch: op(t, base, "M\x00\x06\x00K\x02", nil), err: ErrBadDelta},
		{name: "modify prefix and suffix overlap", patch: op(t, base, "M\x00\x03\x03K\x02", nil), err: ErrBadDelta},
		{name: "modify grows over the limit", patch: op(t, base, "M"+uv(zigzag(1<<40))+"\x00\x00K\x02", nil), err: ErrBadDelta},
		{name: "insert over the limit", patch: op(t, base, "K\x03I\x00\x04e.js"+uv(1<<30), nil), err: ErrTooLarge},
		{name: "insert unsafe name", patch: op(t, base, "K\x03C\x00\x05../x1\x00", nil), err: ErrBadDelta},
		{name: "insert duplicate name", patch: op(t, base, "K\x03C\x00\x04a.js\x00", nil), err: ErrBadDelta},
		{name: "insert name longer than allowed", patch: op(t, base, "K\x03C\x00"+uv(archive.MaxNameLen+1)+strings.Repeat("x", archive.MaxNameLen+1)+"\x00", nil), err: ErrBadDelta},
		{name: "insert prefix longer than the previous name", patch: op(t, base, "K\x01C\x05\x01x\x00K\x02", nil), err: ErrBadDelta},
		{name: "copy of a missing entry", patch: op(t, base, "K\x03C\x00\x04e.js\x03", nil), err: ErrBadDelta},
		{name: "truncated op", patch: op(t, base, "K\x03I\x00\x09e.js", nil), err: ErrBadDelta},
		{name: "unknown op", patch: op(t, base, "K\x03Z", nil), err: ErrBadDelta},
		{name: "bytes after ops that take no data", patch: append(op(t, base, "K\x03", nil), 0), err: ErrBadDelta},
		{name: "data missing", patch: op(t, base, "K\x03I\x00\x04e.js\x05", nil), err: ErrBadDelta},
		{name: "data shorter than the ops take", patch: op(t, base, "K\x03I\x00\x04e.js\x05", []byte("echo")), err: ErrBadDelta},
		{name: "data longer than the ops take", patch: op(t, base, "K\x03I\x00\x04e.js\x05", []byte("echo!!")), err: ErrBadDelta},
		{name: "data corrupt", patch: append(bytes.Clone(good[:len(good)-3]), 0xff, 0xff, 0xff), want: want, err: ErrBadDelta},
		{name: "data truncated", patch: good[:len(good)-2], want: want, err: ErrBadDelta},
		{name: "data followed by garbage", patch: append(bytes.Clone(good), "junk"...), want: want, err: ErrBadDelta},
		{name: "compressed ops without a frame", patch: []byte(Magic + "\x09garba"), err: ErrBadDelta},
		{name: "compressed ops claiming a terabyte", patch: hugeOps, err: ErrTooLarge},
		{name: "other sha256", patch: good, want: otherSHA, err: ErrBadDelta},
		{name: "other size", patch: good, want: Target{Size: want.Size + 1, SHA256: want.SHA256}, err: ErrBadDelta},
		{name: "target over the limit", patch: good, want: want, lim: Limits{MaxSize: 10}, err: ErrTooLarge},
		{name: "base over the limit", patch: good, want: Target{Size: 1, SHA256: want.SHA256}, lim: Limits{MaxSize: int64(len(base)) - 1}, err: ErrTooLarge},
		{name: "too many files", patch: good, want: want, lim: Limits{MaxFiles: 2}, err: archive.ErrTooLarge},
		{name: "base not an archive", base: []byte("nope"), patch: good, want: want, err: archive.ErrMalformed},
		{name: "limits out of range", patch: good, want: want, lim: Limits{MaxSize: MaxMaxSize + 1}, err: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.base
			if b == nil {
				b = base
			}
			w := tc.want
			if w.Size == 0 {
				w = Target{Size: 100, SHA256: want.SHA256}
			}
			got, err := Patch(b, tc.patch, w, tc.lim)
			if err == nil {
				t.Fatalf("got %d bytes and no error, want %v", len(got), tc.err)
			}
			t.Log(err)
			if tc.err != nil && !errors.Is(err, tc.err) {
				t.Errorf("got %v, want %v", err, tc.err)
			}
		})
	}
	if got, err := Patch(base, good, want, Limits{}); err != nil || !bytes.Equal(got, target) {
		t.Fatalf("the good delta: %v", err)
	}
}

// Every single-byte corruption of a real delta is refused (or, if it
// happens to rebuild the same archive, accepted), never a panic.
func TestPatchCorruptions(t *testing.T) {
	base := encode(t, synthetic(1, 30))
	target := encode(t, edit(synthetic(1, 30), func(m map[string]string) {
		m["dist/comp4/index.js"] += "\n// changed\n"
		m["dist/new/index.js"] = m["dist/comp5/index.js"] + "new"
		delete(m, "dist/comp6/index.json")
	}))
	d, err := Diff(base, target)
	if err != nil {
		t.Fatal(err)
	}
	want := targetOf(target)
	for i := range d {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			c := bytes.Clone(d)
			c[i] ^= x
			got, err := Patch(base, c, want, Limits{})
			if err == nil && !bytes.Equal(got, target) {
				t.Fatalf("byte %d ^ %#x: accepted other bytes", i, x)
			}
			if err != nil && !errors.Is(err, ErrBadDelta) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("byte %d ^ %#x: %v wraps neither ErrBadDelta nor ErrTooLarge", i, x, err)
			}
		}
		if _, err := Patch(base, d[:i], want, Limits{}); err == nil {
			t.Fatalf("truncated to %d bytes: accepted", i)
		}
	}
}

func TestDiffRefusals(t *testing.T) {
	good := encode(t, map[string]string{"a.js": "a"})
	for _, tc := range []struct {
		name         string
		base, target []byte
		want         error
	}{
		{"base not an archive", []byte("x"), good, archive.ErrMalformed},
		{"target not an archive", good, []byte("x"), archive.ErrMalformed},
		{"base too large", make([]byte, DefaultMaxSize+1), good, ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Diff(tc.base, tc.target); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestWindow(t *testing.T) {
	for _, tc := range []struct{ n, want int64 }{
		{0, 1024}, {900, 1024}, {911, 1024}, {912, 2048}, {1 << 20, 2 << 20}, {900_000, 1 << 20}, {950_000, 2 << 20},
	} {
		if got := Window(tc.n); got != tc.want {
			t.Errorf("Window(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}
