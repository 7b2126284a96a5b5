"""Settings: read once, from the environment and the command line, and passed down.

The only module that reads ``os.environ`` (through the mapping ``main`` hands it); nothing is read
at import time. Bad values raise ``ConfigError`` with what to do.
"""

from __future__ import annotations

import dataclasses
import math
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from broker.idempotence import IdempotenceSetting
from console.oidc.config import OidcConfig, oidc_config_from_env
from gateway.config import GatewayLimits
from recovery.policy import RecoveryTimings
from runtime.tls import TlsFiles
from store.roles import Role
from streams.exceptions import ConfigError
from streams.topics import Topics


class Secret:
    """A value whose ``repr`` is masked (database URLs carry passwords)."""

    def __init__(self, value: str) -> None:
        self._value = value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return self._value


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything a Baton process needs to start."""

    data_dir: Path = Path(".baton")
    database_url: Secret | None = None
    """``None``: SQLite under ``data_dir``."""
    kafka_bootstrap: str | None = None
    """``None``: ``baton up`` starts the embedded broker."""
    broker_port: int | None = None
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8090
    gateway_client_address_header: str | None = None
    """The header a proxy puts the client's address in (``X-Forwarded-For``), by which failed
    handshakes are rate-limited; only if executors reach the gateway through that proxy alone."""
    console_host: str = "127.0.0.1"
    console_port: int = 8080
    worker_host: str = "127.0.0.1"
    """The interface of the worker's HTTP listener (``/metrics``, ``/healthz``, ``/readyz``);
    loopback by default."""
    worker_port: int = 8091
    """The worker's HTTP port (0: any free port, logged at start)."""
    tls_cert: Path | None = None
    """The PEM certificate (chain) the gateway (``wss://``) and the console (``https://``) serve;
    with ``tls_key``, or neither (``runtime.tls``)."""
    tls_key: Path | None = None
    """The certificate's unencrypted PEM private key."""
    topic_prefix: str = "baton."
    partitions: int = 8
    kafka_idempotence: IdempotenceSetting = IdempotenceSetting.AUTO
    """Idempotent producers: ``auto`` where the broker grants them (probed at each role's start;
    Apache Kafka does, the embedded broker does not), ``on`` required (a role fails to start
    without), ``off`` never (``broker.idempotence``)."""
    gateway_id: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    ping_interval_s: float = 5.0
    ping_timeout_s: float = 8.0
    heartbeat_interval_s: float = 2.0
    gateway_shed_s: float = 3.0
    """Writes to Kafka failing or hanging this long make a gateway unready and close its
    sessions, which reconnect to another gateway (``gateway.kafka_watchdog``); 0: never close
    them (``baton up`` runs one gateway: there is no other)."""
    gateway_limits: GatewayLimits = field(default_factory=GatewayLimits)
    """Every bound the gateway puts on a connection: ``BATON_GATEWAY_<FIELD>``, e.g.
    ``BATON_GATEWAY_WRITE_TIMEOUT_S`` (``gateway.config.GatewayLimits``)."""
    timings: RecoveryTimings = field(default_factory=RecoveryTimings)
    capture_interval_ms: int = 2_000
    """Pause between two status-capture polls of an app (each poll: 2-3 small DBOS requests)."""
    capture_idle_interval_ms: int = 30_000
    """The longest pause between polls of an app whose polls saw nothing new for a minute
    (``capture.cursor.CaptureTimings.idle_interval_ms``): the pause grows with the quiet (6 s
    after a quiet minute, this after five), and the first workflow after a quiet spell is seen
    within it. Set it to ``capture_interval_ms`` to poll idle apps as often as busy ones
    (each poll is two records an embedded broker keeps)."""
    capture_steps_per_poll: int = 5
    """Completed workflows per poll whose steps are captured for the store (0: only on view)."""
    console_refresh_s: float = 5.0
    """Dashboard pages re-fetch their content this often (0 turns live refresh off)."""
    console_live_timeout_s: float = 3.0
    """How long the console waits for a live executor's answer before serving the store's."""
    console_action_timeout_s: float = 10.0
    """How long one attempt of an operator's action waits for the executor."""
    console_user_header: str | None = None
    """A header a trusted auth proxy sets to the signed-in user (audited as ``user:<name>``);
    set it only when the console is reachable through that proxy alone."""
    console_user_header_role: str = "operator"
    """The role of users named by ``console_user_header``: viewer, operator or admin."""
    console_session_hours: float = 12.0
    """A console session ends this long after sign-in."""
    console_viewer_payloads: bool = True
    """False: viewers are shown no workflow inputs, outputs, errors or step outputs, in any app."""
    console_dbos_conductor_metrics: bool = False
    """The console's ``/metrics`` also serves DBOS Conductor's ``dbos_conductor_v1_`` families."""
    oidc: OidcConfig | None = None
    """Single sign-on with OpenID Connect, on when ``BATON_OIDC_ISSUER`` is set; the other
    ``BATON_OIDC_*`` variables are in ``console.oidc.config``."""
    log_level: str = "INFO"

    @property
    def tls(self) -> TlsFiles | None:
        """The files the roles serve TLS with, ``None``: in clear.

        Raises:
            ConfigError: only one of ``tls_cert`` and ``tls_key`` is set.
        """
        return TlsFiles.from_paths(self.tls_cert, self.tls_key)

    @property
    def topics(self) -> Topics:
        return Topics(prefix=self.topic_prefix, partitions=self.partitions)

    def store_url(self) -> str:
        if self.database_url is not None:
            return str(self.database_url)
        return f"sqlite+aiosqlite:///{(self.data_dir / 'baton.db').resolve()}"

    def require_kafka(self) -> str:
        if self.kafka_bootstrap is None:
            raise ConfigError(
                "this role needs a Kafka broker",
                fix="pass --kafka HOST:PORT (or set BATON_KAFKA_BOOTSTRAP), or run `baton up` to "
                "start the embedded one",
            )
        return self.kafka_bootstrap

    @classmethod
    def from_env(cls, env: Mapping[str, str], **overrides: object) -> Settings:
        """Build settings from ``BATON_*`` variables, then command-line overrides (non-None).

        Raises:
            ConfigError: a value does not parse or is out of range (names the setting, the
                variable or flag that sets it, and what it accepts).
        """
        values: dict[str, object] = {}
        for name, converter in _ENV_FIELDS.items():
            raw = env.get(f"BATON_{name.upper()}")
            if raw is not None:
                values[name] = _convert(name, f"BATON_{name.upper()}", raw, converter)
        timings = _timings_from_env(env)
        values["gateway_limits"] = _gateway_limits(env)
        values["oidc"] = oidc_config_from_env(env)
        values.update({k: v for k, v in overrides.items() if v is not None and k != "timings"})
        timing_overrides = overrides.get("timings")
        if isinstance(timing_overrides, dict):
            timings.update({str(k): int(v) for k, v in timing_overrides.items()})
        if "database_url" in values and isinstance(values["database_url"], str):
            values["database_url"] = Secret(values["database_url"])
        values["timings"] = RecoveryTimings(**timings)
        settings = cls(**values)  # type: ignore[arg-type]
        settings.validate()
        return settings

    def validate(self) -> None:
        """Check every value's range.

        Raises:
            ConfigError: the first bad value.
        """
        for name in ("gateway_port", "console_port", "worker_port", "broker_port"):
            port = getattr(self, name)
            if port is not None and not 0 <= port <= 65535:
                raise _bad(name, port, "a port number (0-65535)")
        if self.kafka_bootstrap is not None:
            _check_bootstrap(self.kafka_bootstrap)
        for name in (
            "ping_interval_s",
            "ping_timeout_s",
            "heartbeat_interval_s",
            "console_live_timeout_s",
            "console_action_timeout_s",
            "console_session_hours",
        ):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise _bad(name, value, "a positive number of seconds")
        if self.capture_interval_ms < 100:
            raise _bad("capture_interval_ms", self.capture_interval_ms, "at least 100 (ms)")
        if self.capture_idle_interval_ms < self.capture_interval_ms:
            raise _bad(
                "capture_idle_interval_ms",
                self.capture_idle_interval_ms,
                f"at least the capture interval ({self.capture_interval_ms} ms)",
            )
        if self.capture_steps_per_poll < 0:
            raise _bad("capture_steps_per_poll", self.capture_steps_per_poll, "0 or more")
        if not (math.isfinite(self.gateway_shed_s) and self.gateway_shed_s >= 0):
            raise _bad("gateway_shed_s", self.gateway_shed_s, "0 (never) or a number of seconds")
        if not (math.isfinite(self.console_refresh_s) and self.console_refresh_s >= 0):
            raise _bad(
                "console_refresh_s", self.console_refresh_s, "0 (off) or a number of seconds"
            )
        try:
            Role.parse(self.console_user_header_role)
        except ValueError:
            raise _bad(
                "console_user_header_role",
                self.console_user_header_role,
                "viewer, operator or admin",
            ) from None
        _ = self.tls  # both files or neither; they are read by the roles' preflight
        if self.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise _bad("log_level", self.log_level, "DEBUG, INFO, WARNING or ERROR")


