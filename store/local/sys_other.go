//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package local

import (
	"fmt"
	"io/fs"
	"os"
)

// haveFlock: without flock, commits are serialised only within one Store,
// and Capabilities reports ConditionalPut false.
const haveFlock = false

func flock(*os.File) error { return nil }

// fileID identifies the file behind fi by its modification time, which a
// rename keeps.
func fileID(fi fs.FileInfo) string {
	return fmt.Sprintf("mtime:%d", fi.ModTime().UnixNano())
}
