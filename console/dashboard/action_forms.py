"""What each operator action asks on its confirmation page, and how it reads there.

Owns the options of every action on one workflow or schedule (the fields ``management.operations``
reads), their labels and explanations, which actions a workflow's status offers, and how a posted
form becomes the JSON body ``management.operations`` checks. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from console.dashboard.pages import Form
from management.operations import JsonBody, ScheduleAction, WorkflowAction
from streams.records import ACTIVE_STATES


@dataclass(frozen=True, slots=True, kw_only=True)
class FormField:
    """An option of an action, shown on its confirmation page."""

    name: str
    label: str
    kind: str
    """``checkbox``, ``number`` or ``text``."""
    hint: str = ""
    required: bool = False
    default: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Verb:
    """How an action reads on the page."""

    label: str
    """The button: ``Cancel``."""
    explanation: str
    danger: bool = False


WORKFLOW_VERBS = {
    WorkflowAction.CANCEL: Verb(
        label="Cancel",
        explanation="The workflow stops at its next step. It can be resumed later.",
        danger=True,
    ),
    WorkflowAction.RESUME: Verb(
        label="Resume",
        explanation=(
            "The workflow runs again from its last completed step, on an executor of its "
            "application version."
        ),
    ),
    WorkflowAction.RESTART: Verb(
        label="Restart",
        explanation=(
            "A new workflow runs this one again from its first step, with the same inputs, on an "
            "executor of its application version."
        ),
    ),
    WorkflowAction.FORK: Verb(
        label="Fork",
        explanation=(
            "A new workflow runs this one from the chosen step; the results of the earlier steps "
            "are reused."
        ),
    ),
    WorkflowAction.REWIND: Verb(
        label="Rewind",
        explanation=(
            "The finished workflow runs again from the chosen step under its own id; the results "
            "of the earlier steps are kept, the later ones are run again. Its executor's DBOS "
            "client must support rewinding (Python 3.2, TypeScript 5.2, Go 1.6 do)."
        ),
        danger=True,
    ),
    WorkflowAction.DELETE: Verb(
        label="Delete",
        explanation=(
            "The workflow's record and steps leave the executor's system database. This cannot "
            "be undone."
        ),
        danger=True,
    ),
}
SCHEDULE_VERBS = {
    ScheduleAction.PAUSE: Verb(label="Pause", explanation="The schedule stops firing."),
    ScheduleAction.RESUME: Verb(label="Resume", explanation="The schedule fires again."),
    ScheduleAction.TRIGGER: Verb(
        label="Trigger", explanation="The schedule's workflow starts now, once."
    ),
    ScheduleAction.BACKFILL: Verb(
        label="Backfill",
        explanation="Every firing the schedule missed between the two times runs now.",
    ),
}
LATEST_VERB = Verb(
    label="Make latest",
    explanation="New workflows of the app run on this application version.",
)


def workflow_fields(action: WorkflowAction) -> list[FormField]:
    """The options of an action on one workflow (the fields of ``management.operations``)."""
    match action:
        case WorkflowAction.CANCEL:
            return [
                FormField(
                    name="cancel_children", label="Also cancel its child workflows", kind="checkbox"
                )
            ]
        case WorkflowAction.RESUME:
            return [_queue_field()]
        case WorkflowAction.RESTART:
            return []
        case WorkflowAction.FORK:
            return [
                FormField(
                    name="start_step",
                    label="Start step",
                    kind="number",
                    hint="The first step to run again (all of them: 1 in Python, 0 in TypeScript).",
                    required=True,
                    default="1",
                ),
                FormField(
                    name="application_version",
                    label="Application version (optional)",
                    kind="text",
                    hint="Run the fork on this version; empty: the workflow's own.",
                ),
                _queue_field(),
            ]
        case WorkflowAction.REWIND:
            return [
                FormField(
                    name="start_step",
                    label="Start step (optional)",
                    kind="number",
                    hint="The first step to run again; empty: from the first (1 in Python, 0 in "
                    "TypeScript and Go).",
                ),
                FormField(
                    name="application_version",
                    label="Application version (optional)",
                    kind="text",
                    hint="Run it on this version; empty: the workflow's own.",
                ),
                _queue_field(),
            ]
        case WorkflowAction.DELETE:
            return [
                FormField(
                    name="delete_children", label="Also delete its child workflows", kind="checkbox"
                )
            ]


def _queue_field() -> FormField:
    return FormField(
        name="queue_name",
        label="Queue (optional)",
        kind="text",
        hint="Enqueue it on this queue instead of running it at once.",
    )


def schedule_fields(action: ScheduleAction) -> list[FormField]:
    if action is not ScheduleAction.BACKFILL:
        return []
    hint = "ISO 8601 with a zone, e.g. 2026-01-31T12:00:00Z"
    return [
        FormField(name="start", label="From", kind="text", hint=hint, required=True),
        FormField(name="end", label="Until", kind="text", hint=hint, required=True),
    ]


def body_of(fields: list[FormField], form: Form) -> JsonBody:
    """A form's options as the JSON body ``management.operations`` reads (and checks)."""
    data: dict[str, Any] = {}
    for f in fields:
        raw = form.get(f.name)
        if f.kind == "checkbox":
            data[f.name] = form.flag(f.name)
        elif f.kind == "number" and raw is not None and raw.isascii() and raw.isdigit():
            data[f.name] = int(raw[:12])
        else:
            data[f.name] = raw
    return JsonBody(data)


def workflow_buttons(status: str) -> list[WorkflowAction]:
    """The actions offered for a workflow in this status: cancel while it may still run, resume
    unless it succeeded; restart and fork always; rewind once it has finished; delete always."""
    active = status in ACTIVE_STATES
    buttons = [WorkflowAction.CANCEL] if active else []
    if status != "SUCCESS":
        buttons.append(WorkflowAction.RESUME)
    buttons += [WorkflowAction.RESTART, WorkflowAction.FORK]
    if not active:
        buttons.append(WorkflowAction.REWIND)
    return [*buttons, WorkflowAction.DELETE]
