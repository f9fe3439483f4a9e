package manifests

import "errors"

// Verification failures. Every error returned by the Verify functions wraps
// exactly one of these, so callers classify with errors.Is and never by
// message text.
var (
	// ErrTooLarge: the document is larger than the cap for its type.
	ErrTooLarge = errors.New("document too large")
	// ErrMalformed: the bytes are not a well-formed envelope or document.
	ErrMalformed = errors.New("malformed document")
	// ErrBadSignature: a trusted key's signature does not verify.
	ErrBadSignature = errors.New("bad signature")
	// ErrUnknownKey: no signature is from a trusted key.
	ErrUnknownKey = errors.New("unknown signing key")
	// ErrThreshold: fewer distinct trusted keys signed than the threshold.
	ErrThreshold = errors.New("signatures below threshold")
	// ErrWrongType: the envelope's payload type is not the one expected.
	ErrWrongType = errors.New("wrong document type")
	// ErrExpired: the document's expires_at is not after the clock.
	ErrExpired = errors.New("document expired")
	// ErrRollback: the sequence number is lower than the last accepted one.
	ErrRollback = errors.New("rollback")
	// ErrMixAndMatch: the document names another app, channel or version
	// than the one asked for.
	ErrMixAndMatch = errors.New("app, channel or version mismatch")
	// ErrSizeMismatch: bytes do not have the size the signed document says.
	ErrSizeMismatch = errors.New("size mismatch")
	// ErrHashMismatch: bytes do not have the sha256 the signed document says.
	ErrHashMismatch = errors.New("hash mismatch")
)

var codes = []struct {
	err  error
	code string
}{
	{ErrTooLarge, "too_large"},
	{ErrMalformed, "malformed"},
	{ErrBadSignature, "bad_signature"},
	{ErrUnknownKey, "unknown_key"},
	{ErrThreshold, "below_threshold"},
	{ErrWrongType, "wrong_type"},
	{ErrExpired, "expired"},
	{ErrRollback, "rollback"},
	{ErrMixAndMatch, "mix_and_match"},
	{ErrSizeMismatch, "size_mismatch"},
	{ErrHashMismatch, "hash_mismatch"},
}

// Code returns a short stable identifier for the verification failure that
// err wraps ("bad_signature", "expired", ...), or "" when err wraps none.
// Clients put it in reports; tests assert it.
func Code(err error) string {
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return ""
}
