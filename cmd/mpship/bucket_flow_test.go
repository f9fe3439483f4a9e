package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mpship/mpship/internal/archive/archivetest"
	"github.com/mpship/mpship/internal/miniotest"
)

// TestFlowOnBucket plays the newcomer's flow with the real verbs against a
// MinIO bucket, once through each client library (s3:// is aws-sdk-go-v2,
// minio:// is minio-go): keygen, a release, serve, a device's first
// install and a 304 check over loopback, a second release that the device
// makes ready and then launches, and verify.
func TestFlowOnBucket(t *testing.T) {
	srv := miniotest.Start(t)
	useServerEnv(t, srv)
	v6, v7 := archivetest.Extract(t, "1.11.6"), archivetest.Extract(t, "1.11.7")
	for _, loc := range []string{srv.S3URL("flow-s3"), srv.MinioURL("flow-minio")} {
		t.Run(strings.SplitN(loc, ":", 2)[0], func(t *testing.T) {
			keys := makeKeys(t)
			code, stdout, stderr := execCLI(t, releaseArgs(loc, keys, "1.11.6", v6, "--json")...)
			if code != exitOK {
				t.Fatalf("release 1.11.6: exit %d: %s", code, stderr)
			}
			if r := decodeRelease(t, stdout); r.Uploaded != 1 || r.Sequence != 1 {
				t.Errorf("release 1.11.6: uploaded %d, sequence %d; want 1, 1", r.Uploaded, r.Sequence)
			}
			// A short cache TTL, so the second release shows at the
			// origin at once rather than a minute later.
			base, _, _ := startServe(t, "--store", loc, "--listen", "127.0.0.1:0", "--cache-ttl", "100ms", "--access-log=false")
			state := filepath.Join(t.TempDir(), "device")

			code, got, stderr := launchJSON(t, base, keys, state)
			if code != exitOK || got.Mode != "first-install" || got.LaunchedVersion != "1.11.6" || got.Error != "" || got.Requests != 3 {
				t.Fatalf("first launch: exit %d, got %+v (stderr %s); want first-install of 1.11.6 in 3 requests", code, got, stderr)
			}
			code, got, _ = launchJSON(t, base, keys, state)
			if code != exitOK || got.LaunchedVersion != "1.11.6" || got.Requests != 1 || got.Check == nil || !got.Check.NotModified {
				t.Errorf("second launch: exit %d, got %+v; want 1.11.6 and one 304", code, got)
			}

			code, stdout, stderr = execCLI(t, releaseArgs(loc, keys, "1.11.7", v7, "--json")...)
			if code != exitOK {
				t.Fatalf("release 1.11.7: exit %d: %s", code, stderr)
			}
			// The package and its delta from 1.11.6.
			if r := decodeRelease(t, stdout); r.Uploaded != 2 || r.Sequence != 2 {
				t.Errorf("release 1.11.7: uploaded %d, sequence %d; want 2, 2", r.Uploaded, r.Sequence)
			}
			// The origin sees the release within its cache TTL; the
			// deadline only keeps a broken origin from hanging the test.
			deadline := time.Now().Add(30 * time.Second)
			for {
				code, got, _ = launchJSON(t, base, keys, state)
				if code != exitOK || got.LaunchedVersion != "1.11.6" || got.Error != "" {
					t.Fatalf("launch after release: exit %d, got %+v; want 1.11.6 launched", code, got)
				}
				if got.ReadyVersion == "1.11.7" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("launch after release: 1.11.7 never made ready; last %+v", got)
				}
				time.Sleep(50 * time.Millisecond)
			}
			code, got, _ = launchJSON(t, base, keys, state)
			if code != exitOK || got.LaunchedVersion != "1.11.7" || got.ReadyVersion != "" || got.Error != "" {
				t.Errorf("next launch: exit %d, got %+v; want 1.11.7 launched", code, got)
			}
			verifyOK(t, loc, keys, "after two releases")
		})
	}
}
