package origin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/mpship/mpship/internal/httpmeta"
	"github.com/mpship/mpship/manifests"
	"github.com/mpship/mpship/store"
)

// Defaults and limits of Options.
const (
	// DefaultCacheBytes is the default bound of the manifest cache.
	DefaultCacheBytes = 32 << 20
	// MaxCacheBytes is the largest accepted Options.CacheBytes.
	MaxCacheBytes = 16 << 30
	// MaxCachedObject is the largest object the cache holds: the cap on a
	// release manifest. Larger objects are streamed from the store.
	MaxCachedObject = manifests.MaxReleaseSize
	// LocalCacheTTL is the default CacheTTL when the store is a local
	// directory, where revalidation is a stat: a release shows at once.
	LocalCacheTTL = time.Millisecond
	// DefaultStaleIfError is how long past its TTL a cached manifest may be
	// served while the store fails, matching the stale-if-error that
	// httpmeta sends to CDNs.
	DefaultStaleIfError = 24 * time.Hour
	// DefaultRetryAfter is the Retry-After sent with a 503.
	DefaultRetryAfter = 10 * time.Second
	// DefaultReadyWindow is how recent the store's last answer must be for
	// /readyz to report ready without probing.
	DefaultReadyWindow = 30 * time.Second
	// DefaultStoreTimeout bounds a cache fill and a readiness probe.
	DefaultStoreTimeout = 10 * time.Second
)

// Options configure a Server. The zero value is valid: every field has a
// default, and New rejects values outside the documented limits.
type Options struct {
	// ManifestMaxAge is the max-age (and stale-while-revalidate) sent with
	// channel manifests: the bound on how long a CDN or device may keep one
	// without asking again. Default httpmeta.DefaultManifestMaxAge (60s);
	// from 1s to 24h, in whole seconds.
	ManifestMaxAge time.Duration

	// CacheBytes bounds the in-memory manifest cache: the sum of the cached
	// objects' sizes plus a small per-entry overhead. Default
	// DefaultCacheBytes (32 MiB); at most MaxCacheBytes (16 GiB). Negative
	// disables the cache: every request then reaches the store and nothing
	// can be served stale.
	CacheBytes int64

	// CacheTTL is how long a cached channel manifest is served before it is
	// revalidated with one conditional Get to the store. Default
	// ManifestMaxAge for remote stores and LocalCacheTTL for a local
	// directory; from 1ms to 24h. A new release becomes visible at the
	// origin within one CacheTTL.
	CacheTTL time.Duration

	// StaleIfError is how long after its CacheTTL ran out a cached channel
	// manifest is still served while the store fails. Default
	// DefaultStaleIfError (24h); at most 30 days; negative disables serving
	// stale copies.
	StaleIfError time.Duration

	// RetryAfter is the Retry-After of a 503, rounded up to whole seconds.
	// Default DefaultRetryAfter (10s); from 1s to 1h.
	RetryAfter time.Duration

	// ReadyWindow is how recently the store must have answered for /readyz
	// to report ready without probing it; an older answer, or a failure
	// newer than the last answer, makes /readyz probe the store with a Stat.
	// Default DefaultReadyWindow (30s); from 1s to 1h.
	ReadyWindow time.Duration

	// StoreTimeout bounds each cache fill and readiness probe, which run on
	// behalf of several requests and so cannot use one request's context.
	// Default DefaultStoreTimeout (10s); from 1ms to 5m.
	StoreTimeout time.Duration

	// Logger receives the access log (level Info), served-stale notices
	// (Warn) and store failures (Error). Default slog.Default().
	Logger *slog.Logger

	// Now is the clock for cache expiry and readiness. Default time.Now.
	Now func() time.Time
}

// Server serves a store over HTTP. It is an http.Handler, safe for
// concurrent use by any number of requests. Build it with New.
type Server struct {
	st         store.Store // wrapped by observedStore
	local      bool
	maxAge     time.Duration
	ttl        time.Duration
	staleIfErr time.Duration // negative: never serve stale
	retryAfter string
	readyWin   time.Duration
	timeout    time.Duration
	log        *slog.Logger
	now        func() time.Time

	cache  *lru // nil when disabled
	fills  singleflight.Group
	probes singleflight.Group
	health health
	m      *metrics
}

// New returns a Server for st with opts. It fails only on options outside
// their limits; it does not contact the store.
func New(st store.Store, opts Options) (*Server, error) {
	if st == nil {
		return nil, errors.New("origin: nil store")
	}
	o, err := opts.withDefaults(st.Capabilities().Local)
	if err != nil {
		return nil, err
	}
	s := &Server{
		local:      st.Capabilities().Local,
		maxAge:     o.ManifestMaxAge,
		ttl:        o.CacheTTL,
		staleIfErr: o.StaleIfError,
		retryAfter: strconv.FormatInt(int64((o.RetryAfter+time.Second-1)/time.Second), 10),
		readyWin:   o.ReadyWindow,
		timeout:    o.StoreTimeout,
		log:        o.Logger,
		now:        o.Now,
	}
	if o.CacheBytes >= 0 {
		s.cache = newLRU(o.CacheBytes)
	}
	s.m = newMetrics(s.cache)
	s.st = observedStore{Store: st, s: s}
	return s, nil
}