_ENV_FIELDS: dict[str, type] = {
    "data_dir": Path,
    "database_url": str,
    "kafka_bootstrap": str,
    "broker_port": int,
    "gateway_host": str,
    "gateway_port": int,
    "gateway_client_address_header": str,
    "console_host": str,
    "console_port": int,
    "worker_host": str,
    "worker_port": int,
    "tls_cert": Path,
    "tls_key": Path,
    "topic_prefix": str,
    "kafka_idempotence": IdempotenceSetting,
    "gateway_id": str,
    "ping_interval_s": float,
    "ping_timeout_s": float,
    "heartbeat_interval_s": float,
    "gateway_shed_s": float,
    "capture_interval_ms": int,
    "capture_idle_interval_ms": int,
    "capture_steps_per_poll": int,
    "console_refresh_s": float,
    "console_live_timeout_s": float,
    "console_action_timeout_s": float,
    "console_user_header": str,
    "console_user_header_role": str,
    "console_session_hours": float,
    "console_viewer_payloads": bool,
    "console_dbos_conductor_metrics": bool,
    "log_level": str,
}


_FLAGS = {
    "data_dir": "--data-dir",
    "database_url": "--database-url",
    "kafka_bootstrap": "--kafka",
    "broker_port": "--broker-port",
    "gateway_port": "--gateway-port",
    "console_port": "--console-port",
    "worker_port": "--worker-port",
    "log_level": "--log-level",
    "tls_cert": "--tls-cert",
    "tls_key": "--tls-key",
}
"""Settings the command line sets too (``baton gateway`` and ``console`` call theirs --port)."""

