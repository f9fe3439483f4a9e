// Package s3 is the store.Store backend on Amazon S3 and S3-compatible
// services, through aws-sdk-go-v2. Its URL is s3://BUCKET/PREFIX.
//
// Credentials and region come from the SDK's standard chain: the
// environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, ...),
// the shared config and credentials files and profiles (AWS_PROFILE), and
// instance or task roles. A non-AWS endpoint comes from AWS_ENDPOINT_URL_S3
// or AWS_ENDPOINT_URL (or endpoint_url in the shared config); with one set,
// requests use path-style addressing (http://host/bucket/key) and the region
// defaults to us-east-1. Options override all of these.
//
// Objects carry Content-Type and Cache-Control as their own HTTP headers and
// the content's sha256 as user metadata (x-amz-meta-sha256), so a CDN can
// serve the bucket directly. Objects of at least Options.MultipartThreshold
// bytes are uploaded by the transfer manager in concurrent parts; S3 makes
// the object visible only when the last part is committed, so an
// interrupted upload leaves the previous object, or nothing.
//
// PutIf uses S3 conditional writes (If-Match, If-None-Match: *), which S3
// and MinIO enforce atomically with the write.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"golang.org/x/sync/errgroup"

	"github.com/mpship/mpship/store"
	"github.com/mpship/mpship/store/internal/s3wire"
)

// Defaults and limits of Options.
const (
	// DefaultMultipartThreshold is the size from which Put uploads in parts.
	DefaultMultipartThreshold = 16 << 20
	// DefaultPartSize is the size of each part of a multipart upload.
	DefaultPartSize = 8 << 20
	// MinPartSize is S3's smallest part (all but the last).
	MinPartSize = 5 << 20
	// DefaultConcurrency is how many parts of one object upload at once.
	DefaultConcurrency = 4
	// DefaultMaxAttempts is how many times the SDK tries a request that
	// failed transiently (5xx, throttling, connection errors).
	DefaultMaxAttempts = 3
	// MaxObjectSize is S3's largest object.
	MaxObjectSize = 5 << 40
	// listMetaConcurrency bounds the HEAD requests List makes per page.
	listMetaConcurrency = 8
)

// Options configure Open and New. The zero value uses the SDK's default
// chain for everything.
type Options struct {
	// HTTPClient sends the S3 requests; it brings its own TLS settings
	// (AWS_CA_BUNDLE applies only to the SDK's own client). Default nil:
	// the SDK builds its own client (never http.DefaultClient).
	HTTPClient *http.Client
	// Endpoint is the service's base URL, for example
	// "http://127.0.0.1:9000". Default: AWS_ENDPOINT_URL_S3, then
	// AWS_ENDPOINT_URL, then the shared config, then AWS itself. With a
	// custom endpoint requests are path-style.
	Endpoint string
	// Region overrides the configured region. Default: the SDK chain, else
	// us-east-1 when a custom endpoint is set; with neither, Open fails.
	Region string
	// AccessKey and SecretKey, when both set, are static credentials that
	// replace the SDK chain.
	AccessKey, SecretKey string
	// MultipartThreshold is the object size from which Put uploads in
	// concurrent parts. Default DefaultMultipartThreshold (16 MiB); at
	// least MinPartSize.
	MultipartThreshold int64
	// PartSize is the size of each uploaded part. Default DefaultPartSize
	// (8 MiB); at least MinPartSize. It grows as needed to fit S3's 10,000
	// parts.
	PartSize int64
	// Concurrency is how many parts of one object upload at once. Default
	// DefaultConcurrency (4).
	Concurrency int
	// MaxAttempts is how many times the SDK tries a request that failed
	// transiently. Default DefaultMaxAttempts (3); 1 disables the SDK's
	// retries (wrap the store with store/retry instead).
	MaxAttempts int
}

