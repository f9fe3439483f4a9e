package manifests

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Open checks an envelope and returns its verified payload. In order:
//
//  1. len(data) <= maxSize, else ErrTooLarge (callers read at most
//     maxSize+1 bytes, so a hostile server cannot make them read more);
//  2. data is one JSON envelope with a payload and at least one signature,
//     else ErrMalformed;
//  3. the payload type is payloadType, else ErrWrongType (DSSE binds the type
//     into the signature, so this cannot be forged);
//  4. at least trust.Threshold() distinct trusted keys signed PAE(type,
//     payload). Signatures by keys outside the trust set are ignored; a key
//     that signs twice counts once (TUF's threshold rule). When the
//     threshold is not met the error is ErrBadSignature if a trusted key's
//     signature failed, ErrUnknownKey if no signature was by a trusted key,
//     and ErrThreshold otherwise.
func Open(data []byte, maxSize int, payloadType string, trust *Trust) ([]byte, error) {
	if len(data) > maxSize {
		return nil, fmt.Errorf("%w: %d bytes or more, cap %d", ErrTooLarge, len(data), maxSize)
	}
	var env Envelope
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&env); err != nil {
		return nil, fmt.Errorf("%w: envelope: %v", ErrMalformed, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after envelope", ErrMalformed)
	}
	if len(env.Payload) == 0 || len(env.Signatures) == 0 {
		return nil, fmt.Errorf("%w: envelope needs a payload and at least one signature", ErrMalformed)
	}
	if env.PayloadType != payloadType {
		return nil, fmt.Errorf("%w: payload type %q, want %q", ErrWrongType, env.PayloadType, payloadType)
	}
	if trust == nil || len(trust.keys) == 0 {
		return nil, fmt.Errorf("%w: no trusted keys configured", ErrUnknownKey)
	}
	msg := pae(env.PayloadType, env.Payload)
	valid := make(map[string]bool)
	var bad, unknown []string
	for _, s := range env.Signatures {
		key, ok := trust.keys[s.KeyID]
		if !ok {
			unknown = append(unknown, short(s.KeyID))
			continue
		}
		if valid[s.KeyID] {
			continue
		}
		if len(s.Sig) == ed25519.SignatureSize && ed25519.Verify(key, msg, s.Sig) {
			valid[s.KeyID] = true
		} else {
			bad = append(bad, short(s.KeyID))
		}
	}
	switch {
	case len(valid) >= trust.threshold:
		return env.Payload, nil
	case len(bad) > 0:
		return nil, fmt.Errorf("%w: key %v", ErrBadSignature, bad)
	case len(valid) == 0:
		return nil, fmt.Errorf("%w: signed only by %v, none of them trusted", ErrUnknownKey, unknown)
	default:
		return nil, fmt.Errorf("%w: %d of %d required keys signed", ErrThreshold, len(valid), trust.threshold)
	}
}

func short(id string) string {
	if len(id) > 16 {
		return id[:16]
	}
	return id
}

// ChannelQuery is what a client asks of a channel manifest.
type ChannelQuery struct {
	// App and Channel are the ones the client asked for (mix-and-match
	// protection: a validly signed manifest of another app is refused).
	App, Channel string
	// LastSequence is the highest sequence the client has accepted on this
	// channel; a lower one is refused as ErrRollback. An equal one is the
	// same publication fetched again and is accepted.
	LastSequence uint64
	// Now is the client's clock; the manifest must expire after it.
	Now time.Time
}

// VerifyChannel opens and checks a channel manifest envelope against trust
// and q, and returns the decoded manifest. Decoding is tolerant: fields this
// version does not know are ignored, since the signature covers the exact
// bytes anyway.
func VerifyChannel(data []byte, trust *Trust, q ChannelQuery) (*Channel, error) {
	payload, err := Open(data, MaxChannelSize, ChannelPayloadType, trust)
	if err != nil {
		return nil, fmt.Errorf("channel %s/%s: %w", q.App, q.Channel, err)
	}
	var c Channel
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("channel %s/%s: %w: %v", q.App, q.Channel, ErrMalformed, err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("channel %s/%s: %w", q.App, q.Channel, err)
	}
	if c.App != q.App || c.Channel != q.Channel {
		return nil, fmt.Errorf("channel %s/%s: %w: manifest is for %s/%s", q.App, q.Channel, ErrMixAndMatch, c.App, c.Channel)
	}
	if !q.Now.Before(c.ExpiresAt) {
		return nil, fmt.Errorf("channel %s/%s: %w: at %s (now %s); the publisher must re-sign it",
			q.App, q.Channel, ErrExpired, c.ExpiresAt.UTC().Format(time.RFC3339), q.Now.UTC().Format(time.RFC3339))
	}
	if c.Sequence < q.LastSequence {
		return nil, fmt.Errorf("channel %s/%s: %w: sequence %d is lower than %d already accepted",
			q.App, q.Channel, ErrRollback, c.Sequence, q.LastSequence)
	}
	return &c, nil
}

// VerifyRelease checks a release manifest envelope: its bytes must be
// exactly those ref pins (size and sha256, which also caps what is read),
// its signatures must meet trust, and it must describe app at ref.Version.
func VerifyRelease(data []byte, trust *Trust, app string, ref ReleaseRef) (*Release, error) {
	what := "release " + app + "@" + ref.Version
	if len(data) > MaxReleaseSize {
		return nil, fmt.Errorf("%s: %w: %d bytes or more, cap %d", what, ErrTooLarge, len(data), MaxReleaseSize)
	}
	if err := CheckDigest(data, ref.Size, ref.SHA256); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	payload, err := Open(data, MaxReleaseSize, ReleasePayloadType, trust)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	var r Release
	if err := json.Unmarshal(payload, &r); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", what, ErrMalformed, err)
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if r.App != app || r.Version != ref.Version {
		return nil, fmt.Errorf("%s: %w: manifest is for %s@%s", what, ErrMixAndMatch, r.App, r.Version)
	}
	return &r, nil
}

// CheckDigest checks that data has the given size and lowercase hex sha256,
// returning ErrSizeMismatch or ErrHashMismatch.
func CheckDigest(data []byte, size int64, sha256hex string) error {
	sum := sha256.Sum256(data)
	return CheckSum(int64(len(data)), hex.EncodeToString(sum[:]), size, sha256hex)
}

// CheckSum compares a measured size and sha256 with the expected ones, for
// callers that hash while streaming.
func CheckSum(gotSize int64, gotSHA256 string, wantSize int64, wantSHA256 string) error {
	if gotSize != wantSize {
		return fmt.Errorf("%w: %d bytes, want %d", ErrSizeMismatch, gotSize, wantSize)
	}
	if gotSHA256 != wantSHA256 {
		return fmt.Errorf("%w: sha256 %s, want %s", ErrHashMismatch, short(gotSHA256), short(wantSHA256))
	}
	return nil
}
