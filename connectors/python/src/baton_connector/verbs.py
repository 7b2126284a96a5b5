"""Each Conductor verb served through DBOS's public API (dbos 3.3 and 3.4): the connector's one
adapter of ``dbos``.

``Verbs.answer`` takes a decoded request and returns the reply's fields; an exception of a DBOS
call becomes an ``error_message`` (its type and text, never a traceback). What the public API
cannot serve answers ``"<verb> is not supported by this client ..."``; the README lists each
limit. The one private call is ``DBOS._recover_pending_workflows``, used where
``recovery.STRATEGY_BY_MINOR`` says it was tested.
"""

from __future__ import annotations

import importlib.metadata
import logging
import socket
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from dbos import DBOS, Queue, SetWorkflowID

from baton_connector import protocol, recovery
from baton_connector.exceptions import ConfigError, NotSupported, ProtocolError
from baton_connector.protocol import MessageType, Request

logger = logging.getLogger(__name__)

TERMINAL_STATUSES = ["SUCCESS", "ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"]
"""The statuses retention may delete (DBOS's garbage collection keeps the active ones)."""
ACTIVE_STATUSES = ["PENDING", "ENQUEUED"]
"""The statuses a global timeout cancels."""
RETENTION_BATCH = 1000
"""Workflows listed and deleted per round of retention."""

_LIST_FILTERS: dict[str, str] = {
    "workflow_name": "name",
    "authenticated_user": "user",
    "application_version": "app_version",
    "status": "status",
    "forked_from": "forked_from",
    "parent_workflow_id": "parent_workflow_id",
    "queue_name": "queue_name",
    "workflow_id_prefix": "workflow_id_prefix",
    "executor_id": "executor_id",
    "schedule_name": "schedule_name",
    "application_name": "application_name",
}
"""``list_workflows`` body field -> ``DBOS.list_workflows`` keyword, for the string filters."""
_LIST_TIMES = (
    "start_time",
    "end_time",
    "completed_after",
    "completed_before",
    "dequeued_after",
    "dequeued_before",
)

_UNSUPPORTED: dict[MessageType, str] = {
    MessageType.GET_METRICS: "DBOS 3.3 removed metrics from its open core",
    MessageType.GET_WORKFLOW_AGGREGATES: "DBOS 3.3 removed aggregates from its open core",
    MessageType.GET_STEP_AGGREGATES: "DBOS 3.3 removed aggregates from its open core",
    MessageType.EXPORT_WORKFLOW: "DBOS 3.3 removed workflow export from its open core",
    MessageType.IMPORT_WORKFLOW: "DBOS 3.3 removed workflow import from its open core",
    MessageType.GET_WORKFLOW_NOTIFICATIONS: "DBOS has no public call listing a workflow's messages",
    MessageType.GET_WORKFLOW_STREAMS: "DBOS has no public call listing a workflow's streams",
    MessageType.ALERT: "the connector has no alert handler",
}


def dbos_version() -> str:
    """The installed ``dbos`` release (what ``executor_info`` reports)."""
    return importlib.metadata.version("dbos")