_KINDS = {
    int: "an integer",
    float: "a number",
    bool: "a boolean (1/0, true/false)",
    IdempotenceSetting: "auto, on or off",
}


def _where(name: str) -> str:
    """How the user sets ``name``: its flag, if any, and its variable."""
    variable = f"BATON_{name.upper()}"
    flag = _FLAGS.get(name)
    return variable if flag is None else f"{flag} (or {variable})"


def _bad(name: str, value: object, expected: str) -> ConfigError:
    return ConfigError(
        f"setting {name}={value!r} is not {expected}", fix=f"give {_where(name)} {expected}"
    )


def _check_bootstrap(bootstrap: str) -> None:
    """``HOST:PORT``, or several separated by commas."""
    for address in bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) <= 65535:
            raise ConfigError(
                f"--kafka {bootstrap!r} is not HOST:PORT",
                fix="pass --kafka HOST:PORT (or set BATON_KAFKA_BOOTSTRAP), e.g. 127.0.0.1:9092; "
                "separate several brokers with commas",
            )


def _timings_from_env(env: Mapping[str, str]) -> dict[str, int]:
    """``BATON_RECOVERY_<TIMING>_MS`` variables, by ``RecoveryTimings`` field name."""
    known = {f.name for f in dataclasses.fields(RecoveryTimings)}
    timings: dict[str, int] = {}
    for variable, raw in env.items():
        if not (variable.startswith("BATON_RECOVERY_") and variable.endswith("_MS")):
            continue
        name = variable.removeprefix("BATON_RECOVERY_").lower()
        if name not in known:
            allowed = ", ".join(f"BATON_RECOVERY_{k.upper()}" for k in sorted(known))
            raise ConfigError(f"unknown setting {variable}", fix=f"unset it; known: {allowed}")
        timings[name] = int(_convert(name, variable, raw, int))  # type: ignore[call-overload]
    return timings


def _gateway_limits(env: Mapping[str, str]) -> GatewayLimits:
    """``GatewayLimits`` from its ``BATON_GATEWAY_<FIELD>`` variables (the rest: defaults)."""
    defaults = GatewayLimits()
    values: dict[str, object] = {}
    for f in dataclasses.fields(GatewayLimits):
        variable = f"BATON_GATEWAY_{f.name.upper()}"
        raw = env.get(variable)
        if raw is not None:
            values[f.name] = _convert(f.name, variable, raw, type(getattr(defaults, f.name)))
    return GatewayLimits(**values)  # type: ignore[arg-type]


def _convert(name: str, variable: str, raw: str, converter: type) -> object:
    """Parse the value of environment variable ``variable`` for setting ``name``."""
    kind = _KINDS.get(converter, converter.__name__)
    if converter is bool:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off", ""):
            return False
    else:
        try:
            return converter(raw)
        except ValueError:
            pass
    raise ConfigError(
        f"setting {name}={raw!r} (from {variable}) is not {kind}",
        fix=f"set {variable} to {kind}, or unset it",
    )


def environment() -> Mapping[str, str]:
    """The process environment; called once, by ``main``."""
    return dict(os.environ)
