package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpship/mpship/internal/miniotest"
	"github.com/mpship/mpship/manifests"
	"github.com/mpship/mpship/store"
	"github.com/mpship/mpship/store/location"
)

// childTimeout bounds waiting for a child process to pause or exit; it
// only keeps a broken child from hanging the test.
const childTimeout = 2 * time.Minute

// child is an mpship process started by a test.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout bytes.Buffer
	paused chan string   // the test hook's announcements
	eof    chan struct{} // closed when stderr is read to its end

	mu     sync.Mutex
	stderr strings.Builder
}

// startChild runs bin with args and the test's environment plus env. The
// process is killed when the test ends if it is still running.
func startChild(t *testing.T, bin string, env []string, args ...string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(bin, args...), paused: make(chan string, 4), eof: make(chan struct{})}
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stdout = &c.stdout
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	errPipe, err := c.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(c.eof)
		sc := bufio.NewScanner(errPipe)
		for sc.Scan() {
			line := sc.Text()
			c.mu.Lock()
			c.stderr.WriteString(line + "\n")
			c.mu.Unlock()
			if rest, ok := strings.CutPrefix(line, "mpship: test hook: paused "); ok {
				c.paused <- rest
			}
		}
	}()
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			c.cmd.Process.Kill()
			<-c.eof
			c.cmd.Wait()
		}
	})
	return c
}

// waitPaused waits for the test hook's announcement, "WHEN write N (KEY)".
func (c *child) waitPaused(t *testing.T) string {
	t.Helper()
	select {
	case what := <-c.paused:
		return what
	case <-c.eof:
		code, stdout, stderr := c.wait(t)
		t.Fatalf("%s exited (%v, status %d) before the test hook paused it; stdout:\n%s\nstderr:\n%s", c.cmd.Args, c.cmd.ProcessState, code, stdout, stderr)
	case <-time.After(childTimeout):
		t.Fatalf("%s did not pause within %v", c.cmd.Args, childTimeout)
	}
	return ""
}

// kill kills the process with SIGKILL, as a crash would, and reaps it.
func (c *child) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-c.eof
	c.cmd.Wait()
}

// wait waits for the process to exit and returns its status and output.
func (c *child) wait(t *testing.T) (int, string, string) {
	t.Helper()
	select {
	case <-c.eof:
	case <-time.After(childTimeout):
		t.Fatalf("%s did not exit within %v", c.cmd.Args, childTimeout)
	}
	err := c.cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cmd.ProcessState.ExitCode(), c.stdout.String(), c.stderr.String()
}

// runChild runs bin to completion.
func runChild(t *testing.T, bin string, env []string, args ...string) (int, string, string) {
	t.Helper()
	c := startChild(t, bin, env, args...)
	c.stdin.Close()
	return c.wait(t)
}

// writeRandomTree writes a source tree of n packages under a new directory:
// a main package and subpackages sub1 ... sub(n-1), each with size bytes of
// incompressible data drawn from seed. It returns the directory and the
// --subpackage flags.
func writeRandomTree(t *testing.T, seed uint64, n, size int) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(seed, 42))
	var flags []string
	for i := range n {
		d := dir
		if i > 0 {
			name := fmt.Sprintf("sub%d", i)
			flags = append(flags, "--subpackage", name+"="+name)
			d = filepath.Join(dir, name)
		}
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "data.bin"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "app.js"), []byte(fmt.Sprintf("App({ seed: %d, n: %d })", seed, i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, flags
}

// releaseOut is the part of 'mpship release --json' these tests read.
type releaseOut struct {
	Version         string `json:"version"`
	Sequence        uint64 `json:"sequence"`
	ChannelManifest struct {
		SHA256 string `json:"sha256"`
	} `json:"channel_manifest"`
	Packages []struct {
		Path     string `json:"path"`
		Uploaded bool   `json:"uploaded"`
	} `json:"packages"`
	Uploaded int `json:"uploaded"`
	Skipped  int `json:"skipped"`
}

func decodeRelease(t *testing.T, stdout string) releaseOut {
	t.Helper()
	var r releaseOut
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("release --json output %q: %v", stdout, err)
	}
	return r
}