// Store is a store.Store on an S3 bucket under a key prefix. It is safe for
// concurrent use.
type Store struct {
	client   *s3.Client
	tm       *transfermanager.Client
	bucket   string
	prefix   string // "" or ends with "/"
	loc      string // s3://bucket/prefix
	endpoint string // custom endpoint, for messages; "" for AWS
	opts     Options
}

// Open returns the Store for a URL s3://BUCKET[/PREFIX]. The URL may carry
// no credentials, query or fragment: configure those through the SDK chain
// or Options.
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, &store.Error{Op: "open", Location: rawURL, Err: fmt.Errorf("not a URL: %w; want s3://BUCKET/PREFIX", err)}
	}
	if u.Scheme != "s3" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, &store.Error{Op: "open", Location: redact(u), Err: errors.New("want s3://BUCKET/PREFIX, without credentials, port, query or fragment; set credentials and endpoint through the AWS environment (AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL, AWS_PROFILE)")}
	}
	return New(ctx, u.Host, strings.Trim(u.Path, "/"), opts)
}

func redact(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery = ""
	return c.String()
}

// New returns the Store for bucket and a key prefix ("" for the whole
// bucket). It loads the SDK configuration but makes no request: a wrong
// bucket or credentials show in the first operation's error.
func New(ctx context.Context, bucket, prefix string, opts Options) (*Store, error) {
	prefix = strings.Trim(prefix, "/")
	loc := "s3://" + bucket
	if prefix != "" {
		loc += "/" + prefix
	}
	fail := func(err error) (*Store, error) {
		return nil, &store.Error{Op: "open", Location: loc, Err: err}
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
	if opts.MultipartThreshold == 0 {
		opts.MultipartThreshold = DefaultMultipartThreshold
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
	switch {
	case opts.MultipartThreshold < MinPartSize || opts.PartSize < MinPartSize:
		return fail(fmt.Errorf("MultipartThreshold %d and PartSize %d must be at least %d bytes", opts.MultipartThreshold, opts.PartSize, MinPartSize))
	case opts.Concurrency < 0 || opts.MaxAttempts < 0:
		return fail(fmt.Errorf("Concurrency %d and MaxAttempts %d must not be negative", opts.Concurrency, opts.MaxAttempts))
	case (opts.AccessKey == "") != (opts.SecretKey == ""):
		return fail(errors.New("set both AccessKey and SecretKey, or neither to use the AWS credential chain"))
	}

	var loadOpts []func(*config.LoadOptions) error
	if opts.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(opts.Region))
	}
	if opts.AccessKey != "" {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(opts.AccessKey, opts.SecretKey, "")))
	}
	maxAttempts := opts.MaxAttempts
	loadOpts = append(loadOpts, config.WithRetryer(func() aws.Retryer {
		// No client-side retry quota: it would replace the last error with
		// "retry quota exceeded" and lose its classification.
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = maxAttempts
			o.RateLimiter = ratelimit.None
		})
	}))
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return fail(fmt.Errorf("load AWS configuration (check AWS_PROFILE, AWS_CONFIG_FILE and the shared config files): %w", err))
	}
	if cfg.Credentials != nil {
		cfg.Credentials = credentialsTagger{cfg.Credentials}
	}

	endpoint := opts.Endpoint
	if endpoint == "" {
		// The SDK resolves AWS_ENDPOINT_URL itself but, unlike the
		// service-specific variable, only when the shared config allows
		// it; read both here so the documented order always holds.
		endpoint = firstEnv("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
	}
	if endpoint != "" {
		eu, err := url.Parse(endpoint)
		if err != nil || (eu.Scheme != "http" && eu.Scheme != "https") || eu.Host == "" {
			return fail(fmt.Errorf("endpoint %q is not an http(s) URL; fix AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL or Options.Endpoint", endpoint))
		}
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if opts.HTTPClient != nil {
			// Only for S3 requests: the SDK's credential providers keep
			// its own client, which honours AWS_CA_BUNDLE.
			o.HTTPClient = opts.HTTPClient
		}
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		// The SDK logs checksum decisions at debug level to stderr by
		// default; a library must not write to its caller's stderr.
		o.Logger = logging.Nop{}
		if o.BaseEndpoint != nil {
			o.UsePathStyle = true
			if o.Region == "" {
				o.Region = "us-east-1"
			}
		}
	})
	co := client.Options()
	if co.Region == "" {
		return fail(errors.New("no AWS region configured: set AWS_REGION, a region in the AWS profile, or AWS_ENDPOINT_URL for an S3-compatible service"))
	}
	s := &Store{
		client:   client,
		bucket:   bucket,
		prefix:   prefix,
		loc:      loc,
		endpoint: aws.ToString(co.BaseEndpoint),
		opts:     opts,
	}
	s.tm = transfermanager.New(client, func(o *transfermanager.Options) {
		o.MultipartUploadThreshold = opts.MultipartThreshold
		o.PartSizeBytes = opts.PartSize
		o.Concurrency = opts.Concurrency
		// Abort a failed multipart upload even when ctx was cancelled, so
		// its parts do not linger (and cost) in the bucket.
		o.FailTimeout = 30 * time.Second
	})
	return s, nil
}

