package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/mpship/mpship/manifests"
)

// meter counts what one operation (a launch or a check) fetched. It is used
// by one goroutine at a time.
type meter struct {
	bytes    int64
	requests int
	// body counts response body bytes only; packageBytes the body bytes
	// of package and delta blobs; routes how each package came (route.go).
	body         int64
	packageBytes int64
	routes       []string
}

// fetcher makes the client's GET requests: status checks, conditional
// requests, byte caps, counting, and retries of transient failures.
// It is safe for concurrent use.
type fetcher struct {
	hc    *http.Client
	base  string // ends with "/"
	retry RetryPolicy
	log   *slog.Logger
}

func (f *fetcher) url(key string) string { return f.base + key }

// errNotModified is returned by get for a 304 answer to a conditional GET.
var errNotModified = errors.New("not modified")

// get sends one GET for key with the given request headers (If-None-Match,
// Range, If-Range; nil for none). It returns the response when the status
// is 200, or 206 when a Range was sent, with its body counted into m;
// errNotModified when it is 304 and If-None-Match was sent; a *StatusError
// for any other status; a network error when no response arrived. The
// caller closes the body.
func (f *fetcher) get(ctx context.Context, key string, hdr http.Header, m *meter) (*http.Response, error) {
	u := f.url(key)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", u, err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	m.requests++
	resp, err := f.hc.Do(req)
	if err != nil {
		return nil, networkError("get", u, err)
	}
	m.bytes += headerBytes(resp)
	resp.Body = &countingBody{rc: resp.Body, m: m}
	f.log.Debug("fetch", "url", u, "status", resp.StatusCode, "if_none_match", req.Header.Get("If-None-Match"),
		"range", req.Header.Get("Range"), "content_length", resp.ContentLength)
	switch {
	case resp.StatusCode == http.StatusOK:
		return resp, nil
	case resp.StatusCode == http.StatusPartialContent && req.Header.Get("Range") != "":
		return resp, nil
	case resp.StatusCode == http.StatusNotModified && req.Header.Get("If-None-Match") != "":
		resp.Body.Close()
		return resp, errNotModified
	}
	// Read a little of an error body so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	return nil, &StatusError{URL: u, StatusCode: resp.StatusCode}
}

// headerBytes estimates the bytes of a response's status line and header
// block as HTTP/1.1 puts them on the wire. It is exact for HTTP/1.x headers
// the transport does not rewrite; for HTTP/2, whose headers are compressed,
// it overestimates.
func headerBytes(resp *http.Response) int64 {
	n := len(resp.Proto) + 1 + len(resp.Status) + 2 // "HTTP/1.1 200 OK\r\n"
	for k, vs := range resp.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2 // "Key: value\r\n"
		}
	}
	if resp.Uncompressed {
		// The transport removed these when it decoded gzip.
		n += len("Content-Encoding: gzip\r\n")
	}
	return int64(n + 2)
}

// countingBody counts the body bytes read into a meter and remembers the
// first read error, so a copy can tell network failures from disk failures.
type countingBody struct {
	rc  io.ReadCloser
	m   *meter
	err error
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	c.m.bytes += int64(n)
	c.m.body += int64(n)
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
}

func (c *countingBody) Close() error { return c.rc.Close() }

// fetchDoc GETs a document of at most max bytes. It returns the bytes (up
// to max+1 of them, so the verifier can report ErrTooLarge without the
// client reading more), the response's ETag, or errNotModified. Transient
// failures are retried.
func (f *fetcher) fetchDoc(ctx context.Context, key, etag string, max int64, m *meter) (data []byte, newETag string, err error) {
	var hdr http.Header
	if etag != "" {
		hdr = http.Header{"If-None-Match": {etag}}
	}
	err = f.withRetry(ctx, func() error {
		resp, err := f.get(ctx, key, hdr, m)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.ContentLength > max {
			return fmt.Errorf("get %s: %w: Content-Length %d, cap %d", f.url(key), manifests.ErrTooLarge, resp.ContentLength, max)
		}
		data, err = io.ReadAll(io.LimitReader(resp.Body, max+1))
		if err != nil {
			return networkError("read", f.url(key), err)
		}
		newETag = resp.Header.Get("ETag")
		return nil
	})
	return data, newETag, err
}

// withRetry runs op until it succeeds, fails with an error that is not
// transient, the context ends, or the policy's attempts are used up.
func (f *fetcher) withRetry(ctx context.Context, op func() error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = op()
		if err == nil || errors.Is(err, errNotModified) || !IsTransient(err) || attempt >= f.retry.MaxAttempts || ctx.Err() != nil {
			return err
		}
		d := min(f.retry.MaxDelay, f.retry.BaseDelay<<(attempt-1))
		d = rand.N(d) + 1
		f.log.Warn("retrying after transient failure", "attempt", attempt, "backoff", d, "err", err)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

var _ io.ReadCloser = (*countingBody)(nil)
