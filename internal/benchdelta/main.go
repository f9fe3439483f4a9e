// Command benchdelta measures mpship's full packages and deltas side by side
// with zstd, bsdiff and xdelta3, in one run, and prints the tables. It is
// what 'make bench-delta' (scripts/bench-delta.sh) runs:
//
//	go run ./internal/benchdelta -data ../shared/data/vant-weapp
//
// The cases are every consecutive pair of the vant-weapp releases found in
// -data (vant-weapp-<version>.tgz), and three synthetic ones generated
// deterministically: a one-line change in a 2 MB JavaScript file, a renamed
// directory, and a 20 MB package with one 1 MB image replaced.
//
// Every tool works on the same files: the peers on the two versions packed
// as deterministic tars (sorted names, zero times and owners, as GNU tar
// --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner makes them),
// mpship on its MPK1 archives. Each make and apply runs as its own process
// (mpship's through this program re-executed) under GNU time, so wall time
// and peak resident memory (maxrss) are measured the same way for all: the
// fastest of -runs runs and the largest peak are reported. (GNU time rather
// than this program's own wait status: a Go program starts commands with
// vfork, and Linux then counts the parent's peak memory in the child's.)
// Every applied result is compared with the expected bytes.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/mod/semver"

	"github.com/mpship/mpship/internal/archive"
	"github.com/mpship/mpship/internal/archive/archivetest"
	"github.com/mpship/mpship/internal/delta"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "op" {
		if err := op(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "benchdelta op:", err)
			os.Exit(1)
		}
		return
	}
	data := flag.String("data", filepath.Join("..", "shared", "data", "vant-weapp"), "directory of vant-weapp-<version>.tgz")
	work := flag.String("work", "", "working directory (default: a new temporary directory, removed afterwards)")
	runs := flag.Int("runs", 3, "runs of each make and apply; the fastest is reported (a single run over 5 s is not repeated)")
	flag.Parse()
	if err := run(*data, *work, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "benchdelta:", err)
		os.Exit(1)
	}
}

// tools are the commands needed, checked before anything else runs.
var tools = []string{"zstd", "bsdiff", "bspatch", "xdelta3", gnuTime}

// gnuTime measures each command's peak memory.
const gnuTime = "/usr/bin/time"

// bench holds one run's settings and results.
type bench struct {
	work, self string
	runs       int
	full       []fullRow
	cases      []deltaCase
}

// fullRow compares full packages of one version.
type fullRow struct {
	name                 string
	tar, zstdLong, mpk   int64
	mpkRaw               int64
	zstdTime, mpshipTime time.Duration
}

// deltaCase is one pair of versions and every tool's delta between them.
type deltaCase struct {
	name string
	full int64 // mpship's full package of the new version
	rows []deltaRow
}

type deltaRow struct {
	tool        string
	size        int64
	make, apply measure
}

// measure is one process's wall time and peak resident memory.
type measure struct {
	wall   time.Duration
	maxRSS int64 // bytes
}

