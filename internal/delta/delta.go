// Package delta makes and applies MPD1 deltas: patches that rebuild a
// package's MPK1 archive (internal/archive) from the archive of an earlier
// version of the same package. The generator calls Diff at release time;
// the device calls Patch, which refuses anything malformed or over its
// limits with an error and checks the rebuilt archive against the signed
// size and sha256 before returning it.
//
// # The MPD1 format
//
// A delta knows the archive's files. It walks the old and the new entries
// together, in archive order, and says what to do with each:
//
//	"MPD1"
//	uvarint L<<1 | z     L bytes of ops follow, zstd-compressed with the old
//	                     archive as raw dictionary when z is 1, raw when 0
//	ops
//	[one zstd frame]     the new bytes ("data"), present only when the ops
//	                     take any
//
// The ops, each a byte and its uvarint arguments:
//
//	'K' n                    keep the next n old entries (n ≥ 1)
//	'D' n                    drop the next n old entries (n ≥ 1)
//	'M' zz(Δ) p s            the next old entry, same name, new content: its
//	                         first p and last s bytes, with len(new)-p-s
//	                         data bytes between; Δ = len(new)-len(old),
//	                         zigzag-encoded
//	'I' cp sl name size      a new name (the first cp bytes of the previous
//	                         new name, then sl bytes), content: the next size
//	                         data bytes
//	'C' cp sl name k         a new name whose content is that of old entry k
//	                         (renames and moves cost a few bytes)
//
// The data frame is zstd (klauspost/compress, SpeedBestCompression) with a
// raw dictionary: the old archive followed by the replaced middle of every
// 'M' entry, in order. A changed file is thereby encoded against its own
// previous version, sitting at the end of the dictionary, and an inserted
// one against everything the old package held. The frame has no checksum:
// Patch checks the rebuilt archive's sha256 instead. The rebuilt entries are
// written out with archive.Encode, so a delta rebuilds the very bytes the
// generator signed, or fails.
//
// # Limits
//
// Patch allocates in proportion to sizes it checked against Limits, never
// to a size read from the delta: the base and the rebuilt archive are at
// most Limits.MaxSize (default 64 MiB) and the files they hold at most
// Limits.MaxFiles; the ops at most MaxOpsSize (16 MiB) once decompressed;
// the zstd decoder's window and memory at most the next power of two above
// 9/8 of the dictionary plus data it announced, at most 3×MaxSize. Peak
// memory is about 3× the base plus 3× the rebuilt archive plus the
// decoder's history. Diff refuses inputs over DefaultMaxSize, so that every
// delta it makes applies under the default limits.
package delta

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/klauspost/compress/zstd"

	"github.com/mpship/mpship/internal/archive"
)

// Magic is the first four bytes of every MPD1 delta.
const Magic = "MPD1"

// Limits of Diff and Patch.
const (
	// DefaultMaxSize is the default Limits.MaxSize, the largest base or
	// rebuilt archive: 64 MiB.
	DefaultMaxSize = 64 << 20
	// MaxMaxSize is the largest Limits.MaxSize accepted: 256 MiB.
	MaxMaxSize = 256 << 20
	// MaxOpsSize is the largest op list, decompressed: 16 MiB. Diff refuses
	// to make a delta whose ops are longer.
	MaxOpsSize = 16 << 20
)

// Errors, for errors.Is.
var (
	// ErrBadDelta: the delta is malformed, does not apply to the base, or
	// does not rebuild the archive it was signed for.
	ErrBadDelta = errors.New("bad delta")
	// ErrTooLarge: the base, the target or the delta is over the limits.
	ErrTooLarge = errors.New("over the delta limits")
)