class Verbs:
    """The DBOS side of every verb, for the launched DBOS of this process."""

    def __init__(
        self,
        *,
        executor_metadata: Mapping[str, Any] | None = None,
        strategy: recovery.Strategy | None = None,
    ) -> None:
        version = dbos_version()
        has_private_call = callable(getattr(DBOS, "_recover_pending_workflows", None))
        if strategy is recovery.Strategy.PRIVATE_RECOVER and not has_private_call:
            raise ConfigError(f"dbos {version} has no DBOS._recover_pending_workflows")
        self.strategy = strategy or recovery.choose(version, has_private_call=has_private_call)
        self._dbos_version = version
        self._metadata = {**(executor_metadata or {}), "recovery": self.strategy.value}

    def answer(self, request: Request) -> dict[str, Any]:
        """The reply fields for ``request`` (an error's fields when it failed)."""
        try:
            verb = MessageType(request.type)
        except ValueError:
            # DBOS's own clients answer exactly this; Baton reads it as "this client lacks it".
            logger.warning("unknown message type %r from the conductor", request.type)
            return {"error_message": "Unknown message type"}
        try:
            return self._dispatch(verb, request)
        except NotSupported as exc:
            return protocol.error_fields(str(exc))
        except ProtocolError as exc:
            return protocol.error_fields(f"bad {verb.value} request: {exc}")
        except Exception as exc:  # noqa: BLE001 -- any DBOS failure is the conductor's to show
            logger.warning("%s failed: %s", verb.value, type(exc).__name__)
            return protocol.error_fields(f"{verb.value} failed: {type(exc).__name__}: {exc}")

    def _dispatch(self, verb: MessageType, r: Request) -> dict[str, Any]:
        match verb:
            case MessageType.EXECUTOR_INFO:
                return self.executor_info()
            case MessageType.RECOVERY:
                return self.recover(r)
            case MessageType.CANCEL:
                return _done(
                    DBOS.cancel_workflows, r.ids(), cancel_children=_flag(r, "cancel_children")
                )
            case MessageType.DELETE:
                return _done(
                    DBOS.delete_workflows, r.ids(), delete_children=_flag(r, "delete_children")
                )
            case MessageType.RESUME:
                return _done(DBOS.resume_workflows, r.ids(), queue_name=r.field("queue_name", str))
            case MessageType.LIST_WORKFLOWS:
                return {"output": list_workflows(r.body(), queues_only=False)}
            case MessageType.LIST_QUEUED_WORKFLOWS:
                return {"output": list_workflows(r.body(), queues_only=True)}
            case MessageType.GET_WORKFLOW:
                return {"output": get_workflow(r)}
            case MessageType.EXIST_PENDING_WORKFLOWS:
                return {"exist": exist_pending(r)}
            case MessageType.LIST_STEPS:
                return {"output": list_steps(r)}
            case MessageType.FORK_WORKFLOW:
                return {"new_workflow_id": fork(r.body())}
            case MessageType.FORK_FROM_FAILURE:
                return {"forked_workflow_ids": fork_from_failure(r.body())}
            case MessageType.REWIND_WORKFLOW:
                return rewind(r.body())
            case MessageType.RETENTION:
                return retention(r.body())
            case MessageType.LIST_SCHEDULES:
                return {"output": list_schedules(r.body())}
            case MessageType.GET_SCHEDULE:
                return {"output": get_schedule(r)}
            case MessageType.PAUSE_SCHEDULE:
                return _done(DBOS.pause_schedule, r.field("schedule_name", str, ""))
            case MessageType.RESUME_SCHEDULE:
                return _done(DBOS.resume_schedule, r.field("schedule_name", str, ""))
            case MessageType.BACKFILL_SCHEDULE:
                return {"workflow_ids": backfill(r)}
            case MessageType.TRIGGER_SCHEDULE:
                handle = DBOS.trigger_schedule(r.field("schedule_name", str, ""))
                return {"workflow_id": handle.workflow_id}
            case MessageType.LIST_APPLICATION_VERSIONS:
                return {
                    "output": [protocol.version_output(v) for v in DBOS.list_application_versions()]
                }
            case MessageType.SET_LATEST_APPLICATION_VERSION:
                return _done(DBOS.set_latest_application_version, r.field("version_name", str, ""))
            case MessageType.GET_WORKFLOW_EVENTS:
                return {
                    "events": protocol.events_output(
                        DBOS.get_all_events(r.field("workflow_id", str, ""))
                    )
                }
            case MessageType.LIST_QUEUES:
                names = protocol.one_of(r.body().get("application_name"))
                return {
                    "output": [queue_output(q) for q in DBOS.list_queues(application_name=names)]
                }
            case MessageType.GET_QUEUE:
                queue = DBOS.retrieve_queue(r.field("name", str, ""))
                return {"output": None if queue is None else queue_output(queue)}
            case _:
                raise NotSupported(
                    f"{verb.value} is {protocol.NOT_SUPPORTED} (baton-connector on dbos "
                    f"{self._dbos_version}: {_UNSUPPORTED.get(verb, 'no public API')})"
                )

    def executor_info(self) -> dict[str, Any]:
        """Who this executor is, as DBOS's stock client reports it."""
        return {
            "executor_id": DBOS.executor_id,
            "application_version": DBOS.application_version,
            "hostname": socket.gethostname(),
            "language": "python",
            "dbos_version": self._dbos_version,
            "executor_metadata": self._metadata,
        }

    def recover(self, r: Request) -> dict[str, Any]:
        """Take over the PENDING workflows of the named (dead) executors (``recovery``)."""
        executor_ids = r.field("executor_ids", list, [])
        if not all(isinstance(item, str) for item in executor_ids):
            raise ProtocolError("executor_ids must be strings")
        if self.strategy is recovery.Strategy.PRIVATE_RECOVER:
            DBOS._recover_pending_workflows(executor_ids)
        else:
            recover_publicly(executor_ids)
        logger.info("recovery of %s requested (%s)", executor_ids, self.strategy.value)
        return {"success": True}


