# Slipway's only entry point. `make help` lists the targets; CI runs the
# same ones (.ci/run calls `make test`).

GO       ?= go
BIN      := bin/slipway
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/slipwayhq/slipway/internal/cli.Version=$(VERSION)
RUN_DIR  := .run
DATA_DIR ?= $(HOME)/.local/share/slipway

.DEFAULT_GOAL := help
.PHONY: help build run stop test test-short bench lint clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-11s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build bin/slipway
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/slipway

run: build ## start the server with embedded defaults (if not running), deploy the go-crud starter, print its URL
	@scripts/run.sh $(BIN) $(RUN_DIR) $(DATA_DIR)

stop: ## stop the server started by `make run` (deployed apps keep running)
	@scripts/stop.sh $(DATA_DIR)

test: ## run every test, including the ones on the real Docker daemon
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 25m ./...

test-short: ## the fast inner loop: unit tests only, no Docker
	$(GO) test -short ./...

bench: build ## measure deploy time and gateway throughput/latency against the instance directly (BENCH_FLAGS="-only proxies" for issue 6's table alone)
	$(GO) run ./bench -bin $(BIN) $(BENCH_FLAGS)

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean: ## remove build output and the run dir (not the server's data)
	rm -rf bin $(RUN_DIR)