// Limits bound what Patch accepts. A zero field takes its default. Limits
// is a plain value, safe to share.
type Limits struct {
	// MaxSize is the largest base archive, rebuilt archive, sum of the
	// rebuilt files' sizes and data section. Default DefaultMaxSize
	// (64 MiB); at most MaxMaxSize (256 MiB).
	MaxSize int64
	// MaxFiles is the most files in the base or the rebuilt archive.
	// Default archive.DefaultMaxFiles (50,000).
	MaxFiles int
}

func (l Limits) withDefaults() (Limits, error) {
	if l.MaxSize == 0 {
		l.MaxSize = DefaultMaxSize
	}
	if l.MaxFiles == 0 {
		l.MaxFiles = archive.DefaultMaxFiles
	}
	if l.MaxSize < 0 || l.MaxSize > MaxMaxSize || l.MaxFiles < 0 {
		return l, fmt.Errorf("limits %+v out of range (max size 1..%d)", l, MaxMaxSize)
	}
	return l, nil
}

func (l Limits) archive() archive.Limits {
	return archive.Limits{MaxFileSize: l.MaxSize, MaxRawSize: l.MaxSize, MaxFiles: l.MaxFiles}
}

// Target is the archive a delta must rebuild, as the signed release
// manifest describes it: its size and sha256.
type Target struct {
	Size   int64
	SHA256 [sha256.Size]byte
}

const (
	opKeep   = 'K'
	opDrop   = 'D'
	opModify = 'M'
	opInsert = 'I'
	opCopy   = 'C'
)

// Window returns the zstd window for n bytes of dictionary and output: the
// next power of two at or above n + n/8, at least 1 KiB. A match must reach
// from the end of the output back to the start of the dictionary.
func Window(n int64) int64 {
	w := int64(zstd.MinWindowSize)
	for w < n+n/8 {
		w <<= 1
	}
	return w
}

func zigzag(v int64) uint64   { return uint64(v<<1) ^ uint64(v>>63) }
func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

