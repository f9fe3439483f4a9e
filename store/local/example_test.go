package local_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/mpship/mpship/store"
	"github.com/mpship/mpship/store/local"
)

func ExampleOpen() {
	tmp, err := os.MkdirTemp("", "mpship-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)

	s, err := local.Open(filepath.Join(tmp, "store"), local.Options{Create: true})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	ctx := context.Background()
	body := `{"seq":1}`
	meta := store.Meta{ContentType: "application/json", CacheControl: "public, max-age=60"}
	info, err := s.PutIf(ctx, "apps/demo/channels/stable.json", strings.NewReader(body), int64(len(body)), meta, store.Condition{IfNoneMatch: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Size, info.ETag)

	// A second first publish loses.
	_, err = s.PutIf(ctx, "apps/demo/channels/stable.json", strings.NewReader(body), int64(len(body)), meta, store.Condition{IfNoneMatch: true})
	fmt.Println(errors.Is(err, store.ErrPrecondition))
	// Output:
	// 9 "b41e95c43f388d561b146326d84e3a6b9e31c4ef32ab97c04774c31aada3246a"
	// true
}
