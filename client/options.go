package client

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/mpship/mpship/internal/archive"
	"github.com/mpship/mpship/manifests"
)

// Options configure a Runtime. Origin, Trust and StateDir are required; every
// other field has a default, given in its doc.
type Options struct {
	// Origin is the base URL the bucket layout hangs from, for example
	// "https://cdn.example.com/mp/". Object keys (apps/<app>/channels/...)
	// are appended to it. Only http and https are accepted.
	Origin string

	// HTTPClient makes every request. The Runtime never modifies it and
	// never uses http.DefaultClient. Default: a new client from
	// NewHTTPClient, with connect, TLS and header timeouts.
	HTTPClient *http.Client

	// Trust holds the public keys and threshold manifests must meet.
	Trust *manifests.Trust

	// StateDir is the directory the Runtime owns: state files, installed
	// versions, temporary downloads (see the package documentation for the
	// layout). It is created if missing; a relative path is made absolute
	// once, by New. Several Runtimes, in one process
	// or several, may share it: a lock file per app serialises them.
	StateDir string

	// Now is the clock, used to check manifest expiry and to stamp last-use
	// and last-check times. Default: time.Now. Tests and simulations inject
	// their own.
	Now func() time.Time

	// Limits cap what a device accepts from the network. Zero fields take
	// the defaults documented on Limits.
	Limits Limits

	// Retry says how failures known to be transient (network errors, 5xx,
	// 429, timeouts) are retried. Zero fields take the defaults documented
	// on RetryPolicy.
	Retry RetryPolicy

	// Logger receives structured logs (requests at Debug, installs at Info,
	// failures at Warn). Default: logs are discarded.
	Logger *slog.Logger

	// Policy holds the update rules: periodic checks, synchronous
	// launches and their timeout, disuse, weak networks. Zero fields take
	// the defaults documented on Policy.
	Policy Policy

	// Network answers the network's quality when a launch, check or
	// background pass begins (rule 5). Default: the quality last given to
	// Runtime.SetNetwork, NetworkGood until then. It is called from any
	// goroutine and must be quick; a value other than the four Network
	// constants counts as NetworkGood.
	Network func() Network

	// Rand draws the periodic checks' jitter. It is used under the
	// Runtime's lock, so it need not be safe for concurrent use. Default:
	// a generator seeded at random. Simulations pass a seeded one.
	Rand *rand.Rand

	// NoSync skips fsync of state files and installed versions. Writes
	// stay atomic for readers and after a crash of the process, but not
	// after a power loss. Default false; only for simulations and tests
	// that run thousands of devices on one disk.
	NoSync bool
}

// Limits cap what a device downloads and unpacks, so that a hostile or broken
// origin cannot exhaust its storage or memory. A release whose signed sizes
// exceed a limit is refused before any of its packages is downloaded, with an
// error wrapping manifests.ErrTooLarge.
type Limits struct {
	// MaxPackageSize is the largest compressed package (blob) accepted.
	// Default 64 MiB; at most 4 GiB.
	MaxPackageSize int64
	// MaxRawSize is the largest uncompressed package (tar) accepted; it
	// also bounds the zstd decoder's memory. Default 256 MiB; at most 1 GiB.
	MaxRawSize int64
	// MaxFiles is the largest number of entries unpacked from one package.
	// Default 20000; at most 1,000,000.
	MaxFiles int
}

// Limit defaults and ceilings.
const (
	DefaultMaxPackageSize = 64 << 20
	DefaultMaxRawSize     = 256 << 20
	DefaultMaxFiles       = 20000

	maxSizeCeiling  = 4 << 30
	maxFilesCeiling = 1_000_000
)

// RetryPolicy says how transient failures are retried: attempt n (from 1)
// waits a random duration in [0, min(MaxDelay, BaseDelay·2^(n-1))) ("full
// jitter") before the next one, and the wait ends early when the context
// does. Failures that are not transient (404, a bad signature, a hash
// mismatch) are never retried.
type RetryPolicy struct {
	// MaxAttempts is how many times one request is tried in all. Default 3;
	// 1 disables retries; at most 10.
	MaxAttempts int
	// BaseDelay is the first backoff. Default 250 ms.
	BaseDelay time.Duration
	// MaxDelay caps every backoff. Default 4 s.
	MaxDelay time.Duration
}

