// Package minio is the store.Store backend on a MinIO server (or another
// S3-compatible service), through minio-go. Its URL is
// minio://HOST:PORT/BUCKET/PREFIX, over TLS unless the URL ends in
// ?tls=false.
//
// Credentials come from MINIO_ROOT_USER and MINIO_ROOT_PASSWORD, else
// MINIO_ACCESS_KEY and MINIO_SECRET_KEY; Options override them. Requests
// use path-style addressing (http://host:port/bucket/key).
//
// Objects carry Content-Type and Cache-Control as their own HTTP headers and
// the content's sha256 as user metadata (x-amz-meta-sha256), so a CDN can
// serve the bucket directly. Objects larger than Options.PartSize go up as
// multipart uploads, which MinIO makes visible only when complete.
//
// PutIf sends If-Match or If-None-Match: * with a single PUT, which MinIO
// evaluates atomically with the write.
package minio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/mpship/mpship/store"
	"github.com/mpship/mpship/store/internal/s3wire"
)

// Defaults and limits of Options.
const (
	// DefaultPartSize is the size of each part of a multipart upload, and
	// the object size from which Put uses one.
	DefaultPartSize = 16 << 20
	// MinPartSize is the smallest part S3 accepts (all but the last).
	MinPartSize = 5 << 20
	// DefaultConcurrency is how many parts of one object upload at once.
	DefaultConcurrency = 4
	// DefaultMaxAttempts is how many times minio-go tries a request that
	// failed transiently.
	DefaultMaxAttempts = 3
	// MaxObjectSize is the largest object Put accepts (S3's limit).
	MaxObjectSize = 5 << 40
	// MaxPutIfSize is the largest object PutIf accepts: a conditional put
	// is one PUT request, so the condition and the write are one step.
	MaxPutIfSize = 5 << 30
)

// Options configure Open and New. The zero value takes credentials from
// the environment.
type Options struct {
	// HTTPClient's Transport carries the requests (minio-go takes a
	// RoundTripper, so the client's Timeout and CheckRedirect do not
	// apply). Default nil: minio-go's own transport.
	HTTPClient *http.Client
	// AccessKey and SecretKey are the credentials. Default: the
	// environment, MINIO_ROOT_USER / MINIO_ROOT_PASSWORD, else
	// MINIO_ACCESS_KEY / MINIO_SECRET_KEY.
	AccessKey, SecretKey string
	// Region is the region requests are signed for. Default "us-east-1",
	// MinIO's default.
	Region string
	// PartSize is the size of each part of a multipart upload. Default
	// DefaultPartSize (16 MiB); at least MinPartSize.
	PartSize uint64
	// Concurrency is how many parts of one object upload at once. Default
	// DefaultConcurrency (4).
	Concurrency uint
	// MaxAttempts is how many times minio-go tries a request that failed
	// transiently. Default DefaultMaxAttempts (3); 1 disables its retries.
	// Puts from a plain io.Reader are never retried, as the body cannot be
	// read again.
	MaxAttempts int
}

// Store is a store.Store on a MinIO bucket under a key prefix. It is safe
// for concurrent use.
type Store struct {
	client   *minio.Client
	bucket   string
	prefix   string // "" or ends with "/"
	loc      string // minio://host:port/bucket/prefix
	endpoint string // http(s)://host:port, for messages
	opts     Options
}

// Open returns the Store for minio://HOST:PORT/BUCKET[/PREFIX][?tls=false].
// The URL may carry no credentials: set them in the environment or Options.
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, &store.Error{Op: "open", Location: "minio://", Err: fmt.Errorf("not a URL: %w; want minio://HOST:PORT/BUCKET/PREFIX", err)}
	}
	loc := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	fail := func(err error) (*Store, error) {
		return nil, &store.Error{Op: "open", Location: loc, Err: err}
	}
	if u.Scheme != "minio" || u.Host == "" || u.Opaque != "" || u.Fragment != "" {
		return fail(errors.New("want minio://HOST:PORT/BUCKET/PREFIX"))
	}
	if u.User != nil {
		return fail(errors.New("credentials do not belong in the URL; set MINIO_ROOT_USER and MINIO_ROOT_PASSWORD (or MINIO_ACCESS_KEY and MINIO_SECRET_KEY)"))
	}
	secure := true
	for k, v := range u.Query() {
		switch {
		case k == "tls" && len(v) == 1 && (v[0] == "true" || v[0] == "false"):
			secure = v[0] == "true"
		default:
			return fail(fmt.Errorf("unknown URL parameter %s=%s; the only one is tls=false (plain HTTP)", k, strings.Join(v, ",")))
		}
	}
	bucket, prefix, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	return New(u.Host, secure, bucket, prefix, opts)
}