def _done(call: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    call(*args, **kwargs)
    return {"success": True}


def _flag(r: Request, name: str) -> bool:
    return bool(r.field(name, bool, False))


def list_workflows(body: Mapping[str, Any], *, queues_only: bool) -> list[dict[str, Any]]:
    """``list_workflows``/``list_queued_workflows``: every filter of the body, through
    ``DBOS.list_workflows``."""
    kwargs: dict[str, Any] = {
        keyword: protocol.one_of(body.get(field)) for field, keyword in _LIST_FILTERS.items()
    }
    for name in _LIST_TIMES:
        kwargs[name] = _optional(body, name, str)
    ids = body.get("workflow_uuids")
    kwargs["workflow_ids"] = None if ids is None else protocol.one_of(list(ids))
    kwargs["limit"] = _optional(body, "limit", int)
    kwargs["offset"] = _optional(body, "offset", int)
    kwargs["sort_desc"] = bool(body.get("sort_desc", False))
    kwargs["load_input"] = bool(body.get("load_input", True))
    kwargs["load_output"] = bool(body.get("load_output", True))
    kwargs["was_forked_from"] = _optional(body, "was_forked_from", bool)
    kwargs["has_parent"] = _optional(body, "has_parent", bool)
    kwargs["attributes"] = _optional(body, "attributes", dict)
    kwargs["queues_only"] = queues_only or bool(body.get("queues_only", False))
    return [protocol.workflow_output(info) for info in DBOS.list_workflows(**kwargs)]


def _optional(body: Mapping[str, Any], name: str, kind: type) -> Any:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ProtocolError(f"field {name!r} has the wrong type")
    return value


def get_workflow(r: Request) -> dict[str, Any] | None:
    """``get_workflow``: ``DBOS.list_workflows`` of one id (it has the load flags)."""
    found = DBOS.list_workflows(
        workflow_ids=[r.field("workflow_id", str, "")],
        load_input=_flag_default(r, "load_input"),
        load_output=_flag_default(r, "load_output"),
    )
    return protocol.workflow_output(found[0]) if found else None


def _flag_default(r: Request, name: str) -> bool:
    return bool(r.field(name, bool, True))


def exist_pending(r: Request) -> bool:
    """``exist_pending_workflows``: a PENDING workflow of that executor and version, if any."""
    found = DBOS.list_workflows(
        status="PENDING",
        executor_id=r.field("executor_id", str, ""),
        app_version=r.field("application_version", str, ""),
        limit=1,
        load_input=False,
        load_output=False,
    )
    return bool(found)


def list_steps(r: Request) -> list[dict[str, Any]]:
    """``list_steps``: ``DBOS.list_workflow_steps``."""
    steps = DBOS.list_workflow_steps(
        r.field("workflow_id", str, ""),
        load_output=_flag_default(r, "load_output"),
        limit=r.field("limit", int),
        offset=r.field("offset", int),
    )
    return [protocol.step_output(step) for step in steps]


def fork(body: Mapping[str, Any]) -> str:
    """``fork_workflow``: ``DBOS.fork_workflow`` under the requested new id (or DBOS's own)."""
    workflow_id = _required(body, "workflow_id", str)
    start_step = _required(body, "start_step", int)
    new_id = _optional(body, "new_workflow_id", str)
    kwargs = {
        "application_version": _optional(body, "application_version", str),
        "queue_name": _optional(body, "queue_name", str),
        "queue_partition_key": _optional(body, "queue_partition_key", str),
    }
    if new_id is None:
        return DBOS.fork_workflow(workflow_id, start_step, **kwargs).workflow_id
    with SetWorkflowID(new_id):
        return DBOS.fork_workflow(workflow_id, start_step, **kwargs).workflow_id


def _required(body: Mapping[str, Any], name: str, kind: type) -> Any:
    value = _optional(body, name, kind)
    if value is None:
        raise ProtocolError(f"field {name!r} is missing")
    return value


def fork_from_failure(body: Mapping[str, Any]) -> list[str]:
    """``fork_from_failure`` rebuilt from ``DBOS.list_workflow_steps`` + ``DBOS.fork_workflow``:
    each workflow forks from the step DBOS 3.2 would pick (see ``start_step_of``)."""
    ids = body.get("workflow_ids") or []
    if not all(isinstance(item, str) for item in ids):
        raise ProtocolError("workflow_ids must be strings")
    mode = _fork_mode(body)
    kwargs = {
        "application_version": _optional(body, "application_version", str),
        "queue_name": _optional(body, "queue_name", str),
        "queue_partition_key": _optional(body, "queue_partition_key", str),
    }
    starts = [start_step_of(workflow_id, mode, body) for workflow_id in ids]
    return [
        DBOS.fork_workflow(workflow_id, start, **kwargs).workflow_id
        for workflow_id, start in zip(ids, starts, strict=True)
    ]


def _fork_mode(body: Mapping[str, Any]) -> str:
    modes = [
        name
        for name, chosen in (
            ("from_last_failure", bool(body.get("from_last_failure"))),
            ("from_last_step", bool(body.get("from_last_step"))),
            ("from_step", body.get("from_step") is not None),
            ("from_step_name", body.get("from_step_name") is not None),
        )
        if chosen
    ]
    if len(modes) != 1:
        raise ProtocolError(
            "exactly one of from_last_failure, from_last_step, from_step, from_step_name"
        )
    return modes[0]


def start_step_of(workflow_id: str, mode: str, body: Mapping[str, Any]) -> int:
    """The step a fork from failure starts at, as DBOS 3.2's ``fork_from_failure`` picks it:
    the last failed step (else the last step), the last step, the given step, or the last step
    of the given name; a workflow without steps starts from 1."""
    if mode == "from_step":
        start: int = _required(body, "from_step", int)
        return start
    steps = DBOS.list_workflow_steps(workflow_id, load_output=False)
    if mode == "from_step_name":
        name = _required(body, "from_step_name", str)
        named = [s["function_id"] for s in steps if s["function_name"] == name]
        if not named:
            raise ValueError(f"workflow {workflow_id} has no step named {name!r}")
        return max(named)
    failed = [s["function_id"] for s in steps if s["error"] is not None]
    if mode == "from_last_failure" and failed:
        return max(failed)
    return max((s["function_id"] for s in steps), default=1)


def rewind(body: Mapping[str, Any]) -> dict[str, Any]:
    """``rewind_workflow``: ``DBOS.rewind_workflow`` (public since 3.3)."""
    DBOS.rewind_workflow(
        _required(body, "workflow_id", str),
        start_step=_optional(body, "start_step", int),
        application_version=_optional(body, "application_version", str),
        queue_name=_optional(body, "queue_name", str),
        queue_partition_key=_optional(body, "queue_partition_key", str),
    )
    return {"success": True}


def retention(body: Mapping[str, Any]) -> dict[str, Any]:
    """``retention`` rebuilt from ``DBOS.list_workflows`` + ``delete_workflows`` (garbage
    collection of finished workflows) and ``cancel_workflows`` (global timeout)."""
    cutoff_ms = _optional(body, "gc_cutoff_epoch_ms", int)
    rows = _optional(body, "gc_rows_threshold", int)
    batch = _optional(body, "gc_batch_size", int) or RETENTION_BATCH
    if cutoff_ms is not None:
        _delete_all(lambda: _finished(end_time=_iso(cutoff_ms), limit=batch))
    if rows is not None:
        _delete_all(lambda: _finished(offset=rows, limit=batch, sort_desc=True))
    timeout_ms = _optional(body, "timeout_cutoff_epoch_ms", int)
    if timeout_ms is not None:
        late = DBOS.list_workflows(
            status=ACTIVE_STATUSES, end_time=_iso(timeout_ms), load_input=False, load_output=False
        )
        if late:
            DBOS.cancel_workflows([w.workflow_id for w in late])
    return {"success": True}


def _finished(**kwargs: Any) -> list[str]:
    found = DBOS.list_workflows(
        status=TERMINAL_STATUSES, load_input=False, load_output=False, **kwargs
    )
    return [w.workflow_id for w in found]


def _delete_all(batch: Callable[[], list[str]]) -> None:
    while ids := batch():
        DBOS.delete_workflows(ids)


def _iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc).isoformat()


