package origin

import (
	"net/url"
	"strings"

	"github.com/mpship/mpship/store"
)

// keyFromPath maps the escaped path of a request (url.URL.EscapedPath) to
// the store key it names, or reports false when it names none.
//
// The path is split on its literal slashes before any segment is decoded,
// so an encoded slash (%2F) or backslash (%5C) stays inside its segment,
// where store.ValidateKey refuses it along with every other character
// outside [A-Za-z0-9._+-]. ValidateKey also refuses empty segments (a
// double or trailing slash, the root) and segments starting with '.'
// ("..", "%2e%2e", hidden files); on top of that any ".." at all is
// refused, so no spelling of a path leaves the store.
func keyFromPath(escaped string) (string, bool) {
	rest, ok := strings.CutPrefix(escaped, "/")
	if !ok || rest == "" {
		return "", false
	}
	var b strings.Builder
	b.Grow(len(rest))
	for i, seg := range strings.Split(rest, "/") {
		dec, err := url.PathUnescape(seg)
		if err != nil || dec == "" || strings.ContainsAny(dec, "/\\\x00") {
			return "", false
		}
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(dec)
	}
	key := b.String()
	if strings.Contains(key, "..") || store.ValidateKey(key) != nil {
		return "", false
	}
	return key, true
}
