# Rankr <-> GHL connector. Quick start: `make run`, `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Lambda runs python3.13: prefer a 3.13 interpreter (PATH first, then pyenv), else python3.
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $(HOME)/.pyenv)
# (A pyenv shim on PATH may exist without working, so each candidate must actually run.)
PY313 := $(shell for p in $(sort $(wildcard $(PYENV_ROOT)/versions/3.13.*/bin/python3.13)) $$(command -v python3.13); do \
	"$$p" -c 'import sys; assert sys.version_info[:2] == (3, 13)' >/dev/null 2>&1 && { echo "$$p"; break; }; done)
PYTHON ?= $(or $(PY313),python3)
VENV := .venv
VPY := $(VENV)/bin/python
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
STAMP := $(VENV)/.installed
ARGS ?=

export PYTHONDONTWRITEBYTECODE := 1
export SAM_CLI_TELEMETRY := 0

.PHONY: help venv run test lint typecheck pytest validate build bench clean deploy-check lock check-layer contract-fixture contract-fixture-check

help:
	@echo "make run    - start the local stack (embedded AWS + sandboxes) and run the scenario"
	@echo "make test   - lint, type-check, all test suites, template validation"
	@echo "make build  - sam build (python3.13, arm64)"
	@echo "make lock   - re-resolve the layer's hashed lock (layers/rankr_ghl/requirements.txt)"
	@echo "make check-layer - the built layer holds exactly the locked versions"
	@echo "make contract-fixture[-check] - regenerate / verify tests/contract GHL fixtures from ../shared"
	@echo "make deploy-check [ENV=dev|prod] - offline rehearsal of a deploy (ENV: refuse its FILL-ME values)"
	@echo "make bench  - run every bench/*.py (BENCH_ARGS=--quick for short runs)"

$(STAMP): pyproject.toml
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

$(SAM): | $(STAMP)
	@test -x $(SAM) || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install -q --upgrade pip
	$(SAM_VENV)/bin/pip install -q aws-sam-cli

run: $(STAMP)
	$(VPY) -m rankr_ghl_tools.run $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# Unit tests (network blocked, in-process fakes) run in their own interpreter, so nothing a
# session-scoped embedded AWS or sandbox sets up can leak into them.
pytest: $(STAMP)
	$(VENV)/bin/pytest $(PYTEST_ARGS) tests/unit
	$(VENV)/bin/pytest $(PYTEST_ARGS) tests/contract tests/integration tests/e2e

validate: $(STAMP) $(SAM)
	$(SAM) validate --lint --template template.yaml
	$(VENV)/bin/cfn-lint template.yaml

test: lint typecheck pytest validate

# Offline: SAM's translator for every samconfig environment, cfn-lint with informational rules.
# Without ENV, FILL-ME values are listed as work left; with ENV=<env> they fail (docs/deploy.md).
deploy-check: $(STAMP)
	$(VPY) -m rankr_ghl_tools.deploy_check $(if $(ENV),--env $(ENV))

# sam build installs the layer from its hashed lock (pip checks every hash).
# Then bytecode for python3.13 (unchecked-hash: zips keep no reliable mtimes): Lambda's /opt and /var/task
# are read-only, so a module shipped without its .pyc is compiled from source at every cold start.
build: $(SAM)
	PATH="$(dir $(PY313)):$$PATH" $(SAM) build --template template.yaml
	$(or $(PY313),$(error python3.13 is needed to build for Lambda's python3.13)) -m compileall -q -j 0 \
		--invalidation-mode unchecked-hash .aws-sam/build

# The layer's lock: every runtime dependency of pyproject.toml pinned with hashes, resolved from PyPI
# for Lambda's python3.13 on arm64 (see docs/dependencies.md). uv lives in its own small venv.
LOCK_VENV := .venv-lock
UV := $(LOCK_VENV)/bin/uv
LAYER_LOCK := layers/rankr_ghl/requirements.txt

$(UV):
	@test -x $(LOCK_VENV)/bin/python || $(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install -q uv==0.13.9

lock: $(UV)
	$(UV) pip compile pyproject.toml --quiet --generate-hashes --python-version 3.13 \
		--python-platform aarch64-manylinux2014 --index-url https://pypi.org/simple \
		--custom-compile-command "make lock" --output-file $(LAYER_LOCK)

# After `make build`: the built layer holds exactly the locked versions, boto3 and botocore included.
check-layer: $(STAMP)
	$(VENV)/bin/pytest $(PYTEST_ARGS) tests/layer
	@du -sh --apparent-size .aws-sam/build/ConnectorLayer | sed 's/^/layer unzipped: /'

# GHL facts for the contract tests, derived from ../shared/ghl when it is there.
contract-fixture: $(STAMP)
	$(VPY) -m rankr_ghl_tools.contract_fixture

contract-fixture-check: $(STAMP)
	$(VPY) -m rankr_ghl_tools.contract_fixture --check

bench: $(STAMP)
	@set -e; for b in bench/*.py; do echo "== $$b"; $(VPY) $$b $(BENCH_ARGS); done

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache
