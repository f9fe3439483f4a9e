package retry_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/mpship/mpship/store"
	"github.com/mpship/mpship/store/local"
	"github.com/mpship/mpship/store/retry"
	"github.com/mpship/mpship/store/storetest"
)

// flaky wraps a real store and injects faults: each operation named in
// fail fails that many times with ErrUnavailable before reaching the
// store. It counts the calls that reached it.
type flaky struct {
	store.Store
	mu    sync.Mutex
	fail  map[string]int
	calls map[string]int
	// lostAnswer makes PutIf write and then report ErrUnavailable, once.
	lostAnswer bool
	// listCut makes List fail with ErrUnavailable after delivering that
	// many keys, once.
	listCut int
}

func newFlaky(t *testing.T, fail map[string]int) *flaky {
	s, err := local.Open(t.TempDir(), local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if fail == nil {
		fail = map[string]int{}
	}
	return &flaky{Store: s, fail: fail, calls: map[string]int{}}
}

func (f *flaky) inject(op, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	if f.fail[op] > 0 {
		f.fail[op]--
		return &store.Error{Op: strings.TrimSuffix(op, "if"), Location: f.Location(), Key: key, Err: fmt.Errorf("%w: injected 503", store.ErrUnavailable)}
	}
	return nil
}

func (f *flaky) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

func (f *flaky) Get(ctx context.Context, key string, opts store.GetOptions) (*store.Object, error) {
	if err := f.inject("get", key); err != nil {
		return nil, err
	}
	return f.Store.Get(ctx, key, opts)
}

func (f *flaky) Stat(ctx context.Context, key string) (store.Info, error) {
	if err := f.inject("stat", key); err != nil {
		return store.Info{}, err
	}
	return f.Store.Stat(ctx, key)
}

func (f *flaky) Put(ctx context.Context, key string, r io.Reader, size int64, meta store.Meta) error {
	if err := f.inject("put", key); err != nil {
		// Consume part of the body first, as a connection reset midway does.
		io.CopyN(io.Discard, r, size/2)
		return err
	}
	return f.Store.Put(ctx, key, r, size, meta)
}

func (f *flaky) PutIf(ctx context.Context, key string, r io.Reader, size int64, meta store.Meta, cond store.Condition) (store.Info, error) {
	if err := f.inject("putif", key); err != nil {
		io.CopyN(io.Discard, r, size/2)
		return store.Info{}, err
	}
	info, err := f.Store.PutIf(ctx, key, r, size, meta, cond)
	f.mu.Lock()
	lost := f.lostAnswer
	f.lostAnswer = false
	f.mu.Unlock()
	if err == nil && lost {
		return store.Info{}, &store.Error{Op: "put", Location: f.Location(), Key: key, Err: fmt.Errorf("%w: connection reset after the write", store.ErrUnavailable)}
	}
	return info, err
}

func (f *flaky) List(ctx context.Context, prefix string, fn func(store.Info) error) error {
	if err := f.inject("list", prefix); err != nil {
		return err
	}
	f.mu.Lock()
	cut := f.listCut
	f.listCut = 0
	f.mu.Unlock()
	n := 0
	return f.Store.List(ctx, prefix, func(i store.Info) error {
		if cut > 0 && n == cut {
			return &store.Error{Op: "list", Location: f.Location(), Key: prefix, Err: fmt.Errorf("%w: injected reset", store.ErrUnavailable)}
		}
		n++
		return fn(i)
	})
}

func (f *flaky) Delete(ctx context.Context, key string) error {
	if err := f.inject("delete", key); err != nil {
		return err
	}
	return f.Store.Delete(ctx, key)
}

var fast = retry.Options{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func put(t *testing.T, s store.Store, key string, b []byte) {
	t.Helper()
	if err := s.Put(t.Context(), key, bytes.NewReader(b), int64(len(b)), store.Meta{SHA256: sum(b)}); err != nil {
		t.Fatal(err)
	}
}

func content(t *testing.T, s store.Store, key string) string {
	t.Helper()
	obj, err := s.Get(t.Context(), key, store.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Body.Close()
	b, err := io.ReadAll(obj.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestConformance: the decorator over a healthy store keeps the contract.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return retry.New(newFlaky(t, nil), fast)
	})
}

// TestConformanceFlaky: over a store failing the first call of every
// operation, the decorator still keeps the contract.
func TestConformanceFlaky(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		f := newFlaky(t, map[string]int{"get": 1, "stat": 1, "put": 1, "putif": 1, "list": 1, "delete": 1})
		return retry.New(f, fast)
	})
}

