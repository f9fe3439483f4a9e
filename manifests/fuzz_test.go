package manifests

import (
	"testing"
	"time"
)

// FuzzVerifyChannel feeds arbitrary bytes to the channel verifier: it must
// never panic, and anything it accepts must be a valid manifest for the
// channel asked about, signed by the trusted key.
func FuzzVerifyChannel(f *testing.F) {
	s := testSigner(1)
	rel, _ := SignRelease(testRelease(), s)
	good, _ := SignChannel(testChannel(4, rel), s)
	f.Add(good)
	f.Add([]byte(`{"payloadType":"application/vnd.mpship.channel+json","payload":"e30=","signatures":[{"keyid":"x","sig":"AA=="}]}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(``))
	tr, err := NewTrust(1, s.Public())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := VerifyChannel(data, tr, ChannelQuery{App: "demo", Channel: "stable", Now: t0.Add(time.Hour)})
		if err != nil {
			if Code(err) == "" {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		if c.App != "demo" || c.Channel != "stable" {
			t.Fatalf("accepted a manifest for %s/%s", c.App, c.Channel)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted an invalid manifest: %v", err)
		}
	})
}

// FuzzVerifyRelease does the same for release manifests, pinned by a ref
// computed from the fuzzed bytes themselves (the worst case: a hash match).
func FuzzVerifyRelease(f *testing.F) {
	s := testSigner(1)
	rel, _ := SignRelease(testRelease(), s)
	f.Add(rel)
	f.Add([]byte(`{"payloadType":"application/vnd.mpship.release+json","payload":"e30=","signatures":[]}`))
	tr, err := NewTrust(1, s.Public())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := VerifyRelease(data, tr, "demo", refTo("demo", "1.2.0", data))
		if err != nil {
			if Code(err) == "" {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		if err := r.Validate(); err != nil || r.App != "demo" || r.Version != "1.2.0" {
			t.Fatalf("accepted %s@%s: %v", r.App, r.Version, err)
		}
	})
}