// New returns the Store for bucket and a key prefix ("" for the whole
// bucket) on the server at endpoint (host:port), over TLS when secure. It
// makes no request: a wrong bucket or credentials show in the first
// operation's error.
func New(endpoint string, secure bool, bucket, prefix string, opts Options) (*Store, error) {
	prefix = strings.Trim(prefix, "/")
	loc := "minio://" + endpoint + "/" + bucket
	if prefix != "" {
		loc += "/" + prefix
	}
	fail := func(err error) (*Store, error) {
		return nil, &store.Error{Op: "open", Location: loc, Err: err}
	}
	if _, _, err := net.SplitHostPort(endpoint); err != nil {
		return fail(fmt.Errorf("endpoint %q is not HOST:PORT", endpoint))
	}
	if err := validBucket(bucket); err != nil {
		return fail(err)
	}
	if prefix != "" {
		if err := store.ValidateKey(prefix); err != nil {
			return fail(fmt.Errorf("prefix: %w", err))
		}
		prefix += "/"
	}
	if opts.AccessKey == "" && opts.SecretKey == "" {
		opts.AccessKey, opts.SecretKey = os.Getenv("MINIO_ROOT_USER"), os.Getenv("MINIO_ROOT_PASSWORD")
		if opts.AccessKey == "" && opts.SecretKey == "" {
			opts.AccessKey, opts.SecretKey = os.Getenv("MINIO_ACCESS_KEY"), os.Getenv("MINIO_SECRET_KEY")
		}
	}
	if opts.AccessKey == "" || opts.SecretKey == "" {
		return fail(errors.New("no MinIO credentials: set MINIO_ROOT_USER and MINIO_ROOT_PASSWORD (or MINIO_ACCESS_KEY and MINIO_SECRET_KEY)"))
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.PartSize == 0 {
		opts.PartSize = DefaultPartSize
	}
	if opts.Concurrency == 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.MaxAttempts == 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.PartSize < MinPartSize || opts.MaxAttempts < 0 {
		return fail(fmt.Errorf("PartSize %d must be at least %d bytes and MaxAttempts %d not negative", opts.PartSize, MinPartSize, opts.MaxAttempts))
	}
	mo := &minio.Options{
		Creds:        credentials.NewStaticV4(opts.AccessKey, opts.SecretKey, ""),
		Secure:       secure,
		Region:       opts.Region,
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   opts.MaxAttempts,
	}
	if opts.HTTPClient != nil && opts.HTTPClient.Transport != nil {
		mo.Transport = opts.HTTPClient.Transport
	}
	client, err := minio.New(endpoint, mo)
	if err != nil {
		return fail(err)
	}
	scheme := "https://"
	if !secure {
		scheme = "http://"
	}
	return &Store{client: client, bucket: bucket, prefix: prefix, loc: loc, endpoint: scheme + endpoint, opts: opts}, nil
}

// validBucket applies S3's bucket naming rules that matter for a URL:
// 3-63 characters of lowercase letters, digits, '.' and '-'.
func validBucket(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return fmt.Errorf("bucket name %q must be 3 to 63 characters; want minio://HOST:PORT/BUCKET/PREFIX", b)
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return fmt.Errorf("bucket name %q may hold only lowercase letters, digits, '.' and '-'", b)
		}
	}
	return nil
}

// Location returns minio://HOST:PORT/BUCKET/PREFIX (without ?tls=false).
func (s *Store) Location() string { return s.loc }

// Client returns the underlying minio-go client, for operations outside
// store.Store.
func (s *Store) Client() *minio.Client { return s.client }

// Capabilities reports conditional puts enforced by the server.
func (s *Store) Capabilities() store.Capabilities {
	return store.Capabilities{ConditionalPut: true, MaxPutSize: MaxObjectSize}
}

