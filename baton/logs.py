"""Logging set-up, called once by the CLI: structured JSON when stderr is not a terminal,
readable console lines otherwise; quiet by default (libraries at WARNING), and the same warning or
error repeated is one line, then one summary with its count per window.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable

import structlog

from runtime.log_throttle import LogThrottle, Repeats

REPEAT_WINDOW_S = 30.0
"""A warning or error logged again within this long is counted, not printed."""

NOISY_LIBRARIES = (
    "aiokafka",
    "alembic",  # a line per plugin and per migration context; Baton logs the upgrade itself
    "faust",
    "mode",
    "websockets",
    "uvicorn",
    "kafka",
    "sqlalchemy",
    "broker.faust_transport",  # Faust's service start/stop lines, logged under our subclass
    "broker.faust_metrics",  # the same, of the metrics sensor (a mode service)
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
    handler.addFilter(RepeatFilter(handler.handle))
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


class RepeatFilter(logging.Filter):
    """Collapses a warning or error that repeats: the first occurrence is printed, the next ones
    within ``window_s`` are counted, and one summary line per window carries their count.

    Occurrences are the same when their logger, level and message template (the ``%``-format
    before its arguments) are: a broker that went away makes Kafka clients log "Unable connect to
    node with id %s: %s" many times a second. INFO and DEBUG lines are never held back: they
    are lifecycle lines whose arguments matter; nor are lines logged with
    ``extra={"self_limited": True}``, whose source limits them already (``baton up``'s restarts,
    which back off).

    A summary is printed by the next record the handler sees after the window (no timer thread):
    while a failure goes on, that is its own next occurrence.

    Args:
        emit: prints a summary record (the handler's ``handle``).
        window_s: how long repeats are counted before their summary.
    """

    def __init__(
        self, emit: Callable[[logging.LogRecord], object], window_s: float = REPEAT_WINDOW_S
    ) -> None:
        super().__init__()
        self._emit = emit
        self._throttle = LogThrottle(window_ms=int(window_s * 1000), max_keys=_MAX_KEYS)
        self._held: dict[str, logging.LogRecord] = {}
        """The latest held-back record of each key with a count."""
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if hasattr(record, "repeated") or getattr(record, "self_limited", False):
            return True  # a summary of ours, or a line its source already rate-limits
        now_ms = int(record.created * 1000)
        key = f"{record.name}\0{record.levelno}\0{record.msg}"
        with self._lock:
            summaries = [self._summary(repeats) for repeats in self._throttle.due(now_ms)]
            passes = record.levelno < logging.WARNING or self._throttle.should_log(key, now_ms)
            if not passes:
                if len(self._held) >= _MAX_KEYS:
                    self._held.clear()
                self._held[key] = record
        for summary in summaries:
            if summary is not None:
                self._emit(summary)
        return passes

    def _summary(self, repeats: Repeats) -> logging.LogRecord | None:
        last = self._held.pop(repeats.key, None)
        if last is None:
            return None
        span_s = round(repeats.span_ms / 1000)
        summary = logging.LogRecord(
            last.name,
            last.levelno,
            last.pathname,
            last.lineno,
            "%s ... repeated %d times in the last %d s",
            (_message(last), repeats.count, span_s),
            None,
        )
        summary.repeated = repeats.count
        summary.window_s = span_s
        return summary


_MAX_KEYS = 1_000


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except (TypeError, ValueError):  # arguments that do not fit the template
        return str(record.msg)
