"""The ``baton`` command line: the composition root of every role and admin command.

Errors a user can fix (``StartupError``: a bad setting, a taken port, an unwritable data
directory, an unreachable broker or database) end the command with one line naming the cause and
the fix on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from baton.exposure import warn_if_exposed
from baton.logs import configure_logging
from baton.preflight import Listener, bind_errors_as_port_in_use, check_data_dir, check_port_free
from baton.remote import add_parsers as add_remote_parsers
from baton.remote import run_remote
from baton.settings import Settings, environment
from runtime.private_files import use_private_umask
from runtime.stop_deadline import STOP_DEADLINE_S, StopDeadline, exit_at_once
from streams.exceptions import ConductorError, StartupError

ADMIN_COMMANDS = ("keys", "tokens", "users", "apps", "executors")
"""Commands over the store that ``baton.admin.run_admin`` runs. A command group ``G`` keeps its
subcommand in ``args.G_command``."""
QUIET_COMMANDS = (*ADMIN_COMMANDS, "replay", "workflows", "audit")
"""Commands that print their results: their logs stay quiet unless asked for."""
REMOTE_COMMANDS = ("workflows", "audit")
"""Commands that act through a running console: no store, no data directory of their own."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="baton", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def tls(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--tls-cert", type=Path, help="serve TLS (wss://, https://) with this PEM certificate"
        )
        p.add_argument("--tls-key", type=Path, help="the certificate's unencrypted PEM key")

    def common(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--data-dir", type=Path, help="where the SQLite store lives (./.baton)")
        p.add_argument("--database-url", help="SQLAlchemy URL of the store (PostgreSQL)")
        p.add_argument("--log-level", help="DEBUG, INFO (default), WARNING or ERROR")
        return p

    up = common(sub.add_parser("up", help="run everything on this machine (embedded broker)"))
    up.add_argument("--kafka", dest="kafka_bootstrap", help="use this Kafka instead (HOST:PORT)")
    up.add_argument("--broker-port", type=int, help="port of the embedded broker (free port)")
    up.add_argument("--gateway-port", type=int, help="executors' WebSocket port (8090)")
    up.add_argument("--console-port", type=int, help="HTTP console port (8080)")
    up.add_argument(
        "--worker-port", type=int, help="the worker's HTTP port: /metrics, /healthz, /readyz (8091)"
    )
    up.add_argument(
        "--host",
        help="interface the gateway and the console listen on (127.0.0.1); beyond loopback, "
        "put TLS in front or give --tls-cert/--tls-key (README: TLS)",
    )
    tls(up)
    for role, default_port in (("gateway", 8090), ("console", 8080)):
        p = common(sub.add_parser(role, help=f"run the {role} role alone"))
        p.add_argument("--kafka", dest="kafka_bootstrap", help="Kafka bootstrap HOST:PORT")
        p.add_argument("--host", help="interface to listen on (127.0.0.1)")
        p.add_argument("--port", type=int, help=f"port to listen on ({default_port})")
        tls(p)
    worker = common(sub.add_parser("worker", help="run a Faust worker (recovery agent) alone"))
    worker.add_argument("--kafka", dest="kafka_bootstrap", help="Kafka bootstrap HOST:PORT")
    worker.add_argument("--host", help="interface of /metrics, /healthz and /readyz (127.0.0.1)")
    worker.add_argument("--port", type=int, help="port of /metrics, /healthz and /readyz (8091)")

    keys = group(sub, "keys", "manage executors' API keys")
    create = common(keys.add_parser("create", help="create a key (printed once)"))
    create.add_argument("app")
    create.add_argument("--name", "--label", dest="name", help="a name: where the key is used")
    expiry = create.add_mutually_exclusive_group()
    expiry.add_argument("--expires-in", help="stop working after this long: 90m, 12h, 30d, 8w")
    expiry.add_argument("--expires-at", help="stop working at this ISO 8601 time (UTC if no zone)")
    common(keys.add_parser("list", help="list an app's keys")).add_argument("app")
    revoke = common(keys.add_parser("revoke", help="revoke a key; its sessions close"))
    revoke.add_argument("app")
    revoke.add_argument("key_id")

    role_help = "viewer (read), operator (read and act on workflows) or admin (everything)"
    tokens = group(sub, "tokens", "manage API tokens for the console")
    token = common(
        tokens.add_parser("create", help="create a token (printed once, on the last line)")
    )
    token.add_argument("name", help="1 to 64 of [A-Za-z0-9_.-]; the console's actor is token:NAME")
    token.add_argument("--role", default="operator", help=f"{role_help}; default operator")
    common(tokens.add_parser("list", help="list the tokens"))
    common(tokens.add_parser("revoke", help="revoke a token")).add_argument("name")

    users = group(sub, "users", "manage the console's users")
    user = common(users.add_parser("create", help="create a user (their password is printed once)"))
    user.add_argument("name", help="1 to 64 of [A-Za-z0-9_.@-]; the console's actor is user:NAME")
    user.add_argument("--role", default="viewer", help=f"{role_help}; default viewer")
    common(users.add_parser("list", help="list the users"))
    set_role = common(users.add_parser("role", help="change a user's role"))
    set_role.add_argument("name")
    set_role.add_argument("role", help=role_help)
    common(
        users.add_parser("password", help="give a user a new password (printed once)")
    ).add_argument("name")
    common(
        users.add_parser("link", help="print a one-time sign-in link for a user (24 h)")
    ).add_argument("name")
    common(users.add_parser("delete", help="delete a user; their sessions end")).add_argument(
        "name"
    )

    apps = group(sub, "apps", "list apps and change their settings")
    common(apps.add_parser("list", help="list the apps and their payload privacy"))
    privacy = common(
        apps.add_parser(
            "privacy",
            help="payload privacy: never ask for, keep or show an app's workflow inputs, outputs "
            "and errors (on erases those stored)",
        )
    )
    privacy.add_argument("app")
    privacy.add_argument("setting", choices=("on", "off"))

    executors = common(sub.add_parser("executors", help="show an app's executors"))
    executors.add_argument("app")

    replay = common(
        sub.add_parser("replay", help="rebuild the store's workflow history and audit log")
    )
    replay.add_argument(
        "--kafka", dest="kafka_bootstrap", required=True, help="Kafka bootstrap HOST:PORT"
    )
    add_remote_parsers(sub, common)
    return parser


def group(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """A command group ``baton NAME SUBCOMMAND``; the subcommand lands in ``args.NAME_command``."""
    parser = sub.add_parser(name, help=help_text)
    return parser.add_subparsers(dest=f"{name}_command", required=True)


def settings_from(args: argparse.Namespace) -> Settings:
    overrides = {
        name: getattr(args, name, None)
        for name in (
            "data_dir",
            "database_url",
            "kafka_bootstrap",
            "broker_port",
            "log_level",
            "tls_cert",
            "tls_key",
        )
    }
    role_ports = {"gateway": "gateway", "console": "console", "worker": "worker"}
    if args.command in role_ports:
        prefix = role_ports[args.command]
        overrides[f"{prefix}_host"] = args.host
        overrides[f"{prefix}_port"] = args.port
    if args.command == "up":
        overrides["gateway_port"] = args.gateway_port
        overrides["console_port"] = args.console_port
        overrides["worker_port"] = args.worker_port
        overrides["gateway_host"] = overrides["console_host"] = args.host
    return Settings.from_env(environment(), **overrides)


def main(argv: Sequence[str] | None = None) -> None:
    use_private_umask()  # before anything is written: the data dir is the user's alone
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from(args)
        # Admin commands print their results; their logs stay quiet unless asked for.
        quiet = args.command in QUIET_COMMANDS and args.log_level is None
        configure_logging("WARNING" if quiet else settings.log_level, role=args.command)
        preflight(args.command, settings)
        sys.exit(dispatch(args, settings))
    except StartupError as exc:
        print(f"baton: {exc.line}", file=sys.stderr)
        sys.exit(2)
    except ConductorError as exc:
        print(f"baton: {exc}", file=sys.stderr)
        sys.exit(2)


def preflight(command: str, settings: Settings) -> None:
    """Check what this machine must offer the command before anything starts: a writable data
    directory (the SQLite store, the worker's tables) and free ports.

    Raises:
        StartupError: the cause and the fix.
    """
    uses_data_dir = command in ("up", "worker") or (
        command not in REMOTE_COMMANDS and settings.database_url is None
    )
    if uses_data_dir:
        check_data_dir(settings.data_dir)
    for listener in listeners(command, settings):
        check_port_free(listener)
    tls = settings.tls
    if tls is not None and command in ("up", "gateway", "console"):
        tls.server_context()  # reads both files: a bad one stops the start here, in one line


def listeners(command: str, settings: Settings) -> list[Listener]:
    """The addresses ``command`` will listen on, with the flags that choose them."""
    gateway = Listener(
        host=settings.gateway_host,
        port=settings.gateway_port,
        flag="--port",
        variable="BATON_GATEWAY_PORT",
        what="the gateway",
    )
    console = Listener(
        host=settings.console_host,
        port=settings.console_port,
        flag="--port",
        variable="BATON_CONSOLE_PORT",
        what="the console",
    )
    worker = Listener(
        host=settings.worker_host,
        port=settings.worker_port,
        flag="--port",
        variable="BATON_WORKER_PORT",
        what="the worker",
    )
    match command:
        case "gateway":
            return [gateway]
        case "console":
            return [console]
        case "worker":
            return [worker]
        case "up":
            found = [
                dataclasses.replace(gateway, flag="--gateway-port"),
                dataclasses.replace(console, flag="--console-port"),
                dataclasses.replace(worker, flag="--worker-port"),
            ]
            if settings.kafka_bootstrap is None and settings.broker_port is not None:
                found.append(
                    Listener(
                        host="127.0.0.1",
                        port=settings.broker_port,
                        flag="--broker-port",
                        variable="BATON_BROKER_PORT",
                        what="the embedded broker",
                    )
                )
            return found
        case _:
            return []


def dispatch(args: argparse.Namespace, settings: Settings) -> int:
    # Imports are per command: a `baton keys` call should not load Faust.
    match args.command:
        case "up":
            from baton.supervisor import run_up

            return asyncio.run(run_up(settings))
        case "gateway":
            from baton.gateway_role import run_gateway

            tls = settings.tls is not None
            warn_if_exposed("gateway", settings.gateway_host, settings.gateway_port, tls=tls)
            with bind_errors_as_port_in_use(*listeners("gateway", settings)):
                return run_until_signal(
                    lambda stop: run_gateway(settings, stop), exit_when_stopped=True
                )
        case "console":
            from baton.console_role import run_console_role

            tls = settings.tls is not None
            warn_if_exposed("console", settings.console_host, settings.console_port, tls=tls)
            with bind_errors_as_port_in_use(*listeners("console", settings)):
                return run_until_signal(lambda stop: run_console_role(settings, stop))
        case "worker":
            from baton.worker import run_worker

            with bind_errors_as_port_in_use(*listeners("worker", settings)):
                return run_until_signal(lambda stop: run_worker(settings, stop))
        case "replay":
            from baton.admin import run_replay

            return asyncio.run(run_replay(settings))
        case "workflows" | "audit":
            console_url = f"http://{settings.console_host}:{settings.console_port}"
            return run_remote(args, console_url, environment().get("BATON_TOKEN"))
        case command if command in ADMIN_COMMANDS:
            from baton.admin import run_admin

            return asyncio.run(run_admin(args, settings))
        case _:
            raise AssertionError(args.command)


def run_until_signal(
    role: Callable[[asyncio.Event], Awaitable[None]],
    stop_deadline_s: float = STOP_DEADLINE_S,
    *,
    exit_when_stopped: bool = False,
) -> int:
    """Run an asyncio role; SIGINT/SIGTERM (handled once, here) set its stop event, and arm
    ``runtime.stop_deadline``: a role still stopping ``stop_deadline_s`` later exits anyway.

    With ``exit_when_stopped``, a role that stopped cleanly (its work flushed, its resources
    closed) ends the process at once, skipping the interpreter's teardown: the gateway's took
    seconds after a drain of thousands of sessions on busy cores (issue 12)."""
    deadline = StopDeadline(stop_deadline_s)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_signal() -> None:
            stop.set()
            deadline.arm()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        await role(stop)

    try:
        asyncio.run(main())
    finally:
        deadline.disarm()
    if exit_when_stopped:
        exit_at_once(0)
    return 0
