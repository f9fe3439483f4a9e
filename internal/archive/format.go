package archive

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
)

// Magic is the first four bytes of every MPK1 archive.
const Magic = "MPK1"

// Entry is one regular file of an archive: its slash-separated name relative
// to the package root, and its content. Entries returned by Parse alias the
// parsed bytes: do not modify Data.
type Entry struct {
	Name string
	Data []byte
}

// Compare orders names as they appear in an archive: by extension (the
// suffix of the last segment from its last dot, "" when there is none),
// then segment by segment from the file name back up to the top directory.
// Files of one kind and name (dist/button/index.js, lib/button/index.js)
// end up next to each other, which is where a compressor finds their
// likeness. It returns -1, 0 or +1, and 0 only for equal names.
func Compare(a, b string) int {
	if c := strings.Compare(path.Ext(a), path.Ext(b)); c != 0 {
		return c
	}
	for {
		ia, ib := strings.LastIndexByte(a, '/'), strings.LastIndexByte(b, '/')
		if c := strings.Compare(a[ia+1:], b[ib+1:]); c != 0 {
			return c
		}
		switch {
		case ia < 0 && ib < 0:
			return 0
		case ia < 0:
			return -1
		case ib < 0:
			return 1
		}
		a, b = a[:ia], b[:ib]
	}
}

// Encode returns the MPK1 archive of entries, which it does not modify: the
// entries in archive order (see Compare), identical contents stored once.
// Names must be valid (see the package documentation) and distinct, also
// when case is ignored, and no file may sit where another needs a
// directory; the archive must be within lim. The same entries, in any
// order, always give the same bytes. Errors are *Error values with Op
// "encode", wrapping ErrUnsafePath, ErrDuplicate, ErrTooLarge or ErrEmpty.
func Encode(entries []Entry, lim Limits) ([]byte, error) {
	lim = lim.withDefaults()
	if len(entries) == 0 {
		return nil, errorf("encode", "", "%w: no entries", ErrEmpty)
	}
	if len(entries) > lim.MaxFiles {
		return nil, errorf("encode", "", "%w: %d files, over the limit of %d", ErrTooLarge, len(entries), lim.MaxFiles)
	}
	es := slices.Clone(entries)
	slices.SortFunc(es, func(a, b Entry) int { return Compare(a.Name, b.Name) })
	var tr tree
	var content int64
	for _, e := range es {
		if err := checkName(e.Name); err != nil {
			return nil, &Error{Op: "encode", Path: e.Name, Err: err}
		}
		if err := tr.add(e.Name); err != nil {
			return nil, &Error{Op: "encode", Path: e.Name, Err: err}
		}
		if int64(len(e.Data)) > lim.MaxFileSize {
			return nil, errorf("encode", e.Name, "%w: file is %d bytes, over the %s per-file limit", ErrTooLarge, len(e.Data), mib(lim.MaxFileSize))
		}
		content += int64(len(e.Data))
		if content > lim.MaxRawSize {
			return nil, errorf("encode", e.Name, "%w: files add up to more than the %s raw size limit", ErrTooLarge, mib(lim.MaxRawSize))
		}
	}
	out := encode(es)
	if int64(len(out)) > lim.MaxRawSize {
		return nil, errorf("encode", "", "%w: archive is %d bytes, over the %s raw size limit", ErrTooLarge, len(out), mib(lim.MaxRawSize))
	}
	return out, nil
}

