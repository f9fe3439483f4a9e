package manifests_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/mpship/mpship/manifests"
)

func Example() {
	// The publisher's key; real ones come from 'mpship keygen'.
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	signer := manifests.NewSigner(key)
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

	sum := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	rel, _ := manifests.SignRelease(&manifests.Release{
		SchemaVersion: manifests.SchemaVersion, App: "demo", Version: "1.0.0", CreatedAt: now,
		Packages: []manifests.Package{{
			Name: manifests.MainPackage, Format: manifests.FormatMPK1, Encoding: manifests.EncodingZstd,
			Path: manifests.BlobPath(sum), Size: 10, SHA256: sum, RawSize: 20, RawSHA256: sum, Files: 1,
		}},
	}, signer)
	relSum := fmt.Sprintf("%x", sha256sum(rel))
	ch, _ := manifests.SignChannel(&manifests.Channel{
		SchemaVersion: manifests.SchemaVersion, App: "demo", Channel: "stable", Sequence: 1,
		IssuedAt: now, ExpiresAt: now.Add(720 * time.Hour),
		Current: manifests.ReleaseRef{Version: "1.0.0", Path: manifests.ReleasePath("demo", "1.0.0"), Size: int64(len(rel)), SHA256: relSum},
	}, signer)

	// The device's side: trust one key, check the channel, then the release it pins.
	trust, _ := manifests.NewTrust(1, signer.Public())
	c, err := manifests.VerifyChannel(ch, trust, manifests.ChannelQuery{App: "demo", Channel: "stable", Now: now})
	fmt.Println(c.Current.Version, err)
	r, err := manifests.VerifyRelease(rel, trust, "demo", c.Current)
	fmt.Println(r.Package("main").Files, err)

	// A device that already accepted sequence 2 refuses sequence 1.
	_, err = manifests.VerifyChannel(ch, trust, manifests.ChannelQuery{App: "demo", Channel: "stable", Now: now, LastSequence: 2})
	fmt.Println(errors.Is(err, manifests.ErrRollback), manifests.Code(err))
	// Output:
	// 1.0.0 <nil>
	// 1 <nil>
	// true rollback
}
