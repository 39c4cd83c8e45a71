# make bench: k-means on Fashion-MNIST through bin/kmeans against
# scikit-learn's KMeans in the same run; writes benchmarks/results/<date>.{json,md}.
# Needs Debian's dataset-fashion-mnist and python3-sklearn (installed here
# when missing, with sudo unless root). Not part of make test. See
# benchmarks/README.md.
#
#   make bench BENCH_FLAGS='--variant init_method=kmeans++ --variant epochs=10'

GO ?= go
BIN := bin
BENCH_FLAGS ?=
BENCH_REPEAT ?= 3
BENCH_DEBS  := dataset-fashion-mnist python3-sklearn
BENCH_SUDO  := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: bench bench-deps
bench-deps:
	@missing=""; \
	for p in $(BENCH_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(BENCH_SUDO) apt-get update && \
	  $(BENCH_SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	fi

bench: bench-deps
	$(GO) build -trimpath -ldflags='-s -w' -o $(BIN)/kmeans ./cmd/kmeans
	$(GO) run ./benchmarks/cmd/bench --bin-dir $(BIN) --repeat $(BENCH_REPEAT) $(BENCH_FLAGS)
