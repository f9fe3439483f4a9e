package miniotest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

func TestMain(m *testing.M) { Main(m) }

func TestStartShares(t *testing.T) {
	a, b := Start(t), Start(t)
	if a.Endpoint != b.Endpoint {
		t.Errorf("two Starts under Main: got endpoints %s and %s, want one shared server", a.Endpoint, b.Endpoint)
	}
	if a.Bucket == b.Bucket {
		t.Errorf("two Starts: got bucket %s twice, want a fresh bucket each", a.Bucket)
	}
	c, err := a.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, bucket := range []string{a.Bucket, b.Bucket} {
		ok, err := c.BucketExists(t.Context(), bucket)
		if err != nil || !ok {
			t.Errorf("BucketExists(%s) = %v, %v; want true", bucket, ok, err)
		}
	}
}

func TestSharedServerRefusesStop(t *testing.T) {
	if os.Getenv("MINIOTEST_CHILD") == "stop-shared" {
		Start(t).Stop(t)
		return
	}
	out, err := runChild(t, "TestSharedServerRefusesStop", "MINIOTEST_CHILD=stop-shared")
	if err == nil {
		t.Fatalf("Stop on a shared server: the test passed, want it to fail; output:\n%s", out)
	}
	if !strings.Contains(out, "StartIsolated") {
		t.Errorf("output %q: want it to point at StartIsolated", out)
	}
}

func TestIsolatedKillRestart(t *testing.T) {
	shared := Start(t)
	srv := StartIsolated(t)
	if srv.Endpoint == shared.Endpoint {
		t.Fatalf("StartIsolated: got the shared server %s, want one of its own", srv.Endpoint)
	}
	c, err := srv.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("kept across restarts")
	if _, err := c.PutObject(t.Context(), srv.Bucket, "k", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	srv.Kill(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c1, err := minio.New(srv.Endpoint, &minio.Options{Creds: nil, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c1.ListBuckets(ctx); err == nil {
		t.Fatal("ListBuckets after Kill: got nil error, want the server gone")
	}
	srv.Restart(t)
	st, err := c.StatObject(t.Context(), srv.Bucket, "k", minio.StatObjectOptions{})
	if err != nil {
		t.Fatalf("StatObject after Restart: %v", err)
	}
	if st.Size != int64(len(data)) {
		t.Errorf("size after Restart: got %d, want %d", st.Size, len(data))
	}
	// Stopping twice is harmless; the cleanup stops it a third time.
	srv.Stop(t)
	srv.Stop(t)
}

func TestEnv(t *testing.T) {
	srv := &Server{Endpoint: "127.0.0.1:1", AccessKey: "ak", SecretKey: "sk", Bucket: "b"}
	env := map[string]string{}
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	want := map[string]string{
		"MINIO_ROOT_USER": "ak", "MINIO_ROOT_PASSWORD": "sk",
		"AWS_ACCESS_KEY_ID": "ak", "AWS_SECRET_ACCESS_KEY": "sk",
		"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_REGION": "us-east-1",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("Env %s: got %q, want %q", k, env[k], v)
		}
	}
	if got, want := srv.MinioURL("p"), "minio://127.0.0.1:1/b/p?tls=false"; got != want {
		t.Errorf("MinioURL: got %q, want %q", got, want)
	}
	if got, want := srv.S3URL(""), "s3://b"; got != want {
		t.Errorf("S3URL: got %q, want %q", got, want)
	}
}

func TestBinaryPath(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "bin", "minio")
	if err := os.MkdirAll(filepath.Dir(exe), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	notExe := filepath.Join(dir, "plain")
	if err := os.WriteFile(notExe, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		env      map[string]string
		want     string
		wantErrs []string
	}{
		{"MPSHIP_MINIO", map[string]string{"MPSHIP_MINIO": exe, "MPSHIP_CACHE": t.TempDir()}, exe, nil},
		{"MPSHIP_MINIO not executable", map[string]string{"MPSHIP_MINIO": notExe}, "", []string{"MPSHIP_MINIO", "scripts/minio.sh install"}},
		{"MPSHIP_CACHE", map[string]string{"MPSHIP_MINIO": "", "MPSHIP_CACHE": dir}, exe, nil},
		{"XDG_CACHE_HOME", map[string]string{"MPSHIP_MINIO": "", "MPSHIP_CACHE": "", "XDG_CACHE_HOME": filepath.Join(dir, "xdg")}, filepath.Join(dir, "xdg", "mpship", "bin", "minio"), nil},
		{"nowhere", map[string]string{"MPSHIP_MINIO": "", "MPSHIP_CACHE": filepath.Join(dir, "empty"), "PATH": dir}, "", []string{"not found", "scripts/minio.sh install"}},
	}
	xdgBin := filepath.Join(dir, "xdg", "mpship", "bin", "minio")
	if err := os.MkdirAll(filepath.Dir(xdgBin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(xdgBin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			got, err := BinaryPath()
			if tt.wantErrs != nil {
				if err == nil {
					t.Fatalf("BinaryPath() = %q, want an error", got)
				}
				for _, w := range tt.wantErrs {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q: want it to contain %q", err, w)
					}
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("BinaryPath() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestMissingBinary runs a child test without a MinIO binary: it skips,
// and fails when CI is set.
func TestMissingBinary(t *testing.T) {
	if os.Getenv("MINIOTEST_CHILD") == "missing" {
		StartIsolated(t)
		t.Fatal("StartIsolated returned without a binary")
	}
	missing := "MPSHIP_MINIO=" + filepath.Join(t.TempDir(), "no-such-minio")
	tests := []struct {
		name     string
		ci       string
		wantFail bool
		wantWord string
	}{
		{"local run skips", "CI=", false, "--- SKIP"},
		{"CI fails", "CI=true", true, "--- FAIL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runChild(t, "TestMissingBinary", "MINIOTEST_CHILD=missing", missing, tt.ci)
			if failed := err != nil; failed != tt.wantFail {
				t.Fatalf("child failed = %v, want %v; output:\n%s", failed, tt.wantFail, out)
			}
			if !strings.Contains(out, tt.wantWord) || !strings.Contains(out, "scripts/minio.sh install") {
				t.Errorf("child output %q: want %q and the install hint", out, tt.wantWord)
			}
		})
	}
}

// runChild runs one test of this binary in a child process with extra
// environment variables and returns its output.
func runChild(t *testing.T, name string, env ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^"+name+"$", "-test.v")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
