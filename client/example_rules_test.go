package client_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/mpship/mpship/client"
	"github.com/mpship/mpship/generator"
	"github.com/mpship/mpship/manifests"
	"github.com/mpship/mpship/origin"
	"github.com/mpship/mpship/store/local"
)

// exampleWorld is a store, an origin serving it and a publisher, in dir.
func exampleWorld(dir string) (base string, trust *manifests.Trust, release func(version string), stop func()) {
	pub, priv, err := manifests.GenerateKey(nil)
	if err != nil {
		log.Fatal(err)
	}
	st, err := local.Open(filepath.Join(dir, "store"), local.Options{Create: true})
	if err != nil {
		log.Fatal(err)
	}
	srv, err := origin.New(st, origin.Options{CacheBytes: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	trust, err = manifests.NewTrust(1, pub)
	if err != nil {
		log.Fatal(err)
	}
	release = func(version string) {
		src := filepath.Join(dir, "src-"+version)
		if err := os.MkdirAll(src, 0o755); err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, "app.js"), []byte("App({version: '"+version+"'})\n"), 0o644); err != nil {
			log.Fatal(err)
		}
		_, err := generator.Run(context.Background(), generator.Options{
			Store: st, Signers: []*manifests.Signer{manifests.NewSigner(priv)},
			App: "demo", Channel: "stable", Version: version, Source: src,
		})
		if err != nil {
			log.Fatal(err)
		}
	}
	return ts.URL, trust, release, func() { ts.Close(); st.Close() }
}

// A mini program's update manager: handlers registered before the launch
// hear its check; ApplyUpdate restarts into the version made ready.
func ExampleUpdateManager() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "mpship-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	base, trust, release, stop := exampleWorld(dir)
	defer stop()
	release("1.0.0")
	rt, err := client.New(client.Options{Origin: base, Trust: trust, StateDir: filepath.Join(dir, "device")})
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	if _, err := rt.Launch(ctx, "demo", "stable", client.LaunchOptions{}); err != nil {
		log.Fatal(err)
	}
	release("1.1.0")

	// Registered now, the handlers first hear the check of the run that
	// installed 1.0.0 (nothing newer), then that of the next launch.
	um, err := rt.UpdateManager("demo")
	if err != nil {
		log.Fatal(err)
	}
	ready := make(chan struct{})
	um.OnCheckForUpdate(func(hasUpdate bool) { fmt.Println("check for update:", hasUpdate) })
	um.OnUpdateReady(func() { fmt.Println("update ready"); close(ready) })
	um.OnUpdateFailed(func(err error) { fmt.Println("update failed:", client.ErrorCode(err)) })

	res, err := rt.Launch(ctx, "demo", "stable", client.LaunchOptions{})
	if err != nil {
		log.Fatal(err)
	}
	<-ready
	fmt.Println("running", res.LaunchedVersion)
	restarted, err := um.ApplyUpdate(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(restarted.Mode, "into", restarted.LaunchedVersion)
	// Output:
	// check for update: false
	// check for update: true
	// update ready
	// running 1.0.0
	// apply into 1.1.0
}

// A periodic pass finds a release, downloads it ahead and marks the mini
// program; its next launch is synchronous and starts the new version at
// once. The device's clock is a variable.
func ExampleRuntime_Background() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "mpship-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	base, trust, release, stop := exampleWorld(dir)
	defer stop()
	release("1.0.0")
	now := time.Now()
	rt, err := client.New(client.Options{
		Origin: base, Trust: trust, StateDir: filepath.Join(dir, "device"),
		Now: func() time.Time { return now },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	if _, err := rt.Launch(ctx, "demo", "stable", client.LaunchOptions{}); err != nil {
		log.Fatal(err)
	}
	release("1.1.0")

	now = now.Add(2 * time.Hour)
	pass, err := rt.Background(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, a := range pass.Apps {
		fmt.Printf("%s: checked %v, downloaded %s, marked %v\n", a.App, a.Checked, a.Check.Downloaded, a.Check.Marked)
	}
	now = now.Add(time.Minute)
	res, err := rt.Launch(ctx, "demo", "stable", client.LaunchOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s (%s) launched %s after %d requests\n", res.Mode, res.Reason, res.LaunchedVersion, res.Requests)
	// Output:
	// demo: checked true, downloaded 1.1.0, marked true
	// sync (marked) launched 1.1.0 after 0 requests
}
