//go:build unix

package archive

import (
	"bytes"
	"errors"
	"path/filepath"
	"syscall"
	"testing"
)

func TestPackRefusesNamedPipe(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"app.js": "App({})"})
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Pack(&bytes.Buffer{}, dir, PackOptions{})
	var ae *Error
	if !errors.Is(err, ErrUnsupported) || !errors.As(err, &ae) || ae.Path != "pipe" {
		t.Fatalf("got %v, want ErrUnsupported naming pipe", err)
	}
}
