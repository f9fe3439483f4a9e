// Package miniotest runs a real MinIO server for tests.
//
// Start gives a test a fresh bucket on a MinIO server listening on a free
// loopback port, with a temporary data directory and generated root
// credentials. A test binary that calls Main from its TestMain shares one
// MinIO process among all its tests (a bucket each), which saves the
// second or so a server takes to start; without Main every Start runs its
// own process. StartIsolated always runs a process of its own, which a
// fault test may Stop, Kill and Restart without disturbing other tests.
//
// The server binary is found at $MPSHIP_MINIO, else in the cache that
// scripts/minio.sh installs into
// (${MPSHIP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mpship}/bin/minio), else
// on $PATH. When it is missing the test is skipped, except when the CI
// environment variable is set: then it fails, because in CI a skipped
// integration test is a failure.
package miniotest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Timeouts for the server's life cycle. They bound waiting for a broken
// server; a healthy one is ready in a second or two.
const (
	readyTimeout = 60 * time.Second
	stopTimeout  = 10 * time.Second
)

// installHint is what a person should do when the binary is missing.
const installHint = "install it with 'scripts/minio.sh install' (builds MinIO once into a cache outside the repository, a few minutes) or point MPSHIP_MINIO at a minio binary"

// Server is a running MinIO server with one bucket created for the caller.
// Its methods are safe for concurrent use.
type Server struct {
	// Endpoint is the server's host:port, "127.0.0.1:PORT" (plain HTTP).
	Endpoint string
	// AccessKey and SecretKey are the server's root credentials.
	AccessKey, SecretKey string
	// Bucket is a bucket created for this Server, empty.
	Bucket string

	proc   *process
	shared bool
}

// URL returns the server's base URL, "http://127.0.0.1:PORT".
func (s *Server) URL() string { return "http://" + s.Endpoint }

// MinioURL returns the store URL of the bucket for the minio-go backend with
// an optional key prefix: "minio://127.0.0.1:PORT/BUCKET/PREFIX?tls=false".
// The credentials are in Env, not in the URL.
func (s *Server) MinioURL(prefix string) string {
	return "minio://" + s.Endpoint + "/" + joinPrefix(s.Bucket, prefix) + "?tls=false"
}

// S3URL returns the store URL of the bucket for the aws-sdk-go-v2 backend,
// "s3://BUCKET/PREFIX". The endpoint and credentials are in Env.
func (s *Server) S3URL(prefix string) string {
	return "s3://" + joinPrefix(s.Bucket, prefix)
}

func joinPrefix(bucket, prefix string) string {
	if prefix == "" {
		return bucket
	}
	return bucket + "/" + prefix
}

// Env returns the environment variables (KEY=VALUE) that point both the
// minio-go and the aws-sdk-go-v2 backends at this server: root credentials
// under the MinIO and the AWS names, AWS_ENDPOINT_URL and AWS_REGION. Append
// them to a child process's environment; AWS_PROFILE and shared config
// files are neutralised so a developer's own AWS setup cannot leak in.
func (s *Server) Env() []string {
	return []string{
		"MINIO_ROOT_USER=" + s.AccessKey,
		"MINIO_ROOT_PASSWORD=" + s.SecretKey,
		"AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
		"AWS_SESSION_TOKEN=",
		"AWS_ENDPOINT_URL=" + s.URL(),
		"AWS_ENDPOINT_URL_S3=",
		"AWS_REGION=us-east-1",
		"AWS_PROFILE=",
		"AWS_CONFIG_FILE=" + os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// Stop stops the server (SIGTERM, then SIGKILL after 10s) and waits for it
// to exit. Requests fail until Restart. Only a server from StartIsolated may
// be stopped; on a shared one Stop fails the test.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.mustOwn(t, "Stop")
	if err := s.proc.stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
}

// Kill kills the server with SIGKILL, as a crash would, and waits for it to
// exit. Only a server from StartIsolated may be killed.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	s.mustOwn(t, "Kill")
	if err := s.proc.stop(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
}

// Restart starts a stopped server again on the same port with the same data
// directory and credentials, so buckets and objects survive, and waits until
// it is ready. Restarting a running server stops it first.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.mustOwn(t, "Restart")
	if err := s.proc.stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := s.proc.start(); err != nil {
		t.Fatal(err)
	}
}

