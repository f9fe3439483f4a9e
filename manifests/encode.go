package manifests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Encode returns the deterministic JSON encoding of a document: struct
// fields in declaration order, no HTML escaping, times in UTC at whole
// seconds, and a trailing newline. The same document always encodes to the
// same bytes, which keeps published manifests reproducible and golden files
// stable.
func Encode(v any) ([]byte, error) {
	switch d := v.(type) {
	case *Channel:
		c := *d
		c.IssuedAt = normTime(c.IssuedAt)
		c.ExpiresAt = normTime(c.ExpiresAt)
		v = &c
	case *Release:
		r := *d
		r.CreatedAt = normTime(r.CreatedAt)
		v = &r
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func normTime(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// pae is DSSE's pre-authentication encoding, the exact bytes that are signed:
// "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body.
func pae(payloadType string, payload []byte) []byte {
	var b bytes.Buffer
	b.Grow(32 + len(payloadType) + len(payload))
	b.WriteString("DSSEv1 ")
	b.WriteString(strconv.Itoa(len(payloadType)))
	b.WriteByte(' ')
	b.WriteString(payloadType)
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(len(payload)))
	b.WriteByte(' ')
	b.Write(payload)
	return b.Bytes()
}

// Seal signs payload with every signer and returns the encoded DSSE
// envelope, the bytes that are published. Signatures appear in the order of
// signers; a signer given twice signs once.
func Seal(payloadType string, payload []byte, signers ...*Signer) ([]byte, error) {
	if len(signers) == 0 {
		return nil, fmt.Errorf("seal %s: no signing key", payloadType)
	}
	msg := pae(payloadType, payload)
	env := Envelope{PayloadType: payloadType, Payload: payload}
	seen := make(map[string]bool, len(signers))
	for _, s := range signers {
		if seen[s.id] {
			continue
		}
		seen[s.id] = true
		env.Signatures = append(env.Signatures, s.sign(msg))
	}
	return Encode(&env)
}

// SignChannel validates c, encodes it and seals it for publication.
func SignChannel(c *Channel, signers ...*Signer) ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	payload, err := Encode(c)
	if err != nil {
		return nil, err
	}
	out, err := Seal(ChannelPayloadType, payload, signers...)
	if err != nil {
		return nil, err
	}
	if len(out) > MaxChannelSize {
		return nil, fmt.Errorf("channel manifest is %d bytes, over the %d-byte cap", len(out), MaxChannelSize)
	}
	return out, nil
}

// SignRelease validates r, encodes it and seals it for publication.
func SignRelease(r *Release, signers ...*Signer) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	payload, err := Encode(r)
	if err != nil {
		return nil, err
	}
	out, err := Seal(ReleasePayloadType, payload, signers...)
	if err != nil {
		return nil, err
	}
	if len(out) > MaxReleaseSize {
		return nil, fmt.Errorf("release manifest is %d bytes, over the %d-byte cap: too many packages or deltas", len(out), MaxReleaseSize)
	}
	return out, nil
}
