// Package httpmeta holds the HTTP metadata policy shared by the generator,
// which stores it with each object so a CDN can serve the bucket directly,
// and the origin, which sends it: Content-Type and Cache-Control by key.
package httpmeta

import (
	"fmt"
	"time"

	"github.com/mpship/mpship/manifests"
)

// Defaults for manifest caching.
const (
	// DefaultManifestMaxAge is how long caches may serve a channel manifest
	// without revalidating: the bound on how late a device sees a release.
	DefaultManifestMaxAge = 60 * time.Second
	// Immutable is the Cache-Control of release manifests and blobs.
	Immutable = "public, max-age=31536000, immutable"
)

// ContentType returns the media type served for key.
func ContentType(key string) string {
	switch manifests.ClassifyKey(key) {
	case manifests.KeyChannel, manifests.KeyRelease:
		return "application/json"
	case manifests.KeyBlob:
		return "application/octet-stream"
	}
	return "application/octet-stream"
}

// CacheControl returns the Cache-Control header for key. Channel manifests
// get maxAge with stale-while-revalidate of the same length and a day of
// stale-if-error, so a CDN keeps answering through an origin outage;
// release manifests and blobs never change and are immutable for a year.
func CacheControl(key string, maxAge time.Duration) string {
	switch manifests.ClassifyKey(key) {
	case manifests.KeyChannel:
		s := int(maxAge / time.Second)
		return fmt.Sprintf("public, max-age=%d, stale-while-revalidate=%d, stale-if-error=86400", s, s)
	case manifests.KeyRelease, manifests.KeyBlob:
		return Immutable
	}
	return "no-cache"
}
