package manifests

import (
	"fmt"
	"regexp"
	"strings"

	"golang.org/x/mod/semver"
)

// The bucket layout, a public contract documented in docs/layout.md.
// Every key is relative to the store's root (bucket plus prefix).

// ChannelPath returns the key of a channel manifest.
func ChannelPath(app, channel string) string {
	return "apps/" + app + "/channels/" + channel + ".json"
}

// ReleasePath returns the key of a release manifest.
func ReleasePath(app, version string) string {
	return "apps/" + app + "/releases/" + version + ".json"
}

// BlobPath returns the key of a content-addressed blob with the given
// lowercase hex sha256.
func BlobPath(sha256hex string) string {
	return "blobs/sha256/" + sha256hex
}

var (
	appRE     = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$`)
	channelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`)
	nameRE    = regexp.MustCompile(`^[a-z0-9]([a-z0-9_-]{0,62}[a-z0-9])?$`)
	hexRE     = regexp.MustCompile(`^[0-9a-f]{64}$`)
	// semverRE is the regular expression semver.org gives for SemVer 2.0.0.
	semverRE = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)
)

// ValidateApp checks an app id: 1 to 64 characters of lowercase letters,
// digits, '.', '_' and '-', starting and ending with a letter or digit, with
// no "..".
func ValidateApp(app string) error {
	if !appRE.MatchString(app) || strings.Contains(app, "..") {
		return fmt.Errorf("invalid app id %q: use 1-64 lowercase letters, digits, '.', '_' or '-', starting and ending with a letter or digit (for example com.example.shop)", app)
	}
	return nil
}

// ValidateChannel checks a channel name: 1 to 32 lowercase letters, digits
// and '-', starting and ending with a letter or digit.
func ValidateChannel(channel string) error {
	if !channelRE.MatchString(channel) {
		return fmt.Errorf("invalid channel %q: use 1-32 lowercase letters, digits or '-', starting and ending with a letter or digit (for example stable)", channel)
	}
	return nil
}

// ValidatePackageName checks a subpackage name.
func ValidatePackageName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("invalid package name %q: use 1-64 lowercase letters, digits, '_' or '-'", name)
	}
	return nil
}

// ValidateVersion checks that v is a Semantic Versioning 2.0.0 version
// without a leading "v" and without build metadata (build metadata does not
// order releases, so two versions differing only there could not be told
// apart by devices).
func ValidateVersion(v string) error {
	if !semverRE.MatchString(v) {
		return fmt.Errorf("invalid version %q: use semantic versioning MAJOR.MINOR.PATCH, for example 1.4.0 or 2.0.0-beta.1", v)
	}
	if strings.Contains(v, "+") {
		return fmt.Errorf("invalid version %q: build metadata (+...) does not order releases; drop it or bump the patch version", v)
	}
	if len(v) > 64 {
		return fmt.Errorf("invalid version %q: longer than 64 characters", v)
	}
	return nil
}

// CompareVersions returns -1, 0 or +1 as a is lower than, equal to or higher
// than b by semantic versioning precedence. Both must be valid.
func CompareVersions(a, b string) int {
	return semver.Compare("v"+a, "v"+b)
}

// ValidHex reports whether s is a lowercase hex sha256.
func ValidHex(s string) bool { return hexRE.MatchString(s) }

// KeyClass is what kind of object a bucket key names.
type KeyClass int

const (
	// KeyOther is any key outside the layout.
	KeyOther KeyClass = iota
	// KeyChannel is a channel manifest: mutable, polled by devices.
	KeyChannel
	// KeyRelease is a release manifest: immutable once written.
	KeyRelease
	// KeyBlob is a content-addressed blob: immutable by construction.
	KeyBlob
)

// ClassifyKey tells which part of the layout key belongs to.
func ClassifyKey(key string) KeyClass {
	parts := strings.Split(key, "/")
	switch {
	case len(parts) == 3 && parts[0] == "blobs" && parts[1] == "sha256" && ValidHex(parts[2]):
		return KeyBlob
	case len(parts) == 4 && parts[0] == "apps" && parts[2] == "channels" && strings.HasSuffix(parts[3], ".json"):
		return KeyChannel
	case len(parts) == 4 && parts[0] == "apps" && parts[2] == "releases" && strings.HasSuffix(parts[3], ".json"):
		return KeyRelease
	}
	return KeyOther
}
