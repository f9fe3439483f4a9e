package local

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpship/mpship/store"
	"github.com/mpship/mpship/store/storetest"
)

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return newStore(t) })
}

func hexsum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func mustPut(t *testing.T, s *Store, key string, b []byte, meta store.Meta) {
	t.Helper()
	if err := s.Put(t.Context(), key, bytes.NewReader(b), int64(len(b)), meta); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func mustRead(t *testing.T, s *Store, key string) []byte {
	t.Helper()
	obj, err := s.Get(t.Context(), key, store.GetOptions{})
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer obj.Body.Close()
	b, err := io.ReadAll(obj.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func listKeys(t *testing.T, s *Store) []string {
	t.Helper()
	var keys []string
	if err := s.List(t.Context(), "", func(i store.Info) error { keys = append(keys, i.Key); return nil }); err != nil {
		t.Fatalf("List: %v", err)
	}
	return keys
}

func TestOpen(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		dir     string
		opts    Options
		wantErr string // substring of the message; "" for success
		wantIs  error
	}{
		{name: "existing", dir: base},
		{name: "missing", dir: filepath.Join(base, "nope"), wantErr: "does not exist; create it or pass a path to an existing one", wantIs: fs.ErrNotExist},
		{name: "missing with Create", dir: filepath.Join(base, "new", "deeper"), opts: Options{Create: true}},
		{name: "a file", dir: file, wantErr: "is not a directory"},
		{name: "a file with Create", dir: file, opts: Options{Create: true}, wantErr: "is not a directory"},
		{name: "empty", dir: "", wantErr: "empty store directory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(tc.dir, tc.opts)
			if tc.wantErr != "" {
				if err == nil {
					s.Close()
					t.Fatalf("Open(%q): got nil error, want %q", tc.dir, tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("Open(%q): got %q, want it to contain %q", tc.dir, err, tc.wantErr)
				}
				if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
					t.Errorf("Open(%q): got %v, want errors.Is %v", tc.dir, err, tc.wantIs)
				}
				var se *store.Error
				if !errors.As(err, &se) || se.Op != "open" {
					t.Errorf("Open(%q): got %T %v, want *store.Error with Op open", tc.dir, err, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open(%q): %v", tc.dir, err)
			}
			defer s.Close()
			if want := "file://" + filepath.ToSlash(tc.dir); s.Location() != want {
				t.Errorf("Location: got %q, want %q", s.Location(), want)
			}
			if fi, err := os.Stat(tc.dir); err != nil || !fi.IsDir() {
				t.Errorf("root %s after Open: got %v, want a directory", tc.dir, err)
			}
			if _, err := os.Stat(filepath.Join(tc.dir, privDir)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Open wrote %s before any write: got %v, want not exist", privDir, err)
			}
		})
	}
}

func TestErrorNamesLocationAndKey(t *testing.T) {
	s := newStore(t)
	_, err := s.Get(t.Context(), "apps/demo/channels/stable.json", store.GetOptions{})
	want := "get " + s.Location() + "/apps/demo/channels/stable.json: object does not exist"
	if err == nil || err.Error() != want {
		t.Errorf("error: got %v, want %q", err, want)
	}
}

func TestPutFillsSHA256(t *testing.T) {
	s := newStore(t)
	data := []byte("no hash given")
	mustPut(t, s, "k", data, store.Meta{ContentType: "text/plain"})
	info, err := s.Stat(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.Meta{ContentType: "text/plain", SHA256: hexsum(data)}); info.Meta != want {
		t.Errorf("Meta: got %+v, want %+v", info.Meta, want)
	}
	if want := `"` + hexsum(data) + `"`; info.ETag != want {
		t.Errorf("ETag: got %s, want %s", info.ETag, want)
	}
}

func TestPutIfBadCondition(t *testing.T) {
	s := newStore(t)
	for _, cond := range []store.Condition{{}, {IfMatch: `"x"`, IfNoneMatch: true}} {
		_, err := s.PutIf(t.Context(), "k", strings.NewReader("x"), 1, store.Meta{}, cond)
		if err == nil || errors.Is(err, store.ErrPrecondition) {
			t.Errorf("PutIf with condition %+v: got %v, want an error that is not ErrPrecondition", cond, err)
		}
	}
	if keys := listKeys(t, s); len(keys) != 0 {
		t.Errorf("objects after refused PutIf: got %q, want none", keys)
	}
}

func TestBodiesSeek(t *testing.T) {
	s := newStore(t)
	mustPut(t, s, "k", []byte("0123456789"), store.Meta{})
	cases := []struct {
		name string
		r    *store.Range
		want string
	}{
		{"whole", nil, "3456789"},
		{"range", &store.Range{Offset: 2, Length: 5}, "56"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj, err := s.Get(t.Context(), "k", store.GetOptions{Range: tc.r})
			if err != nil {
				t.Fatal(err)
			}
			defer obj.Body.Close()
			rs, ok := obj.Body.(io.ReadSeeker)
			if !ok {
				t.Fatalf("Body: got %T, want an io.ReadSeeker", obj.Body)
			}
			if _, err := rs.Seek(3, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(rs)
			if string(got) != tc.want {
				t.Errorf("after Seek(3): got %q, want %q", got, tc.want)
			}
		})
	}
	obj, err := s.Get(t.Context(), "k", store.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Body.Close()
	if _, ok := obj.Body.(*os.File); !ok {
		t.Errorf("whole-object Body: got %T, want *os.File (for sendfile)", obj.Body)
	}
}

// TestSidecarNotTrusted covers the crash window and hand edits: whenever the
// sidecar does not describe the file on disk, the hash is recomputed.
func TestSidecarNotTrusted(t *testing.T) {
	orig := []byte("original content")
	other := []byte("ORIGINAL CONTENT") // same size, other bytes
	meta := store.Meta{ContentType: "application/json", CacheControl: "no-cache"}
	cases := []struct {
		name     string
		damage   func(t *testing.T, s *Store)
		wantData []byte
	}{
		{"sidecar missing", func(t *testing.T, s *Store) {
			if err := os.Remove(filepath.Join(s.Dir(), metaName("k"))); err != nil {
				t.Fatal(err)
			}
		}, orig},
		{"sidecar garbage", func(t *testing.T, s *Store) {
			if err := os.WriteFile(filepath.Join(s.Dir(), metaName("k")), []byte("{not json"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, orig},
		{"crash after sidecar, before rename", func(t *testing.T, s *Store) {
			// What a killed Put leaves: the new data in tmp, its sidecar in place.
			_, fi, sha, err := s.writeTemp(t.Context(), bytes.NewReader(other), int64(len(other)))
			if err != nil {
				t.Fatal(err)
			}
			b := fmt.Sprintf(`{"key":"k","size":%d,"sha256":%q,"file":%q}`, fi.Size(), sha, fileID(fi))
			if err := s.writeFileAtomic(metaName("k"), []byte(b)); err != nil {
				t.Fatal(err)
			}
		}, orig},
		{"file replaced by rename", func(t *testing.T, s *Store) {
			p := filepath.Join(s.Dir(), "k")
			if err := os.WriteFile(p+".new", other, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(p+".new", p); err != nil {
				t.Fatal(err)
			}
		}, other},
		{"file overwritten in place", func(t *testing.T, s *Store) {
			p := filepath.Join(s.Dir(), "k")
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, other, 0o644); err != nil {
				t.Fatal(err)
			}
			// Make sure the mtime moved even on a coarse clock.
			if err := os.Chtimes(p, time.Time{}, fi.ModTime().Add(time.Second)); err != nil {
				t.Fatal(err)
			}
		}, other},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			mustPut(t, s, "k", orig, meta)
			tc.damage(t, s)
			info, err := s.Stat(t.Context(), "k")
			if err != nil {
				t.Fatal(err)
			}
			if want := hexsum(tc.wantData); info.Meta.SHA256 != want || info.ETag != `"`+want+`"` {
				t.Errorf("Stat: got SHA256 %s ETag %s, want %s", info.Meta.SHA256, info.ETag, want)
			}
			if info.Meta.ContentType != "" || info.Meta.CacheControl != "" {
				t.Errorf("Stat Meta from an untrusted sidecar: got %+v, want only SHA256", info.Meta)
			}
			if got := mustRead(t, s, "k"); !bytes.Equal(got, tc.wantData) {
				t.Errorf("Get: got %q, want %q", got, tc.wantData)
			}
			// The next Put repairs the sidecar.
			mustPut(t, s, "k", orig, meta)
			info, err = s.Stat(t.Context(), "k")
			if err != nil {
				t.Fatal(err)
			}
			if want := (store.Meta{ContentType: meta.ContentType, CacheControl: meta.CacheControl, SHA256: hexsum(orig)}); info.Meta != want {
				t.Errorf("Meta after a new Put: got %+v, want %+v", info.Meta, want)
			}
		})
	}
}

func TestKeyConflicts(t *testing.T) {
	cases := []struct {
		name          string
		first, second string
	}{
		{"key below an object", "a", "a/b"},
		{"key above objects", "c/d", "c"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			mustPut(t, s, tc.first, []byte("first"), store.Meta{})
			err := s.Put(t.Context(), tc.second, strings.NewReader("second"), 6, store.Meta{})
			if err == nil || !strings.Contains(err.Error(), "cannot hold both a key and keys below it") {
				t.Fatalf("Put(%q) after Put(%q): got %v, want a key conflict error", tc.second, tc.first, err)
			}
			if got := mustRead(t, s, tc.first); string(got) != "first" {
				t.Errorf("%q after the refused put: got %q, want %q", tc.first, got, "first")
			}
			if got, want := listKeys(t, s), []string{tc.first}; !equal(got, want) {
				t.Errorf("List: got %q, want %q", got, want)
			}
		})
	}
}

func equal(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

// TestSymlinkEscape: a symbolic link inside the root that points outside is
// never followed out of the root, by reads, writes or List.
func TestSymlinkEscape(t *testing.T) {
	s := newStore(t)
	outside := t.TempDir()
	secret := []byte("outside secret")
	if err := os.WriteFile(filepath.Join(outside, "secret"), secret, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(s.Dir(), "link")); err != nil {
		t.Fatal(err)
	}
	if obj, err := s.Get(t.Context(), "link/secret", store.GetOptions{}); err == nil {
		b, _ := io.ReadAll(obj.Body)
		obj.Body.Close()
		t.Fatalf("Get through a symlink out of the root: got %q, want an error", b)
	}
	if err := s.Put(t.Context(), "link/planted", strings.NewReader("x"), 1, store.Meta{}); err == nil {
		t.Error("Put through a symlink out of the root: got nil error, want failure")
	}
	if _, err := os.Stat(filepath.Join(outside, "planted")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("file planted outside the root: got %v, want not exist", err)
	}
	if keys := listKeys(t, s); len(keys) != 0 {
		t.Errorf("List: got %q, want nothing (symlinks are skipped)", keys)
	}
}

// TestTwoStoresPutIf races read-modify-write increments through two Stores
// on one directory: with PutIf exclusive across instances, none is lost.
func TestTwoStoresPutIf(t *testing.T) {
	dir := t.TempDir()
	var stores [2]*Store
	for i := range stores {
		s, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	const workers, each = 3, 10
	var wg sync.WaitGroup
	errs := make(chan error, len(stores)*workers)
	for _, s := range stores {
		for range workers {
			wg.Go(func() {
				if err := increment(s, "counter", each); err != nil {
					errs <- err
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got, want := string(mustRead(t, stores[0], "counter")), strconv.Itoa(len(stores)*workers*each); got != want {
		t.Errorf("counter: got %s, want %s", got, want)
	}
}

// increment adds n to the decimal counter at key, one PutIf at a time,
// retrying on ErrPrecondition.
func increment(s *Store, key string, n int) error {
	ctx := context.Background()
	for done := 0; done < n; {
		cond := store.Condition{IfNoneMatch: true}
		v := 0
		obj, err := s.Get(ctx, key, store.GetOptions{})
		switch {
		case errors.Is(err, store.ErrNotExist):
		case err != nil:
			return err
		default:
			b, err := io.ReadAll(obj.Body)
			obj.Body.Close()
			if err != nil {
				return err
			}
			if v, err = strconv.Atoi(string(b)); err != nil {
				return err
			}
			cond = store.Condition{IfMatch: obj.Info.ETag}
		}
		next := strconv.Itoa(v + 1)
		_, err = s.PutIf(ctx, key, strings.NewReader(next), int64(len(next)), store.Meta{}, cond)
		switch {
		case errors.Is(err, store.ErrPrecondition):
		case err != nil:
			return err
		default:
			done++
		}
	}
	return nil
}

const helperEnv = "MPSHIP_LOCAL_TEST_HELPER"

// TestHelperProcess is the child process of the cross-process tests. It
// does nothing in a normal run.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		return
	}
	s, err := Open(os.Getenv("STORE"), Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	switch mode {
	case "increment":
		n, _ := strconv.Atoi(os.Getenv("N"))
		err = increment(s, "counter", n)
	case "put-stdin":
		// Put a large object from stdin, which the parent never finishes.
		err = s.Put(context.Background(), "victim", bufio.NewReader(os.Stdin), 1<<30, store.Meta{})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func helper(t *testing.T, mode, dir string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), append([]string{helperEnv + "=" + mode, "STORE=" + dir}, env...)...)
	cmd.Stderr = os.Stderr
	return cmd
}

// TestProcessesPutIf races increments from several processes.
func TestProcessesPutIf(t *testing.T) {
	dir := t.TempDir()
	const procs, each = 3, 10
	var cmds []*exec.Cmd
	for range procs {
		cmd := helper(t, "increment", dir, "N="+strconv.Itoa(each))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("process %d: %v", i, err)
		}
	}
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, want := string(mustRead(t, s, "counter")), strconv.Itoa(procs*each); got != want {
		t.Errorf("counter: got %s, want %s", got, want)
	}
}

// TestKilledWriter kills a process in the middle of a Put: the old object
// stays, the partial data is never visible, and a later Open sweeps it once
// it is older than StaleTempAge.
func TestKilledWriter(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustPut(t, s, "victim", []byte("old"), store.Meta{})

	cmd := helper(t, "put-stdin", dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := stdin.Write(bytes.Repeat([]byte("partial "), 1<<14)); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	tmp := filepath.Join(dir, filepath.FromSlash(tmpDir))
	for partialTemps(t, tmp) == 0 { // wait until the child has written some data
		select {
		case err := <-exited:
			t.Fatalf("helper process exited before it was killed: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited
	stdin.Close()

	s2, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got := string(mustRead(t, s2, "victim")); got != "old" {
		t.Errorf("victim after killed put: got %q, want %q", got, "old")
	}
	if got := listKeys(t, s2); !equal(got, []string{"victim"}) {
		t.Errorf("List after killed put: got %q, want [victim]", got)
	}
	if n := partialTemps(t, tmp); n != 1 {
		t.Fatalf("temporary files right after the kill: got %d, want 1 (too young to sweep)", n)
	}
	ents, _ := os.ReadDir(tmp)
	old := time.Now().Add(-StaleTempAge - time.Hour)
	for _, e := range ents {
		os.Chtimes(filepath.Join(tmp, e.Name()), old, old)
	}
	s3, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	if n := partialTemps(t, tmp); n != 0 {
		t.Errorf("temporary files after Open swept stale ones: got %d, want 0", n)
	}
}

// partialTemps counts non-empty temporary files in dir.
func partialTemps(t *testing.T, dir string) int {
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && fi.Size() > 0 {
			n++
		}
	}
	return n
}

func FuzzValidateKey(f *testing.F) {
	for _, k := range []string{"a", "apps/demo/channels/stable.json", "blobs/sha256/ab", "../x", "a/./b", ".mpship/lock", "a//b", "/abs", "a\\b", "a/..", "x.json/y"} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if store.ValidateKey(key) != nil {
			return
		}
		// A legal key is a clean, local, relative path that cannot reach
		// the private directory or any hidden file.
		if !filepath.IsLocal(filepath.FromSlash(key)) {
			t.Errorf("legal key %q is not a local path", key)
		}
		if filepath.ToSlash(filepath.Clean(filepath.FromSlash(key))) != key {
			t.Errorf("legal key %q is not clean", key)
		}
		for _, seg := range strings.Split(key, "/") {
			if strings.HasPrefix(seg, ".") {
				t.Errorf("legal key %q has a segment starting with '.'", key)
			}
		}
		if metaName(key) == metaName(key+"x") {
			t.Errorf("sidecar names of %q and %q collide", key, key+"x")
		}
	})
}