func TestRetries(t *testing.T) {
	data := []byte("payload")
	tests := []struct {
		name      string
		op        string
		failures  int
		run       func(s store.Store) error
		wantErr   error
		wantCalls int
	}{
		{"get recovers", "get", 2, func(s store.Store) error { _, err := s.Get(context.Background(), "k", store.GetOptions{}); return err }, nil, 3},
		{"get gives up", "get", 3, func(s store.Store) error { _, err := s.Get(context.Background(), "k", store.GetOptions{}); return err }, store.ErrUnavailable, 3},
		{"missing is final", "get", 0, func(s store.Store) error {
			_, err := s.Get(context.Background(), "nope", store.GetOptions{})
			return err
		}, store.ErrNotExist, 1},
		{"stat recovers", "stat", 1, func(s store.Store) error { _, err := s.Stat(context.Background(), "k"); return err }, nil, 2},
		{"delete recovers", "delete", 2, func(s store.Store) error { return s.Delete(context.Background(), "k") }, nil, 3},
		{"put from bytes.Reader recovers", "put", 2, func(s store.Store) error {
			return s.Put(context.Background(), "k2", bytes.NewReader(data), int64(len(data)), store.Meta{SHA256: sum(data)})
		}, nil, 3},
		{"put from a plain reader is not retried", "put", 1, func(s store.Store) error {
			return s.Put(context.Background(), "k2", iotest.OneByteReader(bytes.NewReader(data)), int64(len(data)), store.Meta{})
		}, store.ErrUnavailable, 1},
		{"putif precondition is final", "putif", 0, func(s store.Store) error {
			_, err := s.PutIf(context.Background(), "k", bytes.NewReader(data), int64(len(data)), store.Meta{}, store.Condition{IfNoneMatch: true})
			return err
		}, store.ErrPrecondition, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFlaky(t, nil)
			put(t, f, "k", data)
			f.fail[tt.op] = tt.failures
			f.calls = map[string]int{}
			var retries int
			opts := fast
			opts.OnRetry = func(op, key string, attempt int, err error) { retries++ }
			err := tt.run(retry.New(f, opts))
			if tt.wantErr == nil && err != nil || !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if got := f.count(tt.op); got != tt.wantCalls {
				t.Errorf("calls reaching the store: got %d, want %d", got, tt.wantCalls)
			}
			if retries != tt.wantCalls-1 {
				t.Errorf("OnRetry calls: got %d, want %d", retries, tt.wantCalls-1)
			}
			if tt.op == "put" && err == nil {
				if got := content(t, f, "k2"); got != string(data) {
					t.Errorf("content after retried put: got %q, want %q", got, data)
				}
			}
		})
	}
}

