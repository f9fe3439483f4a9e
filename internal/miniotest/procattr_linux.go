package miniotest

import "syscall"

// sysProcAttr makes the kernel stop MinIO when the test binary dies, even
// when it is killed before its cleanups run.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
