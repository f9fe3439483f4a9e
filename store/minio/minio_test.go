package minio_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mpship/mpship/internal/miniotest"
	"github.com/mpship/mpship/store"
	"github.com/mpship/mpship/store/minio"
	"github.com/mpship/mpship/store/storetest"
)

func TestMain(m *testing.M) { miniotest.Main(m) }

func optionsFor(srv *miniotest.Server) minio.Options {
	return minio.Options{HTTPClient: &http.Client{Transport: &http.Transport{}}, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey}
}

func open(t *testing.T, srv *miniotest.Server, bucket, prefix string, opts minio.Options) *minio.Store {
	t.Helper()
	s, err := minio.New(srv.Endpoint, false, bucket, prefix, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// TestConformance runs the shared suite against MinIO, each subtest under
// its own prefix of one bucket.
func TestConformance(t *testing.T) {
	srv := miniotest.Start(t)
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, srv, srv.Bucket, fmt.Sprintf("conformance/case%d", n.Add(1)), optionsFor(srv))
	})
}

// TestConformanceBucketRoot runs the suite on whole buckets (no prefix).
func TestConformanceBucketRoot(t *testing.T) {
	if testing.Short() {
		t.Skip("the prefixed run covers the same code in -short mode")
	}
	storetest.Run(t, func(t *testing.T) store.Store {
		srv := miniotest.Start(t)
		return open(t, srv, srv.Bucket, "", optionsFor(srv))
	})
}

func TestOpenURL(t *testing.T) {
	t.Setenv("MINIO_ROOT_USER", "user")
	t.Setenv("MINIO_ROOT_PASSWORD", "password")
	tests := []struct {
		name, url, wantLoc string
		wantErr            string
	}{
		{name: "bucket", url: "minio://h:9000/my-bucket", wantLoc: "minio://h:9000/my-bucket"},
		{name: "prefix", url: "minio://h:9000/my-bucket/apps/prod/", wantLoc: "minio://h:9000/my-bucket/apps/prod"},
		{name: "plain HTTP", url: "minio://127.0.0.1:9000/my-bucket?tls=false", wantLoc: "minio://127.0.0.1:9000/my-bucket"},
		{name: "explicit TLS", url: "minio://h:9000/my-bucket?tls=true", wantLoc: "minio://h:9000/my-bucket"},
		{name: "no port", url: "minio://h/my-bucket", wantErr: "HOST:PORT"},
		{name: "no bucket", url: "minio://h:9000/", wantErr: "bucket name"},
		{name: "bad bucket", url: "minio://h:9000/My_Bucket", wantErr: "bucket name"},
		{name: "bad prefix", url: "minio://h:9000/my-bucket/a/../b", wantErr: "prefix"},
		{name: "credentials in URL", url: "minio://user:secret@h:9000/my-bucket", wantErr: "MINIO_ROOT_USER"},
		{name: "unknown parameter", url: "minio://h:9000/my-bucket?region=x", wantErr: "tls=false"},
		{name: "bad tls value", url: "minio://h:9000/my-bucket?tls=no", wantErr: "tls=false"},
		{name: "wrong scheme", url: "s3://my-bucket", wantErr: "minio://HOST:PORT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := minio.Open(t.Context(), tt.url, minio.Options{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Open(%q): got %v, want an error containing %q", tt.url, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("Open(%q) error %q repeats the credentials", tt.url, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open(%q): %v", tt.url, err)
			}
			if got := s.Location(); got != tt.wantLoc {
				t.Errorf("Location() = %q, want %q", got, tt.wantLoc)
			}
		})
	}
}

// TestCredentialsFromEnvironment uses each documented pair of variables.
func TestCredentialsFromEnvironment(t *testing.T) {
	srv := miniotest.Start(t)
	tests := []struct {
		name string
		env  map[string]string
	}{
		{"root user", map[string]string{"MINIO_ROOT_USER": srv.AccessKey, "MINIO_ROOT_PASSWORD": srv.SecretKey, "MINIO_ACCESS_KEY": "", "MINIO_SECRET_KEY": ""}},
		{"access key", map[string]string{"MINIO_ROOT_USER": "", "MINIO_ROOT_PASSWORD": "", "MINIO_ACCESS_KEY": srv.AccessKey, "MINIO_SECRET_KEY": srv.SecretKey}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			s, err := minio.Open(t.Context(), srv.MinioURL("env"), minio.Options{})
			if err != nil {
				t.Fatal(err)
			}
			data := []byte(tt.name)
			if err := s.Put(t.Context(), "k", bytes.NewReader(data), int64(len(data)), storetest.MetaFor(data)); err != nil {
				t.Fatalf("Put: %v", err)
			}
		})
	}
	t.Run("none", func(t *testing.T) {
		for _, k := range []string{"MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY"} {
			t.Setenv(k, "")
		}
		_, err := minio.Open(t.Context(), srv.MinioURL(""), minio.Options{})
		if err == nil || !strings.Contains(err.Error(), "MINIO_ROOT_USER") {
			t.Fatalf("Open without credentials: got %v, want an error naming MINIO_ROOT_USER", err)
		}
	})
}

