// Package origin is the HTTP server a CDN fetches its misses from: it serves
// the objects of a store.Store by GET and HEAD with the headers the bucket
// layout (docs/layout.md) promises.
//
// # Requests
//
// A request path names a store key: "/apps/demo/channels/stable.json" serves
// the key "apps/demo/channels/stable.json". Anything that is not a valid
// store key (store.ValidateKey), and anything that could reach outside the
// store however it is decoded ("..", encoded slashes, backslashes, NUL
// bytes, empty segments, a trailing slash) is 404; there are no directory
// listings. Methods other than GET and HEAD are 405 with "Allow: GET, HEAD".
// The query string is ignored.
//
// Two paths are reserved and are never store keys: /healthz answers 200
// while the process runs, and /readyz answers 200 when the store answered
// recently (see Options.ReadyWindow).
//
// # Headers
//
// The ETag is strong: the object's sha256 in quotes, computed once at
// publish time and stored with the object, so every replica sends the same
// ETag for the same bytes. There is no Last-Modified: modification times
// differ between replicas and buckets. Content-Type comes from the stored
// metadata or the key (internal/httpmeta), always with
// "X-Content-Type-Options: nosniff". Cache-Control follows the key's class:
// channel manifests are short-lived (Options.ManifestMaxAge) with
// stale-while-revalidate and stale-if-error, release manifests and blobs are
// immutable. http.ServeContent then applies RFC 9110's precondition order
// (If-Match, If-None-Match, If-Range), answers 304 and 412, and serves a
// single byte range as 206 or 416. A request for several ranges is answered
// with the whole object.
//
// # Streaming and ranges
//
// Objects that a backend returns as seekable files (store/local) are handed
// to http.ServeContent as they are, which lets the kernel send them
// (sendfile). Objects from a bucket are read through a seekable view that
// knows the size from the object's metadata and opens a ranged Get when a
// byte is first needed, so a Range request becomes a ranged request to the
// bucket and a 304 or HEAD reads no body at all.
//
// # Manifest cache
//
// Channel and release manifests (up to manifests.MaxReleaseSize bytes each)
// are kept in a bounded least-recently-used cache in memory
// (Options.CacheBytes). A cached channel manifest is revalidated against the
// store with a conditional Get at most once per Options.CacheTTL; release
// manifests are immutable and never revalidated. Concurrent misses or
// revalidations of one key are collapsed into one store request. When the
// store fails (unreachable, 5xx), a cached manifest is still served for
// Options.StaleIfError after its TTL ran out, and a key never cached is 503
// with Retry-After. The next request after the store returns refreshes the
// cache: there is nothing to reset.
//
// # Errors
//
// A missing object is 404; any other store failure is 503 with Retry-After
// and "Cache-Control: no-store". The cause is logged, never sent: a client
// sees only the status text.
//
// # Observability
//
// Every request is logged through Options.Logger (log/slog) with method,
// path, status, bytes, duration, cache outcome and remote address. Server.Metrics
// returns a Prometheus handler over a registry private to the Server, to be
// served on a separate listener, not to the CDN.
package origin