func (o Options) withDefaults(local bool) (Options, error) {
	if o.ManifestMaxAge == 0 {
		o.ManifestMaxAge = httpmeta.DefaultManifestMaxAge
	}
	if o.ManifestMaxAge < time.Second || o.ManifestMaxAge > 24*time.Hour || o.ManifestMaxAge%time.Second != 0 {
		return o, fmt.Errorf("origin: manifest max-age %v out of range: use whole seconds from 1s to 24h", o.ManifestMaxAge)
	}
	if o.CacheBytes == 0 {
		o.CacheBytes = DefaultCacheBytes
	}
	if o.CacheBytes > MaxCacheBytes {
		return o, fmt.Errorf("origin: cache size %d bytes too large: use at most %d (16 GiB), or a negative size to disable the cache", o.CacheBytes, int64(MaxCacheBytes))
	}
	if o.CacheTTL == 0 {
		o.CacheTTL = o.ManifestMaxAge
		if local {
			// Revalidating against a local directory costs a stat, so
			// a release is visible at once rather than a TTL later.
			o.CacheTTL = LocalCacheTTL
		}
	}
	if o.CacheTTL < time.Millisecond || o.CacheTTL > 24*time.Hour {
		return o, fmt.Errorf("origin: cache TTL %v out of range: use 1ms to 24h", o.CacheTTL)
	}
	if o.StaleIfError == 0 {
		o.StaleIfError = DefaultStaleIfError
	}
	if o.StaleIfError > 30*24*time.Hour {
		return o, fmt.Errorf("origin: stale-if-error window %v too long: use at most 720h, or a negative window to never serve stale", o.StaleIfError)
	}
	if o.RetryAfter == 0 {
		o.RetryAfter = DefaultRetryAfter
	}
	if o.RetryAfter < time.Second || o.RetryAfter > time.Hour {
		return o, fmt.Errorf("origin: Retry-After %v out of range: use 1s to 1h", o.RetryAfter)
	}
	if o.ReadyWindow == 0 {
		o.ReadyWindow = DefaultReadyWindow
	}
	if o.ReadyWindow < time.Second || o.ReadyWindow > time.Hour {
		return o, fmt.Errorf("origin: ready window %v out of range: use 1s to 1h", o.ReadyWindow)
	}
	if o.StoreTimeout == 0 {
		o.StoreTimeout = DefaultStoreTimeout
	}
	if o.StoreTimeout < time.Millisecond || o.StoreTimeout > 5*time.Minute {
		return o, fmt.Errorf("origin: store timeout %v out of range: use 1ms to 5m", o.StoreTimeout)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}

// Cache outcomes, as logged and counted.
const (
	cacheNone        = ""            // no object served (errors, health)
	cacheHit         = "hit"         // fresh copy from memory
	cacheMiss        = "miss"        // fetched from the store and cached
	cacheRevalidated = "revalidated" // the store said the cached copy is current
	cacheStale       = "stale"       // the store failed; served a stale copy
	cacheBypass      = "bypass"      // not cacheable: streamed from the store
)

// Reserved paths, never store keys (they lack a '/' after the first).
const (
	pathHealthz = "/healthz"
	pathReadyz  = "/readyz"
)

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w}
	cache := s.serve(rec, r)
	d := time.Since(start)
	status := rec.status()
	s.m.observeRequest(status, cache, rec.n, d)
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
		slog.String("method", r.Method),
		slog.String("path", r.URL.EscapedPath()),
		slog.Int("status", status),
		slog.Int64("bytes", rec.n),
		slog.Duration("duration", d),
		slog.String("cache", cache),
		slog.String("remote", r.RemoteAddr),
	)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) string {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed)
		return cacheNone
	}
	switch r.URL.Path {
	case pathHealthz:
		writeText(w, http.StatusOK, "ok")
		return cacheNone
	case pathReadyz:
		if s.ready(r.Context()) {
			writeText(w, http.StatusOK, "ready")
		} else {
			w.Header().Set("Retry-After", s.retryAfter)
			writeText(w, http.StatusServiceUnavailable, "store unavailable")
		}
		return cacheNone
	}
	key, ok := keyFromPath(r.URL.EscapedPath())
	if !ok {
		writeError(w, http.StatusNotFound)
		return cacheNone
	}
	if strings.Contains(r.Header.Get("Range"), ",") {
		// Several ranges: answer with the whole object (RFC 9110 §14.2
		// lets a server ignore Range), so that one request cannot turn
		// into many ranged reads of the bucket.
		r2 := *r
		r2.Header = r.Header.Clone()
		r2.Header.Del("Range")
		r = &r2
	}
	if class := manifests.ClassifyKey(key); s.cache != nil && (class == manifests.KeyChannel || class == manifests.KeyRelease) {
		e, outcome, err := s.cached(r.Context(), key, class == manifests.KeyRelease)
		switch {
		case err == nil:
			s.setHeaders(w, key, e.contentType, e.etag)
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(e.data))
			return outcome
		case !errors.Is(err, errTooLarge):
			s.fail(w, r, key, err)
			return cacheNone
		}
		// Larger than any valid manifest: stream it like any object.
	}
	return s.stream(w, r, key)
}

