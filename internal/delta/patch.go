package delta

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/klauspost/compress/zstd"

	"github.com/mpship/mpship/internal/archive"
)

// Patch rebuilds an archive from the archive base and the delta patch, and
// returns it only when it is exactly want: want.Size bytes with sha256
// want.SHA256, as the signed release manifest says. base must be the
// archive the delta was made from (check it against the signed
// from_raw_sha256 first). Any other failure is an error wrapping
// ErrBadDelta: a delta that is not MPD1, is truncated or has bytes left
// over, ops out of range for the base (keeping, dropping or changing
// entries it does not have, sizes that do not add up), names the archive
// format refuses, data that does not decompress to exactly what the ops
// take, or a result other than want. Sizes over lim (see Limits and the
// package documentation) wrap ErrTooLarge instead, and a base that is not
// a valid archive wraps the archive package's error. Patch never panics on
// any input and allocates only within lim. It is safe for concurrent use.
func Patch(base, patch []byte, want Target, lim Limits) ([]byte, error) {
	lim, err := lim.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("patch: %w", err)
	}
	switch {
	case int64(len(base)) > lim.MaxSize:
		return nil, fmt.Errorf("patch: %w: base archive is %d bytes, limit %d", ErrTooLarge, len(base), lim.MaxSize)
	case want.Size > lim.MaxSize:
		return nil, fmt.Errorf("patch: %w: target archive is %d bytes, limit %d", ErrTooLarge, want.Size, lim.MaxSize)
	case int64(len(patch)) > lim.MaxSize:
		return nil, fmt.Errorf("patch: %w: delta is %d bytes, limit %d", ErrTooLarge, len(patch), lim.MaxSize)
	case want.Size < 1:
		return nil, fmt.Errorf("patch: %w: target size %d", ErrBadDelta, want.Size)
	}
	old, err := archive.Parse(base, lim.archive())
	if err != nil {
		return nil, fmt.Errorf("patch: base archive: %w", err)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("patch: %w: %s", ErrBadDelta, fmt.Sprintf(format, args...))
	}
	if !bytes.HasPrefix(patch, []byte(Magic)) {
		return nil, bad("not an MPD1 delta (bad magic)")
	}
	r := &reader{b: patch[len(Magic):]}
	head := r.uvarint(uint64(len(r.b))<<1 | 1)
	ops := r.take(head >> 1)
	if r.err != nil {
		return nil, bad("header: %v", r.err)
	}
	frame := r.b
	if head&1 == 1 {
		// The frame declares its size, which bounds the output; without
		// one (the encoder leaves it out below 256 bytes), 255 bytes.
		var h zstd.Header
		switch err := h.Decode(ops); {
		case err != nil || h.Skippable:
			return nil, bad("ops: not a zstd frame")
		case h.FrameContentSize > MaxOpsSize:
			return nil, fmt.Errorf("patch: %w: %d bytes of ops, limit %d", ErrTooLarge, h.FrameContentSize, MaxOpsSize)
		}
		n := int64(255)
		if h.HasFCS {
			n = int64(h.FrameContentSize)
		}
		if ops, err = decompress(ops, base, n); err != nil {
			return nil, bad("ops: %v", err)
		}
		if h.HasFCS && int64(len(ops)) != n {
			return nil, bad("ops are %d bytes, the frame says %d", len(ops), n)
		}
	}

	// Apply the ops: which old entries stay, which change (their new
	// middle comes from the data), which are new.
	type pending struct {
		entry      int    // index in nw
		size       int64  // bytes taken from data
		modify     bool   // an 'M': head and tail surround the data
		head, tail []byte // kept from the old content
	}
	var nw []archive.Entry
	var todo []pending
	dict := base[:len(base):len(base)] // appending copies: base is never written
	var dataLen, content int64
	addContent := func(n int64) error {
		if len(nw) >= lim.MaxFiles {
			return fmt.Errorf("patch: %w: more than %d files", ErrTooLarge, lim.MaxFiles)
		}
		content += n
		if content > lim.MaxSize {
			return fmt.Errorf("patch: %w: files add up to more than %d bytes", ErrTooLarge, lim.MaxSize)
		}
		return nil
	}
	o := &reader{b: ops}
	i := 0 // next old entry
	prev := ""
	for len(o.b) > 0 {
		op := o.b[0]
		o.b = o.b[1:]
		switch op {
		case opKeep, opDrop:
			n := int(o.uvarint(uint64(len(old) - i)))
			if o.err != nil {
				return nil, bad("op %c at old entry %d: %v", op, i, o.err)
			}
			if n == 0 {
				return nil, bad("op %c of zero entries", op)
			}
			if op == opKeep {
				for _, e := range old[i : i+n] {
					if err := addContent(int64(len(e.Data))); err != nil {
						return nil, err
					}
					nw = append(nw, e)
				}
				prev = old[i+n-1].Name
			}
			i += n
		case opModify:
			if i >= len(old) {
				return nil, bad("op M past the end of the base's %d entries", len(old))
			}
			od := old[i].Data
			n := int64(len(od))
			delta := unzigzag(o.uvarint(^uint64(0)))
			p := int64(o.uvarint(uint64(n)))
			s := int64(o.uvarint(uint64(n - p)))
			if o.err != nil {
				return nil, bad("op M on %s: %v", old[i].Name, o.err)
			}
			size := n + delta
			if delta > lim.MaxSize || delta < -n || size < p+s {
				return nil, bad("op M on %s: size %d+%d does not fit prefix %d and suffix %d", old[i].Name, n, delta, p, s)
			}
			if err := addContent(size); err != nil {
				return nil, err
			}
			mid := size - p - s
			dataLen += mid
			if dataLen > lim.MaxSize {
				return nil, fmt.Errorf("patch: %w: more than %d bytes of data", ErrTooLarge, lim.MaxSize)
			}
			dict = append(dict, od[p:n-s]...)
			todo = append(todo, pending{entry: len(nw), size: mid, modify: true, head: od[:p], tail: od[n-s:]})
			nw = append(nw, archive.Entry{Name: old[i].Name})
			prev = old[i].Name
			i++
		case opInsert, opCopy:
			cp := o.uvarint(uint64(len(prev)))
			sl := o.uvarint(uint64(archive.MaxNameLen) - cp)
			name := prev[:cp] + string(o.take(sl))
			arg := o.uvarint(math.MaxInt64)
			if o.err != nil {
				return nil, bad("op %c: %v", op, o.err)
			}
			e := archive.Entry{Name: name}
			if op == opCopy {
				if arg >= uint64(len(old)) {
					return nil, bad("op C for %q copies old entry %d of %d", name, arg, len(old))
				}
				e.Data = old[arg].Data
				if err := addContent(int64(len(e.Data))); err != nil {
					return nil, err
				}
			} else {
				if err := addContent(int64(arg)); err != nil {
					return nil, err
				}
				dataLen += int64(arg)
				if dataLen > lim.MaxSize {
					return nil, fmt.Errorf("patch: %w: more than %d bytes of data", ErrTooLarge, lim.MaxSize)
				}
				todo = append(todo, pending{entry: len(nw), size: int64(arg)})
			}
			nw = append(nw, e)
			prev = name
		default:
			return nil, bad("unknown op 0x%02x", op)
		}
	}
	if i != len(old) {
		return nil, bad("the ops account for %d of the base's %d entries", i, len(old))
	}

	var data []byte
	switch {
	case dataLen > 0:
		data, err = decompress(frame, dict, dataLen)
		if err != nil {
			return nil, bad("data: %v", err)
		}
		if int64(len(data)) != dataLen {
			return nil, bad("data is %d bytes, the ops take %d", len(data), dataLen)
		}
	case len(frame) > 0:
		return nil, bad("%d bytes after the ops, which take no data", len(frame))
	}
	var off int64
	for _, t := range todo {
		mid := data[off : off+t.size : off+t.size]
		off += t.size
		if t.modify {
			b := make([]byte, 0, len(t.head)+len(mid)+len(t.tail))
			mid = append(append(append(b, t.head...), mid...), t.tail...)
		}
		nw[t.entry].Data = mid
	}
	out, err := archive.Encode(nw, lim.archive())
	if err != nil {
		if errors.Is(err, archive.ErrTooLarge) {
			return nil, fmt.Errorf("patch: %w: %w", ErrTooLarge, err)
		}
		return nil, bad("rebuilt entries: %v", err)
	}
	if int64(len(out)) != want.Size || sha256.Sum256(out) != want.SHA256 {
		return nil, bad("the rebuilt archive (%d bytes) does not match the signed size %d and sha256", len(out), want.Size)
	}
	return out, nil
}

