//go:build !linux

package miniotest

import "syscall"

// sysProcAttr has no parent-death signal outside Linux; cleanups and Main
// stop the server.
func sysProcAttr() *syscall.SysProcAttr { return nil }