func run(data, work string, runs int) error {
	for _, t := range tools {
		if _, err := exec.LookPath(t); err != nil {
			return fmt.Errorf("%s is not installed: run scripts/bench-delta.sh, which installs zstd, bsdiff, xdelta3 and time from Debian, or install them yourself", t)
		}
	}
	versions, err := vantVersions(data)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if work == "" {
		if work, err = os.MkdirTemp("", "benchdelta-"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	}
	b := &bench{work: work, self: self, runs: max(1, runs)}
	fmt.Fprintf(os.Stderr, "benchdelta: %d vant-weapp versions in %s, working in %s\n", len(versions), data, work)

	dirs := map[string]string{}
	for _, v := range versions {
		dirs[v] = filepath.Join(work, "src", v)
		if err := archivetest.ExtractTo(filepath.Join(data, "vant-weapp-"+v+".tgz"), dirs[v]); err != nil {
			return err
		}
		if err := b.fullPackage(v, dirs[v]); err != nil {
			return err
		}
	}
	for i := 1; i < len(versions); i++ {
		if err := b.pair(versions[i-1]+" → "+versions[i], dirs[versions[i-1]], dirs[versions[i]]); err != nil {
			return err
		}
	}
	for _, s := range synthetic(dirs[versions[len(versions)-1]]) {
		oldDir, newDir := filepath.Join(work, "syn", s.id, "old"), filepath.Join(work, "syn", s.id, "new")
		if err := s.make(oldDir, newDir); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		if err := b.fullPackage(s.name+" (new)", newDir); err != nil {
			return err
		}
		if err := b.pair(s.name, oldDir, newDir); err != nil {
			return err
		}
	}
	b.print(os.Stdout)
	return nil
}

// vantVersions lists the versions in data, oldest first.
func vantVersions(data string) ([]string, error) {
	entries, err := os.ReadDir(data)
	if err != nil {
		return nil, fmt.Errorf("vant-weapp data: %w (pass -data DIR)", err)
	}
	re := regexp.MustCompile(`^vant-weapp-(.+)\.tgz$`)
	var vs []string
	for _, e := range entries {
		if m := re.FindStringSubmatch(e.Name()); m != nil && semver.IsValid("v"+m[1]) {
			vs = append(vs, m[1])
		}
	}
	slices.SortFunc(vs, func(a, b string) int { return semver.Compare("v"+a, "v"+b) })
	if len(vs) < 2 {
		return nil, fmt.Errorf("vant-weapp data: %d versions in %s, want at least 2", len(vs), data)
	}
	return vs, nil
}

// files are the paths of one version's artifacts.
type files struct{ tar, mpk, blob string }

// prepare packs dir into a tar (for the peers) and an MPK1 archive and its
// package (for mpship), next to dir.
func (b *bench) prepare(dir string) (files, error) {
	f := files{tar: dir + ".tar", mpk: dir + ".mpk", blob: dir + ".mpk.zst"}
	if _, err := os.Stat(f.blob); err == nil {
		return f, nil
	}
	if err := writeTar(dir, f.tar); err != nil {
		return f, err
	}
	var raw bytes.Buffer
	if _, err := archive.Pack(&raw, dir, archive.PackOptions{}); err != nil {
		return f, err
	}
	if err := os.WriteFile(f.mpk, raw.Bytes(), 0o644); err != nil {
		return f, err
	}
	var z bytes.Buffer
	if err := archive.Compress(&z, raw.Bytes()); err != nil {
		return f, err
	}
	return f, os.WriteFile(f.blob, z.Bytes(), 0o644)
}

// fullPackage compares mpship's full package of dir with zstd -19 --long
// of its tar.
func (b *bench) fullPackage(name, dir string) error {
	fmt.Fprintf(os.Stderr, "benchdelta: full package %s\n", name)
	f, err := b.prepare(dir)
	if err != nil {
		return err
	}
	zst := f.tar + ".zst"
	zm, err := b.measure("", "zstd", "-q", "-f", "-19", "--long", f.tar, "-o", zst)
	if err != nil {
		return err
	}
	mm, err := b.measure("", b.self, "op", "full", dir, f.blob+".check")
	if err != nil {
		return err
	}
	if !sameFile(f.blob, f.blob+".check") {
		return fmt.Errorf("%s: the package is not reproducible", name)
	}
	b.full = append(b.full, fullRow{name: name, tar: size(f.tar), zstdLong: size(zst), mpk: size(f.blob), mpkRaw: size(f.mpk), zstdTime: zm.wall, mpshipTime: mm.wall})
	return nil
}

// pair measures every tool's delta from oldDir to newDir.
func (b *bench) pair(name, oldDir, newDir string) error {
	fmt.Fprintf(os.Stderr, "benchdelta: deltas %s\n", name)
	o, err := b.prepare(oldDir)
	if err != nil {
		return err
	}
	n, err := b.prepare(newDir)
	if err != nil {
		return err
	}
	d := filepath.Join(filepath.Dir(newDir), filepath.Base(newDir)+".from-"+filepath.Base(oldDir))
	out := d + ".out"
	raw, err := os.ReadFile(n.mpk)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(raw)
	tools := []struct {
		name        string
		patch       string
		want        string
		make, apply []string
	}{
		{"zstd -19 --long=27 --patch-from", d + ".zst", n.tar,
			[]string{"zstd", "-q", "-f", "-19", "--long=27", "--patch-from=" + o.tar, n.tar, "-o", d + ".zst"},
			[]string{"zstd", "-q", "-f", "-d", "--long=27", "--patch-from=" + o.tar, d + ".zst", "-o", out}},
		{"bsdiff", d + ".bsdiff", n.tar,
			[]string{"bsdiff", o.tar, n.tar, d + ".bsdiff"},
			[]string{"bspatch", o.tar, out, d + ".bsdiff"}},
		{"xdelta3 -9", d + ".xd3", n.tar,
			[]string{"xdelta3", "-f", "-9", "-e", "-s", o.tar, n.tar, d + ".xd3"},
			[]string{"xdelta3", "-f", "-d", "-s", o.tar, d + ".xd3", out}},
		{"mpship MPD1", d + ".mpd", n.mpk,
			[]string{b.self, "op", "diff", o.mpk, n.mpk, d + ".mpd"},
			[]string{b.self, "op", "patch", o.mpk, d + ".mpd", strconv.Itoa(len(raw)), hex.EncodeToString(sum[:]), out}},
	}
	c := deltaCase{name: name, full: size(n.blob)}
	for _, t := range tools {
		mk, err := b.measure("", t.make[0], t.make[1:]...)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", name, t.name, err)
		}
		ap, err := b.measure("", t.apply[0], t.apply[1:]...)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", name, t.name, err)
		}
		if !sameFile(out, t.want) {
			return fmt.Errorf("%s: %s did not rebuild the new version", name, t.name)
		}
		os.Remove(out)
		c.rows = append(c.rows, deltaRow{tool: t.name, size: size(t.patch), make: mk, apply: ap})
	}
	b.cases = append(b.cases, c)
	return nil
}