// Diff returns a delta that rebuilds the archive target from the archive
// base. Both must be valid archives of at most DefaultMaxSize bytes and
// archive.DefaultMaxFiles files, else the error wraps ErrTooLarge or the
// archive package's error. Diff is deterministic: the same inputs give the
// same delta. Time and memory are those of a zstd encoder at its best
// level with the base as dictionary (about half a second and 150 MB for a
// 700 KB archive). Diff is safe for concurrent use.
func Diff(base, target []byte) ([]byte, error) {
	if len(base) > DefaultMaxSize || len(target) > DefaultMaxSize {
		return nil, fmt.Errorf("diff: %w: archives of %d and %d bytes, limit %d", ErrTooLarge, len(base), len(target), DefaultMaxSize)
	}
	lim := Limits{MaxSize: DefaultMaxSize, MaxFiles: archive.DefaultMaxFiles}.archive()
	old, err := archive.Parse(base, lim)
	if err != nil {
		return nil, fmt.Errorf("diff: base archive: %w", err)
	}
	nw, err := archive.Parse(target, lim)
	if err != nil {
		return nil, fmt.Errorf("diff: target archive: %w", err)
	}
	byContent := make(map[[sha256.Size]byte]int, len(old))
	for i := len(old) - 1; i >= 0; i-- {
		byContent[sha256.Sum256(old[i].Data)] = i // the first entry holding it
	}

	var ops, data []byte
	dict := make([]byte, len(base), len(base)+len(base)/4)
	copy(dict, base)
	keep, drop := 0, 0
	flush := func() {
		if keep > 0 {
			ops = binary.AppendUvarint(append(ops, opKeep), uint64(keep))
		}
		if drop > 0 {
			ops = binary.AppendUvarint(append(ops, opDrop), uint64(drop))
		}
		keep, drop = 0, 0
	}
	prev := ""
	for i, j := 0, 0; i < len(old) || j < len(nw); {
		switch {
		case i < len(old) && j < len(nw) && old[i].Name == nw[j].Name:
			od, nd := old[i].Data, nw[j].Data
			if bytes.Equal(od, nd) {
				if drop > 0 {
					flush()
				}
				keep++
			} else {
				flush()
				p, s := trim(od, nd)
				ops = append(ops, opModify)
				ops = binary.AppendUvarint(ops, zigzag(int64(len(nd))-int64(len(od))))
				ops = binary.AppendUvarint(ops, uint64(p))
				ops = binary.AppendUvarint(ops, uint64(s))
				dict = append(dict, od[p:len(od)-s]...)
				data = append(data, nd[p:len(nd)-s]...)
			}
			prev = nw[j].Name
			i, j = i+1, j+1
		case j >= len(nw) || (i < len(old) && archive.Compare(old[i].Name, nw[j].Name) < 0):
			if keep > 0 {
				flush()
			}
			drop++
			i++
		default:
			flush()
			e := nw[j]
			k, same := byContent[sha256.Sum256(e.Data)]
			op := byte(opInsert)
			if same {
				op = opCopy
			}
			cp := commonPrefix(prev, e.Name)
			ops = append(ops, op)
			ops = binary.AppendUvarint(ops, uint64(cp))
			ops = binary.AppendUvarint(ops, uint64(len(e.Name)-cp))
			ops = append(ops, e.Name[cp:]...)
			if same {
				ops = binary.AppendUvarint(ops, uint64(k))
			} else {
				ops = binary.AppendUvarint(ops, uint64(len(e.Data)))
				data = append(data, e.Data...)
			}
			prev = e.Name
			j++
		}
	}
	flush()
	if len(ops) > MaxOpsSize {
		return nil, fmt.Errorf("diff: %w: %d bytes of ops, limit %d", ErrTooLarge, len(ops), MaxOpsSize)
	}

	// The ops travel compressed against the old archive (whose names they
	// repeat) when that is smaller. SpeedBetterCompression makes them as
	// small as the best level does (within a byte on the vant releases) at
	// a fifth of the time: the encoder's cost is mostly indexing the
	// dictionary.
	out := []byte(Magic)
	zops, err := compress(ops, base, zstd.SpeedBetterCompression)
	if err != nil {
		return nil, fmt.Errorf("diff: %w", err)
	}
	if len(zops) < len(ops) {
		out = binary.AppendUvarint(out, uint64(len(zops))<<1|1)
		out = append(out, zops...)
	} else {
		out = binary.AppendUvarint(out, uint64(len(ops))<<1)
		out = append(out, ops...)
	}
	if len(data) > 0 {
		z, err := compress(data, dict, zstd.SpeedBestCompression)
		if err != nil {
			return nil, fmt.Errorf("diff: %w", err)
		}
		out = append(out, z...)
	}
	return out, nil
}

// compress encodes src as one zstd frame with dict as raw dictionary. A new
// encoder is built each time: pooled ones, reset with another dictionary,
// measured slower.
func compress(src, dict []byte, level zstd.EncoderLevel) ([]byte, error) {
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(level),
		zstd.WithWindowSize(int(Window(int64(len(dict)+len(src))))),
		zstd.WithEncoderConcurrency(1),
		zstd.WithLowerEncoderMem(false),
		// A single-segment frame declares a window of the output's size,
		// too small to reach into the dictionary.
		zstd.WithSingleSegment(false),
		zstd.WithEncoderCRC(false), // the rebuilt archive's sha256 is checked instead
		zstd.WithEncoderDictRaw(0, dict))
	if err != nil {
		return nil, fmt.Errorf("zstd encoder: %w", err)
	}
	defer enc.Close()
	return enc.EncodeAll(src, nil), nil
}

// trim returns the lengths of the longest common prefix of a and b, and of
// the longest common suffix of what remains.
func trim(a, b []byte) (p, s int) {
	for p < len(a) && p < len(b) && a[p] == b[p] {
		p++
	}
	for s < len(a)-p && s < len(b)-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	return p, s
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
