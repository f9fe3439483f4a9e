// Package store defines the one storage interface mpship publishes to and
// serves from, its errors and object metadata. Backends live in
// subpackages: local (a directory, the embedded default), s3 (aws-sdk-go-v2)
// and minio (minio-go). Package location turns a --store URL into one.
//
// Keys are slash-separated paths relative to the store's root (bucket plus
// prefix), as laid out in docs/layout.md. ValidateKey says which keys are
// legal; every backend refuses the others.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Store is an object store. Implementations are safe for concurrent use.
//
// Atomicity: every successful Put or PutIf makes the whole object visible at
// once; a reader never sees a partial object, and a failed or interrupted
// put leaves the previous object (or nothing) in place.
type Store interface {
	// Location returns the store's URL without credentials, for messages
	// ("file:///srv/mp", "s3://bucket/prefix", "minio://host:9000/bucket").
	Location() string

	// Get opens an object for reading. The caller must close Body.
	// A missing key is ErrNotExist. With opts.IfNoneMatch equal to the
	// object's ETag it returns ErrNotModified and no body. With opts.Range
	// set it returns only those bytes; Info still describes the whole object
	// and Body has Range.Length bytes. A range that starts at or beyond the
	// end of the object is ErrInvalidRange.
	Get(ctx context.Context, key string, opts GetOptions) (*Object, error)

	// Stat returns an object's metadata. A missing key is ErrNotExist.
	Stat(ctx context.Context, key string) (Info, error)

	// Put writes an object of size bytes read from r, replacing any object
	// at key, with the given metadata. It is idempotent: putting the same
	// bytes twice leaves one object. If r yields fewer or more than size
	// bytes the put fails and nothing is written.
	Put(ctx context.Context, key string, r io.Reader, size int64, meta Meta) error

	// PutIf is Put on a condition evaluated atomically with the write: with
	// cond.IfNoneMatch the object must not exist; with cond.IfMatch its
	// current ETag must equal cond.IfMatch. When the condition fails nothing
	// is written and the error wraps ErrPrecondition. It returns the new
	// object's Info.
	PutIf(ctx context.Context, key string, r io.Reader, size int64, meta Meta, cond Condition) (Info, error)

	// List calls fn for every object whose key starts with prefix, in
	// lexical key order. A prefix with no objects is not an error. An error
	// from fn stops the listing and is returned.
	List(ctx context.Context, prefix string, fn func(Info) error) error

	// Delete removes an object. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error

	// Capabilities describes what the backend supports.
	Capabilities() Capabilities
}

// Capabilities are facts about a backend that callers plan with.
type Capabilities struct {
	// ConditionalPut is true when PutIf is enforced by the backend itself
	// (not emulated by a read followed by a write).
	ConditionalPut bool
	// Local is true when objects are files on this machine.
	Local bool
	// MaxPutSize is the largest object a single Put accepts (0: no limit).
	MaxPutSize int64
}

// Meta is the metadata stored with an object at put time and returned by
// Get, Stat and List.
type Meta struct {
	// ContentType is the object's media type, for example
	// "application/json".
	ContentType string
	// CacheControl is the Cache-Control header an HTTP server (or a CDN
	// pointed straight at the bucket) should send with the object.
	CacheControl string
	// SHA256 is the lowercase hex sha256 of the object's bytes. The origin
	// derives its strong ETag from it, so every replica agrees.
	SHA256 string
}

// Info describes a stored object.
type Info struct {
	Key  string
	Size int64
	// ETag is the backend's own version token, the one Condition.IfMatch
	// and GetOptions.IfNoneMatch compare with. It is opaque: an S3 ETag is
	// not a sha256. Use Meta.SHA256 for content identity.
	ETag    string
	ModTime time.Time
	Meta    Meta
}

// Object is an open object.
type Object struct {
	Info Info
	// Range is the part of the object Body holds; nil means all of it.
	Range *Range
	Body  io.ReadCloser
}

// GetOptions qualify a Get.
type GetOptions struct {
	// IfNoneMatch, when not empty, is an ETag as returned in Info.ETag.
	IfNoneMatch string
	// Range, when not nil, selects part of the object.
	Range *Range
}

// Range is a byte range: Length bytes from Offset. Length -1 means to the end.
type Range struct {
	Offset, Length int64
}

// Condition is the precondition of a PutIf. Exactly one field is set.
type Condition struct {
	// IfMatch is the ETag the current object must have.
	IfMatch string
	// IfNoneMatch requires that no object exists at the key.
	IfNoneMatch bool
}

// Errors every backend returns, wrapped with the operation, the location and
// the key. Test with errors.Is.
var (
	// ErrNotExist: no object at the key.
	ErrNotExist = errors.New("object does not exist")
	// ErrNotModified: the object's ETag equals GetOptions.IfNoneMatch.
	ErrNotModified = errors.New("object not modified")
	// ErrPrecondition: a PutIf condition did not hold.
	ErrPrecondition = errors.New("precondition failed")
	// ErrInvalidRange: the requested range is outside the object.
	ErrInvalidRange = errors.New("invalid range")
	// ErrInvalidKey: the key is not a legal store key.
	ErrInvalidKey = errors.New("invalid key")
	// ErrUnavailable: the backend could not be reached or answered with a
	// server error; the operation may succeed if retried.
	ErrUnavailable = errors.New("store unavailable")
)

// Error is the error type backends return: the operation, where, the key,
// and the cause.
type Error struct {
	Op       string // "get", "stat", "put", "list", "delete"
	Location string // Store.Location()
	Key      string
	Err      error
}

func (e *Error) Error() string {
	loc := strings.TrimSuffix(e.Location, "/")
	if e.Key != "" {
		loc += "/" + e.Key
	}
	return fmt.Sprintf("%s %s: %v", e.Op, loc, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ValidateKey reports whether key is a legal store key: non-empty, at most
// 1024 bytes, slash-separated segments of [A-Za-z0-9._+-] that are neither
// empty nor start with '.', so no key can escape the root, name a hidden
// file, or collide with a backend's private files.
func ValidateKey(key string) error {
	if key == "" || len(key) > 1024 {
		return fmt.Errorf("%w %q: empty or longer than 1024 bytes", ErrInvalidKey, key)
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" || seg[0] == '.' {
			return fmt.Errorf("%w %q: empty segment or segment starting with '.'", ErrInvalidKey, key)
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == '+') {
				return fmt.Errorf("%w %q: character %q not allowed", ErrInvalidKey, key, c)
			}
		}
	}
	return nil
}

// ValidatePrefix is ValidateKey for List prefixes, which may be empty and may
// end with '/'.
func ValidatePrefix(prefix string) error {
	p := strings.TrimSuffix(prefix, "/")
	if p == "" {
		return nil
	}
	return ValidateKey(p)
}
