# make test: install and run the whole suite.  make demo: simulators -> scrape -> monitor -> summary.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Debian's Chromium when present; otherwise Playwright's own browser (`playwright install chromium`).
SNUPER_BROWSER_PATH ?= $(shell command -v chromium 2>/dev/null || command -v chromium-browser 2>/dev/null)
export SNUPER_BROWSER_PATH

.PHONY: install test lint demo browser lock clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

browser: $(STAMP)
	@if [ -z "$(SNUPER_BROWSER_PATH)" ]; then $(BIN)/playwright install chromium; fi

test: $(STAMP) browser
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check shared tests scripts
	$(BIN)/ruff format --check shared tests scripts
	$(BIN)/mypy

demo: $(STAMP) browser
	bash scripts/demo.sh

# Re-pin every installed version after changing pyproject.toml's dependencies.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet -e '.[dev]'
	.venv-lock/bin/pip freeze --exclude-editable > requirements.lock
	rm -rf .venv-lock

clean:
	rm -rf $(VENV) data .mypy_cache .ruff_cache .pytest_cache
