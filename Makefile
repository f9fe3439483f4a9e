# mpship: the two commands a newcomer needs are `make demo` and `make test`.

GO        ?= go
BIN       := bin/mpship
PKGS      := ./...
FUZZTIME  ?= 30s

.PHONY: all build demo test test-short vet fmt bench bench-delta fuzz minio tidy-check clean

all: build

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/mpship

## demo: the main job end to end on the embedded default (a local directory).
demo: build
	scripts/demo.sh $(BIN)

## test: every test, with the race detector, against a real MinIO it installs and starts.
test: vet
	scripts/test.sh

## test-short: unit tests only, no MinIO (quick local loop).
test-short:
	$(GO) test -short -race $(PKGS)

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

## bench: benchmarks, side by side with their peers.
bench:
	scripts/bench.sh

## bench-delta: full packages and deltas against zstd, bsdiff and xdelta3.
bench-delta:
	scripts/bench-delta.sh

## fuzz: run every fuzz target for FUZZTIME each.
fuzz:
	scripts/fuzz.sh $(FUZZTIME)

## minio: build the pinned MinIO server into the cache (first run: about 5 minutes).
minio:
	scripts/minio.sh install

tidy-check:
	$(GO) mod tidy -diff

clean:
	rm -rf bin
