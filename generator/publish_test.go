package generator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpship/mpship/manifests"
	"github.com/mpship/mpship/store"
)

// packagesTree writes a source tree of n packages: app.js in the main one
// and sub1 ... sub(n-1) as subpackages, each holding size incompressible
// bytes drawn from seed, so every package is its own blob of about size
// bytes. It returns the directory and the subpackages.
func packagesTree(t testing.TB, seed uint64, n, size int) (string, []Subpackage) {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}))
	var subs []Subpackage
	for i := range n {
		d := dir
		if i > 0 {
			name := fmt.Sprintf("sub%d", i)
			subs = append(subs, Subpackage{Name: name, Dir: name})
			d = filepath.Join(dir, name)
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		if err := os.WriteFile(filepath.Join(d, "data.bin"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "app.js"), []byte(fmt.Sprintf("App({ n: %d })", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, subs
}

// progressLog records Progress calls, checking that they never overlap.
type progressLog struct {
	mu     sync.Mutex
	busy   bool
	events []Progress
	t      testing.TB
}

func (l *progressLog) record(p Progress) {
	l.mu.Lock()
	if l.busy {
		l.t.Errorf("Progress called while a call was running")
	}
	l.busy = true
	l.events = append(l.events, p)
	l.busy = false
	l.mu.Unlock()
}

// byEvent counts the keys that got each event.
func (l *progressLog) byEvent() map[ProgressEvent]int {
	got := map[ProgressEvent]int{}
	seen := map[string]bool{}
	for _, p := range l.events {
		k := string(p.Event) + " " + p.Key
		if !seen[k] {
			seen[k] = true
			got[p.Event]++
		}
	}
	return got
}

func (l *progressLog) last() Progress {
	if len(l.events) == 0 {
		return Progress{}
	}
	return l.events[len(l.events)-1]
}

// inflightStore counts blob Puts in flight. Each waits until want of them
// are in flight at once (or its context ends), so a publisher that uploads
// fewer at a time than want cannot finish.
type inflightStore struct {
	store.Store
	want   int
	mu     sync.Mutex
	now    int
	max    int
	opened bool
	ready  chan struct{}
}

func (s *inflightStore) Put(ctx context.Context, key string, r io.Reader, size int64, meta store.Meta) error {
	if !strings.HasPrefix(key, "blobs/") {
		return s.Store.Put(ctx, key, r, size, meta)
	}
	s.mu.Lock()
	s.now++
	s.max = max(s.max, s.now)
	if s.now == s.want && !s.opened {
		s.opened = true
		close(s.ready)
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.now--
		s.mu.Unlock()
	}()
	select {
	case <-s.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Store.Put(ctx, key, r, size, meta)
}

var _ store.Store = (*inflightStore)(nil)

// Blob uploads run Parallelism at a time, never more, and are reported to
// Progress one call at a time.
func TestPublishParallelism(t *testing.T) {
	tree, subs := packagesTree(t, 1, 5, 2000)
	for _, n := range []int{1, 3, 5} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			st := &inflightStore{Store: newStore(t), want: n, ready: make(chan struct{})}
			o := opts(st, "1.0.0", tree)
			o.Subpackages, o.Parallelism = subs, n
			log := &progressLog{t: t}
			o.Progress = log.record
			// The deadline only keeps a broken limit from hanging the test.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			res, err := Run(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			if st.max != n {
				t.Errorf("blob uploads in flight at once: got at most %d, want %d", st.max, n)
			}
			if res.Uploaded != 5 || res.Skipped != 0 {
				t.Errorf("uploaded %d, skipped %d; want 5, 0", res.Uploaded, res.Skipped)
			}
			got := log.byEvent()
			if got[ProgressStarted] != 5 || got[ProgressUploaded] != 5 || got[ProgressSkipped] != 0 {
				t.Errorf("progress events by key: got %v, want 5 started and 5 uploaded", got)
			}
			last := log.last()
			if last.Done != 5 || last.Blobs != 5 || last.Sent != res.UploadedBytes || last.Bytes != res.UploadedBytes {
				t.Errorf("last progress: got %+v, want 5 of 5 blobs done and %d of %d bytes", last, res.UploadedBytes, res.UploadedBytes)
			}
			verifyClean(t, st, testTrust(t, 1, testSigner(1)))
		})
	}
}

func TestPublishParallelismLimits(t *testing.T) {
	tree := writeTree(t, map[string]string{"app.js": "App({})"})
	for _, tc := range []struct {
		n    int
		want error
	}{{-1, ErrInvalid}, {0, nil}, {1, nil}, {MaxParallelism, nil}, {MaxParallelism + 1, ErrInvalid}} {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			o := opts(newStore(t), "1.0.0", tree)
			o.Parallelism = tc.n
			_, err := Run(context.Background(), o)
			if !errors.Is(err, tc.want) {
				t.Errorf("Parallelism %d: got %v, want %v", tc.n, err, tc.want)
			}
		})
	}
}

// One blob failing among several uploading at once: the others may land,
// but neither manifest is written, and a re-run uploads only what is
// missing.
func TestPublishOneBlobFails(t *testing.T) {
	tree, subs := packagesTree(t, 2, 4, 1000)
	base := newStore(t)
	o := opts(base, "1.0.0", tree)
	o.Subpackages = subs

	// Learn the blob keys from a release to another store.
	probe := o
	probe.Store = newStore(t)
	res := mustRun(t, probe)
	bad := res.Packages[2].Path

	o.Store = &failStore{Store: base, fail: func(k string) bool { return k == bad }}
	if _, err := Run(context.Background(), o); !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "publish package "+res.Packages[2].Name) {
		t.Fatalf("got %v, want store.ErrUnavailable naming package %s", err, res.Packages[2].Name)
	}
	for _, key := range []string{manifests.ReleasePath("demo", "1.0.0"), manifests.ChannelPath("demo", "stable"), bad} {
		if _, err := base.Stat(context.Background(), key); !errors.Is(err, store.ErrNotExist) {
			t.Errorf("%s after a failed blob: got %v, want it absent", key, err)
		}
	}
	landed := 0
	for _, p := range res.Packages {
		if _, err := base.Stat(context.Background(), p.Path); err == nil {
			landed++
		}
	}
	verifyClean(t, base, testTrust(t, 1, testSigner(1)))

	o.Store = base
	again := mustRun(t, o)
	if again.Uploaded != 4-landed || again.Skipped != landed {
		t.Errorf("re-run: uploaded %d, skipped %d; want %d, %d", again.Uploaded, again.Skipped, 4-landed, landed)
	}
	verifyClean(t, base, testTrust(t, 1, testSigner(1)))
}

// Two packages with the same bytes are one blob, uploaded once.
func TestPublishSharedBlob(t *testing.T) {
	tree := writeTree(t, map[string]string{"app.js": "App({})", "a/x.js": "same", "b/x.js": "same"})
	o := opts(newStore(t), "1.0.0", tree)
	o.Subpackages = []Subpackage{{"a", "a"}, {"b", "b"}}
	res := mustRun(t, o)
	if res.Uploaded != 2 || res.Skipped != 0 {
		t.Errorf("uploaded %d, skipped %d; want 2 distinct blobs uploaded", res.Uploaded, res.Skipped)
	}
	if a, b := res.Packages[0], res.Packages[1]; a.Path != b.Path || !a.Uploaded || !b.Uploaded {
		t.Errorf("packages a and b: paths %s and %s, uploaded %v and %v; want one blob, both marked uploaded", a.Path, b.Path, a.Uploaded, b.Uploaded)
	}
	verifyClean(t, o.Store, testTrust(t, 1, testSigner(1)))
}
