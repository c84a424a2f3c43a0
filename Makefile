# The two commands of the README: `make run` and `make test`. Both are idempotent.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run build test test-unit soak lint chromium clean bench wrk

# torch first, pinned: it takes the CPU wheel kept on these machines; unpinned, pip would pull
# the newest build with gigabytes of CUDA libraries.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,ray]'  # ray: the tests start a local Ray cluster
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/chuchu build --if-missing
	$(BIN)/chuchu serve

build: install
	$(BIN)/chuchu build

test: install chromium
	$(BIN)/python -m pytest

test-unit: install
	$(BIN)/python -m pytest tests/unit

# The reliability tests (marked soak: load, rebuilds under load, crashes, fuzzing) at full length.
# `make test` runs them short (each test's defaults); CI runs this target short too (.ci/run),
# e.g. `make soak CHUCHU_SOAK_SECONDS=10`. The tests read these when pytest imports them.
CHUCHU_SOAK_SECONDS  ?= 60
CHUCHU_SOAK_TRIALS   ?= 10
CHUCHU_SOAK_LINE_MB  ?= 50
CHUCHU_FUZZ_EXAMPLES ?= 1000
soak: install chromium
	CHUCHU_SOAK_SECONDS=$(CHUCHU_SOAK_SECONDS) CHUCHU_SOAK_TRIALS=$(CHUCHU_SOAK_TRIALS) \
	CHUCHU_SOAK_LINE_MB=$(CHUCHU_SOAK_LINE_MB) CHUCHU_FUZZ_EXAMPLES=$(CHUCHU_FUZZ_EXAMPLES) \
	$(BIN)/python -m pytest -m soak

lint: install
	$(BIN)/ruff check corpus index service tests benchmarks
	$(BIN)/ruff format --check corpus index service tests benchmarks

# Every figure of BENCHMARKS.md, in one run (about 15 minutes; BENCH_ARGS=--quick stops the scale
# section at 100k passages). Rewrites BENCHMARKS.md between its markers and benchmarks/plots/.
bench: install wrk
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

# The HTTP load generator of `make bench`, from Debian.
wrk:
	@command -v wrk >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

# The browser tests drive Debian's Chromium; Playwright's own browser download cannot work here.
# And a CJK font: without one, Chinese renders as empty boxes in the screenshots the tests take.
chromium:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@fc-list :lang=zh 2>/dev/null | grep -q . || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null; }

clean:
	rm -rf var .pytest_cache
