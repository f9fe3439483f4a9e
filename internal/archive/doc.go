// Package archive packs a mini program's source tree into a deterministic
// MPK1 archive, compresses it with zstd, and reads untrusted archives
// safely. The generator uses Pack and Compress; the device uses
// NewDecompressor and Unpack; deltas (internal/delta) use Parse, Encode and
// Compare.
//
// # The MPK1 format
//
// A mini program is about a thousand small files (the median is a few
// hundred bytes), so what surrounds the files weighs as much as how they
// are compressed: a tar spends 512 bytes of header and up to 511 of padding
// on each. MPK1 is a compact index followed by the contents:
//
//	"MPK1"
//	uvarint n                          number of files, at least 1
//	n × (uvarint p, uvarint s, s bytes) name: the first p bytes of the previous
//	                                   name, then s new bytes
//	n × uvarint ref                    0: the file's content is the next one
//	                                   stored; k > 0: the same content as the
//	                                   k-th stored content back
//	d × uvarint size                   size of each stored content (d = number
//	                                   of refs that are 0)
//	contents                           the d stored contents, back to back
//
// Files are in archive order (see Compare): by extension, then by name
// segment from the file name back up to the top directory, so files of one
// kind and name sit together and the compressor finds their likeness; each
// distinct content is stored once. Varints are the shortest encoding
// (encoding/binary's uvarint). There are no times, owners, modes or
// directory entries: directories are implied by the names of their files,
// every file unpacks as 0644 and every directory as 0755 (less the umask),
// since mini programs run inside a super app's JavaScript engine where none
// of these mean anything.
//
// # Determinism
//
// The same tree gives the same bytes on any machine and any run: Pack reads
// names and contents only, the order is fixed by the names, and Compress
// uses one encoder setting (SpeedBestCompression) and a window chosen from
// the input length alone, so the compressed blob and its sha256 are
// reproducible too.
//
// # What Pack takes and what it refuses
//
// Regular files are packed. A symbolic link to a regular file inside the
// source tree is followed and stored as a regular file; a link that points
// outside the tree, to a directory, or nowhere is refused, as are sockets,
// pipes and devices. Empty directories are not kept. Version control
// metadata and desktop litter (.git, .hg, .svn, .DS_Store, Thumbs.db) are
// skipped wherever they occur; nothing else is skipped. Names must be valid
// UTF-8 without control characters or backslashes, at most MaxNameLen
// bytes, and no two names may differ only in case, because phones often
// have case-insensitive file systems.
//
// # Reading untrusted input
//
// Parse (whole archives in memory) and Unpack (streams) accept exactly the
// archives Encode writes, up to how duplicate contents are shared: names in
// archive order with no duplicates, no case-only differences and no file
// where a directory is needed; safe names; every count and size within
// [Limits], checked before anything is allocated for it; no bytes after the
// end. Unpack creates files through an [os.Root] so that nothing can be
// written outside the destination, whatever the archive or the destination
// already holds. NewDecompressor bounds the zstd decoder's window and
// memory by the size the signed manifest declares, not by what the frame
// header claims.
//
// # Errors
//
// Every refusal is an [*Error] naming the operation and the path, wrapping
// one of the sentinel errors (ErrUnsafePath, ErrTooLarge, ErrUnsupported,
// ErrDuplicate, ErrEmpty, ErrMalformed, ErrChanged) for errors.Is.
package archive
