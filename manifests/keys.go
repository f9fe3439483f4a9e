package manifests

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
)

// KeyID returns the identifier of an Ed25519 public key: the lowercase hex
// sha256 of its 32 raw bytes. It is what signatures carry in "keyid".
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:])
}

// Signer signs payloads with one Ed25519 private key. It is safe for
// concurrent use.
type Signer struct {
	id  string
	key ed25519.PrivateKey
}

// NewSigner returns a Signer for key.
func NewSigner(key ed25519.PrivateKey) *Signer {
	return &Signer{id: KeyID(key.Public().(ed25519.PublicKey)), key: key}
}

// KeyID returns the id of the signer's public key.
func (s *Signer) KeyID() string { return s.id }

// Public returns the signer's public key.
func (s *Signer) Public() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

func (s *Signer) sign(msg []byte) Signature {
	return Signature{KeyID: s.id, Sig: ed25519.Sign(s.key, msg)}
}

// GenerateKey makes a new Ed25519 key pair from rand (crypto/rand.Reader
// when nil).
func GenerateKey(r io.Reader) (ed25519.PublicKey, ed25519.PrivateKey, error) {
	if r == nil {
		r = rand.Reader
	}
	return ed25519.GenerateKey(r)
}

const (
	pemPrivate = "PRIVATE KEY"
	pemPublic  = "PUBLIC KEY"
)

// MarshalPrivateKey encodes key as a PKCS #8 PEM block, the format of
// signing.key files.
func MarshalPrivateKey(key ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPrivate, Bytes: der}), nil
}

// MarshalPublicKey encodes key as a PKIX PEM block, the format of
// signing.pub files.
func MarshalPublicKey(key ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPublic, Bytes: der}), nil
}

// ParsePrivateKey decodes a PKCS #8 PEM Ed25519 private key, as written by
// MarshalPrivateKey (and by `openssl genpkey -algorithm ed25519`).
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("not a PEM file: expected a \"-----BEGIN PRIVATE KEY-----\" block (make one with 'mpship keygen')")
	}
	if block.Type != pemPrivate {
		return nil, fmt.Errorf("PEM block is %q, want %q: is this the public key? pass signing.key, not signing.pub", block.Type, pemPrivate)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse PKCS #8 private key: %w", err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("private key is %T, want Ed25519 (make one with 'mpship keygen')", k)
	}
	return ek, nil
}

// ParsePublicKey decodes a PKIX PEM Ed25519 public key, as written by
// MarshalPublicKey.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("not a PEM file: expected a \"-----BEGIN PUBLIC KEY-----\" block (signing.pub from 'mpship keygen')")
	}
	if block.Type != pemPublic {
		return nil, fmt.Errorf("PEM block is %q, want %q: pass signing.pub, not the private key", block.Type, pemPublic)
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse PKIX public key: %w", err)
	}
	ek, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key is %T, want Ed25519", k)
	}
	return ek, nil
}

// Trust is the set of public keys a verifier trusts and how many of them
// must sign a document. The zero value trusts nothing. A Trust is not
// modified by verification and is safe for concurrent use once built.
type Trust struct {
	keys      map[string]ed25519.PublicKey
	threshold int
}

// NewTrust returns a Trust that accepts a document signed by at least
// threshold distinct keys among keys. Duplicate keys count once. It fails
// when threshold is below 1 or above the number of distinct keys.
func NewTrust(threshold int, keys ...ed25519.PublicKey) (*Trust, error) {
	t := &Trust{keys: make(map[string]ed25519.PublicKey, len(keys)), threshold: threshold}
	for _, k := range keys {
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("trust: public key has %d bytes, want %d", len(k), ed25519.PublicKeySize)
		}
		t.keys[KeyID(k)] = k
	}
	if threshold < 1 || threshold > len(t.keys) {
		return nil, fmt.Errorf("trust: threshold %d must be between 1 and the %d distinct keys given", threshold, len(t.keys))
	}
	return t, nil
}

// Threshold returns the number of distinct keys that must sign.
func (t *Trust) Threshold() int { return t.threshold }

// KeyIDs returns the ids of the trusted keys, in no particular order.
func (t *Trust) KeyIDs() []string {
	ids := make([]string, 0, len(t.keys))
	for id := range t.keys {
		ids = append(ids, id)
	}
	return ids
}
