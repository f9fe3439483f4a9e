package location

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/mpship/mpship/internal/miniotest"
	"github.com/mpship/mpship/store"
	"github.com/mpship/mpship/store/minio"
	"github.com/mpship/mpship/store/s3"
)

// TestOpenRemote opens s3:// and minio:// locations of one MinIO server,
// configured through the environment as the CLI is, and checks that both
// backends see the same objects.
func TestOpenRemote(t *testing.T) {
	srv := miniotest.Start(t)
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	cases := []struct {
		name, raw, wantLoc string
		check              func(store.Store) bool
	}{
		{"s3", srv.S3URL("apps"), "s3://" + srv.Bucket + "/apps", func(s store.Store) bool { _, ok := s.(*s3.Store); return ok }},
		{"minio", srv.MinioURL("apps"), "minio://" + srv.Endpoint + "/" + srv.Bucket + "/apps", func(s store.Store) bool { _, ok := s.(*minio.Store); return ok }},
		{"S3 in capitals", "S3://" + srv.Bucket + "/apps", "s3://" + srv.Bucket + "/apps", func(s store.Store) bool { _, ok := s.(*s3.Store); return ok }},
	}
	data := []byte(`{"seq":1}`)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(t.Context(), tc.raw, Options{HTTPClient: &http.Client{}})
			if err != nil {
				t.Fatalf("Open(%q): %v", tc.raw, err)
			}
			if !tc.check(s) {
				t.Fatalf("Open(%q): got %T", tc.raw, s)
			}
			if got := s.Location(); got != tc.wantLoc {
				t.Errorf("Location() = %q, want %q", got, tc.wantLoc)
			}
			if i == 0 {
				if err := s.Put(t.Context(), "k.json", bytes.NewReader(data), int64(len(data)), store.Meta{ContentType: "application/json"}); err != nil {
					t.Fatal(err)
				}
			}
			info, err := s.Stat(t.Context(), "k.json")
			if err != nil {
				t.Fatalf("Stat through %s: %v", tc.name, err)
			}
			if info.Size != int64(len(data)) || info.Meta.ContentType != "application/json" {
				t.Errorf("Stat through %s: got size %d type %q, want %d %q", tc.name, info.Size, info.Meta.ContentType, len(data), "application/json")
			}
		})
	}
}

func TestOpenRemoteErrors(t *testing.T) {
	for _, k := range []string{"MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY"} {
		t.Setenv(k, "")
	}
	cases := []struct{ name, raw, wantErr string }{
		{"s3 without bucket", "s3://", "s3://BUCKET/PREFIX"},
		{"minio without credentials", "minio://127.0.0.1:9000/bucket?tls=false", "MINIO_ROOT_USER"},
		{"minio without port", "minio://host/bucket", "HOST:PORT"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(t.Context(), tc.raw, Options{})
			if s != nil {
				t.Errorf("Open(%q): got store %v with error, want nil", tc.raw, s)
			}
			var se *store.Error
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.As(err, &se) {
				t.Fatalf("Open(%q): got error %v, want a *store.Error containing %q", tc.raw, err, tc.wantErr)
			}
		})
	}
}