// measure runs a command b.runs times (once if a run takes over 5 s) under
// GNU time and returns the fastest run's wall time and the largest peak
// memory seen.
func (b *bench) measure(dir, name string, args ...string) (measure, error) {
	var best measure
	rss := filepath.Join(b.work, "maxrss")
	for i := range b.runs {
		cmd := exec.Command(gnuTime, append([]string{"-f", "%M", "-o", rss, name}, args...)...)
		cmd.Dir = dir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		err := cmd.Run()
		wall := time.Since(start)
		if err != nil {
			return best, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, stderr.String())
		}
		if i == 0 || wall < best.wall {
			best.wall = wall
		}
		out, err := os.ReadFile(rss)
		if err != nil {
			return best, err
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
		if err != nil {
			return best, fmt.Errorf("%s: peak memory %q: %w", gnuTime, out, err)
		}
		best.maxRSS = max(best.maxRSS, kb<<10)
		if wall > 5*time.Second {
			break
		}
	}
	return best, nil
}

// op runs one mpship operation for measure: "full DIR OUT", "diff OLD NEW
// OUT", "patch OLD DELTA SIZE SHA256 OUT".
func op(args []string) error {
	switch {
	case len(args) == 3 && args[0] == "full":
		var raw, z bytes.Buffer
		if _, err := archive.Pack(&raw, args[1], archive.PackOptions{}); err != nil {
			return err
		}
		if err := archive.Compress(&z, raw.Bytes()); err != nil {
			return err
		}
		return os.WriteFile(args[2], z.Bytes(), 0o644)
	case len(args) == 4 && args[0] == "diff":
		o, err := os.ReadFile(args[1])
		if err != nil {
			return err
		}
		n, err := os.ReadFile(args[2])
		if err != nil {
			return err
		}
		d, err := delta.Diff(o, n)
		if err != nil {
			return err
		}
		return os.WriteFile(args[3], d, 0o644)
	case len(args) == 6 && args[0] == "patch":
		o, err := os.ReadFile(args[1])
		if err != nil {
			return err
		}
		d, err := os.ReadFile(args[2])
		if err != nil {
			return err
		}
		want := delta.Target{}
		if want.Size, err = strconv.ParseInt(args[3], 10, 64); err != nil {
			return err
		}
		if _, err := hex.Decode(want.SHA256[:], []byte(args[4])); err != nil {
			return err
		}
		out, err := delta.Patch(o, d, want, delta.Limits{})
		if err != nil {
			return err
		}
		return os.WriteFile(args[5], out, 0o644)
	}
	return errors.New("usage: op full DIR OUT | op diff OLD NEW OUT | op patch OLD DELTA SIZE SHA256 OUT")
}

func (b *bench) print(w io.Writer) {
	fmt.Fprintln(w, "## Full packages: mpship (MPK1 + zstd) against zstd -19 --long of the tar")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "package\ttar B\tzstd -19 --long B\tmpship B\tmpship / zstd\tMPK1 raw B\tzstd s\tmpship s\t")
	for _, r := range b.full {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.3f\t%d\t%.2f\t%.2f\t\n", r.name, r.tar, r.zstdLong, r.mpk, float64(r.mpk)/float64(r.zstdLong), r.mpkRaw, r.zstdTime.Seconds(), r.mpshipTime.Seconds())
	}
	tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintln(w, "## Deltas (ratio: size over the smallest peer's; make and apply: best wall time, peak RSS)")
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "case\ttool\tdelta B\tratio\t% of full\tmake s\tmake MB\tapply s\tapply MB\t")
	for _, c := range b.cases {
		best := int64(-1)
		for _, r := range c.rows {
			if !strings.HasPrefix(r.tool, "mpship") && (best < 0 || r.size < best) {
				best = r.size
			}
		}
		for _, r := range c.rows {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.3f\t%.2f\t%.2f\t%s\t%.2f\t%s\t\n", c.name, r.tool, r.size, float64(r.size)/float64(best),
				100*float64(r.size)/float64(c.full), r.make.wall.Seconds(), mb(r.make.maxRSS), r.apply.wall.Seconds(), mb(r.apply.maxRSS))
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintln(w, "## Summary: delta bytes")
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.AlignRight|tabwriter.Debug)
	var head []string
	for _, r := range b.cases[0].rows {
		head = append(head, r.tool)
	}
	fmt.Fprintf(tw, "case\t%s\tmpship / best peer\t\n", strings.Join(head, "\t"))
	for _, c := range b.cases {
		var cells []string
		best, mine := int64(-1), int64(0)
		for _, r := range c.rows {
			cells = append(cells, strconv.FormatInt(r.size, 10))
			if strings.HasPrefix(r.tool, "mpship") {
				mine = r.size
			} else if best < 0 || r.size < best {
				best = r.size
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%.3f\t\n", c.name, strings.Join(cells, "\t"), float64(mine)/float64(best))
	}
	tw.Flush()
}

func mb(n int64) string {
	if n <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", float64(n)/(1<<20))
}

func size(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return -1
	}
	return fi.Size()
}

func sameFile(a, b string) bool {
	x, err1 := os.ReadFile(a)
	y, err2 := os.ReadFile(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}
