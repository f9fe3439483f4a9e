package sim

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/mpship/mpship/client"
	"github.com/mpship/mpship/manifests"
)

// transport is the devices' network: an http.RoundTripper that hands each
// request to the origin handler in process. Which origin answers depends on
// the requesting device's clock: before the release the store holds only
// the old version. It counts requests, into the counters of the device's
// worker, as seen by a CDN edge and by the origin behind it.
type transport struct {
	before, after http.Handler
	release       time.Time // virtual time of the release
}

// ctxKey carries a *devCtx in a request's context.
type ctxKey struct{}

// devCtx is what the transport needs to know about the device making a
// request.
type devCtx struct {
	clock *clock
	pop   int
	stats *counters
	net   client.Network // guarded by clock.mu
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	d, _ := req.Context().Value(ctxKey{}).(*devCtx)
	if d == nil {
		return nil, errNoDevice
	}
	now := d.clock.Now()
	h := t.after
	if now.Before(t.release) {
		h = t.before
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	resp := rec.Result()
	resp.Request = req
	if since := now.Sub(t.release); since >= 0 {
		d.stats.count(d.pop, since, strings.TrimPrefix(req.URL.Path, "/"), resp.StatusCode)
	}
	return resp, nil
}

var errNoDevice = errors.New("simulation: request without a device in its context")

// counters tally the requests of one worker's devices after the release.
// A worker's devices run one at a time, so counters need no lock.
type counters struct {
	maxAge time.Duration
	// Requests seen by the CDN edge, by kind.
	manifest200, manifest304, release, blob, other int
	// What reaches the origin behind the CDN: a POP asks for the channel
	// manifest at most once per max-age window, and for an immutable
	// object once.
	manifestWindows map[popWindow]bool
	objects         map[popKey]bool
}

type popWindow struct {
	pop    int
	window int64
}

type popKey struct {
	pop int
	key string
}

func newCounters(maxAge time.Duration) *counters {
	return &counters{maxAge: maxAge, manifestWindows: map[popWindow]bool{}, objects: map[popKey]bool{}}
}

func (c *counters) count(pop int, since time.Duration, key string, status int) {
	switch manifests.ClassifyKey(key) {
	case manifests.KeyChannel:
		if status == http.StatusNotModified {
			c.manifest304++
		} else {
			c.manifest200++
		}
		c.manifestWindows[popWindow{pop, int64(since / c.maxAge)}] = true
	case manifests.KeyRelease:
		c.release++
		c.objects[popKey{pop, key}] = true
	case manifests.KeyBlob:
		c.blob++
		c.objects[popKey{pop, key}] = true
	default:
		c.other++
	}
}

// merge adds o into c.
func (c *counters) merge(o *counters) {
	c.manifest200 += o.manifest200
	c.manifest304 += o.manifest304
	c.release += o.release
	c.blob += o.blob
	c.other += o.other
	for k := range o.manifestWindows {
		c.manifestWindows[k] = true
	}
	for k := range o.objects {
		c.objects[k] = true
	}
}

func (c *counters) edge() int {
	return c.manifest200 + c.manifest304 + c.release + c.blob + c.other
}

func (c *counters) origin() int { return len(c.manifestWindows) + len(c.objects) }

// clock is a device's virtual clock. It is read by the device's client
// from other goroutines (background checks), so it is guarded.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func withDevice(ctx context.Context, d *devCtx) context.Context {
	return context.WithValue(ctx, ctxKey{}, d)
}

var _ http.RoundTripper = (*transport)(nil)
