package generator

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpship/mpship/manifests"
	"github.com/mpship/mpship/store"
	"github.com/mpship/mpship/store/local"
)

// testClock is the fixed release time of tests and golden files.
var testClock = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return testClock }

// testSigner returns a signer whose Ed25519 key derives from a fixed seed.
func testSigner(seed byte) *manifests.Signer {
	return manifests.NewSigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize)))
}

func testTrust(t *testing.T, threshold int, signers ...*manifests.Signer) *manifests.Trust {
	t.Helper()
	var keys []ed25519.PublicKey
	for _, s := range signers {
		keys = append(keys, s.Public())
	}
	tr, err := manifests.NewTrust(threshold, keys...)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func newStore(t *testing.T) *local.Store {
	t.Helper()
	st, err := local.Open(filepath.Join(t.TempDir(), "bucket"), local.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// opts returns options releasing src as app demo on stable.
func opts(st store.Store, version, src string) Options {
	return Options{
		Store:   st,
		Signers: []*manifests.Signer{testSigner(1)},
		App:     "demo",
		Channel: "stable",
		Version: version,
		Source:  src,
		Now:     fixedNow,
		// No deltas, which cost time under the race detector: the tests
		// that need them (delta_test.go, TestReleaseVantVersions) set
		// Deltas.
		Deltas: -1,
	}
}

func mustRun(t *testing.T, o Options) *Result {
	t.Helper()
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("release %s: %v", o.Version, err)
	}
	return res
}

// listing describes every object of a store: key, size, ETag.
func listing(t *testing.T, st store.Store) string {
	t.Helper()
	var lines []string
	err := st.List(context.Background(), "", func(i store.Info) error {
		lines = append(lines, fmt.Sprintf("%s %d %s", i.Key, i.Size, i.ETag))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// writeTree creates files (slash-separated name → content) under a new
// temporary directory and returns it.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func verifyClean(t *testing.T, st store.Store, trust *manifests.Trust) *Report {
	t.Helper()
	rep, err := Verify(context.Background(), st, trust, testClock)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Problems {
		t.Errorf("verify: %s: %s: %s", p.Key, p.Code, p.Message)
	}
	return rep
}

// barrierStore holds every PutIf of one key until n of them have arrived,
// so that racing publishers have all read the channel before any writes it.
type barrierStore struct {
	store.Store
	key  string
	n    int
	mu   sync.Mutex
	seen int
	all  chan struct{}
}

func (b *barrierStore) PutIf(ctx context.Context, key string, r io.Reader, size int64, meta store.Meta, cond store.Condition) (store.Info, error) {
	if key == b.key {
		b.mu.Lock()
		b.seen++
		if b.seen == b.n {
			close(b.all)
		}
		b.mu.Unlock()
		select {
		case <-b.all:
		case <-ctx.Done():
			return store.Info{}, ctx.Err()
		}
	}
	return b.Store.PutIf(ctx, key, r, size, meta, cond)
}

// failStore fails every write to keys for which fail returns true, as a
// backend outage would.
type failStore struct {
	store.Store
	fail func(key string) bool
}

func (f *failStore) Put(ctx context.Context, key string, r io.Reader, size int64, meta store.Meta) error {
	if f.fail(key) {
		return &store.Error{Op: "put", Location: f.Location(), Key: key, Err: store.ErrUnavailable}
	}
	return f.Store.Put(ctx, key, r, size, meta)
}

func (f *failStore) PutIf(ctx context.Context, key string, r io.Reader, size int64, meta store.Meta, cond store.Condition) (store.Info, error) {
	if f.fail(key) {
		return store.Info{}, &store.Error{Op: "put", Location: f.Location(), Key: key, Err: store.ErrUnavailable}
	}
	return f.Store.PutIf(ctx, key, r, size, meta, cond)
}

var (
	_ store.Store = (*barrierStore)(nil)
	_ store.Store = (*failStore)(nil)
)
