package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mpship/mpship/internal/httpmeta"
	"github.com/mpship/mpship/internal/miniotest"
	"github.com/mpship/mpship/store"
	"github.com/mpship/mpship/store/local"
	"github.com/mpship/mpship/store/location"
)

// startServe runs 'mpship serve' with args until the test ends and returns
// the base URL it printed, and the metrics URL with --metrics-listen.
func startServe(t *testing.T, args ...string) (base, metrics string, stop func() (int, string)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		code := run(ctx, append([]string{"serve"}, args...), pw, &stderr)
		pw.Close()
		done <- code
	}()
	br := bufio.NewReader(pr)
	line, err := br.ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("no first line from serve (exit %d): %v; stderr:\n%s", <-done, err, stderr.String())
	}
	_, addr, ok := strings.Cut(strings.TrimSpace(line), " on ")
	if !strings.HasPrefix(line, "serving ") || !ok || !strings.HasPrefix(addr, "http://127.0.0.1:") || strings.HasSuffix(addr, ":0") {
		cancel()
		t.Fatalf("first line: got %q, want \"serving STORE on http://127.0.0.1:PORT\"", line)
	}
	if slices.Contains(args, "--metrics-listen") {
		line, err := br.ReadString('\n')
		m, ok := strings.CutPrefix(strings.TrimSpace(line), "metrics on ")
		if err != nil || !ok {
			cancel()
			t.Fatalf("second line: got %q, %v; want \"metrics on URL\"", line, err)
		}
		metrics = m
	}
	rest := make(chan string, 1)
	go func() { b, _ := io.ReadAll(br); rest <- string(b) }()
	stopped := false
	stop = func() (int, string) {
		stopped = true
		cancel()
		code := <-done
		return code, <-rest
	}
	t.Cleanup(func() {
		if !stopped {
			stop()
		}
	})
	return addr, metrics, stop
}

func TestServeCommand(t *testing.T) {
	dir := t.TempDir()
	st, err := local.Open(dir, local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	key := "apps/demo/channels/stable.json"
	body := []byte(`{"payload":"e30="}`)
	sum := sha256.Sum256(body)
	if err := st.Put(context.Background(), key, bytes.NewReader(body), int64(len(body)),
		store.Meta{ContentType: httpmeta.ContentType(key), SHA256: hex.EncodeToString(sum[:])}); err != nil {
		t.Fatal(err)
	}
	etag := `"` + hex.EncodeToString(sum[:]) + `"`

	base, metrics, stop := startServe(t, "--store", "file://"+filepath.ToSlash(dir), "--listen", "127.0.0.1:0",
		"--metrics-listen", "127.0.0.1:0", "--manifest-max-age", "30s", "--cache-ttl", "1m", "--log-format", "json")
	resp, err := http.Get(base + "/" + key)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, body) || resp.Header.Get("Etag") != etag {
		t.Errorf("GET: got %d %q ETag %q, want 200 %q ETag %q", resp.StatusCode, got, resp.Header.Get("Etag"), body, etag)
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=30,") {
		t.Errorf("Cache-Control: got %q, want max-age=30 from --manifest-max-age", cc)
	}
	req, _ := http.NewRequest("GET", base+"/"+key, nil)
	req.Header.Set("If-None-Match", etag)
	resp, err = http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 304 {
		t.Errorf("conditional GET: got %d, want 304", resp.StatusCode)
	}
	resp, err = http.Get(metrics)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `mpship_origin_requests_total{cache="hit",code="304"} 1`; !strings.Contains(string(m), want) {
		t.Errorf("metrics: want %q in:\n%s", want, m)
	}
	resp, err = http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("/metrics on the CDN-facing listener: got %d, want 404", resp.StatusCode)
	}
	code, out := stop()
	if code != exitOK {
		t.Errorf("exit status after SIGINT-like cancel: got %d, want %d", code, exitOK)
	}
	if !strings.Contains(out, "stopped") {
		t.Errorf("stdout after the first line: got %q, want \"stopped\"", out)
	}
	// The listener is closed.
	if c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://")); err == nil {
		c.Close()
		t.Errorf("still accepting connections at %s after shutdown", base)
	}
}

func TestServeCommandErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	cases := []struct {
		name string
		args []string
		code int
		want string // in stderr
	}{
		{"no store", []string{"--listen", "127.0.0.1:0"}, exitUsage, "--store is required"},
		{"missing directory", []string{"--store", filepath.Join(dir, "nope"), "--listen", "127.0.0.1:0"}, exitError, "does not exist"},
		{"bad max-age", []string{"--store", dir, "--listen", "127.0.0.1:0", "--manifest-max-age", "100ms"}, exitUsage, "max-age"},
		{"bad log format", []string{"--store", dir, "--listen", "127.0.0.1:0", "--log-format", "xml"}, exitUsage, "--log-format"},
		{"unknown flag", []string{"--store", dir, "--bogus"}, exitUsage, "bogus"},
		{"busy port", []string{"--store", dir, "--listen", busy.Addr().String()}, exitError, "listen on " + busy.Addr().String()},
		{"arguments", []string{"--store", dir, "extra"}, exitUsage, "no arguments"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"serve"}, c.args...), &stdout, &stderr)
			if code != c.code {
				t.Errorf("exit status: got %d, want %d (stderr %q)", code, c.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), c.want) {
				t.Errorf("stderr: got %q, want it to contain %q", stderr.String(), c.want)
			}
			if strings.Contains(stdout.String(), "serving") {
				t.Errorf("stdout: got %q, want nothing served", stdout.String())
			}
		})
	}
}

