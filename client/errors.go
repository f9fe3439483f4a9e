package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/mpship/mpship/manifests"
)

// Errors of the update mechanism other than verification failures (which
// wrap the manifests sentinels: manifests.ErrBadSignature, ...). Test with
// errors.Is; report with ErrorCode.
var (
	// ErrNetwork: the origin could not be reached, or the connection broke
	// before a response was complete. Transient.
	ErrNetwork = errors.New("network error")
	// ErrUnpack: a verified package could not be decompressed or unpacked
	// (a bug in the publisher or in this client, or a full disk).
	ErrUnpack = errors.New("unpack failed")
	// ErrState: the state directory could not be read or written, or its
	// state file was corrupt and had to be reset.
	ErrState = errors.New("state directory error")
	// ErrNotInstalled: nothing is installed for the app and the first
	// install failed, so there is nothing to launch. It is always joined
	// with the cause.
	ErrNotInstalled = errors.New("nothing installed")
	// ErrOffline: the host reports no network (rule 5), so nothing was
	// requested.
	ErrOffline = errors.New("offline")
	// ErrDeferred: a check found an update but did not download it: the
	// network is weak or metered and the policy defers downloads there,
	// or a periodic check may not download (rule 5, Policy.DeferOnWeak,
	// DeferOnMetered, NoBackgroundDownload). The mini program is marked,
	// so its next launch on a good network is synchronous.
	ErrDeferred = errors.New("download deferred")
	// ErrSyncTimeout: a synchronous launch (rules 3 and 4) did not finish
	// within Policy.SyncTimeout; the installed version was launched and
	// the update carries on in the background.
	ErrSyncTimeout = errors.New("synchronous update timed out")
	// ErrNoUpdate: UpdateManager.ApplyUpdate was called with no update
	// ready.
	ErrNoUpdate = errors.New("no update ready")
)

// StatusError is an HTTP response with a status the client did not expect.
type StatusError struct {
	// URL is the requested URL.
	URL string
	// StatusCode is the response's status code.
	StatusCode int
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("GET %s: %d %s", e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	switch {
	case e.StatusCode == http.StatusNotFound:
		msg += " (nothing published there: check the origin URL, app and channel)"
	case e.Transient():
		msg += " (the origin is unavailable; will retry on the next check)"
	}
	return msg
}

// Transient reports whether the status may change on retry: 408, 429, and
// every 5xx.
func (e *StatusError) Transient() bool {
	return e.StatusCode == http.StatusRequestTimeout || e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// IsTransient reports whether err is a failure that may go away on retry:
// network errors, timeouts, and 408/429/5xx responses. Verification failures,
// 404s and cancellation are not transient.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Transient()
	}
	if manifests.Code(err) != "" {
		return false
	}
	var ne net.Error
	return errors.Is(err, ErrNetwork) || errors.Is(err, ErrOffline) || errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, &ne) && ne.Timeout()
}

// ErrorCode returns a short stable identifier for err, for reports and
// tests: a verification code from manifests.Code ("bad_signature",
// "hash_mismatch", "expired", "rollback", "mix_and_match", "too_large", ...),
// or one of "timeout" (also ErrSyncTimeout), "canceled", "http_status",
// "network", "offline", "deferred", "no_update", "unpack", "state", or
// "error" for anything else. It returns "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	if c := manifests.Code(err); c != "" {
		return c
	}
	var se *StatusError
	var ne net.Error
	switch {
	case errors.Is(err, ErrOffline):
		return "offline"
	case errors.Is(err, ErrDeferred):
		return "deferred"
	case errors.Is(err, ErrNoUpdate):
		return "no_update"
	case errors.Is(err, ErrSyncTimeout), errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &se):
		return "http_status"
	case errors.Is(err, ErrNetwork):
		return "network"
	case errors.Is(err, ErrUnpack):
		return "unpack"
	case errors.Is(err, ErrState):
		return "state"
	}
	return "error"
}

// networkError wraps a transport or body-read failure under ErrNetwork,
// keeping the cause for errors.As (net.Error timeouts, ...).
func networkError(op, url string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s %s: %w", op, url, err)
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%s %s: %w: %w", op, url, ErrNetwork, err)
}

var _ error = (*StatusError)(nil)
