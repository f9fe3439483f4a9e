package manifests

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func testSigner(seed byte) *Signer {
	return NewSigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize)))
}

func testTrust(t *testing.T, threshold int, signers ...*Signer) *Trust {
	t.Helper()
	var keys []ed25519.PublicKey
	for _, s := range signers {
		keys = append(keys, s.Public())
	}
	tr, err := NewTrust(threshold, keys...)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

const testSHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

func testRelease() *Release {
	return &Release{
		SchemaVersion: SchemaVersion,
		App:           "demo",
		Version:       "1.2.0",
		CreatedAt:     t0,
		Packages: []Package{{
			Name: MainPackage, Format: FormatMPK1, Encoding: EncodingZstd,
			Path: BlobPath(testSHA), Size: 100, SHA256: testSHA,
			RawSize: 1000, RawSHA256: testSHA, Files: 3,
		}},
	}
}

func testChannel(seq uint64, rel []byte) *Channel {
	return &Channel{
		SchemaVersion: SchemaVersion,
		App:           "demo",
		Channel:       "stable",
		Sequence:      seq,
		IssuedAt:      t0,
		ExpiresAt:     t0.Add(30 * 24 * time.Hour),
		Current:       refTo("demo", "1.2.0", rel),
	}
}

func refTo(app, version string, data []byte) ReleaseRef {
	r := ReleaseRef{Version: version, Path: ReleasePath(app, version), Size: int64(len(data))}
	r.SHA256 = sha256hex(data)
	return r
}

func query(last uint64) ChannelQuery {
	return ChannelQuery{App: "demo", Channel: "stable", LastSequence: last, Now: t0.Add(time.Hour)}
}

func TestRoundTrip(t *testing.T) {
	s := testSigner(1)
	tr := testTrust(t, 1, s)
	rel, err := SignRelease(testRelease(), s)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := SignChannel(testChannel(7, rel), s)
	if err != nil {
		t.Fatal(err)
	}
	c, err := VerifyChannel(ch, tr, query(6))
	if err != nil {
		t.Fatalf("VerifyChannel: %v", err)
	}
	if c.Sequence != 7 || c.Current.Version != "1.2.0" {
		t.Errorf("got sequence %d version %s, want 7 1.2.0", c.Sequence, c.Current.Version)
	}
	r, err := VerifyRelease(rel, tr, "demo", c.Current)
	if err != nil {
		t.Fatalf("VerifyRelease: %v", err)
	}
	if got := r.Package(MainPackage); got == nil || got.SHA256 != testSHA {
		t.Errorf("got main package %+v, want sha %s", got, testSHA)
	}
	// Deterministic: signing again gives the same bytes (Ed25519 is deterministic).
	again, _ := SignChannel(testChannel(7, rel), s)
	if !bytes.Equal(again, ch) {
		t.Error("signing the same channel twice gave different bytes")
	}
}

// TestVerifyChannelErrors tampers with a valid manifest in every way the
// verifier must catch and checks the typed error each one yields.
func TestVerifyChannelErrors(t *testing.T) {
	s1, s2, stranger := testSigner(1), testSigner(2), testSigner(3)
	rel, _ := SignRelease(testRelease(), s1)
	good := func(seq uint64, signers ...*Signer) []byte {
		b, err := SignChannel(testChannel(seq, rel), signers...)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	other := testChannel(5, rel)
	other.App = "other"
	other.Current = refTo("other", "1.2.0", rel)
	otherApp, _ := SignChannel(other, s1)
	otherCh := testChannel(5, rel)
	otherCh.Channel = "beta"
	otherChannel, _ := SignChannel(otherCh, s1)
	relAsChannel, _ := SignRelease(testRelease(), s1)

	flipPayload := func(b []byte) []byte {
		var env Envelope
		if err := json.Unmarshal(b, &env); err != nil {
			t.Fatal(err)
		}
		env.Payload = bytes.Replace(env.Payload, []byte(`"sequence": 5`), []byte(`"sequence": 9`), 1)
		out, _ := json.Marshal(env)
		return out
	}
	flipSig := func(b []byte) []byte {
		var env Envelope
		json.Unmarshal(b, &env)
		env.Signatures[0].Sig[0] ^= 1
		out, _ := json.Marshal(env)
		return out
	}
	tests := []struct {
		name  string
		data  []byte
		trust *Trust
		q     ChannelQuery
		want  error
	}{
		{"ok", good(5, s1), testTrust(t, 1, s1), query(5), nil},
		{"payload edited", flipPayload(good(5, s1)), testTrust(t, 1, s1), query(0), ErrBadSignature},
		{"signature flipped", flipSig(good(5, s1)), testTrust(t, 1, s1), query(0), ErrBadSignature},
		{"unknown key", good(5, stranger), testTrust(t, 1, s1), query(0), ErrUnknownKey},
		{"below threshold", good(5, s1, stranger), testTrust(t, 2, s1, s2), query(0), ErrThreshold},
		{"threshold met", good(5, s1, s2), testTrust(t, 2, s1, s2), query(0), nil},
		{"duplicate signature counts once", dupSig(t, good(5, s1)), testTrust(t, 2, s1, s2), query(0), ErrThreshold},
		{"expired", good(5, s1), testTrust(t, 1, s1), ChannelQuery{App: "demo", Channel: "stable", Now: t0.Add(31 * 24 * time.Hour)}, ErrExpired},
		{"rollback", good(5, s1), testTrust(t, 1, s1), query(6), ErrRollback},
		{"other app", otherApp, testTrust(t, 1, s1), query(0), ErrMixAndMatch},
		{"other channel", otherChannel, testTrust(t, 1, s1), query(0), ErrMixAndMatch},
		{"release as channel", relAsChannel, testTrust(t, 1, s1), query(0), ErrWrongType},
		{"too large", append(good(5, s1), bytes.Repeat([]byte(" "), MaxChannelSize)...), testTrust(t, 1, s1), query(0), ErrTooLarge},
		{"not json", []byte("<html>"), testTrust(t, 1, s1), query(0), ErrMalformed},
		{"trailing data", append(good(5, s1), "{}"...), testTrust(t, 1, s1), query(0), ErrMalformed},
		{"no trust", good(5, s1), &Trust{}, query(0), ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := VerifyChannel(tt.data, tt.trust, tt.q)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if tt.want != nil && Code(err) == "" {
				t.Errorf("Code(%v) is empty", err)
			}
			if err != nil && !strings.Contains(err.Error(), "demo/stable") {
				t.Errorf("error %q does not name the channel", err)
			}
		})
	}
}

func dupSig(t *testing.T, b []byte) []byte {
	var env Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	env.Signatures = append(env.Signatures, env.Signatures[0])
	out, _ := json.Marshal(env)
	return out
}

func TestVerifyReleaseErrors(t *testing.T) {
	s := testSigner(1)
	tr := testTrust(t, 1, s)
	rel, _ := SignRelease(testRelease(), s)
	other := testRelease()
	other.App = "other"
	otherRel, _ := SignRelease(other, s)
	tampered := bytes.Replace(rel, []byte(`"payload": "`), []byte(`"payload": "e`), 1)
	tests := []struct {
		name string
		data []byte
		ref  ReleaseRef
		want error
	}{
		{"ok", rel, refTo("demo", "1.2.0", rel), nil},
		{"size differs", rel[:len(rel)-1], refTo("demo", "1.2.0", rel), ErrSizeMismatch},
		{"hash differs", tampered[:len(rel)], refTo("demo", "1.2.0", rel), ErrHashMismatch},
		{"other app pinned", otherRel, refTo("demo", "1.2.0", otherRel), ErrMixAndMatch},
		{"other version pinned", rel, refTo("demo", "1.3.0", rel), ErrMixAndMatch},
		{"too large", make([]byte, MaxReleaseSize+1), ReleaseRef{Version: "1.2.0", Size: MaxReleaseSize + 1}, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := VerifyRelease(tt.data, tr, "demo", tt.ref)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(r *Release)
		ok     bool
	}{
		{"valid", func(*Release) {}, true},
		{"no main", func(r *Release) { r.Packages[0].Name = "sub"; r.Packages[0].Root = "sub" }, false},
		{"bad version", func(r *Release) { r.Version = "v1.2" }, false},
		{"build metadata", func(r *Release) { r.Version = "1.2.0+abc" }, false},
		{"path not content address", func(r *Release) { r.Packages[0].Path = "blobs/x" }, false},
		{"upper-case hex", func(r *Release) { r.Packages[0].SHA256 = strings.ToUpper(testSHA) }, false},
		{"unsorted packages", func(r *Release) {
			p := r.Packages[0]
			p.Name, p.Root = "aaa", "aaa"
			r.Packages = append(r.Packages, p)
		}, false},
		{"future schema", func(r *Release) { r.SchemaVersion = SchemaVersion + 1 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testRelease()
			tt.mutate(r)
			err := r.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("got %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Errorf("got %v, want it to wrap ErrMalformed", err)
			}
		})
	}
}

func TestNames(t *testing.T) {
	for _, app := range []string{"demo", "com.example.shop", "a", "x_y-z9"} {
		if err := ValidateApp(app); err != nil {
			t.Errorf("ValidateApp(%q) = %v, want nil", app, err)
		}
	}
	for _, app := range []string{"", "Demo", "../x", "a..b", ".a", "a/b", "a b", strings.Repeat("a", 65)} {
		if ValidateApp(app) == nil {
			t.Errorf("ValidateApp(%q) = nil, want error", app)
		}
	}
	for _, v := range []string{"0.0.1", "1.2.3", "2.0.0-beta.1", "10.20.30"} {
		if err := ValidateVersion(v); err != nil {
			t.Errorf("ValidateVersion(%q) = %v", v, err)
		}
	}
	for _, v := range []string{"", "1", "1.2", "v1.2.3", "01.2.3", "1.2.3-", "1.2.3/x"} {
		if ValidateVersion(v) == nil {
			t.Errorf("ValidateVersion(%q) = nil, want error", v)
		}
	}
	cmp := []struct {
		a, b string
		want int
	}{{"1.2.0", "1.10.0", -1}, {"2.0.0", "2.0.0-rc.1", 1}, {"1.0.0", "1.0.0", 0}}
	for _, c := range cmp {
		if got := CompareVersions(c.a, c.b); got != c.want {
			t.Errorf("CompareVersions(%s, %s) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestClassifyKey(t *testing.T) {
	tests := []struct {
		key  string
		want KeyClass
	}{
		{ChannelPath("demo", "stable"), KeyChannel},
		{ReleasePath("demo", "1.0.0"), KeyRelease},
		{BlobPath(testSHA), KeyBlob},
		{"blobs/sha256/abc", KeyOther},
		{"apps/demo/other/x.json", KeyOther},
		{"index.html", KeyOther},
	}
	for _, tt := range tests {
		if got := ClassifyKey(tt.key); got != tt.want {
			t.Errorf("ClassifyKey(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
}

func TestKeys(t *testing.T) {
	pub, priv, err := GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	privPEM, _ := MarshalPrivateKey(priv)
	pubPEM, _ := MarshalPublicKey(pub)
	gotPriv, err := ParsePrivateKey(privPEM)
	if err != nil || !gotPriv.Equal(priv) {
		t.Fatalf("ParsePrivateKey round trip: %v", err)
	}
	gotPub, err := ParsePublicKey(pubPEM)
	if err != nil || !gotPub.Equal(pub) {
		t.Fatalf("ParsePublicKey round trip: %v", err)
	}
	if _, err := ParsePrivateKey(pubPEM); err == nil || !strings.Contains(err.Error(), "signing.key") {
		t.Errorf("ParsePrivateKey(public) = %v, want an error pointing at signing.key", err)
	}
	if _, err := ParsePublicKey([]byte("junk")); err == nil {
		t.Error("ParsePublicKey(junk) = nil error")
	}
	if _, err := NewTrust(2, pub, pub); err == nil {
		t.Error("NewTrust(2, same key twice) = nil error, want threshold error")
	}
}

// TestUnknownFieldsSurvive: a newer generator may add fields; an older
// client must still verify and decode the document.
func TestUnknownFieldsSurvive(t *testing.T) {
	s := testSigner(1)
	rel, _ := SignRelease(testRelease(), s)
	payload, _ := Encode(testChannel(3, rel))
	payload = bytes.Replace(payload, []byte("{\n"), []byte("{\n  \"future_field\": {\"x\": 1},\n"), 1)
	env, err := Seal(ChannelPayloadType, payload, s)
	if err != nil {
		t.Fatal(err)
	}
	c, err := VerifyChannel(env, testTrust(t, 1, s), query(0))
	if err != nil {
		t.Fatalf("got %v, want a new field to be tolerated", err)
	}
	if c.Sequence != 3 {
		t.Errorf("got sequence %d, want 3", c.Sequence)
	}
}
