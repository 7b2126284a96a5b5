"""``baton workflows ...`` and ``baton audit``: the CLI side of the console's management API.

The CLI acts through a running console (``--console URL``, default the local one), so an action
from the command line takes the same path as one from the dashboard: the same executor choice,
retries, idempotency and audit. The actor is the ``--token`` (``BATON_TOKEN``) when given.
Standard library HTTP only: the CLI must not need the test extras.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping
from typing import Any, TextIO

from streams.exceptions import ConductorError

WORKFLOW_ACTIONS = ("cancel", "resume", "restart", "fork", "delete")
BULK_ACTIONS = ("cancel", "resume", "restart", "delete", "fork_from_failure")
HTTP_TIMEOUT_S = 60.0
BULK_POLL_S = 1.0
TOKEN_HINT = "the CLI acts with an API token: pass --token TOKEN or set BATON_TOKEN"


class ConsoleUnreachable(ConductorError):
    """The console did not answer (not running, wrong URL)."""


def add_parsers(sub: Any, common: Any) -> None:
    """Add ``workflows`` and ``audit`` to the ``baton`` parser."""

    def remote(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        common(p)
        p.add_argument("--console", help="console URL (http://127.0.0.1:8080 by default)")
        p.add_argument("--token", help="API token of the actor (or BATON_TOKEN)")
        p.add_argument("--json", action="store_true", help="print the whole JSON answer")
        return p

    workflows = sub.add_parser("workflows", help="act on workflows through the console")
    wf_sub = workflows.add_subparsers(dest="workflows_command", required=True)
    for action in WORKFLOW_ACTIONS:
        p = remote(wf_sub.add_parser(action, help=f"{action} one workflow"))
        p.add_argument("app")
        p.add_argument("workflow_id")
        p.add_argument("--idempotency-key", help="acts once per key (default: a new key)")
        if action == "fork":
            p.add_argument("--start-step", type=int, required=True, help="first step to re-run")
            p.add_argument("--application-version", help="run the fork on this version")
            p.add_argument("--new-workflow-id", help="the new workflow's id")
            p.add_argument("--queue", help="enqueue the fork on this queue")
        if action == "resume":
            p.add_argument("--queue", help="enqueue the resumed workflow on this queue")
        if action in ("cancel", "delete"):
            p.add_argument("--children", action="store_true", help="also its child workflows")
    bulk = remote(wf_sub.add_parser("bulk", help="one action on many workflows (a bulk job)"))
    bulk.add_argument("app")
    bulk.add_argument("action", choices=BULK_ACTIONS)
    bulk.add_argument("--ids", nargs="+", help="these workflow ids")
    bulk.add_argument("--status", action="append", help="filter: status (repeatable)")
    for name in ("name", "workflow-id-prefix", "queue", "application-version", "executor-id"):
        bulk.add_argument(f"--{name}", help=f"filter: {name.replace('-', ' ')}")
    bulk.add_argument("--dry-run", action="store_true", help="only count the selection")
    bulk.add_argument("--idempotency-key", help="acts once per key (default: a new key)")

    audit = remote(sub.add_parser("audit", help="show the audit log"))
    for name in ("app", "actor", "action", "target", "outcome", "since", "until"):
        audit.add_argument(f"--{name}", help=f"only entries with this {name}")
    audit.add_argument("--limit", type=int, default=50, help="entries to show (50)")


def run_remote(args: argparse.Namespace, console_url: str, token: str | None) -> int:
    """Run a ``workflows`` or ``audit`` command; print its outcome. Returns the exit code."""
    client = ConsoleClient(args.console or console_url, args.token or token)
    if args.command == "audit":
        return _audit(client, args, sys.stdout)
    if args.workflows_command == "bulk":
        return _bulk(client, args, sys.stdout, sys.stderr)
    return _workflow_action(client, args, sys.stdout, sys.stderr)


class ConsoleClient:
    """A tiny JSON client of the console API."""

    def __init__(self, base_url: str, token: str | None) -> None:
        self._base = base_url.rstrip("/")
        self._token = token

    def call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        query: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Any]:
        """One request; returns (status, decoded JSON body).

        Raises:
            ConsoleUnreachable: no answer from the console.
        """
        url = self._base + path
        if query:
            url += "?" + urllib.parse.urlencode(
                [(k, v) for k, v in query.items() if v is not None], doseq=True
            )
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self._token:
            request.add_header("Authorization", f"Bearer {self._token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                return exc.code, json.loads(raw)
            except ValueError:
                return exc.code, {"error": raw.decode(errors="replace")[:500]}
        except (urllib.error.URLError, OSError) as exc:
            raise ConsoleUnreachable(
                f"the console at {self._base} did not answer ({exc}); is Baton running "
                "(`baton up`)? Pass --console URL otherwise"
            ) from exc


def _quoted(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _workflow_action(
    client: ConsoleClient, args: argparse.Namespace, out: TextIO, err: TextIO
) -> int:
    action = args.workflows_command
    body: dict[str, Any] = {}
    if action == "fork":
        body = {
            "start_step": args.start_step,
            "application_version": args.application_version,
            "new_workflow_id": args.new_workflow_id,
            "queue_name": args.queue,
        }
    elif action == "resume":
        body = {"queue_name": args.queue}
    elif action == "cancel":
        body = {"cancel_children": args.children}
    elif action == "delete":
        body = {"delete_children": args.children}
    body = {k: v for k, v in body.items() if v is not None}
    status, answer = client.call(
        "POST",
        f"/api/v1/apps/{_quoted(args.app)}/workflows/{_quoted(args.workflow_id)}/{action}",
        body,
        headers={"Idempotency-Key": args.idempotency_key or uuid.uuid4().hex},
    )
    if status != 200:
        print(f"baton: {action} failed ({status}): {_error_of(status, answer)}", file=err)
        return 1
    if args.json:
        print(json.dumps(answer, indent=2), file=out)
        return 0
    line = f"{answer['action']} {answer['target']}: {answer['outcome']}"
    if answer.get("executor_id"):
        line += f" (executor {answer['executor_id']})"
    if answer.get("replayed"):
        line += " [already done under this idempotency key]"
    print(line, file=out)
    new_id = (answer.get("result") or {}).get("new_workflow_id")
    if new_id:
        print(f"new workflow: {new_id}", file=out)
    return 0


def _bulk(client: ConsoleClient, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    body: dict[str, Any] = {"action": args.action, "dry_run": args.dry_run}
    if args.ids:
        body["workflow_ids"] = args.ids
    else:
        flt = {
            "status": args.status,
            "name": args.name,
            "workflow_id_prefix": args.workflow_id_prefix,
            "queue": args.queue,
            "application_version": args.application_version,
            "executor_id": args.executor_id,
        }
        body["filter"] = {k: v for k, v in flt.items() if v}
    path = f"/api/v1/apps/{_quoted(args.app)}/bulk"
    status, answer = client.call(
        "POST", path, body, headers={"Idempotency-Key": args.idempotency_key or uuid.uuid4().hex}
    )
    if status not in (200, 202):
        print(f"baton: bulk {args.action} failed ({status}): {_error_of(status, answer)}", file=err)
        return 1
    if args.dry_run:
        print(
            json.dumps(answer, indent=2) if args.json else f"{answer['matched']} workflows match",
            file=out,
        )
        return 0
    job_id = answer["job_id"]
    print(f"bulk job {job_id}: {answer['total']} workflows", file=err)
    while answer["state"] == "running":
        time.sleep(BULK_POLL_S)
        status, answer = client.call("GET", f"{path}/{_quoted(job_id)}", query={"limit": 500})
        if status != 200:
            print(f"baton: could not follow job {job_id}: {_error_of(status, answer)}", file=err)
            return 1
        print(f"  {answer['done']}/{answer['total']} done, {answer['failed']} failed", file=err)
    if args.json:
        print(json.dumps(answer, indent=2), file=out)
    else:
        print(
            f"bulk job {job_id}: {answer['state']} ({answer['succeeded']} succeeded, "
            f"{answer['failed']} failed)",
            file=out,
        )
    return 0 if answer["state"] == "succeeded" else 1


def _audit(client: ConsoleClient, args: argparse.Namespace, out: TextIO) -> int:
    query = {
        name: getattr(args, name)
        for name in ("app", "actor", "action", "target", "outcome", "since", "until")
    }
    query["limit"] = args.limit
    status, answer = client.call("GET", "/api/v1/audit", query=query)
    if status != 200:
        print(f"baton: audit failed ({status}): {_error_of(status, answer)}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(answer, indent=2), file=out)
        return 0
    for entry in answer["entries"]:
        print(
            "  ".join(
                (
                    entry["ts"],
                    entry["app"],
                    entry["actor"],
                    entry["action"],
                    entry["target"],
                    entry["outcome"],
                    (entry["detail"] or "")[:80].replace("\n", " "),
                )
            ),
            file=out,
        )
    return 0


def _error_of(status: int, answer: Any) -> str:
    if isinstance(answer, dict) and isinstance(answer.get("error"), str):
        error = str(answer["error"])
    else:
        error = str(answer)[:500]
    if status == 401:
        error += f"; {TOKEN_HINT}"
    return error
