package s3_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/minio/minio-go/v7"

	"github.com/mpship/mpship/internal/miniotest"
	"github.com/mpship/mpship/store"
	"github.com/mpship/mpship/store/s3"
	"github.com/mpship/mpship/store/storetest"
)

func TestMain(m *testing.M) { miniotest.Main(m) }

// isolateEnv keeps the developer's own AWS setup out of a test.
func isolateEnv(t *testing.T) {
	for _, k := range []string{
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
	} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// optionsFor points the backend at srv through Options, not the
// environment.
func optionsFor(srv *miniotest.Server) s3.Options {
	return s3.Options{
		HTTPClient: &http.Client{},
		Endpoint:   srv.URL(),
		AccessKey:  srv.AccessKey,
		SecretKey:  srv.SecretKey,
		Region:     "us-east-1",
	}
}

func open(t *testing.T, srv *miniotest.Server, bucket, prefix string, opts s3.Options) *s3.Store {
	t.Helper()
	s, err := s3.New(t.Context(), bucket, prefix, opts)
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
	isolateEnv(t)
	t.Setenv("AWS_REGION", "eu-west-1")
	tests := []struct {
		name, url, wantLoc string
		wantErr            bool
	}{
		{"bucket", "s3://my-bucket", "s3://my-bucket", false},
		{"bucket slash", "s3://my-bucket/", "s3://my-bucket", false},
		{"prefix", "s3://my-bucket/apps/prod", "s3://my-bucket/apps/prod", false},
		{"prefix trailing slash", "s3://my-bucket/apps/", "s3://my-bucket/apps", false},
		{"no bucket", "s3:///apps", "", true},
		{"uppercase bucket", "s3://MyBucket", "", true},
		{"short bucket", "s3://ab", "", true},
		{"credentials in URL", "s3://key:secret@my-bucket", "", true},
		{"port", "s3://my-bucket:9000/x", "", true},
		{"query", "s3://my-bucket?region=x", "", true},
		{"wrong scheme", "minio://my-bucket", "", true},
		{"dot segment", "s3://my-bucket/a/../b", "", true},
		{"not a URL", "s3://my bucket", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := s3.Open(t.Context(), tt.url, s3.Options{})
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Open(%q): got store %s, want an error", tt.url, s.Location())
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

func TestNoRegion(t *testing.T) {
	isolateEnv(t)
	_, err := s3.Open(t.Context(), "s3://my-bucket", s3.Options{})
	if err == nil || !strings.Contains(err.Error(), "AWS_REGION") {
		t.Fatalf("Open without region or endpoint: got %v, want an error naming AWS_REGION", err)
	}
	// A custom endpoint defaults the region.
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	if _, err := s3.Open(t.Context(), "s3://my-bucket", s3.Options{}); err != nil {
		t.Fatalf("Open with AWS_ENDPOINT_URL and no region: %v", err)
	}
}

// TestEnvironment configures the backend only through the AWS variables
// (credentials, AWS_ENDPOINT_URL_S3 over AWS_ENDPOINT_URL), as the CLI does.
func TestEnvironment(t *testing.T) {
	srv := miniotest.Start(t)
	dead := "http://" + closedAddr(t)
	tests := []struct {
		name       string
		endpoint   string
		endpointS3 string
	}{
		{"AWS_ENDPOINT_URL", srv.URL(), ""},
		{"AWS_ENDPOINT_URL_S3 wins", dead, srv.URL()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateEnv(t)
			t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
			t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
			t.Setenv("AWS_ENDPOINT_URL", tt.endpoint)
			t.Setenv("AWS_ENDPOINT_URL_S3", tt.endpointS3)
			s, err := s3.Open(t.Context(), srv.S3URL("env"), s3.Options{HTTPClient: &http.Client{}})
			if err != nil {
				t.Fatal(err)
			}
			data := []byte(tt.name)
			if err := s.Put(t.Context(), "k", bytes.NewReader(data), int64(len(data)), storetest.MetaFor(data)); err != nil {
				t.Fatalf("Put: %v", err)
			}
			// The object is where path-style addressing puts it.
			c, err := srv.Client(nil)
			if err != nil {
				t.Fatal(err)
			}
			oi, err := c.StatObject(t.Context(), srv.Bucket, "env/k", minioStatOpts())
			if err != nil {
				t.Fatalf("object env/k in bucket %s: %v", srv.Bucket, err)
			}
			if oi.Size != int64(len(data)) {
				t.Errorf("size of env/k: got %d, want %d", oi.Size, len(data))
			}
		})
	}
}

// countingTransport counts the requests of a real transport.
type countingTransport struct {
	n    atomic.Int64
	base http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.base.RoundTrip(r)
}

func TestUsesCallersHTTPClient(t *testing.T) {
	srv := miniotest.Start(t)
	ct := &countingTransport{base: http.DefaultTransport.(*http.Transport).Clone()}
	opts := optionsFor(srv)
	opts.HTTPClient = &http.Client{Transport: ct}
	s := open(t, srv, srv.Bucket, "", opts)
	if _, err := s.Stat(t.Context(), "missing"); !errors.Is(err, store.ErrNotExist) {
		t.Fatalf("Stat: got %v, want ErrNotExist", err)
	}
	if got := ct.n.Load(); got != 1 {
		t.Errorf("requests through the caller's client: got %d, want 1", got)
	}
}

func TestWrongCredentials(t *testing.T) {
	srv := miniotest.Start(t)
	opts := optionsFor(srv)
	opts.SecretKey = "not-the-secret"
	s := open(t, srv, srv.Bucket, "p", opts)
	data := []byte("x")
	ops := map[string]func() error{
		"put": func() error { return s.Put(t.Context(), "k", bytes.NewReader(data), 1, store.Meta{}) },
		"get": func() error { _, err := s.Get(t.Context(), "k", store.GetOptions{}); return err },
		"stat": func() error {
			_, err := s.Stat(t.Context(), "k")
			return err
		},
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
			if errors.Is(err, store.ErrUnavailable) {
				t.Errorf("got %v: a missing bucket is not a transient failure", err)
			}
		})
	}
}

func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestUnreachableEndpoint(t *testing.T) {
	isolateEnv(t)
	s, err := s3.New(t.Context(), "some-bucket", "", s3.Options{
		Endpoint: "http://" + closedAddr(t), AccessKey: "a", SecretKey: "b", MaxAttempts: 1,
	})
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

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{7}).Read(b)
	return b
}