func (s *Server) mustOwn(t testing.TB, op string) {
	t.Helper()
	if s.shared {
		t.Fatalf("miniotest: %s on a server shared by the whole test binary; use miniotest.StartIsolated for fault tests", op)
	}
}

// shared is the process Main set up for the whole test binary.
var shared struct {
	mu      sync.Mutex
	enabled bool
	proc    *process
	err     error
	dir     string
}

// Main runs the tests of a package sharing one MinIO process among them and
// stops it afterwards. Call it from TestMain:
//
//	func TestMain(m *testing.M) { miniotest.Main(m) }
//
// The process starts at the first Start, so a run that needs no MinIO
// starts none. Main calls os.Exit with m.Run's code.
func Main(m *testing.M) {
	shared.mu.Lock()
	shared.enabled = true
	shared.mu.Unlock()

	code := m.Run()

	shared.mu.Lock()
	if shared.proc != nil {
		if err := shared.proc.stop(syscall.SIGTERM); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	shared.mu.Unlock()
	os.Exit(code)
}

// Start returns a MinIO server with a fresh bucket. Under Main the server
// process is shared by the test binary; otherwise it is the test's own and
// is stopped when the test ends. A missing binary skips the test, or fails
// it when CI is set; a server that does not start fails the test.
func Start(t testing.TB) *Server {
	t.Helper()
	shared.mu.Lock()
	enabled := shared.enabled
	shared.mu.Unlock()
	if !enabled {
		return StartIsolated(t)
	}
	bin := findBinary(t)

	shared.mu.Lock()
	if shared.proc == nil && shared.err == nil {
		dir, err := os.MkdirTemp("", "miniotest-")
		if err != nil {
			shared.err = fmt.Errorf("miniotest: %w", err)
		} else {
			shared.dir = dir
			shared.proc, shared.err = launch(bin, dir)
		}
	}
	proc, err := shared.proc, shared.err
	shared.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	return newServer(t, proc, true)
}

// StartIsolated returns a MinIO server process of the test's own, with a
// fresh bucket, data in t.TempDir, stopped when the test ends. Use it for
// tests that Stop, Kill or Restart the server.
func StartIsolated(t testing.TB) *Server {
	t.Helper()
	bin := findBinary(t)
	dir := t.TempDir()
	proc, err := launch(bin, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := proc.stop(syscall.SIGTERM); err != nil {
			t.Error(err)
		}
	})
	return newServer(t, proc, false)
}

func newServer(t testing.TB, proc *process, isShared bool) *Server {
	t.Helper()
	s := &Server{
		Endpoint:  proc.endpoint,
		AccessKey: proc.accessKey,
		SecretKey: proc.secretKey,
		Bucket:    "mpship-test-" + randomHex(t, 6),
		proc:      proc,
		shared:    isShared,
	}
	c, err := s.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	if err := c.MakeBucket(ctx, s.Bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("miniotest: create bucket %s on %s: %v (server log: %s)", s.Bucket, s.Endpoint, err, proc.logTail())
	}
	return s
}

// Client returns a minio-go client with root credentials, for test setup
// and inspection. A nil hc uses a fresh http.Client.
func (s *Server) Client(hc *http.Client) (*minio.Client, error) {
	opts := &minio.Options{
		Creds:  credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Secure: false,
		Region: "us-east-1",
	}
	if hc != nil {
		opts.Transport = hc.Transport
	}
	c, err := minio.New(s.Endpoint, opts)
	if err != nil {
		return nil, fmt.Errorf("miniotest: client for %s: %w", s.Endpoint, err)
	}
	return c, nil
}