func (s *Store) objectKey(key string) string { return s.prefix + key }

func (s *Store) fail(op, key string, err error) error {
	return &store.Error{Op: op, Location: s.loc, Key: key, Err: err}
}

// start validates key and ctx for an operation.
func (s *Store) start(ctx context.Context, op, key string) error {
	if err := store.ValidateKey(key); err != nil {
		return s.fail(op, key, err)
	}
	if err := ctx.Err(); err != nil {
		return s.fail(op, key, err)
	}
	return nil
}

// Get opens key. With a Range the request carries an HTTP Range header
// and Info.Size comes from the response's Content-Range.
func (s *Store) Get(ctx context.Context, key string, opts store.GetOptions) (*store.Object, error) {
	if err := s.start(ctx, "get", key); err != nil {
		return nil, err
	}
	var gopts minio.GetObjectOptions
	if opts.IfNoneMatch != "" {
		if err := gopts.SetMatchETagExcept(s3wire.UnquoteETag(opts.IfNoneMatch)); err != nil {
			return nil, s.fail("get", key, err)
		}
	}
	if opts.Range != nil {
		h, err := s3wire.RangeHeader(*opts.Range)
		if err != nil {
			return nil, s.fail("get", key, err)
		}
		gopts.Set("Range", h)
	}
	core := minio.Core{Client: s.client}
	body, oi, hdr, err := core.GetObject(ctx, s.bucket, s.objectKey(key), gopts)
	if err != nil {
		return nil, s.fail("get", key, s.classify(ctx, err))
	}
	obj := &store.Object{Info: s.info(key, oi), Body: body}
	if opts.Range != nil {
		rng, total, err := s3wire.ParseContentRange(hdr.Get("Content-Range"))
		if err != nil {
			body.Close()
			return nil, s.fail("get", key, fmt.Errorf("range response from %s: %w", s.endpoint, err))
		}
		obj.Info.Size = total
		obj.Range = &rng
	}
	return obj, nil
}

// info converts minio-go's description of key.
func (s *Store) info(key string, oi minio.ObjectInfo) store.Info {
	return store.Info{
		Key:     key,
		Size:    oi.Size,
		ETag:    s3wire.QuoteETag(oi.ETag),
		ModTime: oi.LastModified,
		Meta: store.Meta{
			ContentType:  oi.ContentType,
			CacheControl: oi.Metadata.Get("Cache-Control"),
			SHA256:       oi.Metadata.Get("X-Amz-Meta-" + s3wire.MetaSHA256),
		},
	}
}

// Stat returns key's Info from a HEAD request.
func (s *Store) Stat(ctx context.Context, key string) (store.Info, error) {
	if err := s.start(ctx, "stat", key); err != nil {
		return store.Info{}, err
	}
	oi, err := s.client.StatObject(ctx, s.bucket, s.objectKey(key), minio.StatObjectOptions{})
	if err != nil {
		return store.Info{}, s.fail("stat", key, s.classify(ctx, err))
	}
	return s.info(key, oi), nil
}

// Put uploads key. An empty meta.SHA256 is computed (buffering the body in
// memory below PartSize, else in a temporary file); a set one is checked
// against the bytes, and a mismatch fails the put.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, meta store.Meta) error {
	_, err := s.put(ctx, key, r, size, meta, store.Condition{})
	return err
}

// PutIf uploads key in one PUT request carrying If-Match (cond.IfMatch) or
// If-None-Match: * (cond.IfNoneMatch); a failed condition wraps
// store.ErrPrecondition. Objects are limited to MaxPutIfSize. The returned
// Info's ModTime is this machine's clock, to the second.
func (s *Store) PutIf(ctx context.Context, key string, r io.Reader, size int64, meta store.Meta, cond store.Condition) (store.Info, error) {
	if (cond.IfMatch != "") == cond.IfNoneMatch {
		return store.Info{}, s.fail("put", key, errors.New("PutIf needs exactly one of Condition.IfMatch and Condition.IfNoneMatch"))
	}
	return s.put(ctx, key, r, size, meta, cond)
}