// setHeaders sets the representation headers of a 200, 206 or 304.
func (s *Server) setHeaders(w http.ResponseWriter, key, contentType, etag string) {
	h := w.Header()
	if contentType == "" {
		contentType = httpmeta.ContentType(key)
	}
	h.Set("Content-Type", contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", httpmeta.CacheControl(key, s.maxAge))
	if etag != "" {
		h.Set("Etag", etag)
	}
}

// stream serves a key that is not cached, reading it from the store as
// http.ServeContent asks for bytes.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, key string) string {
	ctx := r.Context()
	var (
		info    store.Info
		content io.ReadSeeker
	)
	if s.local || plainGet(r) {
		// One Get either way: a local file is cheap to open and seekable;
		// a plain GET from a bucket needs the body anyway, and opening it
		// before the headers go out lets a failure still become a 503.
		obj, err := s.st.Get(ctx, key, store.GetOptions{})
		if err != nil {
			s.fail(w, r, key, err)
			return cacheNone
		}
		info = obj.Info
		if rs, ok := obj.Body.(io.ReadSeeker); ok {
			defer obj.Body.Close()
			content = rs
		} else {
			lz := newLazyReader(ctx, s.st, info, nil)
			lz.body, lz.bodyEnd = obj.Body, info.Size
			defer lz.Close()
			content = lz
		}
	} else {
		// Conditional, ranged or HEAD: the metadata decides, and the body
		// (or the range of it) is fetched only if ServeContent reads.
		var err error
		info, err = s.st.Stat(ctx, key)
		if err != nil {
			s.fail(w, r, key, err)
			return cacheNone
		}
		lz := newLazyReader(ctx, s.st, info, rangeHint(r.Header.Get("Range"), info.Size))
		defer lz.Close()
		content = lz
	}
	etag := etagOf(key, info.Meta)
	if etag == "" {
		s.log.LogAttrs(ctx, slog.LevelWarn, "object has no sha256 metadata; serving it without an ETag",
			slog.String("key", key), slog.String("store", s.st.Location()))
	}
	s.setHeaders(w, key, info.Meta.ContentType, etag)
	http.ServeContent(w, r, "", time.Time{}, content)
	return cacheBypass
}

// plainGet reports whether r is a GET that will be answered with the whole
// body: no preconditions, no range.
func plainGet(r *http.Request) bool {
	if r.Method != http.MethodGet {
		return false
	}
	for _, h := range []string{"Range", "If-Match", "If-None-Match", "If-Range"} {
		if r.Header.Get(h) != "" {
			return false
		}
	}
	return true
}

// etagOf returns the strong ETag of an object: its publish-time sha256 in
// quotes. A blob without the metadata is named by its hash anyway; any
// other object without it gets no ETag rather than a made-up one.
func etagOf(key string, meta store.Meta) string {
	if manifests.ValidHex(meta.SHA256) {
		return `"` + meta.SHA256 + `"`
	}
	if manifests.ClassifyKey(key) == manifests.KeyBlob {
		return `"` + key[strings.LastIndexByte(key, '/')+1:] + `"`
	}
	return ""
}

// fail answers a request whose object could not be read.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, key string, err error) {
	switch {
	case errors.Is(err, store.ErrNotExist), errors.Is(err, store.ErrInvalidKey):
		writeError(w, http.StatusNotFound)
	case r.Context().Err() != nil:
		// The client went away; nobody reads this answer.
		writeError(w, http.StatusServiceUnavailable)
	default:
		s.log.LogAttrs(r.Context(), slog.LevelError, "store failed",
			slog.String("key", key), slog.String("store", s.st.Location()), slog.Any("err", err))
		w.Header().Set("Retry-After", s.retryAfter)
		writeError(w, http.StatusServiceUnavailable)
	}
}

// writeError writes a status with its standard text and nothing else of
// ours: no internal detail reaches a client, and no cache keeps it.
func writeError(w http.ResponseWriter, code int) {
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, http.StatusText(code), code)
}

func writeText(w http.ResponseWriter, code int, text string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	io.WriteString(w, text+"\n")
}

// ready reports whether the store answered recently, probing it when the
// last news is old or bad.
func (s *Server) ready(ctx context.Context) bool {
	if s.health.fresh(s.now(), s.readyWin) {
		return true
	}
	ch := s.probes.DoChan("probe", func() (any, error) {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
		defer cancel()
		_, err := s.st.Stat(pctx, probeKey)
		if err == nil || errors.Is(err, store.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "readiness probe failed",
				slog.String("store", s.st.Location()), slog.Any("err", res.Err))
		}
		return res.Err == nil
	case <-ctx.Done():
		return false
	}
}

// probeKey is what /readyz asks the store about. It need not exist: a
// "no such object" is an answer too.
const probeKey = "mpship-origin-readyz-probe"

// Compile-time interface guards.
var (
	_ http.Handler = (*Server)(nil)
)
