package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/mpship/mpship/store"
)

// testHookEnv names the environment variable of a hidden switch of
// 'mpship release' for crash and race tests, which need a publisher to stop
// at a known point so that they can SIGKILL it there, or let two of them
// go on at once. Unset (always, outside those tests) it does nothing.
//
// Its value is WHEN:N. N counts the release's writes to the store (Put and
// PutIf calls: blobs, then the release manifest, then the channel
// manifest), from 1. WHEN is
//
//	before  stop before the Nth write starts
//	during  stop when the store has read half of the Nth write's body
//	after   stop after the Nth write returned
//
// Stopped, the release prints one line on stderr,
//
//	mpship: test hook: paused WHEN write N (KEY)
//
// holds back every other write (new ones, and the bodies of those in
// flight) and waits for a line on standard input, then goes on; when
// standard input ends instead, the release fails.
const testHookEnv = "MPSHIP_TEST_HOOK_PAUSE"

// withTestHook wraps st in the test hook when testHookEnv is set, reading
// standard input from in and announcing on out.
func withTestHook(st store.Store, in io.Reader, out io.Writer) (store.Store, error) {
	v, ok := os.LookupEnv(testHookEnv)
	if !ok {
		return st, nil
	}
	when, num, _ := strings.Cut(v, ":")
	n, err := strconv.Atoi(num)
	if (when != "before" && when != "during" && when != "after") || err != nil || n < 1 {
		return nil, fmt.Errorf("%s=%q: want before, during or after, a colon and a write number from 1, like after:2", testHookEnv, v)
	}
	if in == nil {
		in = strings.NewReader("")
	}
	if out == nil {
		out = io.Discard
	}
	return &pauseStore{Store: st, when: when, n: n, in: bufio.NewReader(in), out: out}, nil
}

// pauseStore is the test hook's store decorator. It is safe for concurrent
// use.
type pauseStore struct {
	store.Store
	when string
	n    int
	in   *bufio.Reader
	out  io.Writer

	mu     sync.Mutex
	writes int
	hold   chan struct{} // closed when the pause ends; nil before it
}

func (p *pauseStore) Put(ctx context.Context, key string, r io.Reader, size int64, meta store.Meta) error {
	_, err := p.write(ctx, key, r, size, func(r io.Reader) (store.Info, error) {
		return store.Info{}, p.Store.Put(ctx, key, r, size, meta)
	})
	return err
}

func (p *pauseStore) PutIf(ctx context.Context, key string, r io.Reader, size int64, meta store.Meta, cond store.Condition) (store.Info, error) {
	return p.write(ctx, key, r, size, func(r io.Reader) (store.Info, error) {
		return p.Store.PutIf(ctx, key, r, size, meta, cond)
	})
}

func (p *pauseStore) write(ctx context.Context, key string, r io.Reader, size int64, put func(io.Reader) (store.Info, error)) (store.Info, error) {
	if err := p.wait(ctx); err != nil {
		return store.Info{}, err
	}
	p.mu.Lock()
	p.writes++
	mine := p.writes == p.n
	p.mu.Unlock()
	what := fmt.Sprintf("write %d (%s)", p.n, key)
	if mine && p.when == "before" {
		if err := p.pause(ctx, "before "+what); err != nil {
			return store.Info{}, err
		}
	}
	body := &pauseReader{r: r, p: p, ctx: ctx, half: -1}
	if mine && p.when == "during" {
		body.half, body.what = size/2, "during "+what
	}
	info, err := put(body)
	if err == nil {
		err = body.err
	}
	if mine && p.when == "after" && err == nil {
		if perr := p.pause(ctx, "after "+what); perr != nil {
			return store.Info{}, perr
		}
	}
	return info, err
}

// pause holds every write, announces the stop and waits for a line on
// standard input.
func (p *pauseStore) pause(ctx context.Context, what string) error {
	hold := make(chan struct{})
	p.mu.Lock()
	p.hold = hold
	p.mu.Unlock()
	defer close(hold)
	fmt.Fprintf(p.out, "mpship: test hook: paused %s\n", what)
	line := make(chan error, 1)
	go func() {
		_, err := p.in.ReadString('\n')
		line <- err
	}()
	select {
	case err := <-line:
		if err != nil {
			return fmt.Errorf("test hook (%s): standard input ended while paused %s: %w", testHookEnv, what, err)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// wait blocks while a pause holds the writes.
func (p *pauseStore) wait(ctx context.Context) error {
	p.mu.Lock()
	hold := p.hold
	p.mu.Unlock()
	if hold == nil {
		return nil
	}
	select {
	case <-hold:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pauseReader is a write's body: it holds while a pause does, and for the
// write paused during its upload, pauses when half of it was read. It
// seeks when the body does, so a backend can still rewind it.
type pauseReader struct {
	r    io.Reader
	p    *pauseStore
	ctx  context.Context
	half int64 // pause when this many bytes were read; -1: never
	what string
	read int64
	err  error // the pause's failure, if any
}

func (b *pauseReader) Read(buf []byte) (int, error) {
	if err := b.p.wait(b.ctx); err != nil {
		return 0, err
	}
	if b.half >= 0 && b.read+int64(len(buf)) > b.half {
		if b.read < b.half {
			buf = buf[:b.half-b.read]
		} else {
			b.half = -1
			if err := b.p.pause(b.ctx, b.what); err != nil {
				b.err = err
				return 0, err
			}
		}
	}
	n, err := b.r.Read(buf)
	b.read += int64(n)
	return n, err
}

func (b *pauseReader) Seek(offset int64, whence int) (int64, error) {
	s, ok := b.r.(io.Seeker)
	if !ok {
		return 0, fmt.Errorf("test hook: body of type %T cannot seek", b.r)
	}
	pos, err := s.Seek(offset, whence)
	if err == nil {
		b.read = pos
	}
	return pos, err
}

// Compile-time check.
var _ store.Store = (*pauseStore)(nil)
