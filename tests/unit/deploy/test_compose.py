"""``docker-compose.yml`` is the deployment the tests run, and everything it tells Baton is
something Baton's CLI and settings accept: every role's command parses, its environment builds
settings pointing at the compose's Kafka and PostgreSQL, every health check asks the role's own
``/readyz`` port, HAProxy (``deploy/haproxy/haproxy.cfg``, checked by ``haproxy -c``) balances
the gateway services on their ports, and the image holds every package."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from baton.cli import build_parser, settings_from
from baton.settings import Settings

ROOT = Path(__file__).parents[3]
COMPOSE = ROOT / "docker-compose.yml"
HAPROXY_CFG = ROOT / "deploy" / "haproxy" / "haproxy.cfg"


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text())
    found: dict[str, Any] = document["services"]
    return found


def baton_services(services: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run Baton's image."""
    return {name: spec for name, spec in services.items() if "build" in spec}


def settings_of(spec: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in spec["environment"].items():
        monkeypatch.setenv(name, str(value))
    return settings_from(build_parser().parse_args(spec["command"]))


def test_the_topology_is_the_tested_one(services: dict[str, Any]) -> None:
    assert {"kafka", "postgres", "haproxy", "gateway-1", "gateway-2", "worker", "console"} <= set(
        services
    )
    roles = {name: spec["command"][0] for name, spec in baton_services(services).items()}
    assert roles == {
        "gateway-1": "gateway",
        "gateway-2": "gateway",
        "worker": "worker",
        "console": "console",
    }
    assert services["worker"]["deploy"]["replicas"] == 2
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"


def test_every_role_command_and_setting_is_baton_s(
    services: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, spec in baton_services(services).items():
        with monkeypatch.context() as patched:
            settings = settings_of(spec, patched)
        assert settings.kafka_bootstrap == "kafka:9092", name
        assert "@postgres:5432/" in settings.store_url(), name
        role = spec["command"][0]
        port = {"gateway": settings.gateway_port, "console": settings.console_port}.get(
            role, settings.worker_port
        )
        # The health check asks this role's own /readyz, on the port it listens on.
        [url] = re.findall(
            r"http://127\.0\.0\.1:(\d+)(/\S+?)'", " ".join(spec["healthcheck"]["test"])
        )
        assert (int(url[0]), url[1]) == (port, "/readyz"), name
        if role != "worker" or "--host" in spec["command"]:
            host = {"gateway": settings.gateway_host, "console": settings.console_host}.get(
                role, settings.worker_host
            )
            assert host == "0.0.0.0", f"{name} must listen beyond its container"


def test_haproxy_balances_the_gateway_services_and_accepts_its_configuration(
    services: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = HAPROXY_CFG.read_text()
    gateways = {
        name: settings_of(spec, monkeypatch).gateway_port
        for name, spec in baton_services(services).items()
        if spec["command"][0] == "gateway"
    }
    servers = dict(re.findall(r"^\s*server \S+ ([\w-]+):(\d+) check", config, re.MULTILINE))
    assert {name: int(port) for name, port in servers.items()} == gateways
    assert "option httpchk GET /readyz" in config
    assert "timeout tunnel" in config
    mounted = services["haproxy"]["volumes"][0].split(":")[0]
    assert (ROOT / mounted).resolve() == HAPROXY_CFG.resolve()
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    assert Path(haproxy).exists(), "haproxy is missing: run `make system-deps`"
    checked = subprocess.run(
        [haproxy, "-c", "-f", str(HAPROXY_CFG)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stderr


def test_the_image_holds_every_package() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\w+) \./\1$", dockerfile, re.MULTILINE))
    pyproject = (ROOT / "pyproject.toml").read_text()
    [packages] = re.findall(r"^root_packages = \[(.*)\]$", pyproject, re.MULTILINE)
    assert copied == set(re.findall(r'"(\w+)"', packages))
