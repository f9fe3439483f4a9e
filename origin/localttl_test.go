package origin

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mpship/mpship/manifests"
	"github.com/mpship/mpship/store"
	"github.com/mpship/mpship/store/local"
)

// TestLocalStoreShowsReleaseAtOnce: with a local directory the default
// cache TTL is LocalCacheTTL, so a channel manifest rewritten by a release
// is served on the very next request, not a ManifestMaxAge later (the bug
// that made 'make demo' see no update right after a release).
func TestLocalStoreShowsReleaseAtOnce(t *testing.T) {
	st, err := local.Open(t.TempDir(), local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	key := manifests.ChannelPath("demo", "stable")
	put := func(body string) {
		t.Helper()
		if err := st.Put(context.Background(), key, bytes.NewReader([]byte(body)), int64(len(body)), store.Meta{ContentType: "application/json"}); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := New(st, Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	get := func() string {
		t.Helper()
		resp, err := ts.Client().Get(ts.URL + "/" + key)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("got status %d, want 200", resp.StatusCode)
		}
		return string(b)
	}
	put(`{"v":1}`)
	if got := get(); got != `{"v":1}` {
		t.Fatalf("got %s, want v1", got)
	}
	put(`{"v":2}`)
	if got := get(); got != `{"v":2}` {
		t.Errorf("got %s right after the rewrite, want v2", got)
	}
}
