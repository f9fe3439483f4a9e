package archive

import (
	"bytes"
	"testing"

	"github.com/mpship/mpship/internal/archive/archivetest"
)

// BenchmarkPackCompress packs and compresses each vant-weapp release and
// reports its source, raw (MPK1 archive) and package (zstd) sizes:
//
//	go test -run '^$' -bench PackCompress -benchtime 3x ./internal/archive
func BenchmarkPackCompress(b *testing.B) {
	for _, v := range archivetest.Versions {
		b.Run(v, func(b *testing.B) {
			src := archivetest.Extract(b, v)
			var st Stats
			var raw, z bytes.Buffer
			for b.Loop() {
				raw.Reset()
				z.Reset()
				var err error
				if st, err = Pack(&raw, src, PackOptions{}); err != nil {
					b.Fatal(err)
				}
				if err := Compress(&z, raw.Bytes()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(st.ContentSize), "source-B")
			b.ReportMetric(float64(st.RawSize), "raw-B")
			b.ReportMetric(float64(z.Len()), "package-B")
			b.ReportMetric(0, "ns/op") // the time per op is the pack+compress time, reported as sec/op below
			b.ReportMetric(float64(b.Elapsed().Seconds())/float64(b.N), "sec/op")
		})
	}
}
