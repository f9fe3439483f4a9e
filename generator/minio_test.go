package generator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/mpship/mpship/internal/archive/archivetest"
	"github.com/mpship/mpship/internal/httpmeta"
	"github.com/mpship/mpship/internal/miniotest"
	"github.com/mpship/mpship/manifests"
	"github.com/mpship/mpship/store"
	"github.com/mpship/mpship/store/local"
	"github.com/mpship/mpship/store/minio"
	"github.com/mpship/mpship/store/s3"
)

// bucketBackends open a store on a MinIO bucket under a prefix through
// each client library.
var bucketBackends = []struct {
	name string
	open func(ctx context.Context, srv *miniotest.Server, prefix string) (store.Store, error)
}{
	{"s3", func(ctx context.Context, srv *miniotest.Server, prefix string) (store.Store, error) {
		return s3.New(ctx, srv.Bucket, prefix, s3.Options{
			Endpoint: srv.URL(), Region: "us-east-1", AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
		})
	}},
	{"minio", func(_ context.Context, srv *miniotest.Server, prefix string) (store.Store, error) {
		return minio.New(srv.Endpoint, false, srv.Bucket, prefix, minio.Options{AccessKey: srv.AccessKey, SecretKey: srv.SecretKey})
	}},
}

// rawObject fetches bucket/prefix/key with a plain HTTP GET of a presigned
// URL, as a CDN pointed at the bucket would see it.
func rawObject(t *testing.T, srv *miniotest.Server, prefix, key string) (http.Header, []byte) {
	t.Helper()
	c, err := srv.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	u, err := c.PresignedGetObject(context.Background(), srv.Bucket, prefix+"/"+key, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{}).Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", key, resp.Status)
	}
	return resp.Header, body
}

// TestPublishToMinIO publishes to a real MinIO bucket through each client
// library: every object carries the Content-Type, Cache-Control and sha256
// the origin would send; blobs already there are skipped; a damaged blob
// is replaced.
func TestPublishToMinIO(t *testing.T) {
	srv := miniotest.Start(t)
	tree, subs := packagesTree(t, 3, 3, 300_000)
	trust := testTrust(t, 1, testSigner(1))
	for _, b := range bucketBackends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			prefix := "publish-" + b.name
			st, err := b.open(ctx, srv, prefix)
			if err != nil {
				t.Fatal(err)
			}
			o := opts(st, "1.0.0", tree)
			o.Subpackages, o.ManifestMaxAge = subs, 30*time.Second
			log := &progressLog{t: t}
			o.Progress = log.record
			first := mustRun(t, o)
			if first.Uploaded != 3 || first.Skipped != 0 {
				t.Errorf("first release: uploaded %d, skipped %d; want 3, 0", first.Uploaded, first.Skipped)
			}
			if got := log.last(); got.Done != 3 || got.Sent != first.UploadedBytes {
				t.Errorf("last progress: got %+v, want 3 blobs done and %d bytes sent", got, first.UploadedBytes)
			}

			keys := []string{first.ReleasePath, first.ChannelPath}
			for _, p := range first.Packages {
				keys = append(keys, p.Path)
			}
			for _, key := range keys {
				h, body := rawObject(t, srv, prefix, key)
				sum := sha256.Sum256(body)
				want := map[string]string{
					"Content-Type":      httpmeta.ContentType(key),
					"Cache-Control":     httpmeta.CacheControl(key, 30*time.Second),
					"X-Amz-Meta-Sha256": hex.EncodeToString(sum[:]),
				}
				for name, v := range want {
					if got := h.Get(name); got != v {
						t.Errorf("%s: header %s: got %q, want %q", key, name, got, v)
					}
				}
			}
			verifyClean(t, st, trust)

			// The same tree as a new version: nothing uploaded.
			log = &progressLog{t: t}
			o.Version, o.Progress = "1.0.1", log.record
			again := mustRun(t, o)
			if again.Uploaded != 0 || again.Skipped != 3 || again.SkippedBytes != first.UploadedBytes {
				t.Errorf("same tree again: uploaded %d, skipped %d (%d bytes); want 0, 3 (%d bytes)", again.Uploaded, again.Skipped, again.SkippedBytes, first.UploadedBytes)
			}
			if got := log.byEvent(); got[ProgressSkipped] != 3 || got[ProgressStarted] != 0 {
				t.Errorf("progress events by key: got %v, want 3 skipped", got)
			}

			// A blob damaged in the bucket (other bytes under its key) is
			// uploaded again.
			damaged := first.Packages[1]
			junk := bytes.Repeat([]byte{'x'}, int(damaged.Size))
			if err := st.Put(ctx, damaged.Path, bytes.NewReader(junk), int64(len(junk)), store.Meta{}); err != nil {
				t.Fatal(err)
			}
			if rep, err := Verify(ctx, st, trust, testClock); err != nil || len(rep.Problems) != 1 || rep.Problems[0].Code != "hash_mismatch" {
				t.Fatalf("verify of the damaged blob: got %+v, %v; want one hash_mismatch", rep, err)
			}
			o.Version, o.Progress = "1.0.2", nil
			repaired := mustRun(t, o)
			if repaired.Uploaded != 1 || repaired.Skipped != 2 || !repaired.Packages[1].Uploaded {
				t.Errorf("after damage: uploaded %d, skipped %d, %s uploaded %v; want 1, 2, true", repaired.Uploaded, repaired.Skipped, damaged.Name, repaired.Packages[1].Uploaded)
			}
			verifyClean(t, st, trust)
			if c := repaired.Channel; c.Sequence != 3 || c.Current.Version != "1.0.2" {
				t.Errorf("channel: sequence %d at %s, want 3 at 1.0.2", c.Sequence, c.Current.Version)
			}
		})
	}
}