// validBucket applies S3's bucket naming rules that matter for a URL:
// 3-63 characters of lowercase letters, digits, '.' and '-'.
func validBucket(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return fmt.Errorf("bucket name %q must be 3 to 63 characters", b)
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return fmt.Errorf("bucket name %q may hold only lowercase letters, digits, '.' and '-'", b)
		}
	}
	return nil
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// Location returns s3://BUCKET/PREFIX.
func (s *Store) Location() string { return s.loc }

// Client returns the underlying S3 client, for operations outside
// store.Store (creating buckets in tests, say).
func (s *Store) Client() *s3.Client { return s.client }

// Capabilities reports conditional puts enforced by the service and S3's
// 5 TiB object limit.
func (s *Store) Capabilities() store.Capabilities {
	return store.Capabilities{ConditionalPut: true, MaxPutSize: MaxObjectSize}
}

func (s *Store) objectKey(key string) string { return s.prefix + key }

func (s *Store) fail(op, key string, err error) error {
	return &store.Error{Op: op, Location: s.loc, Key: key, Err: err}
}

// Get opens key. With a Range the request carries an HTTP Range header
// and Info.Size comes from the response's Content-Range.
func (s *Store) Get(ctx context.Context, key string, opts store.GetOptions) (*store.Object, error) {
	if err := store.ValidateKey(key); err != nil {
		return nil, s.fail("get", key, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, s.fail("get", key, err)
	}
	in := &s3.GetObjectInput{Bucket: &s.bucket, Key: aws.String(s.objectKey(key))}
	if opts.IfNoneMatch != "" {
		in.IfNoneMatch = aws.String(s3wire.QuoteETag(opts.IfNoneMatch))
	}
	if opts.Range != nil {
		h, err := s3wire.RangeHeader(*opts.Range)
		if err != nil {
			return nil, s.fail("get", key, err)
		}
		in.Range = &h
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		return nil, s.fail("get", key, s.classify(ctx, err))
	}
	info := store.Info{
		Key:     key,
		Size:    aws.ToInt64(out.ContentLength),
		ETag:    s3wire.QuoteETag(aws.ToString(out.ETag)),
		ModTime: aws.ToTime(out.LastModified),
		Meta:    metaOf(aws.ToString(out.ContentType), aws.ToString(out.CacheControl), out.Metadata),
	}
	obj := &store.Object{Info: info, Body: out.Body}
	if opts.Range != nil {
		rng, total, err := s3wire.ParseContentRange(aws.ToString(out.ContentRange))
		if err != nil {
			out.Body.Close()
			return nil, s.fail("get", key, fmt.Errorf("range response from %s: %w", s.endpointName(), err))
		}
		obj.Info.Size = total
		obj.Range = &rng
	}
	return obj, nil
}

// Stat returns key's Info from a HEAD request. S3 answers a HEAD on a
// missing bucket like one on a missing key, so that too is ErrNotExist;
// Get, Put and List name the missing bucket.
func (s *Store) Stat(ctx context.Context, key string) (store.Info, error) {
	if err := store.ValidateKey(key); err != nil {
		return store.Info{}, s.fail("stat", key, err)
	}
	if err := ctx.Err(); err != nil {
		return store.Info{}, s.fail("stat", key, err)
	}
	info, err := s.head(ctx, key)
	if err != nil {
		return store.Info{}, s.fail("stat", key, err)
	}
	return info, nil
}

func (s *Store) head(ctx context.Context, key string) (store.Info, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: aws.String(s.objectKey(key))})
	if err != nil {
		return store.Info{}, s.classify(ctx, err)
	}
	return store.Info{
		Key:     key,
		Size:    aws.ToInt64(out.ContentLength),
		ETag:    s3wire.QuoteETag(aws.ToString(out.ETag)),
		ModTime: aws.ToTime(out.LastModified),
		Meta:    metaOf(aws.ToString(out.ContentType), aws.ToString(out.CacheControl), out.Metadata),
	}, nil
}

