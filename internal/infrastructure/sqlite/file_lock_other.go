//go:build !unix

package sqlite

import (
	"errors"
	"fmt"
)

// fileLock is unavailable here: without flock(2) nothing would stop two
// processes from sharing a database file, so Open refuses to run.
type fileLock struct{}

func acquireFileLock(path string) (*fileLock, error) {
	return nil, fmt.Errorf("lock %s: %w", path, errors.ErrUnsupported)
}

func (*fileLock) release() error { return nil }
