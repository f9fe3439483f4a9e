package generator

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mpship/mpship/manifests"
	"github.com/mpship/mpship/store"
)

func TestVerify(t *testing.T) {
	ctx := context.Background()
	put := func(t *testing.T, st store.Store, key string, data []byte) {
		t.Helper()
		if err := st.Put(ctx, key, strings.NewReader(string(data)), int64(len(data)), store.Meta{}); err != nil {
			t.Fatal(err)
		}
	}
	type fixture struct {
		st  store.Store
		v1  *Result // 1.0.0, superseded
		cur *Result // 1.1.0, current on stable
	}
	tests := []struct {
		name   string
		tamper func(t *testing.T, f fixture)
		trust  *manifests.Trust
		now    time.Time
		want   []Problem // Key and Code only
	}{
		{name: "clean"},
		{name: "blob bytes changed", tamper: func(t *testing.T, f fixture) {
			p := f.cur.Packages[0]
			put(t, f.st, p.Path, []byte(strings.Repeat("x", int(p.Size))))
		}, want: []Problem{{Key: "cur-blob", Code: "hash_mismatch"}}},
		{name: "blob truncated", tamper: func(t *testing.T, f fixture) {
			put(t, f.st, f.cur.Packages[0].Path, []byte("short"))
		}, want: []Problem{{Key: "cur-blob", Code: "size_mismatch"}}},
		{name: "old release's blob deleted", tamper: func(t *testing.T, f fixture) {
			if err := f.st.Delete(ctx, f.v1.Packages[0].Path); err != nil {
				t.Fatal(err)
			}
		}, want: []Problem{{Key: "v1-blob", Code: "missing"}}},
		{name: "release manifest re-signed with other content", tamper: func(t *testing.T, f fixture) {
			rel := *f.cur.Release
			rel.Notes = "swapped"
			data, err := manifests.SignRelease(&rel, testSigner(1))
			if err != nil {
				t.Fatal(err)
			}
			put(t, f.st, f.cur.ReleasePath, data)
		}, want: []Problem{{Key: "channel", Code: "size_mismatch"}}},
		{name: "release manifest payload edited", tamper: func(t *testing.T, f fixture) {
			data := strings.Replace(string(f.cur.ReleaseManifest), `"payload": "e`, `"payload": "f`, 1)
			put(t, f.st, f.cur.ReleasePath, []byte(data))
		}, want: []Problem{{Key: "channel", Code: "hash_mismatch"}, {Key: "cur-release", Code: "bad_signature"}}},
		{name: "release manifest deleted", tamper: func(t *testing.T, f fixture) {
			if err := f.st.Delete(ctx, f.cur.ReleasePath); err != nil {
				t.Fatal(err)
			}
		}, want: []Problem{{Key: "channel", Code: "missing"}}},
		{name: "channel signed by an untrusted key", tamper: func(t *testing.T, f fixture) {
			data, err := manifests.SignChannel(f.cur.Channel, testSigner(9))
			if err != nil {
				t.Fatal(err)
			}
			put(t, f.st, f.cur.ChannelPath, data)
		}, want: []Problem{{Key: "channel", Code: "unknown_key"}}},
		{name: "channel of another app", tamper: func(t *testing.T, f fixture) {
			put(t, f.st, manifests.ChannelPath("other", "stable"), f.cur.ChannelManifest)
		}, want: []Problem{{Key: "apps/other/channels/stable.json", Code: "mix_and_match"}}},
		{name: "expired", now: testClock.Add(31 * 24 * time.Hour), want: []Problem{{Key: "channel", Code: "expired"}}},
		{name: "below threshold", trust: testTrust(t, 2, testSigner(1), testSigner(2)),
			want: []Problem{{Key: "channel", Code: "below_threshold"}, {Key: "cur-release", Code: "below_threshold"}, {Key: "v1-release", Code: "below_threshold"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t)
			f := fixture{st: st}
			f.v1 = mustRun(t, opts(st, "1.0.0", writeTree(t, map[string]string{"app.js": "v1"})))
			o := opts(st, "1.1.0", writeTree(t, map[string]string{"app.js": "v2"}))
			o.Now = func() time.Time { return testClock.Add(time.Minute) }
			f.cur = mustRun(t, o)
			if tc.tamper != nil {
				tc.tamper(t, f)
			}
			trust, now := tc.trust, tc.now
			if trust == nil {
				trust = testTrust(t, 1, testSigner(1))
			}
			if now.IsZero() {
				now = testClock.Add(time.Hour)
			}
			rep, err := Verify(ctx, st, trust, now)
			if err != nil {
				t.Fatal(err)
			}
			alias := map[string]string{
				"channel":     f.cur.ChannelPath,
				"cur-release": f.cur.ReleasePath,
				"cur-blob":    f.cur.Packages[0].Path,
				"v1-blob":     f.v1.Packages[0].Path,
				"v1-release":  f.v1.ReleasePath,
			}
			var want []string
			for _, p := range tc.want {
				if k, ok := alias[p.Key]; ok {
					p.Key = k
				}
				want = append(want, p.Key+" "+p.Code)
			}
			slices.Sort(want)
			var got []string
			for _, p := range rep.Problems {
				got = append(got, p.Key+" "+p.Code)
				t.Logf("%s: %s: %s", p.Key, p.Code, p.Message)
			}
			if !slices.Equal(got, want) {
				t.Errorf("problems\n got %q\nwant %q", got, want)
			}
			if tc.name == "clean" && (rep.Channels != 1 || rep.Releases != 2 || rep.Blobs != 2) {
				t.Errorf("checked %d channels, %d releases, %d blobs; want 1, 2, 2", rep.Channels, rep.Releases, rep.Blobs)
			}
		})
	}
}
