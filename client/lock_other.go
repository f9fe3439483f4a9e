//go:build !unix && !windows

package client

import (
	"errors"
	"os"
)

// tryLockFile fails: this platform has no file locking the Runtime can use,
// so sharing a state directory between processes is not supported.
func tryLockFile(*os.File) (bool, error) {
	return false, errors.New("file locking is not supported on this platform")
}

func unlockFile(*os.File) error { return nil }

func syncDir(string) error { return nil }
