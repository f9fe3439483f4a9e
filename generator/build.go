package generator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/mpship/mpship/internal/archive"
)

// packStep packs each package's directory into a deterministic MPK1
// archive.
type packStep struct{}

func (packStep) String() string { return "pack" }

func (packStep) Run(ctx context.Context, r *Release) error {
	for _, p := range r.Packages {
		if err := ctx.Err(); err != nil {
			return err
		}
		var buf bytes.Buffer
		st, err := archive.Pack(&buf, p.Dir, archive.PackOptions{Exclude: p.Exclude, Limits: r.Options.Limits})
		if err != nil {
			return fmt.Errorf("package %s: %w", p.Name, err)
		}
		p.Stats, p.Raw = st, buf.Bytes()
	}
	return nil
}

// compressStep compresses each archive with zstd.
type compressStep struct{}

func (compressStep) String() string { return "compress" }

func (compressStep) Run(ctx context.Context, r *Release) error {
	for _, p := range r.Packages {
		if err := ctx.Err(); err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := archive.Compress(&buf, p.Raw); err != nil {
			return fmt.Errorf("package %s: %w", p.Name, err)
		}
		p.Blob = buf.Bytes()
	}
	return nil
}

// hashStep computes the sha256 of each archive and each blob.
type hashStep struct{}

func (hashStep) String() string { return "hash" }

func (hashStep) Run(_ context.Context, r *Release) error {
	for _, p := range r.Packages {
		p.RawSHA256 = sha256Hex(p.Raw)
		p.SHA256 = sha256Hex(p.Blob)
	}
	return nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Compile-time checks that the steps are Steps.
var _ Step = packStep{}
var _ Step = compressStep{}
var _ Step = hashStep{}
