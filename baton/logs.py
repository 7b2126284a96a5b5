"""Logging set-up, called once by the CLI: structured JSON when stderr is not a terminal,
readable console lines otherwise; quiet by default (libraries at WARNING)."""

from __future__ import annotations

import logging
import sys

import structlog

NOISY_LIBRARIES = (
    "aiokafka",
    "faust",
    "mode",
    "websockets",
    "uvicorn",
    "kafka",
    "sqlalchemy",
    "broker.faust_transport",  # Faust's service start/stop lines, logged under our subclass
)


def configure_logging(level: str, role: str) -> None:
    """Route the stdlib loggers through structlog's formatter with the role as a field."""
    shared: list[structlog.typing.Processor] = [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
    ]
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer(colors=False)
        if sys.stderr.isatty()
        else structlog.processors.JSONRenderer()
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, _add_role(role)],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in NOISY_LIBRARIES:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))


def _add_role(role: str) -> structlog.typing.Processor:
    def add(
        logger: object, method: str, event: structlog.typing.EventDict
    ) -> structlog.typing.EventDict:
        event.setdefault("role", role)
        return event

    return add