def list_schedules(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``list_schedules``: ``DBOS.list_schedules`` with its filters."""
    schedules = DBOS.list_schedules(
        status=protocol.one_of(body.get("status")),
        workflow_name=protocol.one_of(body.get("workflow_name")),
        schedule_name_prefix=protocol.one_of(body.get("schedule_name_prefix")),
        application_name=protocol.one_of(body.get("application_name")),
    )
    load_context = bool(body.get("load_context", True))
    return [protocol.schedule_output(s, load_context=load_context) for s in schedules]


def get_schedule(r: Request) -> dict[str, Any] | None:
    """``get_schedule``: ``DBOS.get_schedule``."""
    schedule = DBOS.get_schedule(r.field("schedule_name", str, ""))
    if schedule is None:
        return None
    return protocol.schedule_output(schedule, load_context=_flag_default(r, "load_context"))


def backfill(r: Request) -> list[str]:
    """``backfill_schedule``: ``DBOS.backfill_schedule`` between two ISO 8601 times."""
    try:
        start = datetime.fromisoformat(r.field("start", str, ""))
        end = datetime.fromisoformat(r.field("end", str, ""))
    except ValueError as exc:
        raise ProtocolError("start and end must be ISO 8601 times") from exc
    handles = DBOS.backfill_schedule(r.field("schedule_name", str, ""), start, end)
    return [handle.workflow_id for handle in handles]


def queue_output(queue: Queue) -> dict[str, Any]:
    """A queue as DBOS's ``QueueOutput`` sends it, from the queue's public properties."""
    limiter = queue.limiter
    partition_limiter = queue.partition_limiter
    partition_concurrency = queue.partition_concurrency
    partition_worker_concurrency = queue.partition_worker_concurrency
    return {
        "name": queue.name,
        "concurrency": queue.global_concurrency,
        "worker_concurrency": queue.worker_concurrency,
        "rate_limit_max": limiter["limit"] if limiter else None,
        "rate_limit_period_sec": limiter["period"] if limiter else None,
        "priority_enabled": True,
        "partition_queue": any(
            value is not None
            for value in (partition_limiter, partition_concurrency, partition_worker_concurrency)
        ),
        "polling_interval_sec": queue.polling_interval_sec,
        "application_name": queue.application_name,
        "partition_concurrency": partition_concurrency,
        "partition_worker_concurrency": partition_worker_concurrency,
        "partition_rate_limit_max": partition_limiter["limit"] if partition_limiter else None,
        "partition_rate_limit_period_sec": (
            partition_limiter["period"] if partition_limiter else None
        ),
    }


def recover_publicly(executor_ids: list[str]) -> None:
    """The public substitute of recovery (see ``recovery``): resume each PENDING workflow of
    the dead executors and of this application version onto its original queue."""
    pending = DBOS.list_workflows(
        status="PENDING",
        executor_id=executor_ids,
        app_version=DBOS.application_version,
        load_input=False,
        load_output=False,
    )
    for workflow in pending:
        DBOS.resume_workflows([workflow.workflow_id], queue_name=workflow.queue_name)
