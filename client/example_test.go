package client_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/mpship/mpship/client"
	"github.com/mpship/mpship/generator"
	"github.com/mpship/mpship/manifests"
	"github.com/mpship/mpship/origin"
	"github.com/mpship/mpship/store/local"
)

// A device cold-starts a mini program four times: the first launch installs
// it, the second finds nothing new with one request answered 304, the third
// (after a release) launches the installed version and makes the new one
// ready, and the fourth launches the new one.
func ExampleRuntime_Launch() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "mpship-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// A publisher's key, a store, and the origin serving it.
	pub, priv, err := manifests.GenerateKey(nil)
	if err != nil {
		log.Fatal(err)
	}
	st, err := local.Open(filepath.Join(dir, "store"), local.Options{Create: true})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	srv, err := origin.New(st, origin.Options{CacheBytes: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	release := func(version string) {
		src := filepath.Join(dir, "src-"+version)
		if err := os.MkdirAll(src, 0o755); err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, "app.js"), []byte("App({version: '"+version+"'})\n"), 0o644); err != nil {
			log.Fatal(err)
		}
		_, err := generator.Run(ctx, generator.Options{
			Store: st, Signers: []*manifests.Signer{manifests.NewSigner(priv)},
			App: "demo", Channel: "stable", Version: version, Source: src,
		})
		if err != nil {
			log.Fatal(err)
		}
	}
	release("1.0.0")

	// The device.
	trust, err := manifests.NewTrust(1, pub)
	if err != nil {
		log.Fatal(err)
	}
	rt, err := client.New(client.Options{
		Origin:   ts.URL,
		Trust:    trust,
		StateDir: filepath.Join(dir, "device"),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	launch := func() {
		res, err := rt.Launch(ctx, "demo", "stable", client.LaunchOptions{})
		if err != nil {
			log.Fatal(err)
		}
		code, _ := os.ReadFile(filepath.Join(res.Path, "app.js"))
		final, err := res.Wait(ctx) // the background check, if any
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s launched %s (%s): %q; %d request(s)", final.Mode, final.LaunchedVersion, filepath.ToSlash(final.Path[len(dir):]), code, final.Requests)
		if final.Check != nil && final.Check.NotModified {
			fmt.Print(", not modified")
		}
		if final.ReadyVersion != "" {
			fmt.Printf(", %s ready", final.ReadyVersion)
		}
		if final.Err != nil {
			fmt.Printf(", error %s", client.ErrorCode(final.Err))
		}
		fmt.Println()
	}

	launch()
	launch()
	release("1.1.0")
	launch()
	launch()
	// Output:
	// first-install launched 1.0.0 (/device/apps/demo/versions/1.0.0): "App({version: '1.0.0'})\n"; 3 request(s)
	// async launched 1.0.0 (/device/apps/demo/versions/1.0.0): "App({version: '1.0.0'})\n"; 1 request(s), not modified
	// async launched 1.0.0 (/device/apps/demo/versions/1.0.0): "App({version: '1.0.0'})\n"; 3 request(s), 1.1.0 ready
	// async launched 1.1.0 (/device/apps/demo/versions/1.1.0): "App({version: '1.1.0'})\n"; 1 request(s), not modified
}