// TestServeCommandBucket serves a MinIO bucket through each --store form
// that reaches one: s3:// (aws-sdk-go-v2) and minio:// (minio-go).
func TestServeCommandBucket(t *testing.T) {
	srv := miniotest.Start(t)
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	for _, loc := range []string{srv.S3URL("via-s3"), srv.MinioURL("via-minio")} {
		t.Run(strings.SplitN(loc, ":", 2)[0], func(t *testing.T) {
			st, err := location.Open(context.Background(), loc, location.Options{})
			if err != nil {
				t.Fatal(err)
			}
			key := "apps/demo/channels/stable.json"
			body := []byte(`{"payload":"e30="}`)
			sum := sha256.Sum256(body)
			if err := st.Put(context.Background(), key, bytes.NewReader(body), int64(len(body)),
				store.Meta{ContentType: httpmeta.ContentType(key), SHA256: hex.EncodeToString(sum[:])}); err != nil {
				t.Fatal(err)
			}
			etag := `"` + hex.EncodeToString(sum[:]) + `"`
			base, _, stop := startServe(t, "--store", loc, "--listen", "127.0.0.1:0")
			for _, c := range []struct {
				inm    string
				status int
			}{{"", 200}, {etag, 304}} {
				req, _ := http.NewRequest("GET", base+"/"+key, nil)
				if c.inm != "" {
					req.Header.Set("If-None-Match", c.inm)
				}
				resp, err := http.DefaultTransport.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != c.status || resp.Header.Get("Etag") != etag {
					t.Errorf("GET If-None-Match %q: got %d ETag %q, want %d ETag %q", c.inm, resp.StatusCode, resp.Header.Get("Etag"), c.status, etag)
				}
				if c.status == 200 && !bytes.Equal(got, body) {
					t.Errorf("body: got %q, want %q", got, body)
				}
			}
			if code, _ := stop(); code != exitOK {
				t.Errorf("exit status: got %d, want %d", code, exitOK)
			}
		})
	}
}

// TestServeAccessLog: the access log is on by default in either format, and
// --access-log=false silences it.
func TestServeAccessLog(t *testing.T) {
	dir := t.TempDir()
	st, err := local.Open(dir, local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	key := "apps/demo/channels/stable.json"
	body := []byte(`{"payload":"e30="}`)
	sum := sha256.Sum256(body)
	if err := st.Put(context.Background(), key, bytes.NewReader(body), int64(len(body)),
		store.Meta{ContentType: httpmeta.ContentType(key), SHA256: hex.EncodeToString(sum[:])}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string // in stderr; "" wants stderr empty
	}{
		{"default text", nil, "msg=request method=GET path=/" + key + " status=200"},
		{"json", []string{"--log-format", "json"}, `"msg":"request","method":"GET","path":"/` + key + `","status":200`},
		{"explicitly on", []string{"--access-log=true"}, "msg=request method=GET path=/" + key + " status=200"},
		{"off", []string{"--access-log=false"}, ""},
		{"off json", []string{"--access-log=false", "--log-format", "json"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			pr, pw := io.Pipe()
			var stderr bytes.Buffer
			done := make(chan int, 1)
			args := append([]string{"serve", "--store", dir, "--listen", "127.0.0.1:0"}, c.args...)
			go func() {
				code := run(ctx, args, pw, &stderr)
				pw.Close()
				done <- code
			}()
			line, err := bufio.NewReader(pr).ReadString('\n')
			_, base, ok := strings.Cut(strings.TrimSpace(line), " on ")
			if err != nil || !ok {
				cancel()
				t.Fatalf("first line: got %q, %v (exit %d); stderr:\n%s", line, err, <-done, stderr.String())
			}
			go io.Copy(io.Discard, pr)
			resp, err := http.Get(base + "/" + key)
			if err != nil {
				cancel()
				t.Fatal(err)
			}
			resp.Body.Close()
			cancel()
			if code := <-done; code != exitOK {
				t.Errorf("exit status: got %d, want %d", code, exitOK)
			}
			got := stderr.String()
			switch {
			case c.want == "" && got != "":
				t.Errorf("stderr: got %q, want nothing", got)
			case c.want != "" && !strings.Contains(got, c.want):
				t.Errorf("stderr: got %q, want it to contain %q", got, c.want)
			}
		})
	}
}