func (s *Store) put(ctx context.Context, key string, r io.Reader, size int64, meta store.Meta, cond store.Condition) (store.Info, error) {
	const op = "put"
	if err := s.start(ctx, op, key); err != nil {
		return store.Info{}, err
	}
	conditional := cond.IfMatch != "" || cond.IfNoneMatch
	limit := int64(MaxObjectSize)
	if conditional {
		limit = MaxPutIfSize
	}
	if size < 0 || size > limit {
		return store.Info{}, s.fail(op, key, fmt.Errorf("size %d out of range 0 to %d bytes", size, limit))
	}
	r = s3wire.ContextReader(ctx, r)
	if meta.SHA256 == "" {
		body, sum, cleanup, err := s3wire.Spool(r, size, int64(s.opts.PartSize))
		if err != nil {
			return store.Info{}, s.fail(op, key, fmt.Errorf("read body: %w; nothing written", err))
		}
		defer cleanup()
		r, meta.SHA256 = body, sum
	} else if !s3wire.ValidSHA256(meta.SHA256) {
		return store.Info{}, s.fail(op, key, fmt.Errorf("Meta.SHA256 %q is not 64 lowercase hex digits", meta.SHA256))
	}

	body := s3wire.NewSizedReader(r, size, meta.SHA256)
	if size == 0 {
		// minio-go does not read the body of an empty object; check that
		// it is empty (and hashes right) before writing.
		var b [1]byte
		if _, err := body.Read(b[:]); err != io.EOF {
			return store.Info{}, s.fail(op, key, fmt.Errorf("read body: %w; nothing written", err))
		}
	}
	popts := minio.PutObjectOptions{
		ContentType:  meta.ContentType,
		CacheControl: meta.CacheControl,
		UserMetadata: map[string]string{s3wire.MetaSHA256: meta.SHA256},
		PartSize:     s.opts.PartSize,
		NumThreads:   s.opts.Concurrency,
		// The condition must travel with the one request that commits.
		DisableMultipart: conditional,
	}
	switch {
	case cond.IfMatch != "":
		popts.SetMatchETag(s3wire.UnquoteETag(cond.IfMatch))
	case cond.IfNoneMatch:
		popts.SetMatchETagExcept("*")
	}
	ui, err := s.client.PutObject(ctx, s.bucket, s.objectKey(key), body, size, popts)
	if err != nil && ctx.Err() != nil {
		return store.Info{}, s.fail(op, key, fmt.Errorf("%w; nothing written", ctx.Err()))
	}
	if berr := body.Err(); berr != nil {
		return store.Info{}, s.fail(op, key, fmt.Errorf("read body: %w; nothing written", berr))
	}
	if err != nil {
		err = s.classify(ctx, err)
		if cond.IfMatch != "" && errors.Is(err, store.ErrNotExist) {
			// If-Match on a missing key: the condition failed.
			err = fmt.Errorf("%w: no object to match ETag %s (%v)", store.ErrPrecondition, cond.IfMatch, err)
		}
		return store.Info{}, s.fail(op, key, err)
	}
	mod := ui.LastModified
	if mod.IsZero() {
		mod = time.Now().Truncate(time.Second)
	}
	return store.Info{Key: key, Size: size, ETag: s3wire.QuoteETag(ui.ETag), ModTime: mod, Meta: meta}, nil
}

