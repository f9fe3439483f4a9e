package local

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mpship/mpship/store"
)

// TestMetaCacheFollowsTheFile: once a Get or Stat has cached an object's
// metadata, changing the file (in place by hand, or by a Put) is seen at
// once; the cache never serves the metadata of a previous file.
func TestMetaCacheFollowsTheFile(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	sum := func(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }
	v1 := []byte("version one")
	if err := s.Put(ctx, "k", bytes.NewReader(v1), int64(len(v1)), store.Meta{ContentType: "text/plain"}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // the second Stat is served from the cache
		info, err := s.Stat(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		if info.Meta.SHA256 != sum(v1) || info.Meta.ContentType != "text/plain" {
			t.Fatalf("stat %d: got %+v, want sha %s and text/plain", i, info.Meta, sum(v1))
		}
	}

	// Same size, other bytes, written in place with a later mtime.
	v2 := []byte("version two")
	p := filepath.Join(dir, "k")
	if err := os.WriteFile(p, v2, 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}
	info, err := s.Stat(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if info.Meta.SHA256 != sum(v2) || info.ETag != `"`+sum(v2)+`"` {
		t.Errorf("after an in-place change: got sha %s etag %s, want %s", info.Meta.SHA256, info.ETag, sum(v2))
	}

	// A Put replaces the file: its new metadata shows.
	v3 := []byte("third version, longer")
	if err := s.Put(ctx, "k", bytes.NewReader(v3), int64(len(v3)), store.Meta{ContentType: "application/json"}); err != nil {
		t.Fatal(err)
	}
	info, err = s.Stat(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if info.Meta.SHA256 != sum(v3) || info.Meta.ContentType != "application/json" {
		t.Errorf("after a Put: got %+v, want sha %s and application/json", info.Meta, sum(v3))
	}
}