// useServerEnv points this process's store clients at srv, as Env does for
// children.
func useServerEnv(t *testing.T, srv *miniotest.Server) {
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// bucketState is what the tests check in a bucket after a publisher died.
type bucketState struct {
	blobs      int    // objects under blobs/
	channelSHA string // the channel manifest's sha256; "" when absent
}

func readBucket(t *testing.T, st store.Store) bucketState {
	t.Helper()
	ctx := context.Background()
	var s bucketState
	if err := st.List(ctx, "blobs/", func(store.Info) error { s.blobs++; return nil }); err != nil {
		t.Fatal(err)
	}
	info, err := st.Stat(ctx, manifests.ChannelPath("demo", "stable"))
	switch {
	case err == nil:
		s.channelSHA = info.Meta.SHA256
	case !errors.Is(err, store.ErrNotExist):
		t.Fatal(err)
	}
	return s
}

// verifyOK runs 'mpship verify' on loc in this process and fails the test
// when it finds problems.
func verifyOK(t *testing.T, loc, keys, when string) {
	t.Helper()
	code, stdout, stderr := execCLI(t, "verify", "--store", loc, "--trust", filepath.Join(keys, "signing.pub"))
	if code != exitOK {
		t.Errorf("verify %s: exit %d\n%s%s", when, code, stdout, stderr)
	}
}

// TestReleaseKilledAtEveryWrite kills a real 'mpship release' process with
// SIGKILL at each of its writes to a MinIO bucket in turn (halfway through
// its body, or just after it landed), through each client library. After
// every kill the bucket verifies clean and its channel manifest is the one
// from before, unless the channel write itself had landed; and running the
// same release again finishes it, uploading only the blobs that were not
// there yet.
func TestReleaseKilledAtEveryWrite(t *testing.T) {
	bin := mpshipBinary(t)
	srv := miniotest.Start(t)
	useServerEnv(t, srv)
	keys := makeKeys(t)
	const packages = 3
	// The blobs (--deltas 0: no delta blobs), then the release manifest,
	// then the channel manifest.
	const writes = packages + 2

	cases := []struct {
		when        string
		parallelism string
	}{
		// One upload at a time: exactly the first N writes landed.
		{"after", "1"},
		// Uploads four at a time, the Nth stopped halfway.
		{"during", "4"},
	}
	for _, loc := range []string{srv.S3URL("killed-s3"), srv.MinioURL("killed-minio")} {
		t.Run(strings.SplitN(loc, ":", 2)[0], func(t *testing.T) {
			st, err := location.Open(context.Background(), loc, location.Options{})
			if err != nil {
				t.Fatal(err)
			}
			release := 0
			for _, tc := range cases {
				for n := 1; n <= writes; n++ {
					release++
					version := fmt.Sprintf("1.%d.0", release)
					src, subs := writeRandomTree(t, uint64(release), packages, 60_000)
					args := append([]string{"release", "--store", loc, "--key", filepath.Join(keys, "signing.key"),
						"--app", "demo", "--channel", "stable", "--version", version, "--parallelism", tc.parallelism, "--deltas", "0", "--json"}, subs...)
					args = append(args, src)
					name := fmt.Sprintf("%s write %d", tc.when, n)

					before := readBucket(t, st)
					c := startChild(t, bin, append(srv.Env(), fmt.Sprintf("%s=%s:%d", testHookEnv, tc.when, n)), args...)
					what := c.waitPaused(t)
					c.kill(t)
					if !strings.HasPrefix(what, fmt.Sprintf("%s write %d (", tc.when, n)) {
						t.Fatalf("%s: the hook paused %q", name, what)
					}
					key := strings.TrimSuffix(strings.SplitN(what, "(", 2)[1], ")")

					after := readBucket(t, st)
					landed := after.blobs - before.blobs
					channelLanded := tc.when == "after" && n == writes
					switch {
					case tc.when == "after" && landed != min(n, packages):
						t.Errorf("%s: %d new blobs in the bucket, want %d", name, landed, min(n, packages))
					case n > packages && landed != packages:
						t.Errorf("%s: %d new blobs in the bucket, want all %d before the manifests", name, landed, packages)
					}
					if channelLanded != (after.channelSHA != before.channelSHA) {
						t.Errorf("%s: channel manifest sha256 %q, was %q; want it changed only once the channel write landed", name, after.channelSHA, before.channelSHA)
					}
					if tc.when == "during" && n < writes {
						// The object stopped halfway is not there at all.
						if _, err := st.Stat(context.Background(), key); !errors.Is(err, store.ErrNotExist) {
							t.Errorf("%s: %s, stopped halfway, got %v; want it absent", name, key, err)
						}
					}
					verifyOK(t, loc, keys, "after kill at "+name)

					// The same release again. Count the blobs once more first:
					// an upload in flight beside the paused one may have sent
					// its whole body before the kill, and MinIO completes it.
					landed = readBucket(t, st).blobs - before.blobs
					code, stdout, stderr := runChild(t, bin, srv.Env(), args...)
					if channelLanded {
						// It had completed: nothing to do, nothing written.
						if code != exitError || !strings.Contains(stderr, "version "+version+" is already the current release on channel stable") {
							t.Errorf("%s: re-run: exit %d, stderr %q; want exit 1, already the current release", name, code, stderr)
						}
						if again := readBucket(t, st); again != after {
							t.Errorf("%s: re-run changed the bucket: %+v, was %+v", name, again, after)
						}
					} else {
						if code != exitOK {
							t.Fatalf("%s: re-run: exit %d: %s", name, code, stderr)
						}
						r := decodeRelease(t, stdout)
						if r.Uploaded != packages-landed || r.Skipped != landed || r.Version != version {
							t.Errorf("%s: re-run uploaded %d, skipped %d; want %d and the %d already there", name, r.Uploaded, r.Skipped, packages-landed, landed)
						}
						if got := readBucket(t, st); got.channelSHA != r.ChannelManifest.SHA256 || got.blobs != before.blobs+packages {
							t.Errorf("%s: after the re-run the bucket has %+v; want channel %s and %d blobs", name, got, r.ChannelManifest.SHA256, before.blobs+packages)
						}
					}
					verifyOK(t, loc, keys, "after re-run at "+name)
				}
			}
		})
	}
}

// TestConcurrentReleaseProcesses races two 'mpship release' processes on
// one channel of a MinIO bucket, one through aws-sdk-go-v2 and one through
// minio-go: both have read the channel manifest and written their blob and
// release manifest before either writes the channel. Exactly one wins; the
// other is told the channel moved, and the bucket verifies clean with the
// winner's channel manifest.
func TestConcurrentReleaseProcesses(t *testing.T) {
	bin := mpshipBinary(t)
	srv := miniotest.Start(t)
	useServerEnv(t, srv)
	keys := makeKeys(t)
	locs := []string{srv.S3URL("race"), srv.MinioURL("race")}
	releaseArgs := func(loc, version string, seed uint64) []string {
		src, _ := writeRandomTree(t, seed, 1, 50_000)
		return []string{"release", "--store", loc, "--key", filepath.Join(keys, "signing.key"),
			"--app", "demo", "--channel", "stable", "--version", version, "--deltas", "0", "--json", src}
	}
	if code, _, stderr := runChild(t, bin, srv.Env(), releaseArgs(locs[1], "1.0.0", 100)...); code != exitOK {
		t.Fatalf("first release: exit %d: %s", code, stderr)
	}

	versions := []string{"1.1.0", "1.2.0"}
	args := [][]string{releaseArgs(locs[0], versions[0], 101), releaseArgs(locs[1], versions[1], 102)}
	children := make([]*child, 2)
	for i := range children {
		// Writes: the blob (no deltas), the release manifest, then the
		// channel.
		children[i] = startChild(t, bin, append(srv.Env(), testHookEnv+"=before:3"), args[i]...)
	}
	for _, c := range children {
		if what := c.waitPaused(t); !strings.HasPrefix(what, "before write 3 (apps/demo/channels/stable.json)") {
			t.Fatalf("paused %q, want before the channel manifest", what)
		}
	}
	for _, c := range children {
		if _, err := io.WriteString(c.stdin, "go\n"); err != nil {
			t.Fatal(err)
		}
	}
	winner, loser := -1, -1
	var won releaseOut
	for i, c := range children {
		code, stdout, stderr := c.wait(t)
		switch {
		case code == exitOK:
			winner, won = i, decodeRelease(t, stdout)
		case code == exitError && strings.Contains(stderr, "mpship: channel apps/demo/channels/stable.json moved underneath you (someone else published); re-run the release"):
			loser = i
		default:
			t.Errorf("release %s via %s: exit %d, stderr %q; want success or the moved-underneath-you error", versions[i], locs[i], code, stderr)
		}
	}
	if winner < 0 || loser < 0 {
		t.Fatalf("winner %d, loser %d: want exactly one of each", winner, loser)
	}
	t.Logf("%s (%s) won, %s (%s) lost", versions[winner], locs[winner], versions[loser], locs[loser])

	st, err := location.Open(context.Background(), locs[0], location.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := readBucket(t, st); got.channelSHA != won.ChannelManifest.SHA256 || won.Sequence != 2 {
		t.Errorf("channel manifest sha256 %s, sequence %d; want the winner's %s at sequence 2", got.channelSHA, won.Sequence, won.ChannelManifest.SHA256)
	}
	verifyOK(t, locs[0], keys, "after the race")

	// The loser re-runs: published if its version is still newer, else
	// refused, and the bucket stays clean either way.
	code, stdout, stderr := runChild(t, bin, srv.Env(), args[loser]...)
	if versions[loser] > versions[winner] {
		if r := decodeRelease(t, stdout); code != exitOK || r.Sequence != 3 || r.Uploaded != 0 {
			t.Errorf("loser's re-run: exit %d, %+v (stderr %s); want published at sequence 3 with its blob reused", code, r, stderr)
		}
	} else if code != exitError || !strings.Contains(stderr, "is not newer than "+versions[winner]) {
		t.Errorf("loser's re-run: exit %d, stderr %q; want refused as not newer", code, stderr)
	}
	verifyOK(t, locs[1], keys, "after the loser's re-run")
}
