package manifests

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/invopop/jsonschema"
)

var update = flag.Bool("update", false, "rewrite golden files and the JSON Schemas in docs/schema")

// TestSchemaUpToDate regenerates the JSON Schemas of the documents from the
// Go types and fails when docs/schema holds something else. Refresh with
// go test ./manifests -run TestSchema -update.
func TestSchemaUpToDate(t *testing.T) {
	docs := []struct {
		file string
		v    any
		id   string
	}{
		{"channel.schema.json", &Channel{}, "channel"},
		{"release.schema.json", &Release{}, "release"},
		{"envelope.schema.json", &Envelope{}, "envelope"},
	}
	for _, d := range docs {
		t.Run(d.file, func(t *testing.T) {
			r := &jsonschema.Reflector{
				RequiredFromJSONSchemaTags: false,
				// Signed documents are decoded tolerantly: newer fields are allowed.
				AllowAdditionalProperties: true,
				DoNotReference:            false,
				ExpandedStruct:            true,
			}
			if err := r.AddGoComments("github.com/mpship/mpship/manifests", "./"); err != nil {
				t.Fatal(err)
			}
			s := r.Reflect(d.v)
			s.ID = jsonschema.ID("https://mpship.dev/schema/v1/" + d.id + ".json")
			got, err := json.MarshalIndent(s, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("..", "docs", "schema", d.file)
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (generate it with: go test ./manifests -run TestSchema -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s is stale: the Go types changed; run go test ./manifests -run TestSchema -update and commit the result", path)
			}
		})
	}
}
