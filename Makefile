# make test: install and run the whole suite.  make demo: simulators -> scrape -> monitor -> summary
# (into ./demo-data).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
BROWSER_LOG := $(VENV)/playwright-install.log
# The demo's own output folder (never ./data, where your own runs go): make demo DEMO_DIR=...
DEMO_DIR ?= demo-data
# Debian's Chromium when present; otherwise Playwright's own browser (`playwright install chromium`).
SNUPER_BROWSER_PATH ?= $(shell command -v chromium 2>/dev/null || command -v chromium-browser 2>/dev/null)
export SNUPER_BROWSER_PATH

.PHONY: install test lint demo browser lock clean bench

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Without a Chromium on the PATH, fetch Playwright's own; offline that fails with a Node stack
# trace, so its output goes to a log and the failure is one line saying how to get a Chromium.
browser: $(STAMP)
	@if [ -z "$(SNUPER_BROWSER_PATH)" ] && \
	    ! $(BIN)/playwright install chromium >$(BROWSER_LOG) 2>&1; then \
	    echo "make browser: no Chromium found and 'playwright install chromium' failed" \
	        "(log: $(BROWSER_LOG)); get one: Debian/Ubuntu 'apt-get install chromium'," \
	        "macOS 'brew install --cask chromium', or set SNUPER_BROWSER_PATH to a" \
	        "Chrome/Chromium executable; with internet '$(BIN)/playwright install chromium'" >&2; \
	    exit 1; \
	fi

test: $(STAMP) browser
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check shared tests scripts bench
	$(BIN)/ruff format --check shared tests scripts bench
	$(BIN)/mypy

demo: $(STAMP) browser
	bash scripts/demo.sh "$(DEMO_DIR)"

# Performance figures (issue 7): prints a table, writes bench/results.json. Not part of `make test`.
# Run a subset with: make bench BENCH=parse_ratio
BENCH ?=
bench: $(STAMP) browser
	$(BIN)/python -m bench $(BENCH)

# Re-pin every installed version after changing pyproject.toml's dependencies.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet -e '.[dev]'
	.venv-lock/bin/pip freeze --exclude-editable > requirements.lock
	rm -rf .venv-lock

# The demo's folder goes only if the demo wrote it (scripts/demo.sh marks it); ./data is yours.
clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
	if [ -e "$(DEMO_DIR)/.snuper-demo" ]; then rm -rf "$(DEMO_DIR)"; fi
