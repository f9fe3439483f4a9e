package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mpship/mpship/internal/httpmeta"
	"github.com/mpship/mpship/origin"
	"github.com/mpship/mpship/store/location"
)

// serveOptions are the flags of 'mpship serve'.
type serveOptions struct {
	store           string
	listen          string
	metricsListen   string
	manifestMaxAge  time.Duration
	cacheBytes      int64
	cacheTTL        time.Duration
	staleIfError    time.Duration
	shutdownTimeout time.Duration
	logFormat       string
	accessLog       bool
}

// AddFlags registers the options' flags on fs.
func (o *serveOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.store, "store", "", "store to serve: "+location.Forms+" (required)")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8080", "address to listen on, HOST:PORT; port 0 picks a free one")
	fs.StringVar(&o.metricsListen, "metrics-listen", "", "address for Prometheus /metrics, kept apart from the CDN-facing one (default: off)")
	fs.DurationVar(&o.manifestMaxAge, "manifest-max-age", httpmeta.DefaultManifestMaxAge, "Cache-Control max-age of channel manifests, 1s to 24h")
	fs.Int64Var(&o.cacheBytes, "cache-bytes", origin.DefaultCacheBytes, "memory for cached manifests in bytes; negative disables the cache")
	fs.DurationVar(&o.cacheTTL, "cache-ttl", 0, "how long a cached channel manifest is served before it is revalidated with the store (default: --manifest-max-age for buckets; a local directory is revalidated on every request)")
	fs.DurationVar(&o.staleIfError, "stale-if-error", origin.DefaultStaleIfError, "how long past its TTL a cached manifest is still served while the store fails; negative: never")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 10*time.Second, "on SIGINT or SIGTERM, how long to let requests in flight finish")
	fs.StringVar(&o.logFormat, "log-format", "text", "access log format on stderr: text or json")
	fs.BoolVar(&o.accessLog, "access-log", true, "log every request on stderr; false keeps only warnings and errors (stale manifests served, store failures)")
}

func newServeCmd() *cobra.Command {
	opts := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve --store STORE --listen ADDR",
		Short: "Serve a store over HTTP as the origin of a CDN",
		Long: `Serve the objects of a store over HTTP, as the origin a CDN fetches from.

GET and HEAD only. ETags are the sha256 stored with each object, so every
replica agrees; channel manifests are cacheable for --manifest-max-age,
release manifests and blobs are immutable. Manifests are cached in memory and
still served while the store is unreachable; /healthz and /readyz report the
process and the store.

The first line on stdout is "serving STORE on http://ADDR" with the real
address (useful with port 0). The access log goes to stderr. SIGINT or
SIGTERM stops accepting connections and lets requests in flight finish.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("serve takes no arguments, got %q; name the store with --store", args)}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// runServe serves until ctx is done, then shuts down gracefully. Status
// lines go to out, the access log to logOut.
func runServe(ctx context.Context, opts *serveOptions, out, logOut io.Writer) error {
	if opts.store == "" {
		return usageError{errors.New("--store is required: pass " + location.Forms)}
	}
	// The origin logs requests at Info and everything else at Warn or
	// Error (origin.Options.Logger), so the level turns the access log off.
	hopts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if !opts.accessLog {
		hopts.Level = slog.LevelWarn
	}
	var handler slog.Handler
	switch opts.logFormat {
	case "text":
		handler = slog.NewTextHandler(logOut, hopts)
	case "json":
		handler = slog.NewJSONHandler(logOut, hopts)
	default:
		return usageError{fmt.Errorf("--log-format %q: use text or json", opts.logFormat)}
	}
	st, err := location.Open(ctx, opts.store, location.Options{})
	if err != nil {
		return err
	}
	if c, ok := st.(io.Closer); ok {
		defer c.Close()
	}
	srv, err := origin.New(st, origin.Options{
		ManifestMaxAge: opts.manifestMaxAge,
		CacheBytes:     opts.cacheBytes,
		CacheTTL:       opts.cacheTTL,
		StaleIfError:   opts.staleIfError,
		Logger:         slog.New(handler),
	})
	if err != nil {
		return usageError{err}
	}

	ln, err := net.Listen("tcp", opts.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w; pick a free HOST:PORT (port 0 picks one)", opts.listen, err)
	}
	servers := []*http.Server{newHTTPServer(srv)}
	listeners := []net.Listener{ln}
	if opts.metricsListen != "" {
		mln, err := net.Listen("tcp", opts.metricsListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("listen for metrics on %s: %w; pick a free HOST:PORT", opts.metricsListen, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", srv.Metrics())
		servers = append(servers, newHTTPServer(mux))
		listeners = append(listeners, mln)
	}

	errc := make(chan error, len(servers))
	for i, hs := range servers {
		go func() { errc <- hs.Serve(listeners[i]) }()
	}
	fmt.Fprintf(out, "serving %s on http://%s\n", st.Location(), ln.Addr())
	if len(listeners) > 1 {
		fmt.Fprintf(out, "metrics on http://%s/metrics\n", listeners[1].Addr())
	}

	var serveErr error
	select {
	case serveErr = <-errc:
		serveErr = fmt.Errorf("serve on %s: %w", ln.Addr(), serveErr)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.shutdownTimeout)
	defer cancel()
	var shutdownErr error
	for _, hs := range servers {
		if err := hs.Shutdown(sctx); err != nil {
			shutdownErr = fmt.Errorf("shut down %s: %w (requests still in flight after %v were cut)", ln.Addr(), err, opts.shutdownTimeout)
			hs.Close()
		}
	}
	if serveErr != nil {
		return serveErr
	}
	if shutdownErr != nil {
		return shutdownErr
	}
	fmt.Fprintln(out, "stopped")
	return nil
}

// newHTTPServer bounds what a slow or idle client can hold. There is no
// write timeout: a large blob to a slow device may take long.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}
