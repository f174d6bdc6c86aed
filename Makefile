# Veil: `make demo` and `make test` work on a fresh Debian machine with Swift.
SWIFT ?= swift

.PHONY: deps build release test demo results bench clean

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

## Builds and runs every test (Swift Testing), including the independent Python cross-checks.
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

## Builds in release and runs the main job end to end in a scratch folder (demo/).
demo: release
	scripts/demo.sh

## Builds in release and produces the quality table of docs/results.md (scratch folder results-data/).
results: release
	scripts/results.sh

## Runs the benchmarks in release; one JSON object per line.
bench: release
	$(SWIFT) run -c release VeilBench

clean:
	rm -rf .build demo results-data