// List lists keys under prefix with MinIO's metadata listing extension, so
// one request per 1000 keys returns their Meta too; an object whose listing
// lacks metadata (a server without the extension) is Stat-ed. Keys under
// the store's prefix that are not valid store keys (written by other tools)
// are skipped.
func (s *Store) List(ctx context.Context, prefix string, fn func(store.Info) error) error {
	if err := store.ValidatePrefix(prefix); err != nil {
		return s.fail("list", prefix, err)
	}
	if err := ctx.Err(); err != nil {
		return s.fail("list", prefix, err)
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops minio-go's listing goroutine when fn ends early
	for oi := range s.client.ListObjects(lctx, s.bucket, minio.ListObjectsOptions{
		Prefix:       s.objectKey(prefix),
		Recursive:    true,
		WithMetadata: true,
	}) {
		if oi.Err != nil {
			return s.fail("list", prefix, s.classify(ctx, oi.Err))
		}
		key, ok := strings.CutPrefix(oi.Key, s.prefix)
		if !ok || store.ValidateKey(key) != nil {
			continue
		}
		info, found, err := s.listedInfo(ctx, key, oi)
		if err != nil {
			return err
		}
		if !found {
			continue
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return s.fail("list", prefix, err)
	}
	return nil
}

// listedInfo turns a listing entry into Info, from the listed metadata
// when the server sent it and from a Stat otherwise. found is false for an
// object deleted since the listing.
func (s *Store) listedInfo(ctx context.Context, key string, oi minio.ObjectInfo) (store.Info, bool, error) {
	if oi.UserMetadata != nil {
		h := http.Header{}
		for k, v := range oi.UserMetadata {
			h.Set(k, v)
		}
		info := store.Info{
			Key:     key,
			Size:    oi.Size,
			ETag:    s3wire.QuoteETag(oi.ETag),
			ModTime: oi.LastModified,
			Meta: store.Meta{
				ContentType:  h.Get("Content-Type"),
				CacheControl: h.Get("Cache-Control"),
				SHA256:       h.Get("X-Amz-Meta-" + s3wire.MetaSHA256),
			},
		}
		return info, true, nil
	}
	info, err := s.Stat(ctx, key)
	if errors.Is(err, store.ErrNotExist) {
		return store.Info{}, false, nil
	}
	if err != nil {
		var se *store.Error
		if errors.As(err, &se) {
			se.Op = "list"
		}
		return store.Info{}, false, err
	}
	return info, true, nil
}

// Delete removes key. A missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.start(ctx, "delete", key); err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, s.bucket, s.objectKey(key), minio.RemoveObjectOptions{}); err != nil {
		return s.fail("delete", key, s.classify(ctx, err))
	}
	return nil
}

// S3 error codes that mean the credentials are wrong or lack permission.
var credentialCodes = map[string]bool{
	"AccessDenied":          true,
	"InvalidAccessKeyId":    true,
	"SignatureDoesNotMatch": true,
	"ExpiredToken":          true,
	"InvalidToken":          true,
	"AllAccessDisabled":     true,
}

// classify maps a minio-go error to the store's sentinel errors by the
// ErrorResponse's code and HTTP status (never message text) and adds what
// to check. The minio-go error stays in the chain.
func (s *Store) classify(ctx context.Context, err error) error {
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return err
	}
	var er minio.ErrorResponse
	if !errors.As(err, &er) {
		var ue *url.Error
		var ne net.Error
		if errors.As(err, &ue) || errors.As(err, &ne) {
			return fmt.Errorf("%w: cannot reach %s, check the endpoint in the minio:// URL (and ?tls=false for plain HTTP) and the network: %w", store.ErrUnavailable, s.endpoint, err)
		}
		return err
	}
	code, status := er.Code, er.StatusCode
	switch {
	case code == "NoSuchBucket":
		return fmt.Errorf("bucket %q does not exist at %s: create it (mc mb), or check the bucket name in the minio:// URL: %w", s.bucket, s.endpoint, err)
	case status == http.StatusNotModified:
		return fmt.Errorf("%w (%w)", store.ErrNotModified, err)
	case code == "NoSuchKey" || status == http.StatusNotFound:
		return fmt.Errorf("%w (%w)", store.ErrNotExist, err)
	case status == http.StatusPreconditionFailed || code == "PreconditionFailed" || code == "ConditionalRequestConflict":
		return fmt.Errorf("%w (%w)", store.ErrPrecondition, err)
	case status == http.StatusRequestedRangeNotSatisfiable || code == "InvalidRange":
		return fmt.Errorf("%w (%w)", store.ErrInvalidRange, err)
	case credentialCodes[code] || status == http.StatusForbidden || status == http.StatusUnauthorized:
		return fmt.Errorf("access to bucket %q at %s denied: check the credentials (MINIO_ROOT_USER / MINIO_ROOT_PASSWORD or MINIO_ACCESS_KEY / MINIO_SECRET_KEY) and their policy: %w", s.bucket, s.endpoint, err)
	case status >= 500 || status == http.StatusTooManyRequests || code == "SlowDown":
		return fmt.Errorf("%w: %s answered %s %s, retry later: %w", store.ErrUnavailable, s.endpoint, strconv.Itoa(status), code, err)
	}
	return err
}

// Interface guard.
var _ store.Store = (*Store)(nil)
