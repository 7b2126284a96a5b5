# Baton: `make up` runs it on this machine, `make test` runs the whole test suite.
# Both set up everything they need first (a venv in .venv with the project installed).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PACKAGES := baton broker capture console gateway management recovery runtime store streams

.PHONY: up test check lint typecheck install clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## Run Baton on the embedded default: broker, worker, gateway (ws://127.0.0.1:8090), console (:8080).
up: $(STAMP)
	$(BIN)/baton up

## Run the whole test suite (needs PostgreSQL on 127.0.0.1:5432; .ci/run starts it if needed).
test: $(STAMP) oidc-deps
	$(BIN)/pytest

## The real OIDC provider the single sign-on tests start (oidc-provider from npm; needs Node.js).
oidc-deps:
	@command -v npm >/dev/null || { echo "npm is missing: install Node.js 20+ and npm"; exit 1; }
	cd tests/oidc_provider && npm ci --no-audit --no-fund

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy $(PACKAGES) tests bench

## Exactly what CI runs after installing.
check: lint typecheck test

clean:
	rm -rf $(VENV) .baton .pytest_cache .mypy_cache .ruff_cache