// BinaryPath returns the MinIO binary that Start would run, or an error
// saying how to install it.
func BinaryPath() (string, error) {
	if p := os.Getenv("MPSHIP_MINIO"); p != "" {
		if isExecutable(p) {
			return p, nil
		}
		return "", fmt.Errorf("miniotest: MPSHIP_MINIO=%s is not an executable file; %s", p, installHint)
	}
	cached := filepath.Join(cacheDir(), "bin", "minio")
	if isExecutable(cached) {
		return cached, nil
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("miniotest: MinIO server binary not found at $MPSHIP_MINIO, %s or on $PATH; %s", cached, installHint)
}

// cacheDir mirrors scripts/minio.sh:
// ${MPSHIP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mpship}.
func cacheDir() string {
	if d := os.Getenv("MPSHIP_CACHE"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "mpship")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "mpship")
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

func findBinary(t testing.TB) string {
	t.Helper()
	p, err := BinaryPath()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	return p
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// process is one MinIO server process and what it needs to be restarted.
type process struct {
	bin, dataDir, logPath string
	endpoint              string
	accessKey, secretKey  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// launch starts MinIO with data under dir on a free loopback port. A port
// taken between picking and binding is retried with another one.
func launch(bin, dir string) (*process, error) {
	user := make([]byte, 8)
	pass := make([]byte, 16)
	if _, err := rand.Read(user); err != nil {
		return nil, err
	}
	if _, err := rand.Read(pass); err != nil {
		return nil, err
	}
	p := &process{
		bin:       bin,
		dataDir:   filepath.Join(dir, "data"),
		logPath:   filepath.Join(dir, "minio.log"),
		accessKey: "mpship" + hex.EncodeToString(user),
		secretKey: hex.EncodeToString(pass),
	}
	if err := os.MkdirAll(p.dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("miniotest: %w", err)
	}
	var err error
	for range 3 {
		var port int
		if port, err = freePort(); err != nil {
			return nil, err
		}
		p.endpoint = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if err = p.start(); err == nil {
			return p, nil
		}
	}
	return nil, err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("miniotest: pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start runs the server and waits until /minio/health/live answers 200.
func (p *process) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("miniotest: server on %s already running", p.endpoint)
	}
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("miniotest: %w", err)
	}
	cmd := exec.Command(p.bin, "server", "--quiet", "--address", p.endpoint, p.dataDir)
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+p.accessKey,
		"MINIO_ROOT_PASSWORD="+p.secretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
	)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("miniotest: start %s: %w", p.bin, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(done)
	}()
	p.cmd, p.done = cmd, done

	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(readyTimeout)
	for {
		select {
		case <-done:
			p.cmd = nil
			return fmt.Errorf("miniotest: MinIO on %s exited before it was ready: %s", p.endpoint, p.logTailLocked())
		default:
		}
		if p.ready(hc) {
			return nil
		}
		if time.Now().After(deadline) {
			p.stopLocked(syscall.SIGKILL)
			return fmt.Errorf("miniotest: MinIO on %s not ready after %v: %s", p.endpoint, readyTimeout, p.logTailLocked())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ready reports whether the server answers S3 requests: liveness alone
// comes before MinIO has initialised its drives, so this asks for cluster
// health and then makes a signed request.
func (p *process) ready(hc *http.Client) bool {
	for _, path := range []string{"/minio/health/live", "/minio/health/cluster"} {
		resp, err := hc.Get("http://" + p.endpoint + path)
		if err != nil {
			return false
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false
		}
	}
	c, err := minio.New(p.endpoint, &minio.Options{
		Creds:      credentials.NewStaticV4(p.accessKey, p.secretKey, ""),
		Region:     "us-east-1",
		Transport:  hc.Transport,
		MaxRetries: 1,
	})
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = c.ListBuckets(ctx)
	return err == nil
}

// stop sends sig, escalates to SIGKILL after stopTimeout and waits for the
// process to exit. Stopping a stopped process does nothing.
func (p *process) stop(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stopLocked(sig)
}

func (p *process) stopLocked(sig syscall.Signal) error {
	if p.cmd == nil {
		return nil
	}
	cmd, done := p.cmd, p.done
	p.cmd, p.done = nil, nil
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("miniotest: signal MinIO on %s: %w", p.endpoint, err)
	}
	select {
	case <-done:
		return nil
	case <-time.After(stopTimeout):
	}
	cmd.Process.Kill()
	<-done
	return nil
}

func (p *process) logTail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logTailLocked()
}

func (p *process) logTailLocked() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	b = bytes.TrimSpace(b)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	if len(b) == 0 {
		return "(empty log)"
	}
	return string(b)
}