func TestWrongCredentials(t *testing.T) {
	srv := miniotest.Start(t)
	opts := optionsFor(srv)
	opts.SecretKey = "not-the-secret"
	s := open(t, srv, srv.Bucket, "p", opts)
	data := []byte("x")
	ops := map[string]func() error{
		"put":  func() error { return s.Put(t.Context(), "k", bytes.NewReader(data), 1, store.Meta{}) },
		"get":  func() error { _, err := s.Get(t.Context(), "k", store.GetOptions{}); return err },
		"stat": func() error { _, err := s.Stat(t.Context(), "k"); return err },
		"list": func() error { return s.List(t.Context(), "", func(store.Info) error { return nil }) },
	}
	for op, run := range ops {
		t.Run(op, func(t *testing.T) {
			err := run()
			if err == nil {
				t.Fatal("got nil error with a wrong secret key")
			}
			for _, sentinel := range []error{store.ErrNotExist, store.ErrUnavailable} {
				if errors.Is(err, sentinel) {
					t.Errorf("got %v, which is %v; a credentials problem is neither", err, sentinel)
				}
			}
			if msg := err.Error(); !strings.Contains(msg, "credentials") || !strings.Contains(msg, srv.Bucket) {
				t.Errorf("error %q: want it to say to check the credentials and name bucket %s", msg, srv.Bucket)
			}
		})
	}
}

func TestMissingBucket(t *testing.T) {
	srv := miniotest.Start(t)
	bucket := srv.Bucket + "-missing"
	s := open(t, srv, bucket, "", optionsFor(srv))
	data := []byte("x")
	ops := map[string]func() error{
		"put": func() error { return s.Put(t.Context(), "k", bytes.NewReader(data), 1, store.Meta{}) },
		"putif": func() error {
			_, err := s.PutIf(t.Context(), "k", bytes.NewReader(data), 1, store.Meta{}, store.Condition{IfNoneMatch: true})
			return err
		},
		"get":  func() error { _, err := s.Get(t.Context(), "k", store.GetOptions{}); return err },
		"stat": func() error { _, err := s.Stat(t.Context(), "k"); return err },
		"list": func() error { return s.List(t.Context(), "", func(store.Info) error { return nil }) },
	}
	for op, run := range ops {
		t.Run(op, func(t *testing.T) {
			err := run()
			if err == nil {
				t.Fatal("got nil error on a missing bucket")
			}
			if msg := err.Error(); !strings.Contains(msg, fmt.Sprintf("bucket %q does not exist", bucket)) {
				t.Errorf("error %q: want it to say bucket %q does not exist", msg, bucket)
			}
			if errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrNotExist) {
				t.Errorf("got %v: a missing bucket is neither a transient failure nor a missing object", err)
			}
		})
	}
}

func TestUnreachableEndpoint(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s, err := minio.New(addr, false, "some-bucket", "", minio.Options{AccessKey: "a", SecretKey: "b", MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Stat(t.Context(), "k")
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Stat on a closed port: got %v, want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "endpoint") {
		t.Errorf("error %q: want it to say to check the endpoint", err)
	}
}

// TestMinIOStopped stops the server under the store: every operation is
// ErrUnavailable, and all is well again after a restart.
func TestMinIOStopped(t *testing.T) {
	srv := miniotest.StartIsolated(t)
	opts := optionsFor(srv)
	opts.MaxAttempts = 1
	s := open(t, srv, srv.Bucket, "p", opts)
	storetest.RunOutage(t, s, func() { srv.Stop(t) }, func() { srv.Restart(t) })
}

// TestMultipart checks that large objects go up in parts (MinIO's ETag of a
// multipart object ends in -PARTS).
func TestMultipart(t *testing.T) {
	srv := miniotest.Start(t)
	s := open(t, srv, srv.Bucket, "mp", optionsFor(srv))
	big := make([]byte, minio.DefaultPartSize+1)
	rand.NewChaCha8([32]byte{9}).Read(big)
	if err := s.Put(t.Context(), "big", bytes.NewReader(big), int64(len(big)), storetest.MetaFor(big)); err != nil {
		t.Fatalf("Put of %d bytes: %v", len(big), err)
	}
	st, err := s.Stat(t.Context(), "big")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(st.ETag, `-2"`) {
		t.Errorf("ETag of a %d-byte object: got %s, want a two-part multipart ETag ending in -2", len(big), st.ETag)
	}
	if st.Meta != storetest.MetaFor(big) {
		t.Errorf("Meta: got %+v, want %+v", st.Meta, storetest.MetaFor(big))
	}
}

// TestListWithoutStat checks that List takes Meta from the listing itself:
// the caller's transport sees one request for a listing of several keys.
func TestListWithoutStat(t *testing.T) {
	srv := miniotest.Start(t)
	ct := &countingTransport{base: &http.Transport{}}
	opts := optionsFor(srv)
	opts.HTTPClient = &http.Client{Transport: ct}
	s := open(t, srv, srv.Bucket, "", opts)
	for _, k := range []string{"a", "b", "c"} {
		if err := s.Put(t.Context(), k, strings.NewReader(k), 1, storetest.MetaFor([]byte(k))); err != nil {
			t.Fatal(err)
		}
	}
	before := ct.n.Load()
	var got []store.Info
	if err := s.List(t.Context(), "", func(i store.Info) error { got = append(got, i); return nil }); err != nil {
		t.Fatal(err)
	}
	if n := ct.n.Load() - before; n != 1 {
		t.Errorf("requests for a listing of 3 keys: got %d, want 1", n)
	}
	for _, i := range got {
		if i.Meta != storetest.MetaFor([]byte(i.Key)) {
			t.Errorf("List Meta of %s: got %+v, want %+v", i.Key, i.Meta, storetest.MetaFor([]byte(i.Key)))
		}
	}
}

type countingTransport struct {
	n    atomic.Int64
	base http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.base.RoundTrip(r)
}
