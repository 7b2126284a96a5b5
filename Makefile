# Baton: `make up` runs it on this machine, `make test` runs the whole test suite.
# Both set up what they need first: a venv in .venv with the project installed, the runtime alone
# for `up`, with the test extras for the test, lint and type-check targets (once, and again only
# when pyproject.toml changes).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.installed-runtime
TEST_EXTRAS := $(VENV)/.installed-test
OIDC_DEPS := tests/oidc_provider/node_modules/.installed
PACKAGES := baton broker capture console gateway management recovery runtime store streams
# The Python connector's test clients (tests/clients/catalog.py CONNECTORS); each label's venv is
# .venv-clients/dbos-<version>-connector.
CONNECTOR_CLIENTS := python-3.3.0-connector python-3.4.0-connector

# What `make test-kafka` runs on Apache Kafka: by default both tiers that use a broker.
# KAFKA_CI_TESTS (`make test-kafka-ci`) is the subset that covers what differs between the brokers
# in about 5 minutes: topic creation with partitions, retention and compaction, a produce/consume
# round trip; idempotent producers (the probe and the roles' producers); a client bootstrapping
# again when its brokers are lost (Kafka's bootstrap Metadata names no topic); the Faust agents and
# their tables (in process), a batched agent seeing every record once; `baton up --kafka`; two
# workers sharing the partitions (group rebalance); a worker restarted, SIGTERM and SIGKILL, rebuilding its tables from their
# changelogs; a command record delivered twice; the audit topic replayed to its end offsets.
KAFKA_TESTS ?= tests/integration tests/conformance
KAFKA_CI_TESTS := tests/integration/test_embedded_broker.py tests/integration/recovery \
	tests/integration/capture tests/integration/test_batched_agent.py \
	tests/component/broker/test_producer_idempotence.py tests/component/broker/test_rebootstrap.py \
	tests/integration/test_baton_up.py::test_external_kafka_and_postgres_store \
	tests/conformance/test_scale_out.py::test_two_workers_share_the_apps_and_still_recover \
	tests/conformance/test_gateway_restart.py::test_worker_restart_rebuilds_state_without_false_recoveries \
	tests/conformance/test_management.py::test_a_request_record_delivered_twice_acts_once \
	tests/conformance/test_management.py::test_actions_are_audited_and_the_audit_log_replays

# Coverage floor of the whole suite (branch coverage of the code in the test process): two points
# under the measured total (92.3 % when it was set), so a change that drops coverage fails
# `make test` and so CI.
COVERAGE_FLOOR := 90
# `make test`'s parallel pass: one pytest-xdist worker per core of the machine CI runs on.
TEST_WORKERS ?= 2
# The test PostgreSQL server: BATON_TEST_PG_URL if set, else deploy/local/postgres's throwaway
# cluster (created and started on first use; it prints its URL).
WITH_TEST_PG = url="$${BATON_TEST_PG_URL:-}"; \
	[ -n "$$url" ] || url="$$(deploy/local/postgres)" || exit 1; \
	BATON_TEST_PG_URL="$$url"

# Go's official tarball installs under /usr/local/go without touching PATH.
export PATH := $(PATH):/usr/local/go/bin

.PHONY: up test test-kafka test-kafka-ci test-fast test-db system-deps oidc-deps kafka-jars client-deps check lint lint-imports typecheck install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUNTIME): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(TEST_EXTRAS): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(RUNTIME)

## Install the project with its test extras (what every target but `up` needs).
install: $(TEST_EXTRAS)

## Run Baton on the embedded default: broker, worker, gateway (ws://127.0.0.1:8090), console (:8080).
up: $(RUNTIME)
	$(BIN)/baton up

## The whole suite, with branch coverage (report and floor); needs PostgreSQL (see test-db),
## the embedded broker, Apache Kafka's jars (see kafka-jars), the DBOS clients (see client-deps),
## Chromium and HAProxy (see system-deps).
## Three passes, all always run (the target fails if any does): every test not marked `alone` on
## TEST_WORKERS pytest-xdist workers (most tests wait on processes, not on the CPU; `worksteal`:
## `load` handed one worker a queue of ~200 conformance tests at the end, run alone); then the `alone`
## ones serially (heavy topologies, or timing margins another test beside them would eat); then
## KAFKA_CI_TESTS again on Apache Kafka (`make test-kafka-ci`). The coverage of the three is
## combined, and the floor applies to the whole.
test: system-deps $(TEST_EXTRAS) oidc-deps kafka-jars client-deps
	$(WITH_TEST_PG); export BATON_TEST_PG_URL; status=0; \
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal -m "not alone" --cov --cov-report= \
		--durations=25 || status=$$?; \
	$(BIN)/pytest -m alone --cov --cov-append --cov-report= --durations=10 || status=$$?; \
	BATON_TEST_BROKER=kafka $(BIN)/pytest $(KAFKA_CI_TESTS) --cov --cov-append \
		--cov-report=term:skip-covered --cov-fail-under=$(COVERAGE_FLOOR) --durations=5 \
		|| status=$$?; \
	exit $$status

