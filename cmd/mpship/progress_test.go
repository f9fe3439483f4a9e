package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mpship/mpship/generator"
)

func TestProgressLine(t *testing.T) {
	var buf bytes.Buffer
	clk := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	p := &progressLine{w: &buf, now: func() time.Time { return clk }}
	update := p.callback()
	steps := []struct {
		name    string
		advance time.Duration
		p       generator.Progress
		want    string // what is drawn; "" for nothing
	}{
		{"first event draws", 0, generator.Progress{Event: generator.ProgressStarted, Blobs: 3, Bytes: 3_000_000},
			"\r\x1b[Kblobs 0/3 done, 0 B of 3.0 MB uploaded"},
		{"bytes soon after: throttled", 10 * time.Millisecond, generator.Progress{Event: generator.ProgressSent, Blobs: 3, Bytes: 3_000_000, Sent: 1000}, ""},
		{"bytes after the interval", progressInterval, generator.Progress{Event: generator.ProgressSent, Blobs: 3, Bytes: 3_000_000, Sent: 1_500_000},
			"\r\x1b[Kblobs 0/3 done, 1.5 MB of 3.0 MB uploaded"},
		{"a skipped blob draws at once", 0, generator.Progress{Event: generator.ProgressSkipped, Blobs: 3, Done: 1, Bytes: 2_000_000, Sent: 1_500_000},
			"\r\x1b[Kblobs 1/3 done, 1.5 MB of 2.0 MB uploaded"},
		{"the last blob draws at once", 0, generator.Progress{Event: generator.ProgressUploaded, Blobs: 3, Done: 3, Bytes: 2_000_000, Sent: 2_000_000},
			"\r\x1b[Kblobs 3/3 done, 2.0 MB of 2.0 MB uploaded"},
	}
	for _, s := range steps {
		clk = clk.Add(s.advance)
		buf.Reset()
		update(s.p)
		if got := buf.String(); got != s.want {
			t.Errorf("%s: drew %q, want %q", s.name, got, s.want)
		}
	}
	buf.Reset()
	p.finish()
	p.finish()
	if got := buf.String(); got != "\n" {
		t.Errorf("finish twice: wrote %q, want one newline", got)
	}
}

// Progress is drawn on terminals only: not into a buffer, a file or a
// pipe, and a nil progressLine does nothing.
func TestProgressLineNotATerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for name, out := range map[string]io.Writer{"buffer": &bytes.Buffer{}, "file": f, "pipe": w, "nil": nil} {
		p := newProgressLine(out)
		if p != nil || p.callback() != nil {
			t.Errorf("%s: got a progress line, want none", name)
		}
		p.finish()
	}
}

func TestSizeString(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{{0, "0 B"}, {999, "999 B"}, {1000, "1.0 kB"}, {96_513, "96.5 kB"}, {4_500_000, "4.5 MB"}, {3 << 30, "3.2 GB"}, {5 << 40, "5.5 TB"}, {1 << 62, "4611.7 PB"}} {
		if got := sizeString(c.n); got != c.want {
			t.Errorf("sizeString(%d): got %q, want %q", c.n, got, c.want)
		}
	}
}

// A release into a buffer (not a terminal) prints no progress: stderr
// stays empty.
func TestReleaseNoProgressOffTerminal(t *testing.T) {
	keys := makeKeys(t)
	src, subs := writeRandomTree(t, 7, 3, 10_000)
	code, stdout, stderr := execCLI(t, releaseArgs(filepath.Join(t.TempDir(), "store"), keys, "1.0.0", src, append(subs, "--parallelism", "2")...)...)
	if code != exitOK || stderr != "" || !strings.Contains(stdout, "blobs: 3 uploaded") {
		t.Errorf("exit %d, stderr %q, stdout %q; want 0, nothing on stderr, 3 blobs uploaded", code, stderr, stdout)
	}
	for _, n := range []string{"0", "65"} {
		code, _, stderr = execCLI(t, releaseArgs(filepath.Join(t.TempDir(), "store"), keys, "1.0.0", src, "--parallelism", n)...)
		if code != exitUsage || !strings.Contains(stderr, "--parallelism "+n+": use 1 to 64") {
			t.Errorf("--parallelism %s: exit %d, stderr %q; want a usage error", n, code, stderr)
		}
	}
}
