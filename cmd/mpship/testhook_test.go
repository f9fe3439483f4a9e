package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// The test hook stops a release at the write it names, announces it, and
// goes on when standard input has a line, or fails when it ends.
func TestTestHook(t *testing.T) {
	keys := makeKeys(t)
	src, _ := writeRandomTree(t, 9, 2, 20_000)
	cases := []struct {
		name, value, stdin string
		wantPaused         string // prefix of the announcement; "" for none
		wantErr            string // "" for success
		wantListing        bool   // whether the store holds the release afterwards
	}{
		{"after the first write", "after:1", "go\n", "paused after write 1 (blobs/sha256/", "", true},
		{"during the release manifest", "during:3", "go\n", "paused during write 3 (apps/demo/releases/1.0.0.json)", "", true},
		{"before the channel manifest", "before:4", "go\n", "paused before write 4 (apps/demo/channels/stable.json)", "", true},
		{"past the last write", "after:9", "", "", "", true},
		{"stdin ends", "before:1", "", "paused before write 1 (blobs/sha256/", "standard input ended while paused before write 1", false},
		{"bad WHEN", "sometimes:1", "", "", "MPSHIP_TEST_HOOK_PAUSE=\"sometimes:1\": want before, during or after", false},
		{"bad N", "after:0", "", "", "want before, during or after, a colon and a write number from 1", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(testHookEnv, tc.value)
			dir := filepath.Join(t.TempDir(), "store")
			var stdout, stderr bytes.Buffer
			opts := &releaseOptions{
				store: dir, keys: []string{filepath.Join(keys, "signing.key")}, app: "demo", channel: "stable", version: "1.0.0",
				subpackages: []string{"sub1=sub1"}, parallelism: 1, source: src,
				stdin: strings.NewReader(tc.stdin), stderr: &stderr,
			}
			err := runRelease(context.Background(), opts, &stdout)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("got %v, want success", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
			}
			got := stderr.String()
			if want := "mpship: test hook: " + tc.wantPaused; tc.wantPaused == "" && got != "" || tc.wantPaused != "" && !strings.HasPrefix(got, want) {
				t.Errorf("stderr: got %q, want the announcement %q", got, tc.wantPaused)
			}
			if listed := strings.Contains(storeListing(t, dir), "channels/stable.json"); listed != tc.wantListing {
				t.Errorf("channel manifest written: got %v, want %v", listed, tc.wantListing)
			}
		})
	}
}
