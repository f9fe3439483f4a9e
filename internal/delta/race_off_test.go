//go:build !race

package delta

// raceEnabled is true under the race detector, which makes the zstd
// encoder about twenty times slower: tests then diff fewer pairs.
const raceEnabled = false