## The integration and conformance tiers again, on a 1-node Apache Kafka instead of the embedded
## broker (BATON_TEST_BROKER=kafka, see tests/conftest.py); KAFKA_TESTS narrows it. No coverage
## floor: `make test` holds it.
test-kafka: system-deps $(TEST_EXTRAS) oidc-deps kafka-jars client-deps
	$(WITH_TEST_PG) BATON_TEST_BROKER=kafka $(BIN)/pytest $(KAFKA_TESTS) --durations=25

## `make test-kafka` on KAFKA_CI_TESTS alone (what CI can afford on Apache Kafka).
test-kafka-ci: KAFKA_TESTS = $(KAFKA_CI_TESTS)
test-kafka-ci: test-kafka

## Unit and component tests that need no broker, database server or browser (under 3 minutes).
test-fast: $(TEST_EXTRAS)
	$(BIN)/pytest tests/unit tests/component -m "not broker" -q

## Debian's chromium, haproxy, Node.js and npm, a JDK and Maven, Go: installed if missing (root
## or sudo).
system-deps:
	deploy/local/system-deps

## The real OIDC provider the single sign-on tests start (oidc-provider from npm; needs Node.js).
oidc-deps: $(OIDC_DEPS)

$(OIDC_DEPS): tests/oidc_provider/package-lock.json
	@command -v npm >/dev/null || { echo "npm is missing: install Node.js 20+ and npm"; exit 1; }
	cd tests/oidc_provider && npm ci --no-audit --no-fund
	touch $@

## Apache Kafka's jars for deploy/local/kafka (the Apache Kafka tests' cluster), fetched once with
## Maven into its cache (BATON_KAFKA_CACHE, default ~/.cache/baton/kafka-VERSION); needs a JDK 17+.
kafka-jars:
	deploy/local/kafka fetch

## The DBOS clients the conformance tier runs besides the test extras' dbos (tests/clients):
## dbos 3.2.0 in .venv-clients/dbos-3.2.0, dbos 3.3.0 and 3.4.0 each with the Python connector
## (connectors/python) in .venv-clients/dbos-3.x.0-connector (one stamp per version), the TypeScript app's npm ci (needs Node.js)
## and its 5.3.0 install with connectors/typescript (tests/clients/typescript-connector), and the Go
## app's go build into .venv-clients/go (needs Go 1.25+) and the Java app's Maven build into
## .venv-clients/java (needs a JDK 17+ and Maven).
## `python -m tests.clients` skips a client whose stamp is current, so this is quick once done.
client-deps: $(TEST_EXTRAS)
	$(BIN)/python -m tests.clients

## The test PostgreSQL: a throwaway cluster trusting 127.0.0.1 (installed and started if needed).
test-db:
	deploy/local/postgres

lint: $(TEST_EXTRAS) lint-imports
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## The import contract in pyproject.toml ([tool.importlinter]): imports only flow downward.
lint-imports: $(TEST_EXTRAS)
	$(BIN)/lint-imports

## The connector (connectors/python) is checked in each of its clients' environments, against
## the dbos release it runs on there (`python -m tests.clients` prepares them once).
typecheck: $(TEST_EXTRAS)
	$(BIN)/mypy $(PACKAGES) tests bench
	$(BIN)/python -m tests.clients $(CONNECTOR_CLIENTS)
	for client in $(CONNECTOR_CLIENTS); do \
		MYPYPATH=connectors/python/src $(BIN)/mypy -p baton_connector \
			--python-executable .venv-clients/dbos-$${client#python-}/bin/python || exit 1; \
	done

## Exactly what CI runs after installing.
check: lint typecheck test

clean:
	rm -rf $(VENV) .venv-clients .baton .pytest_cache .mypy_cache .ruff_cache .coverage
