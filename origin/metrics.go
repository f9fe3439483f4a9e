package origin

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mpship/mpship/store"
)

// metrics are the Server's Prometheus collectors, on a registry of its own.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	bytes    prometheus.Counter
	duration prometheus.Histogram
	storeOps *prometheus.CounterVec
}

func newMetrics(c *lru) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mpship_origin_requests_total",
			Help: "HTTP requests answered, by status code and cache outcome (hit, miss, revalidated, stale, bypass, or empty).",
		}, []string{"code", "cache"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mpship_origin_response_body_bytes_total",
			Help: "Response body bytes written.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "mpship_origin_request_duration_seconds",
			Help:    "Time to answer a request, to the last body byte.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}),
		storeOps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mpship_origin_store_requests_total",
			Help: "Requests made to the store, by operation and result (ok: the store answered, including not found and not modified; error: it failed).",
		}, []string{"op", "result"}),
	}
	m.reg.MustRegister(m.requests, m.bytes, m.duration, m.storeOps)
	if c != nil {
		m.reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "mpship_origin_cache_entries",
				Help: "Objects in the manifest cache.",
			}, func() float64 { n, _ := c.stats(); return float64(n) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "mpship_origin_cache_bytes",
				Help: "Bytes charged to the manifest cache.",
			}, func() float64 { _, b := c.stats(); return float64(b) }),
		)
	}
	return m
}

func (m *metrics) observeRequest(code int, cache string, n int64, d time.Duration) {
	m.requests.WithLabelValues(strconv.Itoa(code), cache).Inc()
	m.bytes.Add(float64(n))
	m.duration.Observe(d.Seconds())
}

// Metrics returns an http.Handler serving the Server's Prometheus metrics
// (requests by status and cache outcome, body bytes, latency, store
// requests by operation and result, cache size). The registry is private
// to this Server. Serve it on an address the CDN does not reach.
func (s *Server) Metrics() http.Handler {
	return promhttp.HandlerFor(s.m.reg, promhttp.HandlerOpts{})
}

// health remembers when the store last answered (in nanoseconds of the
// Server's clock) and whether its latest outcome was a failure.
type health struct {
	lastOK  atomic.Int64
	failing atomic.Bool
}

// fresh reports whether the store's latest outcome was an answer, given
// less than window ago.
func (h *health) fresh(now time.Time, window time.Duration) bool {
	ok := h.lastOK.Load()
	return ok != 0 && !h.failing.Load() && now.UnixNano()-ok < int64(window)
}

// observedStore counts the Server's store requests and records their
// outcome for /readyz. It adds nothing else.
type observedStore struct {
	store.Store
	s *Server
}

func (o observedStore) Get(ctx context.Context, key string, opts store.GetOptions) (*store.Object, error) {
	obj, err := o.Store.Get(ctx, key, opts)
	o.observe("get", err)
	return obj, err
}

func (o observedStore) Stat(ctx context.Context, key string) (store.Info, error) {
	info, err := o.Store.Stat(ctx, key)
	o.observe("stat", err)
	return info, err
}

func (o observedStore) observe(op string, err error) {
	switch {
	case err == nil, errors.Is(err, store.ErrNotExist), errors.Is(err, store.ErrNotModified),
		errors.Is(err, store.ErrInvalidRange), errors.Is(err, store.ErrInvalidKey):
		o.s.health.lastOK.Store(o.s.now().UnixNano())
		o.s.health.failing.Store(false)
		o.s.m.storeOps.WithLabelValues(op, "ok").Inc()
	case errors.Is(err, context.Canceled):
		// The client left: says nothing about the store.
		o.s.m.storeOps.WithLabelValues(op, "canceled").Inc()
	default:
		o.s.health.failing.Store(true)
		o.s.m.storeOps.WithLabelValues(op, "error").Inc()
	}
}

// recorder notes the status and body size of a response for the access
// log, and marks a 412 no-store (see WriteHeader). It keeps io.ReaderFrom,
// so files still go out by sendfile.
type recorder struct {
	http.ResponseWriter
	code int
	n    int64
}

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 && code >= 200 {
		r.code = code
	}
	if code == http.StatusPreconditionFailed {
		// http.ServeContent answers a failed If-Match with the object's
		// headers still set; its Cache-Control (a year, for immutable
		// objects) would let a shared cache keep the 412 (RFC 9111 §3).
		r.Header().Set("Cache-Control", "no-store")
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.n += int64(n)
	return n, err
}

func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	var (
		n   int64
		err error
	)
	if rf, ok := r.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(writerOnly{r.ResponseWriter}, src)
	}
	r.n += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) status() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}

// writerOnly hides every method but Write, so io.Copy cannot loop back
// into recorder.ReadFrom.
type writerOnly struct{ io.Writer }

// Compile-time interface guards.
var (
	_ store.Store         = observedStore{}
	_ http.ResponseWriter = (*recorder)(nil)
	_ io.ReaderFrom       = (*recorder)(nil)
)
