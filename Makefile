# Veil: `make demo` and `make test` work on a fresh Debian machine with Swift.
SWIFT ?= swift

.PHONY: deps build release test fuzz demo results sequence-quality movielens bench scale clean

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

## Builds and runs every test (Swift Testing), including the independent Python cross-checks, the
## bounded fuzz run and the schemathesis check of docs/openapi.yaml against a live `veil serve`.
## Two test processes, one after the other: the tests that run the `veil` binary (VeilCLITests) wait
## for child processes on their threads, and in the same process they would starve the in-process
## tests (PostgreSQL handshakes, servers) of Swift's cooperative threads — two on a 2-core machine.
## Each process has TEST_MINUTES (25) minutes (scripts/watchdog.sh): here each takes about 3; one that
## hangs fails the run with its threads' stacks.
TEST_MINUTES ?= 25
test: deps
	python3 scripts/openapi_json.py --check
	python3 scripts/console_assets.py --check
	$(SWIFT) build --build-tests
	scripts/watchdog.sh $(TEST_MINUTES) $(SWIFT) test --skip-build --skip VeilCLITests
	scripts/watchdog.sh $(TEST_MINUTES) $(SWIFT) test --skip-build --filter VeilCLITests

## The long fuzz run: every parser and decoder, 1,000,000 events (release build; a few minutes).
fuzz: deps
	$(SWIFT) run -c release VeilFuzz --events 1000000

## Builds in release and runs the main job end to end in a scratch folder (demo/).
demo: release
	scripts/demo.sh

## Builds in release and produces the quality table of docs/results.md (scratch folder results-data/).
results: release
	scripts/results.sh

## Builds in release and measures the sequence models against their targets on 50,000 synthetic users
## (scratch folder sequence-data/; docs/models.md, "Measured quality"). Long: tens of minutes.
sequence-quality: release
	scripts/sequence_quality.sh

## Builds in release and compares the sequence models with their baselines on MovieLens 100k and/or 1M,
## from paths to RecBole's ml-100k.inter and GroupLens's ml-1m/ratings.dat (not in the repository):
## make movielens ML100K=/tmp/ml-100k.inter ML1M=/tmp/ml-1m/ratings.dat (either or both).
movielens: release
	@test -n "$(ML100K)$(ML1M)" || { echo "usage: make movielens ML100K=path/to/ml-100k.inter ML1M=path/to/ml-1m/ratings.dat (either or both)" >&2; exit 2; }
	$(if $(ML100K),scripts/movielens.sh "$(ML100K)")
	$(if $(ML1M),scripts/movielens.sh "$(ML1M)")

## Runs the benchmarks in release; one JSON object per line.
bench: release
	$(SWIFT) run -c release VeilBench

## The scale benchmark (docs/architecture.md, "At scale"): 1 M, 5 M and 20 M events in time order and
## grouped by user (SCALE_100M=1 adds 100 M; about 700 bytes of free disk per event under $TMPDIR).
## One JSON object per line as each measure is taken; tens of minutes.
scale: release
	VEIL_SCALE_SIZES=$${VEIL_SCALE_SIZES:-1000000,5000000,20000000$(if $(SCALE_100M),$(comma)100000000)} \
		$(SWIFT) run -c release VeilBench scale

comma := ,

clean:
	rm -rf .build demo results-data sequence-data movielens-data
