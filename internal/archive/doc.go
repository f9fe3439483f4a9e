// Package archive packs a mini program's source tree into a deterministic
// tar, compresses it with zstd, and unpacks untrusted packages safely. The
// generator uses Pack and Compress; the device uses NewDecompressor and
// Unpack.
//
// # Determinism
//
// Pack writes the same bytes for the same tree on any machine and any run:
// entries are sorted by their stored name in byte order (directories end in
// "/", so each subtree is contiguous), every time is the Unix epoch,
// owners are uid/gid 0 with no user or group names, files are mode 0644 and
// directories 0755. Mini programs run inside a super app's JavaScript engine,
// so the executable bit means nothing to them and is not kept. The header
// format is USTAR, or PAX for names USTAR cannot hold, as archive/tar picks.
// Compress uses one encoder setting (SpeedBestCompression) and a window sized
// from the input length alone, so the compressed bytes and their sha256 are
// reproducible too.
//
// # What Pack takes and what it refuses
//
// Regular files and directories are packed. A symbolic link to a regular
// file inside the source tree is followed and stored as a regular file; a
// link that points outside the tree, to a directory, or nowhere is refused,
// as are sockets, pipes and devices. Version control metadata and desktop
// litter (.git, .hg, .svn, .DS_Store, Thumbs.db) are skipped wherever they
// occur; nothing else is skipped. Names must be valid UTF-8 without control
// characters or backslashes, and no two names may differ only in case,
// because phones often have case-insensitive file systems.
//
// # Unpacking untrusted input
//
// Unpack accepts only regular files and directories with relative, clean
// names, refuses duplicates and anything over [Limits], and creates files
// through an [os.Root] so that nothing can be written outside the
// destination, whatever the archive or the destination already holds.
// NewDecompressor bounds the zstd decoder's window and memory by the size the
// signed manifest declares, not by what the frame header claims.
//
// # Errors
//
// Every refusal is an [*Error] naming the operation and the path, wrapping
// one of the sentinel errors (ErrUnsafePath, ErrTooLarge, ErrUnsupported,
// ErrDuplicate, ErrEmpty, ErrMalformed, ErrChanged) for errors.Is.
package archive
