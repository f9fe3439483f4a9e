package delta

import (
	"bytes"
	"errors"
	"testing"

	"github.com/mpship/mpship/internal/archive"
)

// fuzzPair returns a small base archive, a target, and the delta between
// them.
func fuzzPair(tb testing.TB, base, target map[string]string) (b, t, d []byte) {
	tb.Helper()
	b, t = encode(tb, base), encode(tb, target)
	d, err := Diff(b, t)
	if err != nil {
		tb.Fatal(err)
	}
	return b, t, d
}

// FuzzPatch feeds Patch a base archive, a delta and the archive it should
// rebuild. Whatever the bytes, Patch returns the target exactly or an error
// of the documented kinds, never panics, and stays within its limits.
// Seeds are here and in testdata/fuzz/FuzzPatch.
func FuzzPatch(f *testing.F) {
	small := map[string]string{"app.js": "App({ onLaunch() {} })", "pages/index/index.js": "Page({ data: { motto: 'hi' } })", "app.json": `{"pages":["pages/index/index"]}`}
	changed := edit(small, func(m map[string]string) {
		m["pages/index/index.js"] = "Page({ data: { motto: 'hello' } })"
		m["pages/logs/logs.js"] = m["app.js"]
		m["pages/new/new.js"] = "Page({ onShow() { console.log('new') } })"
		delete(m, "app.json")
	})
	for _, p := range [][2]map[string]string{{small, changed}, {changed, small}, {small, small}} {
		b, t, d := fuzzPair(f, p[0], p[1])
		f.Add(b, d, t)
	}
	lim := Limits{MaxSize: 1 << 20, MaxFiles: 200}
	f.Fuzz(func(t *testing.T, base, patch, target []byte) {
		got, err := Patch(base, patch, targetOf(target), lim)
		if err == nil {
			if !bytes.Equal(got, target) {
				t.Fatal("Patch returned bytes other than the target")
			}
			return
		}
		var ae *archive.Error
		if !errors.Is(err, ErrBadDelta) && !errors.Is(err, ErrTooLarge) && !errors.As(err, &ae) {
			t.Fatalf("error %v is not ErrBadDelta, ErrTooLarge or a base archive error", err)
		}
	})
}
