"""The dashboard's confirm-then-act flow, shared by every action on one thing (a workflow, a
schedule, an application version).

Owns the flow: a GET confirmation page (it works without JavaScript) holds a form with a fresh
idempotency key, so submitting it twice acts once; its POST (the caller has checked that it comes
from the console's own pages, ``console.actors.require_same_origin``) tells the actor, runs the
action through ``management.actions.Actions`` and redirects (303) to the page it concerns with
``?done=<action id>``; that page then shows the audited outcome (``flash``). A failed action shows
the confirmation again with the (escaped) error and the failure's HTTP status. Must not import the
gateway, Faust or Kafka.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from console.actors import ActorResolver
from console.dashboard.action_forms import FormField, Verb
from console.dashboard.pages import Form, Pages, new_idempotency_key, read_form, see_other
from console.failures import error_status
from management.actions import Actions
from management.idempotency import check_idempotency_key
from management.operations import Operation
from management.outcomes import ActionFailed
from management.params import BadParameter
from store.audit import find_action
from store.database import Store
from streams.ids import AppName
from streams.records import OperatorAction

_Choice = TypeVar("_Choice", bound=StrEnum)


@dataclass(frozen=True, slots=True, kw_only=True)
class Confirmation:
    """What a confirmation page asks (``Cancel workflow X?``) and where its form goes."""

    app: AppName
    tab: str
    """The app's tab the page belongs to."""
    verb: Verb
    question: tuple[str, str, str]
    """Before the subject, the subject (shown as code), after it."""
    post_url: str
    back_url: str
    details: Sequence[tuple[str, str]] = ()
    """``(label, value)`` facts about the subject."""
    fields: Sequence[FormField] = ()
    """The action's options."""
    hidden: Mapping[str, str] = field(default_factory=dict)
    """Fields the form carries as they are."""


def choice(kind: type[_Choice], value: str | None) -> _Choice:
    """The action named in a URL.

    Raises:
        HTTPException: 404, it is not one of ``kind``.
    """
    try:
        return kind(value or "")
    except ValueError:
        allowed = ", ".join(a.value for a in kind)
        raise HTTPException(404, f"unknown action; use {allowed}") from None


class ConfirmFlow:
    """Shows confirmations, carries out confirmed actions, shows their outcome.

    Args:
        store: a started store (audited outcomes to show).
        pages: renders pages.
        actions: carries out and audits actions.
        actors: tells who acts.
    """

    def __init__(self, store: Store, pages: Pages, actions: Actions, actors: ActorResolver) -> None:
        self._store = store
        self._pages = pages
        self._actions = actions
        self._actors = actors

    def show(
        self,
        request: Request,
        page: Confirmation,
        form: Form,
        *,
        error: Exception | None = None,
    ) -> Response:
        """The confirmation, its options filled from ``form``, with ``error`` if there is one."""
        values = {f.name: form.get(f.name) or f.default for f in page.fields}
        checked = {f.name for f in page.fields if f.kind == "checkbox" and form.flag(f.name)}
        context = {
            "app": page.app,
            "tab": page.tab,
            "verb": page.verb,
            "question": page.question,
            "details": list(page.details),
            "fields": list(page.fields),
            "values": values,
            "checked": checked,
            "hidden": dict(page.hidden),
            "post_url": page.post_url,
            "back_url": page.back_url,
            # A new key for every showing: after a failure, confirming again is a new attempt.
            "idempotency_key": new_idempotency_key(),
            "error": None if error is None else str(error),
        }
        return self._pages.render(
            request, "confirm.html", context, refresh=False, status_code=error_status(error)
        )

    async def act(
        self,
        request: Request,
        app: AppName,
        *,
        operation: Callable[[Form], Awaitable[Operation]],
        describe: Callable[[Form], Awaitable[Confirmation]],
        done_url: str,
    ) -> Response:
        """Carry out a confirmed action (posted form), then go to ``done_url`` with its outcome.

        Args:
            request: the form post (its origin already checked).
            app: the app.
            operation: the action the form asks for (raises ``BadParameter`` for a bad field).
            describe: the confirmation to show again when the action fails.
            done_url: the page that shows the outcome.
        """
        form = await read_form(request)
        actor = await self._actors.actor(request)
        try:
            key = form.get("idempotency_key")
            result = await self._actions.run(
                app, await operation(form), actor=actor, idempotency_key=key
            )
        except (BadParameter, ActionFailed) as exc:
            return self.show(request, await describe(form), form, error=exc)
        return see_other(f"{done_url}?done={result.record.action_id}")

    async def flash(self, app: AppName, key: str | None) -> OperatorAction | None:
        """The audited action a redirect after a form post names (``?done=``), if it is there."""
        if key is None:
            return None
        try:
            check_idempotency_key(key)
        except ActionFailed:
            return None
        async with self._store.sessionmaker.begin() as session:
            return await find_action(session, app, key)