func metaOf(contentType, cacheControl string, userMeta map[string]string) store.Meta {
	m := store.Meta{ContentType: contentType, CacheControl: cacheControl}
	for k, v := range userMeta {
		if strings.EqualFold(k, s3wire.MetaSHA256) {
			m.SHA256 = v
		}
	}
	return m
}

// Put uploads key. An empty meta.SHA256 is computed (buffering the body in
// memory below MultipartThreshold, else in a temporary file); a set one is
// checked against the bytes, and a mismatch fails the put.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, meta store.Meta) error {
	_, err := s.put(ctx, "put", key, r, size, meta, store.Condition{})
	return err
}

// PutIf uploads key if cond holds when S3 commits the object: If-Match with
// cond.IfMatch, or If-None-Match: * for cond.IfNoneMatch. A failed
// condition (412, or 409 when a concurrent conditional write won) wraps
// store.ErrPrecondition. The returned Info's ModTime is the service's Date
// header, to the second.
func (s *Store) PutIf(ctx context.Context, key string, r io.Reader, size int64, meta store.Meta, cond store.Condition) (store.Info, error) {
	if (cond.IfMatch != "") == cond.IfNoneMatch {
		return store.Info{}, s.fail("put", key, errors.New("PutIf needs exactly one of Condition.IfMatch and Condition.IfNoneMatch"))
	}
	return s.put(ctx, "put", key, r, size, meta, cond)
}

