package manifests

import (
	"errors"
	"fmt"
)

// Validate checks that c is well formed: names, version, times, and a
// release reference whose path matches the app and version. It does not
// check signatures, expiry or sequence; see VerifyChannel.
func (c *Channel) Validate() error {
	var errs []error
	if c.SchemaVersion < 1 || c.SchemaVersion > SchemaVersion {
		errs = append(errs, fmt.Errorf("schema_version %d not supported (this build reads 1 to %d)", c.SchemaVersion, SchemaVersion))
	}
	errs = append(errs, ValidateApp(c.App), ValidateChannel(c.Channel))
	if c.Sequence == 0 {
		errs = append(errs, errors.New("sequence must be at least 1"))
	}
	if c.IssuedAt.IsZero() || c.ExpiresAt.IsZero() {
		errs = append(errs, errors.New("issued_at and expires_at are required"))
	} else if !c.ExpiresAt.After(c.IssuedAt) {
		errs = append(errs, errors.New("expires_at must be after issued_at"))
	}
	if err := ValidateVersion(c.Current.Version); err != nil {
		errs = append(errs, fmt.Errorf("current: %w", err))
	} else if want := ReleasePath(c.App, c.Current.Version); c.Current.Path != want {
		errs = append(errs, fmt.Errorf("current.path %q, want %q", c.Current.Path, want))
	}
	if c.Current.Size <= 0 || c.Current.Size > MaxReleaseSize {
		errs = append(errs, fmt.Errorf("current.size %d out of range 1..%d", c.Current.Size, MaxReleaseSize))
	}
	if !ValidHex(c.Current.SHA256) {
		errs = append(errs, fmt.Errorf("current.sha256 %q is not a lowercase hex sha256", c.Current.SHA256))
	}
	if c.Rollout != nil && (*c.Rollout < 0 || *c.Rollout > 100) {
		errs = append(errs, fmt.Errorf("rollout %v out of range 0..100", *c.Rollout))
	}
	if c.MinVersion != "" {
		if err := ValidateVersion(c.MinVersion); err != nil {
			errs = append(errs, fmt.Errorf("min_version: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: channel manifest: %w", ErrMalformed, err)
	}
	return nil
}

// Validate checks that r is well formed: names, version, a "main" package,
// unique sorted package names, and blob paths that match their hashes.
func (r *Release) Validate() error {
	var errs []error
	if r.SchemaVersion < 1 || r.SchemaVersion > SchemaVersion {
		errs = append(errs, fmt.Errorf("schema_version %d not supported (this build reads 1 to %d)", r.SchemaVersion, SchemaVersion))
	}
	errs = append(errs, ValidateApp(r.App), ValidateVersion(r.Version))
	if r.CreatedAt.IsZero() {
		errs = append(errs, errors.New("created_at is required"))
	}
	hasMain := false
	for i := range r.Packages {
		p := &r.Packages[i]
		if p.Name == MainPackage {
			hasMain = true
			if p.Root != "" {
				errs = append(errs, errors.New("package main: root must be empty"))
			}
		} else {
			if err := ValidatePackageName(p.Name); err != nil {
				errs = append(errs, err)
			}
			if p.Root == "" {
				errs = append(errs, fmt.Errorf("package %s: subpackage needs a root directory", p.Name))
			}
		}
		if i > 0 && r.Packages[i-1].Name >= p.Name {
			errs = append(errs, fmt.Errorf("package %s: packages must be sorted by name and unique", p.Name))
		}
		if p.Format != FormatMPK1 || p.Encoding != EncodingZstd {
			errs = append(errs, fmt.Errorf("package %s: format %q encoding %q, want %q %q", p.Name, p.Format, p.Encoding, FormatMPK1, EncodingZstd))
		}
		errs = append(errs, checkBlobRef("package "+p.Name, p.Path, p.SHA256, p.Size))
		if !ValidHex(p.RawSHA256) || p.RawSize <= 0 {
			errs = append(errs, fmt.Errorf("package %s: raw_sha256 and raw_size are required", p.Name))
		}
		for _, d := range p.Deltas {
			what := fmt.Sprintf("package %s delta from %s", p.Name, d.FromVersion)
			if err := ValidateVersion(d.FromVersion); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", what, err))
			}
			if !ValidHex(d.FromRawSHA256) {
				errs = append(errs, fmt.Errorf("%s: from_raw_sha256 is not a hex sha256", what))
			}
			if d.Encoding == "" {
				errs = append(errs, fmt.Errorf("%s: encoding is required", what))
			}
			errs = append(errs, checkBlobRef(what, d.Path, d.SHA256, d.Size))
		}
	}
	if !hasMain {
		errs = append(errs, errors.New("no package named \"main\""))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: release manifest: %w", ErrMalformed, err)
	}
	return nil
}

func checkBlobRef(what, path, sum string, size int64) error {
	if !ValidHex(sum) {
		return fmt.Errorf("%s: sha256 %q is not a lowercase hex sha256", what, sum)
	}
	if path != BlobPath(sum) {
		return fmt.Errorf("%s: path %q, want %q", what, path, BlobPath(sum))
	}
	if size <= 0 {
		return fmt.Errorf("%s: size %d must be positive", what, size)
	}
	return nil
}

// Package returns the package with the given name, or nil.
func (r *Release) Package(name string) *Package {
	for i := range r.Packages {
		if r.Packages[i].Name == name {
			return &r.Packages[i]
		}
	}
	return nil
}
