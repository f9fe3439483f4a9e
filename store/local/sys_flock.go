//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package local

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// haveFlock: commits are serialised across processes.
const haveFlock = true

// flock takes an exclusive flock on f, waiting for it. Closing f releases
// it. Each call opens its own file description, so goroutines of one
// process exclude each other as processes do.
func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			return err
		}
	}
}

// fileID identifies the file behind fi: its device and inode, which a
// rename keeps and a new file never shares with a live one, and its
// modification time, which a rename keeps and an overwrite in place changes.
func fileID(fi fs.FileInfo) string {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprintf("%d:%d:%d", st.Dev, st.Ino, fi.ModTime().UnixNano())
	}
	return fmt.Sprintf("mtime:%d", fi.ModTime().UnixNano())
}