func (s *Store) put(ctx context.Context, op, key string, r io.Reader, size int64, meta store.Meta, cond store.Condition) (store.Info, error) {
	if err := store.ValidateKey(key); err != nil {
		return store.Info{}, s.fail(op, key, err)
	}
	if size < 0 || size > MaxObjectSize {
		return store.Info{}, s.fail(op, key, fmt.Errorf("size %d out of range 0 to %d bytes", size, int64(MaxObjectSize)))
	}
	if err := ctx.Err(); err != nil {
		return store.Info{}, s.fail(op, key, err)
	}
	r = s3wire.ContextReader(ctx, r)
	if meta.SHA256 == "" {
		body, sum, cleanup, err := s3wire.Spool(r, size, s.opts.MultipartThreshold)
		if err != nil {
			return store.Info{}, s.fail(op, key, fmt.Errorf("read body: %w; nothing written", err))
		}
		defer cleanup()
		r, meta.SHA256 = body, sum
	} else if !s3wire.ValidSHA256(meta.SHA256) {
		return store.Info{}, s.fail(op, key, fmt.Errorf("Meta.SHA256 %q is not 64 lowercase hex digits", meta.SHA256))
	}

	body := s3wire.NewSizedReader(r, size, meta.SHA256)
	in := &transfermanager.UploadObjectInput{
		Bucket:        &s.bucket,
		Key:           aws.String(s.objectKey(key)),
		Body:          body,
		ContentLength: aws.Int64(size),
		Metadata:      map[string]string{s3wire.MetaSHA256: meta.SHA256},
	}
	if meta.ContentType != "" {
		in.ContentType = aws.String(meta.ContentType)
	}
	if meta.CacheControl != "" {
		in.CacheControl = aws.String(meta.CacheControl)
	}
	switch {
	case cond.IfMatch != "":
		in.IfMatch = aws.String(s3wire.QuoteETag(cond.IfMatch))
	case cond.IfNoneMatch:
		in.IfNoneMatch = aws.String("*")
	}
	out, err := s.tm.UploadObject(ctx, in)
	if err != nil && ctx.Err() != nil {
		return store.Info{}, s.fail(op, key, fmt.Errorf("%w; nothing written", ctx.Err()))
	}
	if berr := body.Err(); berr != nil {
		return store.Info{}, s.fail(op, key, fmt.Errorf("read body: %w; nothing written", berr))
	}
	if err != nil {
		err = s.classify(ctx, err)
		if cond.IfMatch != "" && errors.Is(err, store.ErrNotExist) {
			// S3 answers If-Match on a missing key with 404: for PutIf
			// that is a failed condition, not a missing object.
			err = fmt.Errorf("%w: no object to match ETag %s (%v)", store.ErrPrecondition, cond.IfMatch, err)
		}
		return store.Info{}, s.fail(op, key, err)
	}
	return store.Info{
		Key:     key,
		Size:    size,
		ETag:    s3wire.QuoteETag(aws.ToString(out.ETag)),
		ModTime: responseDate(out.ResultMetadata),
		Meta:    meta,
	}, nil
}

// responseDate is the Date header of the response behind md, or now.
func responseDate(md middleware.Metadata) time.Time {
	if resp, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok && resp != nil {
		if t, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
			return t
		}
	}
	return time.Now().Truncate(time.Second)
}

// List lists keys under prefix a page (up to 1000 keys) at a time. S3's
// listing has no metadata, so List fetches each object's Meta with a HEAD
// request, up to 8 at once; an object deleted in between is left out. Keys
// under the store's prefix that are not valid store keys (written by other
// tools) are skipped.
func (s *Store) List(ctx context.Context, prefix string, fn func(store.Info) error) error {
	if err := store.ValidatePrefix(prefix); err != nil {
		return s.fail("list", prefix, err)
	}
	if err := ctx.Err(); err != nil {
		return s.fail("list", prefix, err)
	}
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: &s.bucket,
		Prefix: aws.String(s.objectKey(prefix)),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return s.fail("list", prefix, s.classify(ctx, err))
		}
		infos := make([]store.Info, 0, len(page.Contents))
		for _, o := range page.Contents {
			key, ok := strings.CutPrefix(aws.ToString(o.Key), s.prefix)
			if !ok || store.ValidateKey(key) != nil {
				continue
			}
			infos = append(infos, store.Info{
				Key:     key,
				Size:    aws.ToInt64(o.Size),
				ETag:    s3wire.QuoteETag(aws.ToString(o.ETag)),
				ModTime: aws.ToTime(o.LastModified),
			})
		}
		found := make([]bool, len(infos))
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(listMetaConcurrency)
		for i := range infos {
			g.Go(func() error {
				hi, err := s.head(gctx, infos[i].Key)
				if errors.Is(err, store.ErrNotExist) {
					return nil
				}
				if err != nil {
					return &store.Error{Op: "list", Location: s.loc, Key: infos[i].Key, Err: err}
				}
				infos[i], found[i] = hi, true
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		for i, info := range infos {
			if !found[i] {
				continue
			}
			if err := fn(info); err != nil {
				return err
			}
		}
	}
	return nil
}

// Delete removes key. S3 answers a missing key with success.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := store.ValidateKey(key); err != nil {
		return s.fail("delete", key, err)
	}
	if err := ctx.Err(); err != nil {
		return s.fail("delete", key, err)
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: aws.String(s.objectKey(key))})
	if err != nil {
		return s.fail("delete", key, s.classify(ctx, err))
	}
	return nil
}

