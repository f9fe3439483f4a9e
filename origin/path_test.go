package origin

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mpship/mpship/store"
)

func TestKeyFromPath(t *testing.T) {
	cases := []struct {
		path string
		key  string // "" when no key
	}{
		{"/apps/demo/channels/stable.json", "apps/demo/channels/stable.json"},
		{"/apps/com.example.shop/releases/1.2.0-beta.1.json", "apps/com.example.shop/releases/1.2.0-beta.1.json"},
		{"/blobs/sha256/" + strings.Repeat("0f", 32), "blobs/sha256/" + strings.Repeat("0f", 32)},
		{"/apps/demo/releases/1.0.0+build.json", "apps/demo/releases/1.0.0+build.json"},
		{"/%61pps/demo", "apps/demo"}, // an escaped unreserved character is the character
		{"/README.txt", "README.txt"},
		{"", ""},
		{"/", ""},
		{"apps/demo", ""},
		{"//apps", ""},
		{"/apps/", ""},
		{"/apps//demo", ""},
		{"/..", ""},
		{"/../etc/passwd", ""},
		{"/apps/../etc", ""},
		{"/apps/..", ""},
		{"/./apps", ""},
		{"/%2e%2e/etc", ""},
		{"/%2E%2e", ""},
		{"/apps/a..b", ""},
		{"/apps%2Fdemo", ""},
		{"/apps%2fdemo", ""},
		{"/apps%5Cdemo", ""},
		{`/apps\demo`, ""},
		{"/apps%00", ""},
		{"/apps\x00", ""},
		{"/%", ""},
		{"/%zz", ""},
		{"/%252e%252e", ""},
		{"/.mpship/lock", ""},
		{"/apps/.hidden", ""},
		{"/C:/x", ""},
		{"/a b", ""},
		{"/a%20b", ""},
		{"/" + strings.Repeat("a", 1025), ""},
		{"/healthz", "healthz"}, // a valid key: ServeHTTP claims it first
	}
	for _, c := range cases {
		key, ok := keyFromPath(c.path)
		if key != c.key || ok != (c.key != "") {
			t.Errorf("keyFromPath(%q): got %q, %v; want %q, %v", c.path, key, ok, c.key, c.key != "")
		}
	}
}

// FuzzKeyFromPath: whatever the path, the result is a valid store key that
// stays inside a directory it is joined to, and every valid key is reached
// by its own path.
func FuzzKeyFromPath(f *testing.F) {
	for _, s := range []string{
		"/apps/demo/channels/stable.json", "/blobs/sha256/00", "/../x", "/%2e%2e/x", "/a%2Fb", "//a", "/a/",
		`/a\b`, "/a%00", "/%", "/.x", "/a..b", "/%61", "/a+b", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		key, ok := keyFromPath(p)
		if ok {
			if err := store.ValidateKey(key); err != nil {
				t.Fatalf("keyFromPath(%q) = %q: %v", p, key, err)
			}
			if strings.Contains(key, "..") || !filepath.IsLocal(filepath.FromSlash(key)) {
				t.Fatalf("keyFromPath(%q) = %q: not local", p, key)
			}
			// The key's canonical path leads back to it.
			if k2, ok2 := keyFromPath((&url.URL{Path: "/" + key}).EscapedPath()); !ok2 || k2 != key {
				t.Fatalf("round trip of %q: got %q, %v", key, k2, ok2)
			}
		} else if key != "" {
			t.Fatalf("keyFromPath(%q) = %q with ok false", p, key)
		}
		// A valid key is always reachable as itself.
		if store.ValidateKey(p) == nil && !strings.Contains(p, "..") {
			if k, ok := keyFromPath("/" + p); !ok || k != p {
				t.Fatalf("keyFromPath(/%s): got %q, %v; want the key itself", p, k, ok)
			}
		}
	})
}
