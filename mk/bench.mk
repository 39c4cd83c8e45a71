# make bench: every algorithm on Fashion-MNIST through its binary against
# its scikit-learn / FAISS peer in the same run, then the serving benchmark
# (Go load generator vs scikit-learn behind gunicorn), cold start, kernel
# GFLOP/s against the measured peak, and charts; writes
# benchmarks/results/<date>.{json,md} and <date>-*.png. Installs the Debian
# packages below when missing (with sudo unless root). Not part of make
# test. See benchmarks/README.md.
#
#   make bench BENCH_FLAGS='--variant init_method=kmeans++ --variant epochs=10'
#   make bench BENCH_FLAGS='--only kmeans --sections serving,coldstart'

GO ?= go
BIN := bin
BENCH_FLAGS ?=
BENCH_REPEAT ?= 3
BENCH_DEBS  := dataset-fashion-mnist python3-sklearn python3-faiss gunicorn python3-flask
BENCH_SUDO  := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: bench bench-deps bench-kernels
bench-deps:
	@missing=""; \
	for p in $(BENCH_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(BENCH_SUDO) apt-get update && \
	  $(BENCH_SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	fi

# Kernel GFLOP/s: benchmarks/cmd/kernels once per engine, OpenBLAS built
# exactly as make build links it, then pure-Go gonum.
BENCH_WORK := benchmarks/work
OPENBLAS_STATIC := /usr/lib/x86_64-linux-gnu/libopenblas.a
bench-kernels: deps
	@mkdir -p $(BENCH_WORK)
	@if [ -e $(OPENBLAS_STATIC) ]; then \
	  echo "kernels (openblas)"; \
	  CGO_ENABLED=1 CGO_LDFLAGS="$(OPENBLAS_STATIC) -lm -lpthread" $(GO) run -tags openblas,netgo,osusergo ./benchmarks/cmd/kernels > $(BENCH_WORK)/kernels-openblas.json; \
	else rm -f $(BENCH_WORK)/kernels-openblas.json; fi
	@echo "kernels (gonum)"
	CGO_ENABLED=0 $(GO) run ./benchmarks/cmd/kernels > $(BENCH_WORK)/kernels-gonum.json

bench: bench-deps
	$(MAKE) --no-print-directory build
	$(MAKE) --no-print-directory bench-kernels
	$(GO) run ./benchmarks/cmd/bench --bin-dir $(BIN) --repeat $(BENCH_REPEAT) $(BENCH_FLAGS)
