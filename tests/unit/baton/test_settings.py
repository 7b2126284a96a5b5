"""Settings from the environment: BATON_* values, overrides, validation and masked secrets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from baton.settings import Secret, Settings
from broker.idempotence import IdempotenceSetting
from gateway.config import GatewayLimits
from recovery.policy import RecoveryTimings
from streams.exceptions import ConfigError


def test_defaults_from_an_empty_environment() -> None:
    settings = Settings.from_env({})
    assert settings.gateway_port == 8090
    assert settings.console_port == 8080
    assert settings.kafka_bootstrap is None
    assert settings.database_url is None
    assert settings.timings == RecoveryTimings()
    assert settings.log_level == "INFO"


def test_reads_baton_variables() -> None:
    settings = Settings.from_env(
        {
            "BATON_DATA_DIR": "/var/lib/baton",
            "BATON_KAFKA_BOOTSTRAP": "kafka:9092",
            "BATON_BROKER_PORT": "19092",
            "BATON_GATEWAY_HOST": "0.0.0.0",
            "BATON_GATEWAY_PORT": "9000",
            "BATON_CONSOLE_PORT": "9001",
            "BATON_TOPIC_PREFIX": "prod.",
            "BATON_GATEWAY_ID": "gw-7",
            "BATON_PING_INTERVAL_S": "2.5",
            "BATON_HEARTBEAT_INTERVAL_S": "1",
            "BATON_LOG_LEVEL": "DEBUG",
            "UNRELATED": "ignored",
        }
    )
    assert settings.data_dir == Path("/var/lib/baton")
    assert settings.kafka_bootstrap == "kafka:9092"
    assert settings.require_kafka() == "kafka:9092"
    assert settings.broker_port == 19092
    assert settings.gateway_host == "0.0.0.0"
    assert settings.gateway_port == 9000
    assert settings.console_port == 9001
    assert settings.topic_prefix == "prod."
    assert settings.topics.prefix == "prod."
    assert settings.gateway_id == "gw-7"
    assert settings.ping_interval_s == 2.5
    assert settings.heartbeat_interval_s == 1.0
    assert settings.log_level == "DEBUG"


def test_overrides_win_over_the_environment_and_none_does_not_override() -> None:
    settings = Settings.from_env(
        {"BATON_GATEWAY_PORT": "9000", "BATON_LOG_LEVEL": "DEBUG"},
        gateway_port=9100,
        log_level=None,
    )
    assert settings.gateway_port == 9100
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    "env",
    [
        {"BATON_GATEWAY_PORT": "70000"},
        {"BATON_CONSOLE_PORT": "-1"},
        {"BATON_GATEWAY_PORT": "http"},
        {"BATON_BROKER_PORT": "nine"},
        {"BATON_BROKER_PORT": "70000"},
    ],
)
def test_bad_port_is_a_config_error(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        Settings.from_env(env)


def test_bad_port_override_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="gateway_port"):
        Settings.from_env({}, gateway_port=65536)


@pytest.mark.parametrize(
    "env",
    [
        {"BATON_PING_INTERVAL_S": "fast"},
        {"BATON_PING_TIMEOUT_S": "0"},
        {"BATON_HEARTBEAT_INTERVAL_S": "-2"},
        {"BATON_RECOVERY_GRACE_MS": "3s"},
        {"BATON_RECOVERY_GRACE_MS": "1.5"},
        {"BATON_PING_INTERVAL_S": "nan"},
    ],
)
def test_bad_number_is_a_config_error(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        Settings.from_env(env)


def test_config_error_names_the_setting_and_value() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"BATON_PING_INTERVAL_S": "fast"})
    assert "ping_interval_s" in str(caught.value)
    assert "fast" in str(caught.value)


@pytest.mark.parametrize(
    "env",
    [
        {"BATON_KAFKA_BOOTSTRAP": "no-port"},
        {"BATON_LOG_LEVEL": "LOUD"},
        {"BATON_CAPTURE_INTERVAL_MS": "10"},
        {"BATON_CAPTURE_IDLE_INTERVAL_MS": "1000"},
        {"BATON_CAPTURE_STEPS_PER_POLL": "-1"},
        {"BATON_CONSOLE_REFRESH_S": "-1"},
        {"BATON_CONSOLE_REFRESH_S": "nan"},
        {"BATON_CONSOLE_LIVE_TIMEOUT_S": "0"},
    ],
)
def test_other_invalid_values_are_config_errors(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        Settings.from_env(env)


def test_recovery_timings_from_the_environment() -> None:
    settings = Settings.from_env(
        {"BATON_RECOVERY_GRACE_MS": "5000", "BATON_RECOVERY_DRAIN_GRACE_MS": "60000"}
    )
    assert settings.timings.grace_ms == 5_000
    assert settings.timings.drain_grace_ms == 60_000
    assert settings.timings.liveness_timeout_ms == RecoveryTimings().liveness_timeout_ms


def test_the_isolated_grace_and_crowd_window_from_the_environment() -> None:
    defaults = Settings.from_env({}).timings
    assert (defaults.isolated_grace_ms, defaults.crowd_window_ms) == (1_800, 1_000)
    assert defaults.grace_ms == 3_000
    settings = Settings.from_env(
        {"BATON_RECOVERY_ISOLATED_GRACE_MS": "2000", "BATON_RECOVERY_CROWD_WINDOW_MS": "500"}
    )
    assert settings.timings.isolated_grace_ms == 2_000
    assert settings.timings.crowd_window_ms == 500
    assert settings.timings.grace_ms == 3_000


def test_timing_overrides_win_over_the_environment() -> None:
    settings = Settings.from_env(
        {"BATON_RECOVERY_GRACE_MS": "5000"}, timings={"grace_ms": 7000, "retry_backoff_ms": 10}
    )
    assert settings.timings.grace_ms == 7_000
    assert settings.timings.retry_backoff_ms == 10


def test_unknown_recovery_timing_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="BATON_RECOVERY"):
        Settings.from_env({"BATON_RECOVERY_X_MS": "10"})


def test_database_url_is_masked_in_repr() -> None:
    url = "postgresql+asyncpg://baton:hunter2@db:5432/baton"
    settings = Settings.from_env({"BATON_DATABASE_URL": url})
    assert isinstance(settings.database_url, Secret)
    assert settings.store_url() == url
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in repr(settings.database_url)
    assert str(settings.database_url) == url


def test_database_url_override_is_masked_too() -> None:
    url = "postgresql+asyncpg://baton:hunter2@db/baton"
    settings = Settings.from_env({}, database_url=url)
    assert isinstance(settings.database_url, Secret)
    assert "hunter2" not in repr(settings)
    assert settings.store_url() == url


def test_store_url_defaults_to_sqlite_under_the_data_dir(tmp_path: Path) -> None:
    settings = Settings.from_env({"BATON_DATA_DIR": str(tmp_path)})
    assert settings.store_url() == f"sqlite+aiosqlite:///{(tmp_path / 'baton.db').resolve()}"


def test_require_kafka_without_a_broker_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="--kafka"):
        Settings.from_env({}).require_kafka()


def test_the_variable_require_kafka_suggests_actually_sets_the_broker() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({}).require_kafka()
    suggested = re.findall(r"\bBATON_[A-Z_]+", str(caught.value))
    assert suggested, "the error should name the environment variable to set"
    for name in suggested:
        assert Settings.from_env({name: "kafka:9092"}).require_kafka() == "kafka:9092", name


def test_capture_and_console_settings_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "BATON_CAPTURE_INTERVAL_MS": "5000",
            "BATON_CAPTURE_IDLE_INTERVAL_MS": "5000",
            "BATON_CAPTURE_STEPS_PER_POLL": "0",
            "BATON_CONSOLE_REFRESH_S": "0",
            "BATON_CONSOLE_LIVE_TIMEOUT_S": "1.5",
        }
    )
    assert settings.capture_interval_ms == 5000
    assert settings.capture_idle_interval_ms == 5000
    assert settings.capture_steps_per_poll == 0
    assert settings.console_refresh_s == 0
    assert settings.console_live_timeout_s == 1.5


def test_a_bad_variable_names_itself_and_what_it_accepts() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"BATON_CONSOLE_PORT": "eighty"})
    assert caught.value.line == (
        "setting console_port='eighty' (from BATON_CONSOLE_PORT) is not an integer; "
        "to fix, set BATON_CONSOLE_PORT to an integer, or unset it"
    )


def test_an_out_of_range_value_names_the_flag_and_the_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({}, console_port=70000)
    assert caught.value.fix == "give --console-port (or BATON_CONSOLE_PORT) a port number (0-65535)"


@pytest.mark.parametrize("bootstrap", ["kafka:ninety", ":9092", "kafka:0", "a:9092,b"])
def test_kafka_must_be_host_and_port(bootstrap: str) -> None:
    with pytest.raises(ConfigError, match="is not HOST:PORT"):
        Settings.from_env({}, kafka_bootstrap=bootstrap)


def test_several_kafka_brokers_are_accepted() -> None:
    settings = Settings.from_env({}, kafka_bootstrap="k1:9092,k2:9092,[::1]:9093")
    assert settings.kafka_bootstrap == "k1:9092,k2:9092,[::1]:9093"


def test_an_unknown_recovery_timing_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"BATON_RECOVERY_X_MS": "10"})
    assert "BATON_RECOVERY_GRACE_MS" in caught.value.fix


def test_gateway_limits_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "BATON_GATEWAY_OPEN_TIMEOUT_S": "3",
            "BATON_GATEWAY_HANDSHAKE_TIMEOUT_S": "4.5",
            "BATON_GATEWAY_WRITE_TIMEOUT_S": "6",
            "BATON_GATEWAY_CLOSE_TIMEOUT_S": "1",
            "BATON_GATEWAY_WRITE_LIMIT_BYTES": "65536",
            "BATON_GATEWAY_SEND_BUFFER_BYTES": "131072",
            "BATON_GATEWAY_MAX_QUEUE_FRAMES": "8",
            "BATON_GATEWAY_MAX_MESSAGE_BYTES": "1048576",
            "BATON_GATEWAY_MAX_PENDING_REQUESTS": "16",
            "BATON_GATEWAY_COMPRESSION": "true",
            "BATON_GATEWAY_PORT": "9000",  # not a limit: still the port
        }
    )
    assert settings.gateway_limits == GatewayLimits(
        open_timeout_s=3.0,
        handshake_timeout_s=4.5,
        write_timeout_s=6.0,
        close_timeout_s=1.0,
        write_limit_bytes=65536,
        send_buffer_bytes=131072,
        max_queue_frames=8,
        max_message_bytes=1048576,
        max_pending_requests=16,
        compression=True,
    )
    assert settings.gateway_port == 9000
    assert Settings.from_env({}).gateway_limits == GatewayLimits()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("BATON_GATEWAY_WRITE_TIMEOUT_S", "0"),
        ("BATON_GATEWAY_OPEN_TIMEOUT_S", "-1"),
        ("BATON_GATEWAY_HANDSHAKE_TIMEOUT_S", "inf"),
        ("BATON_GATEWAY_MAX_QUEUE_FRAMES", "1.5"),
        ("BATON_GATEWAY_MAX_PENDING_REQUESTS", "lots"),
        ("BATON_GATEWAY_COMPRESSION", "maybe"),
    ],
)
def test_bad_gateway_limits_are_config_errors_naming_the_variable(
    variable: str, value: str
) -> None:
    name = variable.removeprefix("BATON_GATEWAY_")
    with pytest.raises(ConfigError, match=re.compile(name, re.IGNORECASE)):
        Settings.from_env({variable: value})


def test_kafka_idempotence_is_auto_on_or_off() -> None:
    assert Settings.from_env({}).kafka_idempotence is IdempotenceSetting.AUTO
    for value in ("auto", "on", "off"):
        settings = Settings.from_env({"BATON_KAFKA_IDEMPOTENCE": value})
        assert settings.kafka_idempotence is IdempotenceSetting(value)
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"BATON_KAFKA_IDEMPOTENCE": "yes"})
    assert caught.value.line == (
        "setting kafka_idempotence='yes' (from BATON_KAFKA_IDEMPOTENCE) is not auto, on or off; "
        "to fix, set BATON_KAFKA_IDEMPOTENCE to auto, on or off, or unset it"
    )