// TestMultipart checks that large objects go up in parts (MinIO's ETag of a
// multipart object ends in -PARTS) and that conditions hold for them too.
func TestMultipart(t *testing.T) {
	srv := miniotest.Start(t)
	s := open(t, srv, srv.Bucket, "mp", optionsFor(srv))
	big := randomBytes(s3.DefaultMultipartThreshold + 1)
	info, err := s.PutIf(t.Context(), "big", bytes.NewReader(big), int64(len(big)), storetest.MetaFor(big), store.Condition{IfNoneMatch: true})
	if err != nil {
		t.Fatalf("PutIf of %d bytes: %v", len(big), err)
	}
	wantParts := (len(big) + s3.DefaultPartSize - 1) / s3.DefaultPartSize
	if suffix := fmt.Sprintf("-%d\"", wantParts); !strings.HasSuffix(info.ETag, suffix) {
		t.Errorf("ETag of a %d-byte object: got %s, want a multipart ETag ending in %s", len(big), info.ETag, suffix)
	}
	other := randomBytes(s3.DefaultMultipartThreshold + 2)
	_, err = s.PutIf(t.Context(), "big", bytes.NewReader(other), int64(len(other)), storetest.MetaFor(other), store.Condition{IfNoneMatch: true})
	if !errors.Is(err, store.ErrPrecondition) {
		t.Fatalf("multipart PutIf IfNoneMatch over an existing object: got %v, want ErrPrecondition", err)
	}
	_, err = s.PutIf(t.Context(), "big", bytes.NewReader(other), int64(len(other)), storetest.MetaFor(other), store.Condition{IfMatch: `"0123"`})
	if !errors.Is(err, store.ErrPrecondition) {
		t.Fatalf("multipart PutIf with a stale IfMatch: got %v, want ErrPrecondition", err)
	}
	st, err := s.Stat(t.Context(), "big")
	if err != nil {
		t.Fatal(err)
	}
	if st.ETag != info.ETag || st.Meta.SHA256 != sum(big) {
		t.Errorf("after refused puts: got ETag %s sha256 %s, want %s %s", st.ETag, st.Meta.SHA256, info.ETag, sum(big))
	}
	if n := pendingUploads(t, s); n != 0 {
		t.Errorf("multipart uploads left in the bucket: got %d, want 0 (refused uploads must be aborted)", n)
	}
}

func pendingUploads(t *testing.T, s *s3.Store) int {
	t.Helper()
	out, err := s.Client().ListMultipartUploads(t.Context(), &awss3.ListMultipartUploadsInput{Bucket: aws.String(bucketOf(s))})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Uploads)
}

func bucketOf(s *s3.Store) string {
	b, _, _ := strings.Cut(strings.TrimPrefix(s.Location(), "s3://"), "/")
	return b
}

// TestMultipartCanceled cancels a multipart upload midway: nothing becomes
// visible and the parts already sent are aborted.
func TestMultipartCanceled(t *testing.T) {
	srv := miniotest.Start(t)
	s := open(t, srv, srv.Bucket, "", optionsFor(srv))
	data := randomBytes(40 << 20)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	r := &cancelAfter{r: bytes.NewReader(data), n: 20 << 20, cancel: cancel}
	err := s.Put(ctx, "canceled", r, int64(len(data)), storetest.MetaFor(data))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put canceled after 20 MiB: got %v, want context.Canceled", err)
	}
	if _, err := s.Stat(t.Context(), "canceled"); !errors.Is(err, store.ErrNotExist) {
		t.Errorf("Stat after a canceled put: got %v, want ErrNotExist", err)
	}
	if n := pendingUploads(t, s); n != 0 {
		t.Errorf("multipart uploads left in the bucket: got %d, want 0", n)
	}
}

// cancelAfter cancels after n bytes and keeps reading.
type cancelAfter struct {
	r      io.Reader
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	if c.n <= 0 {
		c.cancel()
	}
	n, err := c.r.Read(p)
	c.n -= n
	return n, err
}

func minioStatOpts() minio.StatObjectOptions { return minio.StatObjectOptions{} }
