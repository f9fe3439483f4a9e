// Package location opens the store.Store a --store argument names:
//
//	PATH or file://PATH            a local directory (package store/local)
//	s3://BUCKET/PREFIX             AWS S3 or an S3-compatible service
//	minio://HOST:PORT/BUCKET/PREFIX  MinIO through minio-go
//
// Each scheme is one case in Open's switch.
package location

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/mpship/mpship/store"
	"github.com/mpship/mpship/store/local"
	"github.com/mpship/mpship/store/minio"
	"github.com/mpship/mpship/store/s3"
)

// Forms lists the store locations Open accepts, for help texts and errors.
const Forms = "PATH, file://PATH, s3://BUCKET/PREFIX or minio://HOST:PORT/BUCKET/PREFIX"

// Options configure Open. The zero value opens an existing store read and
// write, creating nothing.
type Options struct {
	// Create makes a local store directory that does not exist yet (the
	// release command sets it; serve and verify do not, so a mistyped path
	// fails instead of serving an empty store). Default false.
	Create bool
	// HTTPClient carries the requests of s3:// and minio:// stores.
	// Default nil: each SDK's own client (never http.DefaultClient).
	HTTPClient *http.Client
}

// Open returns the store that raw names. A string without "://" is a local
// directory path. It is safe to call concurrently.
func Open(ctx context.Context, raw string, opts Options) (store.Store, error) {
	if raw == "" {
		return nil, fmt.Errorf("open store: empty location; pass %s", Forms)
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return openLocal(raw, opts)
	}
	switch strings.ToLower(scheme) {
	case "file":
		return openFile(raw, rest, opts)
	case "s3":
		s, err := s3.Open(ctx, raw, s3.Options{HTTPClient: opts.HTTPClient})
		if err != nil {
			return nil, err
		}
		return s, nil
	case "minio":
		s, err := minio.Open(ctx, raw, minio.Options{HTTPClient: opts.HTTPClient})
		if err != nil {
			return nil, err
		}
		return s, nil
	default:
		return nil, fmt.Errorf("open store %s: unknown scheme %q; use %s", raw, scheme, Forms)
	}
}

// openFile opens file://PATH, where PATH may be absolute (file:///srv/mp),
// relative (file://store), or percent-encoded as Store.Location writes it;
// a host of "localhost" is dropped, as RFC 8089 allows.
func openFile(raw, rest string, opts Options) (store.Store, error) {
	if strings.ContainsAny(rest, "?#") {
		return nil, fmt.Errorf("open store %s: a file:// location takes no query or fragment; percent-encode '?' and '#' in the path", raw)
	}
	p, err := url.PathUnescape(rest)
	if err != nil {
		return nil, fmt.Errorf("open store %s: bad percent-encoding in path: %w", raw, err)
	}
	if strings.HasPrefix(p, "localhost/") {
		p = strings.TrimPrefix(p, "localhost")
	}
	if p == "" {
		return nil, fmt.Errorf("open store %s: no directory after file://; pass file:///ABSOLUTE/PATH or a plain path", raw)
	}
	return openLocal(p, opts)
}

// openLocal returns a nil interface, not a nil *local.Store, on error.
func openLocal(dir string, opts Options) (store.Store, error) {
	s, err := local.Open(dir, local.Options{Create: opts.Create})
	if err != nil {
		return nil, err
	}
	return s, nil
}
