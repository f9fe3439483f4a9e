package storetest

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/mpship/mpship/store"
)

// RunOutage checks the ErrUnavailable contract of a backend whose service
// can be stopped: s must be an empty store configured not to retry. It
// writes an object, calls stop, expects every operation to fail with
// ErrUnavailable, calls restart, and expects the object back intact.
func RunOutage(t *testing.T, s store.Store, stop, restart func()) {
	t.Helper()
	data := []byte("survives a restart")
	m := MetaFor(data)
	if err := s.Put(t.Context(), "k", bytes.NewReader(data), int64(len(data)), m); err != nil {
		t.Fatal(err)
	}
	stop()
	ops := []struct {
		name string
		run  func() error
	}{
		{"get", func() error { _, err := s.Get(t.Context(), "k", store.GetOptions{}); return err }},
		{"stat", func() error { _, err := s.Stat(t.Context(), "k"); return err }},
		{"put", func() error { return s.Put(t.Context(), "k2", bytes.NewReader(data), int64(len(data)), m) }},
		{"putif", func() error {
			_, err := s.PutIf(t.Context(), "k2", bytes.NewReader(data), int64(len(data)), m, store.Condition{IfNoneMatch: true})
			return err
		}},
		{"list", func() error { return s.List(t.Context(), "", func(store.Info) error { return nil }) }},
		{"delete", func() error { return s.Delete(t.Context(), "k") }},
	}
	for _, op := range ops {
		if err := op.run(); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s with the service stopped: got %v, want ErrUnavailable", op.name, err)
		}
	}
	restart()
	obj, err := s.Get(t.Context(), "k", store.GetOptions{})
	if err != nil {
		t.Fatalf("Get after restart: %v", err)
	}
	defer obj.Body.Close()
	if got, _ := io.ReadAll(obj.Body); !bytes.Equal(got, data) {
		t.Errorf("after restart: got %q, want %q", got, data)
	}
}