// encode writes sorted, checked entries.
func encode(es []Entry) []byte {
	var names, refs, sizes []byte
	var bodies [][]byte
	first := make(map[[sha256.Size]byte]int, len(es)) // content hash → index in bodies
	body := 0
	prev := ""
	for _, e := range es {
		cp := commonPrefix(prev, e.Name)
		names = binary.AppendUvarint(names, uint64(cp))
		names = binary.AppendUvarint(names, uint64(len(e.Name)-cp))
		names = append(names, e.Name[cp:]...)
		prev = e.Name
		h := sha256.Sum256(e.Data)
		if j, ok := first[h]; ok {
			refs = binary.AppendUvarint(refs, uint64(len(bodies)-j))
			continue
		}
		refs = binary.AppendUvarint(refs, 0)
		first[h] = len(bodies)
		bodies = append(bodies, e.Data)
		sizes = binary.AppendUvarint(sizes, uint64(len(e.Data)))
		body += len(e.Data)
	}
	out := make([]byte, 0, len(Magic)+binary.MaxVarintLen64+len(names)+len(refs)+len(sizes)+body)
	out = append(out, Magic...)
	out = binary.AppendUvarint(out, uint64(len(es)))
	out = append(out, names...)
	out = append(out, refs...)
	out = append(out, sizes...)
	for _, b := range bodies {
		out = append(out, b...)
	}
	return out
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// header is the part of an archive before the contents.
type header struct {
	names []string
	refs  []int   // per entry: index of its content in sizes
	sizes []int64 // per distinct content, in storage order
	total int64   // sum of sizes: the bytes of contents that follow
	files int64   // sum of the entries' sizes (duplicates counted each time)
}

// byteReader is what readHeader reads from: a *bytes.Reader or a
// *bufio.Reader.
type byteReader interface {
	io.Reader
	io.ByteReader
}

// readHeader reads and checks an archive header: magic, entry count, names
// (valid, in archive order, distinct also ignoring case, no file where a
// directory is needed), content references and sizes, all within lim.
// Every count and size is bounded before anything is allocated for it.
//
// size bounds the archive's length (the whole of it for Parse, the limit for
// Unpack): every entry takes at least three bytes of it, which bounds the
// entry count before the entries are allocated.
func readHeader(r byteReader, lim Limits, size int64) (*header, error) {
	var magic [len(Magic)]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, truncated("magic", err)
	}
	if string(magic[:]) != Magic {
		return nil, fmt.Errorf("%w: not an MPK1 archive (bad magic)", ErrMalformed)
	}
	n, err := readUvarint(r, uint64(lim.MaxFiles), "entry count", ErrTooLarge)
	if err != nil {
		return nil, err
	}
	if n > uint64(size/3) {
		return nil, fmt.Errorf("%w: %d entries cannot fit in %d bytes", ErrMalformed, n, size)
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: archive has no regular file", ErrEmpty)
	}
	h := &header{names: make([]string, n), refs: make([]int, n)}
	var tr tree
	prev := ""
	buf := make([]byte, MaxNameLen)
	for i := range h.names {
		cp, err := readUvarint(r, uint64(len(prev)), "name prefix", ErrMalformed)
		if err != nil {
			return nil, err
		}
		sl, err := readUvarint(r, uint64(MaxNameLen)-cp, "name length", ErrUnsafePath)
		if err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(r, buf[:sl]); err != nil {
			return nil, truncated("name", err)
		}
		name := prev[:cp] + string(buf[:sl])
		if err := checkName(name); err != nil {
			return nil, &Error{Op: "", Path: name, Err: err}
		}
		if i > 0 && Compare(prev, name) >= 0 {
			if prev == name {
				return nil, &Error{Path: name, Err: fmt.Errorf("%w: %s appears twice", ErrDuplicate, name)}
			}
			return nil, &Error{Path: name, Err: fmt.Errorf("%w: entry %s is out of archive order (after %s)", ErrMalformed, name, prev)}
		}
		if err := tr.add(name); err != nil {
			return nil, &Error{Path: name, Err: err}
		}
		h.names[i], prev = name, name
	}
	distinct := 0
	for i := range h.refs {
		back, err := readUvarint(r, uint64(distinct), "content reference", ErrMalformed)
		if err != nil {
			return nil, err
		}
		if back == 0 {
			h.refs[i] = distinct
			distinct++
		} else {
			h.refs[i] = distinct - int(back)
		}
	}
	h.sizes = make([]int64, distinct)
	for i := range h.sizes {
		s, err := readUvarint(r, uint64(lim.MaxFileSize), "content size", ErrTooLarge)
		if err != nil {
			var ae *Error
			if errors.As(err, &ae) && errors.Is(err, ErrTooLarge) {
				ae.Path = h.names[slices.Index(h.refs, i)]
			}
			return nil, err
		}
		h.sizes[i] = int64(s)
		h.total += int64(s)
		if h.total > lim.MaxRawSize {
			return nil, fmt.Errorf("%w: contents add up to more than the %s raw size limit", ErrTooLarge, mib(lim.MaxRawSize))
		}
	}
	// Duplicates are stored once but written out each time: bound what
	// they unpack to as well.
	for i, ref := range h.refs {
		h.files += h.sizes[ref]
		if h.files > lim.MaxRawSize {
			return nil, &Error{Path: h.names[i], Err: fmt.Errorf("%w: files add up to more than the %s raw size limit", ErrTooLarge, mib(lim.MaxRawSize))}
		}
	}
	return h, nil
}