// TestPutIfLostAnswer: the first PutIf writes but its answer is lost; the
// retry fails its condition, and the decorator recognises its own bytes.
func TestPutIfLostAnswer(t *testing.T) {
	tests := []struct {
		name    string
		cond    func(f *flaky) store.Condition
		meta    func(b []byte) store.Meta
		wantErr error
	}{
		{"if-none-match", func(*flaky) store.Condition { return store.Condition{IfNoneMatch: true} }, func(b []byte) store.Meta { return store.Meta{SHA256: sum(b)} }, nil},
		{"if-match", func(f *flaky) store.Condition {
			put(t, f, "chan", []byte("v1"))
			st, err := f.Stat(context.Background(), "chan")
			if err != nil {
				t.Fatal(err)
			}
			f.calls = map[string]int{}
			return store.Condition{IfMatch: st.ETag}
		}, func(b []byte) store.Meta { return store.Meta{SHA256: sum(b)} }, nil},
		{"without a declared hash it cannot tell", func(*flaky) store.Condition { return store.Condition{IfNoneMatch: true} }, func([]byte) store.Meta { return store.Meta{} }, store.ErrPrecondition},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFlaky(t, nil)
			cond := tt.cond(f)
			f.lostAnswer = true
			data := []byte("v2 of the channel")
			info, err := retry.New(f, fast).PutIf(t.Context(), "chan", bytes.NewReader(data), int64(len(data)), tt.meta(data), cond)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("got %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("PutIf with a lost answer: got %v, want success", err)
			}
			if info.Meta.SHA256 != sum(data) || info.Size != int64(len(data)) {
				t.Errorf("Info: got sha256 %s size %d, want %s %d", info.Meta.SHA256, info.Size, sum(data), len(data))
			}
			if got := content(t, f, "chan"); got != string(data) {
				t.Errorf("content: got %q, want %q", got, data)
			}
			if got := f.count("putif"); got != 2 {
				t.Errorf("PutIf calls: got %d, want 2", got)
			}
		})
	}
}

// TestPutIfOtherWriterWon: a precondition failure on retry with someone
// else's bytes in place stays a failure.
func TestPutIfOtherWriterWon(t *testing.T) {
	f := newFlaky(t, map[string]int{"putif": 1})
	put(t, f, "chan", []byte("the other writer's"))
	data := []byte("mine")
	_, err := retry.New(f, fast).PutIf(t.Context(), "chan", bytes.NewReader(data), int64(len(data)), store.Meta{SHA256: sum(data)}, store.Condition{IfNoneMatch: true})
	if !errors.Is(err, store.ErrPrecondition) {
		t.Fatalf("got %v, want ErrPrecondition", err)
	}
	if got := content(t, f, "chan"); got != "the other writer's" {
		t.Errorf("content: got %q, want the other writer's bytes", got)
	}
}

// TestListResumes: a listing cut off midway resumes after the last key
// delivered, so every key arrives exactly once.
func TestListResumes(t *testing.T) {
	f := newFlaky(t, nil)
	keys := []string{"a/1", "a/2", "a/3", "a/4", "a/5"}
	for _, k := range keys {
		put(t, f, k, []byte(k))
	}
	f.listCut = 2
	var got []string
	err := retry.New(f, fast).List(t.Context(), "a/", func(i store.Info) error {
		got = append(got, i.Key)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, keys) {
		t.Errorf("keys: got %q, want %q", got, keys)
	}
	if n := f.count("list"); n != 2 {
		t.Errorf("List calls: got %d, want 2", n)
	}
}

// TestListCallbackErrorNotRetried: a callback's own ErrUnavailable (it may
// be using the store itself) ends the listing.
func TestListCallbackErrorNotRetried(t *testing.T) {
	f := newFlaky(t, nil)
	put(t, f, "a", []byte("a"))
	cbErr := fmt.Errorf("callback: %w", store.ErrUnavailable)
	err := retry.New(f, fast).List(t.Context(), "", func(store.Info) error { return cbErr })
	if !errors.Is(err, cbErr) {
		t.Fatalf("got %v, want the callback's error", err)
	}
	if n := f.count("list"); n != 1 {
		t.Errorf("List calls: got %d, want 1", n)
	}
}

// TestContextEndsBackoff: canceling the context during a (long) backoff
// returns at once with both the last failure and the context's error.
func TestContextEndsBackoff(t *testing.T) {
	f := newFlaky(t, map[string]int{"stat": 100})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s := retry.New(f, retry.Options{MaxAttempts: 10, InitialBackoff: time.Hour, MaxBackoff: time.Hour,
		OnRetry: func(string, string, int, error) { cancel() }})
	_, err := s.Stat(ctx, "k")
	if !errors.Is(err, context.Canceled) || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("got %v, want context.Canceled and ErrUnavailable", err)
	}
	if n := f.count("stat"); n != 1 {
		t.Errorf("Stat calls: got %d, want 1", n)
	}
	if !strings.Contains(err.Error(), "gave up retrying") {
		t.Errorf("error %q: want it to say it gave up retrying", err)
	}
}