// decompress decodes one zstd frame, made with dict as raw dictionary, of
// at most max bytes. The decoder's window and memory are bounded by
// Window(len(dict)+max). A decoder is built for each call: it holds the
// dictionary given.
func decompress(frame, dict []byte, max int64) ([]byte, error) {
	w := uint64(Window(int64(len(dict)) + max))
	dec, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxWindow(w),
		// The memory limit also caps the window a frame may declare, so
		// it must cover the window; the output itself is capped by dst's
		// capacity.
		zstd.WithDecoderMaxMemory(w),
		zstd.WithDecodeAllCapLimit(true),
		zstd.WithDecoderDictRaw(0, dict))
	if err != nil {
		return nil, fmt.Errorf("zstd decoder: %w", err)
	}
	defer dec.Close()
	return dec.DecodeAll(frame, make([]byte, 0, max))
}

// reader reads uvarints and byte strings from a delta, remembering the
// first error.
type reader struct {
	b   []byte
	err error
}

// uvarint reads one varint in its shortest encoding, at most max.
func (r *reader) uvarint(max uint64) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	switch {
	case n == 0:
		r.err = errors.New("truncated")
	case n < 0:
		r.err = errors.New("varint overflows 64 bits")
	case n > 1 && r.b[n-1] == 0:
		r.err = errors.New("varint is not in its shortest encoding")
	case v > max:
		r.err = fmt.Errorf("value %d out of range 0..%d", v, max)
	}
	if r.err != nil {
		return 0
	}
	r.b = r.b[n:]
	return v
}

// take returns the next n bytes.
func (r *reader) take(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = fmt.Errorf("truncated: %d bytes wanted, %d left", n, len(r.b))
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}
