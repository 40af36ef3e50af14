# Two commands: `make demo` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Tests run on TEST_WORKERS processes (pytest-xdist), each module whole on one worker, so a
# module's server or fixture starts once: 14 minutes instead of 25 on 2 cores. TEST_WORKERS=0: one
# process.
TEST_WORKERS ?= 2
PYTEST_ARGS ?= $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadscope)

.PHONY: test demo env browsers notebooks notebooks-execute workshop lint bench sample clean screenshots

# The virtual environment is rebuilt only when pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install $(TORCH)
	$(BIN)/python -m pip install -e ".[dev]"
	touch $(STAMP)

env: $(STAMP)

# Debian's Chromium for the browser tests (playwright cannot download browsers here).
browsers:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else echo "chromium missing: sudo apt-get install -y chromium chromium-driver (browser tests will skip)"; fi; \
	fi

test: $(STAMP) browsers
	$(BIN)/python -m pytest $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/clef demo

# Refresh the README's screenshots (tests write theirs to a temporary folder otherwise).
screenshots: $(STAMP) browsers
	CLEF_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest tests/e2e -q

notebooks: $(STAMP)
	$(BIN)/jupyter lab notebooks/

# Re-execute the six notebooks (their committed outputs follow the shipped checkpoint); one at a
# time, at low priority. About 3 minutes on 2 cores.
notebooks-execute: $(STAMP)
	cd notebooks && for f in 0*.py; do env -u MPLBACKEND nice -n 10 ../$(BIN)/jupytext --to ipynb --execute "$$f" || exit 1; done

# Workshop copies in notebooks/_workshop/ (git-ignored): student/ without the cells tagged
# "solution", teacher/ with them. WORKSHOP_ARGS=--execute also runs both.
workshop: $(STAMP)
	$(BIN)/python notebooks/workshop.py $(WORKSHOP_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check clef dashboard tests benchmarks
	$(BIN)/lint-imports --no-cache

bench: $(STAMP)
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

# Rebuild data_samples/ and benchmarks/results/probe/ from nothing (about 1.5 h on 2 cores).
sample: $(STAMP)
	bash scripts/build_data_samples.sh

clean:
	rm -rf $(VENV) .pytest_cache