// BenchmarkPublishMinIO measures the publish step alone (what the bucket
// costs, packing and compressing left out) of a release of each vant-weapp
// version to a local MinIO through each client library: "first" into an
// empty prefix, "again" where the blob is already there and only the two
// manifests are written.
//
//	go test -run '^$' -bench PublishMinIO -benchtime 5x ./generator
func BenchmarkPublishMinIO(b *testing.B) {
	srv := miniotest.Start(b)
	for _, v := range archivetest.Versions {
		// Build the release once, up to sign, against a scratch store.
		scratch, err := local.Open(b.TempDir(), local.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { scratch.Close() })
		r := &Release{Options: opts(scratch, v, archivetest.Extract(b, v))}
		for _, s := range pipeline {
			if _, ok := s.(publishStep); ok {
				break
			}
			if err := s.Run(context.Background(), r); err != nil {
				b.Fatal(err)
			}
		}
		for _, be := range bucketBackends {
			for _, mode := range []string{"first", "again"} {
				b.Run(fmt.Sprintf("%s/%s/%s", v, be.name, mode), func(b *testing.B) {
					ctx := context.Background()
					if mode == "first" {
						b.SetBytes(int64(len(r.Packages[0].Blob)))
					}
					for i := 0; i < b.N; i++ {
						b.StopTimer()
						st, err := be.open(ctx, srv, fmt.Sprintf("bench-%s-%s-%s-%d-%d", v, be.name, mode, i, time.Now().UnixNano()))
						if err != nil {
							b.Fatal(err)
						}
						r.Options.Store = st
						if mode == "again" {
							publishOnce(b, r)
							for _, key := range []string{manifests.ChannelPath("demo", "stable"), manifests.ReleasePath("demo", v)} {
								if err := st.Delete(ctx, key); err != nil {
									b.Fatal(err)
								}
							}
						}
						b.StartTimer()
						publishOnce(b, r)
					}
					b.StopTimer()
					want := 1
					if mode == "again" {
						want = 0
					}
					if r.Uploaded != want {
						b.Fatalf("uploaded %d blobs, want %d", r.Uploaded, want)
					}
				})
			}
		}
	}
}

func publishOnce(b *testing.B, r *Release) {
	r.Uploaded, r.Skipped, r.UploadedBytes, r.SkippedBytes = 0, 0, 0, 0
	if err := (publishStep{}).Run(context.Background(), r); err != nil {
		b.Fatal(err)
	}
}