// Retry defaults.
const (
	DefaultMaxAttempts = 3
	DefaultBaseDelay   = 250 * time.Millisecond
	DefaultMaxDelay    = 4 * time.Second
)

// Timeouts of the client NewHTTPClient builds.
const (
	DefaultDialTimeout           = 10 * time.Second
	DefaultTLSHandshakeTimeout   = 10 * time.Second
	DefaultResponseHeaderTimeout = 15 * time.Second
	DefaultRequestTimeout        = 5 * time.Minute
)

// NewHTTPClient returns the client a Runtime uses when Options.HTTPClient is
// nil: its own transport (a clone of the standard one, so nothing is shared
// with http.DefaultTransport) with a 10 s connect timeout, 10 s TLS handshake
// timeout, 15 s wait for response headers, and an overall limit of 5 minutes
// per request including the body.
func NewHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: DefaultDialTimeout, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = DefaultTLSHandshakeTimeout
	tr.ResponseHeaderTimeout = DefaultResponseHeaderTimeout
	return &http.Client{Transport: tr, Timeout: DefaultRequestTimeout}
}

// withDefaults checks o and fills in defaults.
func (o Options) withDefaults() (Options, error) {
	var errs []error
	u, err := url.Parse(o.Origin)
	switch {
	case o.Origin == "":
		errs = append(errs, errors.New("origin is required: the base URL of the CDN or 'mpship serve', for example http://127.0.0.1:8080/"))
	case err != nil:
		errs = append(errs, fmt.Errorf("origin %q: %w", o.Origin, err))
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		errs = append(errs, fmt.Errorf("origin %q: want an http:// or https:// URL with a host", o.Origin))
	case u.RawQuery != "" || u.Fragment != "":
		errs = append(errs, fmt.Errorf("origin %q: must not have a query or fragment", o.Origin))
	default:
		o.Origin = strings.TrimSuffix(u.String(), "/") + "/"
	}
	if o.Trust == nil || o.Trust.Threshold() < 1 {
		errs = append(errs, errors.New("trust is required: the public keys (signing.pub) that sign this origin's manifests"))
	}
	if o.StateDir == "" {
		errs = append(errs, errors.New("state directory is required"))
	} else if abs, err := filepath.Abs(o.StateDir); err != nil {
		errs = append(errs, fmt.Errorf("state directory %s: %w", o.StateDir, err))
	} else {
		o.StateDir = abs
	}
	if o.HTTPClient == nil {
		o.HTTPClient = NewHTTPClient()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Rand == nil {
		o.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if p, err := o.Policy.withDefaults(); err != nil {
		errs = append(errs, err)
	} else {
		o.Policy = p
	}
	l := &o.Limits
	errs = append(errs,
		defaultInt64(&l.MaxPackageSize, DefaultMaxPackageSize, maxSizeCeiling, "limits.max_package_size"),
		defaultInt64(&l.MaxRawSize, DefaultMaxRawSize, archive.MaxDecompressedSize, "limits.max_raw_size"))
	mf := int64(l.MaxFiles)
	errs = append(errs, defaultInt64(&mf, DefaultMaxFiles, maxFilesCeiling, "limits.max_files"))
	l.MaxFiles = int(mf)
	rp := &o.Retry
	att := int64(rp.MaxAttempts)
	errs = append(errs, defaultInt64(&att, DefaultMaxAttempts, 10, "retry.max_attempts"))
	rp.MaxAttempts = int(att)
	if rp.BaseDelay <= 0 {
		rp.BaseDelay = DefaultBaseDelay
	}
	if rp.MaxDelay <= 0 {
		rp.MaxDelay = DefaultMaxDelay
	}
	if err := errors.Join(errs...); err != nil {
		return o, fmt.Errorf("client options: %w", err)
	}
	return o, nil
}

func defaultInt64(v *int64, def, ceiling int64, name string) error {
	switch {
	case *v == 0:
		*v = def
	case *v < 0 || *v > ceiling:
		return fmt.Errorf("%s %d out of range 1..%d (0 for the default %d)", name, *v, ceiling, def)
	}
	return nil
}
