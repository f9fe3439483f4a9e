// Package retry wraps a store.Store so that operations failing with
// store.ErrUnavailable (the backend unreachable, or a 5xx answer) are
// retried with capped, jittered exponential backoff that respects the
// context. Every other error, and every error of a canceled context, is
// returned at once.
//
// Retrying is safe because of the store contract: puts are idempotent and
// atomic, deletes of missing keys succeed, and List is in lexical order, so
// a retried listing resumes after the last key it delivered.
//
// Two cases need the caller's help:
//   - Put and PutIf can only be retried when the body is an io.Seeker
//     (bytes.Reader, os.File); it is rewound to where it started. Other
//     readers get one attempt.
//   - A PutIf whose request reached the backend but whose answer was lost
//     would fail its retry with ErrPrecondition (the object is already
//     ours). When a retry of a PutIf fails its condition and Meta.SHA256
//     was set, the decorator Stats the key, and if it holds exactly the
//     bytes it was putting, reports success.
package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/mpship/mpship/store"
)

// Defaults of Options.
const (
	DefaultMaxAttempts    = 4
	DefaultInitialBackoff = 200 * time.Millisecond
	DefaultMaxBackoff     = 5 * time.Second
)

// Options configure New.
type Options struct {
	// MaxAttempts is how many times an operation is tried in all. Default
	// DefaultMaxAttempts (4); 1 disables retries.
	MaxAttempts int
	// InitialBackoff bounds the wait before the first retry; each retry
	// doubles the bound up to MaxBackoff, and the actual wait is uniformly
	// random below it ("full jitter"). Default DefaultInitialBackoff
	// (200ms).
	InitialBackoff time.Duration
	// MaxBackoff caps the bound. Default DefaultMaxBackoff (5s).
	MaxBackoff time.Duration
	// OnRetry, when set, is called before each wait with the operation
	// ("get", "put", ...), the key, the attempt that failed (1-based) and
	// its error, for logs and metrics. It must be safe for concurrent use.
	OnRetry func(op, key string, attempt int, err error)
}

// Store is a store.Store that retries transient failures of another. It
// is safe for concurrent use if the wrapped store is.
type Store struct {
	inner store.Store
	opts  Options
}

// New wraps s.
func New(s store.Store, opts Options) *Store {
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.InitialBackoff <= 0 {
		opts.InitialBackoff = DefaultInitialBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	return &Store{inner: s, opts: opts}
}

// Unwrap returns the wrapped store.
func (s *Store) Unwrap() store.Store { return s.inner }

// Location returns the wrapped store's location.
func (s *Store) Location() string { return s.inner.Location() }

// Capabilities returns the wrapped store's capabilities.
func (s *Store) Capabilities() store.Capabilities { return s.inner.Capabilities() }

// do runs fn until it succeeds, fails for good, or runs out of attempts.
// before, when set, runs ahead of every retry and may veto it by returning
// an error.
func (s *Store) do(ctx context.Context, op, key string, before func() error, fn func() error) error {
	bound := s.opts.InitialBackoff
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || !errors.Is(err, store.ErrUnavailable) || attempt >= s.opts.MaxAttempts {
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("%w; gave up retrying: %w", err, cerr)
		}
		if s.opts.OnRetry != nil {
			s.opts.OnRetry(op, key, attempt, err)
		}
		t := time.NewTimer(rand.N(bound) + 1)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w; gave up retrying: %w", err, ctx.Err())
		case <-t.C:
		}
		bound = min(2*bound, s.opts.MaxBackoff)
		if before != nil {
			if berr := before(); berr != nil {
				return fmt.Errorf("%w; cannot retry: %w", err, berr)
			}
		}
	}
}

// Get retries opening the object; reading the Body is not retried.
func (s *Store) Get(ctx context.Context, key string, opts store.GetOptions) (*store.Object, error) {
	var obj *store.Object
	err := s.do(ctx, "get", key, nil, func() (err error) {
		obj, err = s.inner.Get(ctx, key, opts)
		return err
	})
	return obj, err
}

// Stat retries.
func (s *Store) Stat(ctx context.Context, key string) (store.Info, error) {
	var info store.Info
	err := s.do(ctx, "stat", key, nil, func() (err error) {
		info, err = s.inner.Stat(ctx, key)
		return err
	})
	return info, err
}

// rewinder returns the function that puts r back where it is now, or nil
// when r cannot seek.
func rewinder(r io.Reader) func() error {
	sk, ok := r.(io.Seeker)
	if !ok {
		return nil
	}
	start, err := sk.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil
	}
	return func() error {
		_, err := sk.Seek(start, io.SeekStart)
		return err
	}
}

// Put retries when r is an io.Seeker; otherwise it makes one attempt.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, meta store.Meta) error {
	rewind := rewinder(r)
	if rewind == nil {
		return s.inner.Put(ctx, key, r, size, meta)
	}
	return s.do(ctx, "put", key, rewind, func() error {
		return s.inner.Put(ctx, key, r, size, meta)
	})
}

// PutIf retries when r is an io.Seeker, and recognises its own earlier
// write whose answer was lost (see the package comment).
func (s *Store) PutIf(ctx context.Context, key string, r io.Reader, size int64, meta store.Meta, cond store.Condition) (store.Info, error) {
	rewind := rewinder(r)
	if rewind == nil {
		return s.inner.PutIf(ctx, key, r, size, meta, cond)
	}
	var (
		info    store.Info
		retried bool
	)
	before := func() error {
		retried = true
		return rewind()
	}
	err := s.do(ctx, "put", key, before, func() (err error) {
		info, err = s.inner.PutIf(ctx, key, r, size, meta, cond)
		return err
	})
	if err != nil && retried && meta.SHA256 != "" && errors.Is(err, store.ErrPrecondition) {
		if st, serr := s.Stat(ctx, key); serr == nil && st.Meta.SHA256 == meta.SHA256 && st.Size == size {
			return st, nil
		}
	}
	return info, err
}

// callbackError carries an error of List's callback through the retry
// loop untouched, so a callback's own ErrUnavailable is never retried.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }

// List retries, resuming after the last key delivered to fn: the listing
// is in lexical order, so no key is delivered twice.
func (s *Store) List(ctx context.Context, prefix string, fn func(store.Info) error) error {
	var (
		last      string
		delivered bool
	)
	err := s.do(ctx, "list", prefix, nil, func() error {
		return s.inner.List(ctx, prefix, func(i store.Info) error {
			if delivered && i.Key <= last {
				return nil
			}
			if err := fn(i); err != nil {
				return &callbackError{err}
			}
			last, delivered = i.Key, true
			return nil
		})
	})
	var ce *callbackError
	if errors.As(err, &ce) {
		return ce.err
	}
	return err
}

// Delete retries; deleting a missing key succeeds, so a delete that took
// effect before its answer was lost is harmless to repeat.
func (s *Store) Delete(ctx context.Context, key string) error {
	return s.do(ctx, "delete", key, nil, func() error {
		return s.inner.Delete(ctx, key)
	})
}

// Interface guard.
var _ store.Store = (*Store)(nil)