// endpointName names the service for messages.
func (s *Store) endpointName() string {
	if s.endpoint != "" {
		return s.endpoint
	}
	return "AWS S3"
}

// credentialsError marks a failure to obtain credentials from the chain.
type credentialsError struct{ err error }

func (e *credentialsError) Error() string { return e.err.Error() }
func (e *credentialsError) Unwrap() error { return e.err }

// credentialsTagger wraps the SDK's credential provider so that its
// failures can be told apart with errors.As.
type credentialsTagger struct{ aws.CredentialsProvider }

func (c credentialsTagger) Retrieve(ctx context.Context) (aws.Credentials, error) {
	cr, err := c.CredentialsProvider.Retrieve(ctx)
	if err != nil {
		return cr, &credentialsError{err}
	}
	return cr, nil
}

// S3 error codes that mean the credentials are wrong or lack permission.
var credentialCodes = map[string]bool{
	"AccessDenied":          true,
	"InvalidAccessKeyId":    true,
	"SignatureDoesNotMatch": true,
	"ExpiredToken":          true,
	"InvalidToken":          true,
	"TokenRefreshRequired":  true,
	"AllAccessDisabled":     true,
}

// classify maps an SDK error to the store's sentinel errors by HTTP status
// and S3 error code (errors.As on the SDK's types, never message text) and
// adds what to check. The SDK error stays in the chain.
func (s *Store) classify(ctx context.Context, err error) error {
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return err
	}
	status := 0
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	code := ""
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	var ce *credentialsError
	var se *smithyhttp.RequestSendError
	switch {
	case errors.As(err, &ce):
		return fmt.Errorf("no usable AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run with an instance role: %w", err)
	case code == "NoSuchBucket":
		return fmt.Errorf("bucket %q does not exist at %s: create it, or check the bucket name and the endpoint (AWS_ENDPOINT_URL): %w", s.bucket, s.endpointName(), err)
	case status == http.StatusNotModified:
		return fmt.Errorf("%w (%w)", store.ErrNotModified, err)
	case code == "NoSuchKey" || status == http.StatusNotFound:
		return fmt.Errorf("%w (%w)", store.ErrNotExist, err)
	case status == http.StatusPreconditionFailed || code == "PreconditionFailed" || code == "ConditionalRequestConflict":
		return fmt.Errorf("%w (%w)", store.ErrPrecondition, err)
	case status == http.StatusRequestedRangeNotSatisfiable || code == "InvalidRange":
		return fmt.Errorf("%w (%w)", store.ErrInvalidRange, err)
	case credentialCodes[code] || status == http.StatusForbidden || status == http.StatusUnauthorized:
		return fmt.Errorf("access to bucket %q at %s denied: check the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE) and that they may use this bucket: %w", s.bucket, s.endpointName(), err)
	case status >= 500 || status == http.StatusTooManyRequests || code == "SlowDown":
		return fmt.Errorf("%w: %s answered %d %s, retry later: %w", store.ErrUnavailable, s.endpointName(), status, code, err)
	case status == 0 && errors.As(err, &se):
		return fmt.Errorf("%w: cannot reach %s, check the endpoint (AWS_ENDPOINT_URL) and the network: %w", store.ErrUnavailable, s.endpointName(), err)
	}
	return err
}

// Interface guard.
var _ store.Store = (*Store)(nil)
