package generator

import (
	"testing"

	"github.com/mpship/mpship/internal/miniotest"
)

// TestMain shares one MinIO process among the package's bucket tests.
func TestMain(m *testing.M) { miniotest.Main(m) }
