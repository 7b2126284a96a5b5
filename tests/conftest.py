"""Shared fixtures: the session's broker (``kafka_bootstrap``), a fresh topic prefix per test;
every test that uses a broker is marked ``broker``; Hypothesis runs without per-example deadlines;
a session refuses to start when two test modules would import under the same name.

The session's broker is chosen by ``BATON_TEST_BROKER`` (read here and nowhere else): ``tansu``
(the default) is the embedded Tansu broker, ``baton up``'s default; ``kafka`` is a 1-node Apache
Kafka from ``deploy/local/kafka`` (``make test-kafka``). Either is started once for the session.
The tests of Tansu itself ask for ``embedded_broker``, and the tests that need Apache Kafka
whatever the choice ask for ``apache_kafka``.

The broker never skips: if it is missing or does not come up, the session fails with the broker's
own error message.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Literal, cast, get_args
from uuid import uuid4

import pytest
from hypothesis import settings

from baton.embedded_broker import EmbeddedBroker, EmbeddedBrokerError
from tests.local_kafka import LocalKafka, running_kafka

# Hypothesis's default per-example deadline (200 ms) measures the machine as much as the code: on
# a shared 2-core machine a loaded moment fails a correct property test ("Unreliable test
# timings"). No deadline by default; a test that needs a time bound asserts it.
settings.register_profile("baton", deadline=None)
settings.load_profile("baton")

TestBroker = Literal["tansu", "kafka"]
"""What ``kafka_bootstrap`` is: the embedded Tansu broker, or a 1-node Apache Kafka."""
BROKER_SETTING = "BATON_TEST_BROKER"
_BROKER = pytest.StashKey[TestBroker]()
_BROKER_FIXTURES = frozenset(
    {"kafka_bootstrap", "embedded_broker", "apache_kafka", "apache_kafka_bootstrap"}
)
"""A test that asks for one of these starts a broker: it is marked ``broker``."""


def pytest_configure(config: pytest.Config) -> None:
    """Read ``BATON_TEST_BROKER`` once; a value other than ``tansu`` or ``kafka`` stops the run."""
    value = os.environ.get(BROKER_SETTING, "tansu")
    if value not in get_args(TestBroker):
        raise pytest.UsageError(
            f"{BROKER_SETTING}={value!r}: expected one of {', '.join(get_args(TestBroker))}"
        )
    config.stash[_BROKER] = cast(TestBroker, value)


def pytest_report_header(config: pytest.Config) -> str:
    return f"broker: {config.stash[_BROKER]} ({BROKER_SETTING})"


@pytest.fixture(scope="session")
async def embedded_broker() -> AsyncIterator[EmbeddedBroker]:
    """The session's embedded Tansu broker, whichever broker ``kafka_bootstrap`` is: only the tests
    of Tansu itself ask for it, the others ask for ``kafka_bootstrap``."""
    broker = EmbeddedBroker()
    try:
        await broker.start()
    except EmbeddedBrokerError as exc:
        pytest.fail(f"the embedded Tansu broker is required for integration tests: {exc}")
    try:
        yield broker
    finally:
        await broker.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(request: pytest.FixtureRequest) -> str:
    """``host:port`` of the session's broker: the embedded Tansu broker, or with
    ``BATON_TEST_BROKER=kafka`` the session's 1-node Apache Kafka (the other is not started)."""
    if request.config.stash[_BROKER] == "kafka":
        bootstrap: str = request.getfixturevalue("apache_kafka_bootstrap")
        return bootstrap
    broker: EmbeddedBroker = request.getfixturevalue("embedded_broker")
    return broker.bootstrap


@pytest.fixture(scope="session")
def session_broker(request: pytest.FixtureRequest) -> TestBroker:
    """Which broker ``kafka_bootstrap`` is (``BATON_TEST_BROKER``), for what differs between them
    (Apache Kafka grants idempotent producers, Tansu does not)."""
    broker: TestBroker = request.config.stash[_BROKER]
    return broker


@pytest.fixture(scope="session")
def apache_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """The session's 1-node Apache Kafka (KRaft, loopback), stopped at the end of the session."""
    with running_kafka(tmp_path_factory.mktemp("apache-kafka"), nodes=1) as kafka:
        yield kafka


@pytest.fixture(scope="session")
def apache_kafka_bootstrap(apache_kafka: LocalKafka) -> str:
    """``127.0.0.1:port`` of the session's Apache Kafka."""
    return apache_kafka.bootstrap


@pytest.fixture
def unique_topic_prefix() -> str:
    """A topic (and consumer group) prefix no other test uses, e.g. ``t1a2b3c4d.``."""
    return f"t{uuid4().hex[:8]}."


@pytest.fixture(scope="session", autouse=True)
def _worker_port_any_free() -> Iterator[None]:
    """A worker the tests start without a port (``baton up``, ``baton worker``) listens on any
    free port rather than on 8091, which another run on this machine may hold. Flags win over
    the variable: a test that scrapes a worker gives it its port."""
    with pytest.MonkeyPatch.context() as patch:
        if "BATON_WORKER_PORT" not in os.environ:
            patch.setenv("BATON_WORKER_PORT", "0")
        yield


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``broker`` each test that starts a broker (``make test-fast`` omits them)."""
    for item in items:
        if _BROKER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.broker)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Test modules outside packages are imported by basename (most test directories have no
    ``__init__.py``): two of the same name fail the whole suite's collection, so name them at
    once, whichever tier runs."""
    paths: defaultdict[str, list[str]] = defaultdict(list)
    for path in Path(__file__).parent.rglob("test_*.py"):
        paths[_module_name(path)].append(str(path))
    clashes = sorted(", ".join(sorted(found)) for found in paths.values() if len(found) > 1)
    if clashes:
        raise pytest.UsageError(f"test module names must be unique: {'; '.join(clashes)}")


def _module_name(path: Path) -> str:
    """The name pytest imports ``path`` under: dotted through the packages that contain it."""
    parts = [path.stem]
    directory = path.parent
    while (directory / "__init__.py").exists():
        parts.insert(0, directory.name)
        directory = directory.parent
    return ".".join(parts)
