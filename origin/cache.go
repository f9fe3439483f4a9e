package origin

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/mpship/mpship/store"
)

// errTooLarge: the object is larger than MaxCachedObject; stream it.
var errTooLarge = errors.New("object too large to cache")

// entry is one cached object. Entries are never modified once shared:
// revalidation puts a copy with a new expiry.
type entry struct {
	key         string
	data        []byte
	backendETag string // Info.ETag, for conditional Gets
	etag        string // quoted sha256 of data
	contentType string
	immutable   bool      // never revalidated
	expires     time.Time // revalidate from then on
}

// entryOverhead approximates the memory of an entry beyond its data.
const entryOverhead = 256

func (e *entry) cost() int64 { return int64(len(e.data)+len(e.key)) + entryOverhead }

// fresh reports whether e may be served at now without asking the store.
func (e *entry) fresh(now time.Time) bool { return e.immutable || now.Before(e.expires) }

type fillResult struct {
	e       *entry
	outcome string
}

// cached returns the cached entry for key, filling or revalidating it from
// the store when it is missing or expired. Concurrent calls for one key
// share one store request.
func (s *Server) cached(ctx context.Context, key string, immutable bool) (*entry, string, error) {
	if e := s.cache.get(key); e != nil && e.fresh(s.now()) {
		return e, cacheHit, nil
	}
	ch := s.fills.DoChan(key, func() (any, error) {
		return s.fill(ctx, key, immutable)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, cacheNone, res.Err
		}
		f := res.Val.(fillResult)
		return f.e, f.outcome, nil
	case <-ctx.Done():
		return nil, cacheNone, ctx.Err()
	}
}

// fill runs once per key at a time (singleflight). Its context is detached
// from the request that started it, since other requests wait on it too.
func (s *Server) fill(reqCtx context.Context, key string, immutable bool) (fillResult, error) {
	now := s.now()
	old := s.cache.get(key)
	if old != nil && old.fresh(now) {
		// Filled by the flight that ended just before this one started.
		return fillResult{old, cacheHit}, nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(reqCtx), s.timeout)
	defer cancel()
	var opts store.GetOptions
	if old != nil {
		opts.IfNoneMatch = old.backendETag
	}
	e, err := s.fetch(ctx, key, opts)
	switch {
	case err == nil:
		e.immutable = immutable
		e.expires = now.Add(s.ttl)
		s.cache.put(e)
		return fillResult{e, cacheMiss}, nil
	case errors.Is(err, store.ErrNotModified) && old != nil:
		e := *old
		e.expires = now.Add(s.ttl)
		s.cache.put(&e)
		return fillResult{&e, cacheRevalidated}, nil
	case errors.Is(err, store.ErrNotExist), errors.Is(err, errTooLarge):
		s.cache.remove(key)
		return fillResult{}, err
	}
	if old != nil && s.staleIfErr >= 0 && now.Before(old.expires.Add(s.staleIfErr)) {
		s.log.LogAttrs(reqCtx, slog.LevelWarn, "store failed; serving cached copy",
			slog.String("key", key), slog.String("store", s.st.Location()),
			slog.Duration("stale_for", now.Sub(old.expires)), slog.Any("err", err))
		return fillResult{old, cacheStale}, nil
	}
	return fillResult{}, err
}

// fetch reads a whole object of at most MaxCachedObject bytes into a new
// entry.
func (s *Server) fetch(ctx context.Context, key string, opts store.GetOptions) (*entry, error) {
	obj, err := s.st.Get(ctx, key, opts)
	if err != nil {
		return nil, err
	}
	defer obj.Body.Close()
	if obj.Info.Size > MaxCachedObject {
		return nil, errTooLarge
	}
	data, err := io.ReadAll(io.LimitReader(obj.Body, MaxCachedObject+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("read %s: %w", key, err)
	case len(data) > MaxCachedObject:
		return nil, errTooLarge
	case int64(len(data)) != obj.Info.Size:
		return nil, fmt.Errorf("read %s: got %d bytes, want %d: %w", key, len(data), obj.Info.Size, io.ErrUnexpectedEOF)
	}
	sum := sha256.Sum256(data)
	hexSum := hex.EncodeToString(sum[:])
	if m := obj.Info.Meta.SHA256; m != "" && m != hexSum {
		// The bytes are what we serve, so their hash is the ETag; the
		// stored metadata is wrong and a publisher should hear of it.
		s.log.LogAttrs(ctx, slog.LevelError, "stored sha256 does not match the object; using the object's",
			slog.String("key", key), slog.String("store", s.st.Location()),
			slog.String("stored", m), slog.String("actual", hexSum))
	}
	return &entry{
		key:         key,
		data:        data,
		backendETag: obj.Info.ETag,
		etag:        `"` + hexSum + `"`,
		contentType: obj.Info.Meta.ContentType,
	}, nil
}

// lru is a byte-bounded least-recently-used map of entries, safe for
// concurrent use.
type lru struct {
	mu    sync.Mutex
	max   int64
	used  int64
	order *list.List // of *entry, most recent first
	items map[string]*list.Element
}

func newLRU(max int64) *lru {
	return &lru{max: max, order: list.New(), items: make(map[string]*list.Element)}
}

func (c *lru) get(key string) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil
	}
	c.order.MoveToFront(el)
	return el.Value.(*entry)
}

// put inserts or replaces e, evicting the least recently used entries to
// stay within the bound. An entry larger than the bound is not kept.
func (c *lru) put(e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[e.key]; ok {
		c.used -= el.Value.(*entry).cost()
		c.order.Remove(el)
		delete(c.items, e.key)
	}
	if e.cost() > c.max {
		return
	}
	c.items[e.key] = c.order.PushFront(e)
	c.used += e.cost()
	for c.used > c.max {
		old := c.order.Remove(c.order.Back()).(*entry)
		delete(c.items, old.key)
		c.used -= old.cost()
	}
}

func (c *lru) remove(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.used -= el.Value.(*entry).cost()
		c.order.Remove(el)
		delete(c.items, key)
	}
}

// stats returns the number of entries and their cost in bytes.
func (c *lru) stats() (entries int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items), c.used
}