// readUvarint reads one varint in its shortest encoding and refuses values
// above max.
// A value above max is an error wrapping over.
func readUvarint(r io.ByteReader, max uint64, what string, over error) (uint64, error) {
	var v uint64
	for i := 0; i < binary.MaxVarintLen64; i++ {
		c, err := r.ReadByte()
		if err != nil {
			if i > 0 && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, truncated(what, err)
		}
		if c >= 0x80 {
			v |= uint64(c&0x7f) << (7 * i)
			continue
		}
		if (i > 0 && c == 0) || (i == binary.MaxVarintLen64-1 && c > 1) {
			return 0, fmt.Errorf("%w: %s is not a shortest varint", ErrMalformed, what)
		}
		v |= uint64(c) << (7 * i)
		if v > max {
			return 0, &Error{Err: fmt.Errorf("%w: %s %d out of range 0..%d", over, what, v, max)}
		}
		return v, nil
	}
	return 0, fmt.Errorf("%w: %s overflows 64 bits", ErrMalformed, what)
}

// Parse checks that b is one whole MPK1 archive within lim and returns its
// entries in archive order; their Data alias b. It refuses, with an *Error
// (Op "parse"):
//   - anything but the format: bad magic, truncation, trailing bytes,
//     content references that point nowhere (ErrMalformed);
//   - entries out of archive order, the same name twice, names that differ
//     only in case, a file where another entry needs a directory
//     (ErrMalformed or ErrDuplicate);
//   - unsafe names (ErrUnsafePath), no entry at all (ErrEmpty);
//   - more than lim.MaxFiles entries, a file over lim.MaxFileSize, an
//     archive or a sum of file sizes (duplicates counted each time) over
//     lim.MaxRawSize (ErrTooLarge).
//
// Parse allocates in proportion to the number of entries, never to a size
// read from b. It is safe for concurrent use.
func Parse(b []byte, lim Limits) ([]Entry, error) {
	lim = lim.withDefaults()
	if int64(len(b)) > lim.MaxRawSize {
		return nil, errorf("parse", "", "%w: archive is %d bytes, over the %s raw size limit", ErrTooLarge, len(b), mib(lim.MaxRawSize))
	}
	r := bytes.NewReader(b)
	h, err := readHeader(r, lim, int64(len(b)))
	if err != nil {
		return nil, opErr("parse", err)
	}
	rest := b[len(b)-r.Len():]
	if int64(len(rest)) != h.total {
		return nil, errorf("parse", "", "%w: contents are %d bytes, the header says %d", ErrMalformed, len(rest), h.total)
	}
	bodies := make([][]byte, len(h.sizes))
	for i, s := range h.sizes {
		bodies[i], rest = rest[:s:s], rest[s:]
	}
	es := make([]Entry, len(h.names))
	for i, name := range h.names {
		es[i] = Entry{Name: name, Data: bodies[h.refs[i]]}
	}
	return es, nil
}

// opErr sets the operation of an error from readHeader, making it an
// *Error if it is not one.
func opErr(op string, err error) error {
	if ae, ok := err.(*Error); ok {
		ae.Op = op
		return ae
	}
	return &Error{Op: op, Err: err}
}

// tree records the names of an archive as a tree of path segments, to
// refuse duplicates, names that differ only in case (phones often have
// case-insensitive file systems), and a file where another name needs a
// directory. Its cost is linear in the total length of the names.
type tree struct {
	nodes map[treeKey]*treeNode
	next  int32
}

type treeKey struct {
	parent int32  // 0 for the root
	seg    string // the segment, folded
}

type treeNode struct {
	id   int32
	name string // the full name up to this segment, as first seen
	file bool
}

func (t *tree) add(name string) error {
	if t.nodes == nil {
		t.nodes = make(map[treeKey]*treeNode)
	}
	var parent int32
	end := 0
	for end < len(name) {
		i := strings.IndexByte(name[end:], '/')
		last := i < 0
		if last {
			end = len(name)
		} else {
			end += i
		}
		full := name[:end]
		start := strings.LastIndexByte(full, '/') + 1
		k := treeKey{parent: parent, seg: foldKey(full[start:])}
		nd, ok := t.nodes[k]
		switch {
		case !ok:
			t.next++
			nd = &treeNode{id: t.next, name: full, file: last}
			t.nodes[k] = nd
		case nd.name != full:
			return fmt.Errorf("%w: %s and %s differ only in case", ErrDuplicate, nd.name, full)
		case last && nd.file:
			return fmt.Errorf("%w: %s appears twice", ErrDuplicate, name)
		case last:
			return fmt.Errorf("%w: %s is a file but other entries need it to be a directory", ErrDuplicate, name)
		case nd.file:
			return fmt.Errorf("%w: %s is a file but %s needs it to be a directory", ErrDuplicate, full, name)
		}
		parent = nd.id
		end++ // past the '/'
	}
	return nil
}

// newHeaderReader buffers r for readHeader.
func newHeaderReader(r io.Reader) *bufio.Reader {
	if br, ok := r.(*bufio.Reader); ok {
		return br
	}
	return bufio.NewReaderSize(r, 64<<10)
}
