package main

import (
	"archive/tar"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// synth is a synthetic case: make writes the old and the new tree.
type synth struct {
	id, name string
	make     func(oldDir, newDir string) error
}

// synthetic returns the synthetic cases, built on the tree base (the
// newest vant-weapp release). Their content comes from fixed seeds, so
// every run measures the same bytes.
func synthetic(base string) []synth {
	return []synth{
		{"line", "one line changed in a 2 MB JS file", func(oldDir, newDir string) error {
			big := bundle(2 << 20)
			if err := copyTree(base, oldDir, map[string][]byte{"dist/bundle/bundle.js": big}); err != nil {
				return err
			}
			// Change one line in the middle.
			mid := len(big) / 2
			start := strings.LastIndexByte(string(big[:mid]), '\n') + 1
			end := mid + strings.IndexByte(string(big[mid:]), '\n')
			changed := slices.Concat(big[:start], []byte("  this.setData({ changed: true }); // fixed in this release"), big[end:])
			return copyTree(base, newDir, map[string][]byte{"dist/bundle/bundle.js": changed})
		}},
		{"rename", "renamed directory", func(oldDir, newDir string) error {
			if err := copyTree(base, oldDir, nil); err != nil {
				return err
			}
			if err := copyTree(base, newDir, nil); err != nil {
				return err
			}
			return os.Rename(filepath.Join(newDir, "dist", "action-sheet"), filepath.Join(newDir, "dist", "actionsheet"))
		}},
		{"image", "20 MB package, one 1 MB image replaced", func(oldDir, newDir string) error {
			imgs := map[string][]byte{}
			for i := range 19 {
				imgs[fmt.Sprintf("static/img/photo%02d.jpg", i)] = noise(uint64(i), 1<<20)
			}
			if err := copyTree(base, oldDir, imgs); err != nil {
				return err
			}
			imgs["static/img/photo07.jpg"] = noise(1000, 1<<20)
			return copyTree(base, newDir, imgs)
		}},
	}
}

// bundle returns n bytes of JavaScript-like text (a bundler's output:
// many small functions over a small vocabulary), one statement per line.
func bundle(n int) []byte {
	r := rand.New(rand.NewPCG(7, 11))
	words := []string{"Component", "props", "data", "methods", "observers", "value", "type", "size", "color", "round", "disabled", "loading", "onClick", "onChange", "emit", "setData", "van-button", "van-cell", "customStyle", "classPrefix"}
	var b strings.Builder
	for b.Len() < n {
		fmt.Fprintf(&b, "  function %s%d(%s) { return this.%s({ %s: %d, %s: '%s' }); }\n",
			words[r.IntN(len(words))], r.IntN(5000), words[r.IntN(len(words))], words[r.IntN(len(words))],
			words[r.IntN(len(words))], r.IntN(100), words[r.IntN(len(words))], words[r.IntN(len(words))])
	}
	return []byte(b.String()[:n])
}

// noise returns n incompressible bytes, as a photo's are.
func noise(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 3))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// copyTree copies the tree src to dst and writes extra files (slash
// names) into it.
func copyTree(src, dst string, extra map[string][]byte) error {
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		return err
	}
	for name, data := range extra {
		p := filepath.Join(dst, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// writeTar writes the tree dir as GNU tar --sort=name --mtime=@0 --owner=0
// --group=0 --numeric-owner would: directories and files sorted by name,
// zero times and owners, 0755 and 0644.
func writeTar(dir, out string) error {
	type ent struct {
		name string
		dir  bool
		path string
	}
	var ents []ent
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		ents = append(ents, ent{name: filepath.ToSlash(rel), dir: d.IsDir(), path: p})
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(ents, func(a, b ent) int { return strings.Compare(a.name, b.name) })
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Mode: 0o644, ModTime: time.Unix(0, 0)}
		if e.dir {
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, e.name+"/", 0o755
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			continue
		}
		data, err := os.ReadFile(e.path)
		if err != nil {
			return err
		}
		h.Typeflag, h.Size = tar.TypeReg, int64(len(data))
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}
