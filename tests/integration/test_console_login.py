"""Signing in to the console of a real ``baton up``, as a user does: without credentials the API
answers 401 and pages go to the sign-in page; the first start's one-time link signs the first
admin in, once; a user made with ``baton users create`` signs in with their password and gets
their role's rights (a viewer's action is refused and audited); an API token made with ``baton
tokens create`` acts until it is revoked."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from store.roles import Role
from tests.baton_up import FIRST_ADMIN_LINK, cli, create_token, run_up, wait_until_up

pytestmark = pytest.mark.integration

STOP_TIMEOUT_S = 40
_CSRF_FIELD = re.compile(r'name="csrftoken" value="([^"]+)"')


@dataclass
class Up:
    """A running ``baton up``: its process, console, log and data directory."""

    process: subprocess.Popen[bytes]
    console_url: str
    log: Path
    data_dir: Path

    def store_args(self) -> tuple[str, str]:
        return ("--data-dir", str(self.data_dir))

    def links(self) -> list[str]:
        """The first-admin sign-in links in its log (JSON lines: its output is no terminal)."""
        found = []
        for line in self.log.read_text().splitlines():
            try:
                event = json.loads(line).get("event", "")
            except ValueError:
                continue
            match = FIRST_ADMIN_LINK.fullmatch(event)
            if match is not None:
                found.append(match["link"])
        return found

    def client(self, token: str | None = None) -> httpx.Client:
        """A client keeping cookies, as a browser does; with ``token``, sent as a bearer."""
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        return httpx.Client(base_url=self.console_url, headers=headers, timeout=30)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers (its clean stop is ``test_baton_up``'s subject)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(tmp_path: Path) -> Up:
    process, console_port, log = run_up(tmp_path)
    up = Up(process, f"http://127.0.0.1:{console_port}", log, tmp_path / "data")
    try:
        wait_until_up(process, log)
    except BaseException:
        up.stop()
        raise
    return up


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    """One ``baton up`` for the tests that do not restart it."""
    running = start(tmp_path_factory.mktemp("login"))
    try:
        yield running
    finally:
        running.stop()


def sign_in(client: httpx.Client, name: str, password: str) -> httpx.Response:
    """Post the sign-in form as a browser does: with the form's CSRF token and the console's
    origin."""
    form = client.get("/signin", headers={"Accept": "text/html"})
    assert form.status_code == 200, form.text
    token = _CSRF_FIELD.search(form.text)
    assert token is not None, form.text
    return client.post(
        "/signin",
        data={"csrftoken": token[1], "next": "/", "name": name, "password": password},
        headers={"Origin": str(client.base_url).rstrip("/"), "Accept": "text/html"},
    )


def test_without_credentials_the_api_answers_401_and_a_page_goes_to_sign_in(up: Up) -> None:
    with up.client() as anonymous:
        api = anonymous.get("/api/v1/apps")
        assert api.status_code == 401, api.text
        assert api.headers["content-type"].startswith("application/json")
        assert "baton tokens create" in api.json()["error"], api.json()
        assert api.headers["www-authenticate"].startswith("Bearer"), api.headers

        page = anonymous.get("/apps/shop/workflows", headers={"Accept": "text/html"})
        assert page.status_code == 303, page.text
        assert page.headers["location"] == "/signin?next=%2Fapps%2Fshop%2Fworkflows"

        # The health check stays open (a load balancer has no credentials).
        health = anonymous.get("/healthz")
        assert health.status_code == 200, health.text

    # The CLI without a token says what to give it.
    cli_without = baton_with_token("", "audit", "--console", up.console_url)
    assert cli_without.returncode == 1, cli_without.stdout
    assert "audit failed (401): sign in, or send an API token" in cli_without.stderr
    assert "pass --token TOKEN or set BATON_TOKEN" in cli_without.stderr


def test_the_first_start_logs_one_link_that_signs_the_admin_in_once(tmp_path: Path) -> None:
    first = start(tmp_path)
    try:
        (link,) = first.links()
        parts = urlsplit(link)
        assert f"{parts.scheme}://{parts.netloc}" == first.console_url, link
        path = f"{parts.path}?{parts.query}"

        with first.client() as browser:
            signed_in = browser.get(path, headers={"Accept": "text/html"})
            assert signed_in.status_code == 303, signed_in.text
            assert signed_in.headers["location"] == "/"
            apps = browser.get("/api/v1/apps")
            assert apps.status_code == 200, apps.text
        with first.client() as other:
            again = other.get(path, headers={"Accept": "text/html"})
            assert again.status_code == 401, again.text
            assert "used up or expired" in again.text
            assert other.get("/api/v1/apps").status_code == 401
    finally:
        first.stop()

    # The admin exists now: a restart on the same data directory makes no new link.
    second = start(tmp_path)
    try:
        assert second.links() == [link], second.log.read_text()[-3000:]
    finally:
        second.stop()


def test_a_viewer_signs_in_with_their_password_and_cannot_act(up: Up) -> None:
    printed = cli("users", "create", "vera", "--role", "viewer", *up.store_args())
    lines = printed.strip().splitlines()
    assert "password is shown once" in printed, printed
    password = lines[-1]
    assert len(password) >= 16, printed

    with up.client() as browser:
        wrong = sign_in(browser, "vera", password + "x")
        assert wrong.status_code == 401, wrong.text
        signed_in = sign_in(browser, "vera", password)
        assert signed_in.status_code == 303, signed_in.text
        assert signed_in.headers["location"] == "/"
        assert browser.get("/api/v1/apps").status_code == 200

        cancel = browser.post(
            "/api/v1/apps/shop/workflows/wf-1/cancel",
            json={},
            headers={"x-csrftoken": browser.cookies["baton_csrf"]},
        )
        assert cancel.status_code == 403, cancel.text
        assert "user:vera has the viewer role" in cancel.json()["error"], cancel.json()

    admin = create_token("login-admin", Role.ADMIN, *up.store_args())
    with up.client(admin) as client:
        audit = client.get(
            "/api/v1/audit", params={"action": "access.denied", "actor": "user:vera"}
        )
    assert audit.status_code == 200, audit.text
    entries = [(e["actor"], e["target"], e["outcome"]) for e in audit.json()["entries"]]
    assert entries == [("user:vera", "/api/v1/apps/shop/workflows/wf-1/cancel", "rejected")]


def test_an_operator_token_acts_until_it_is_revoked(up: Up) -> None:
    token = create_token("ops-bot", Role.OPERATOR, *up.store_args())
    assert token.startswith("btn_"), token
    preview = {"action": "cancel", "dry_run": True, "filter": {"status": ["PENDING"]}}

    with up.client(token) as operator:
        acted = operator.post("/api/v1/apps/shop/bulk", json=preview)
        assert acted.status_code == 200, acted.text
        assert acted.json()["matched"] == 0, acted.json()

    # The CLI acts with the same token, given as BATON_TOKEN.
    audit = baton_with_token(token, "audit", "--console", up.console_url)
    assert audit.returncode == 0, audit.stderr

    cli("tokens", "revoke", "ops-bot", *up.store_args())
    for refused in (token, "btn_" + "x" * 43):
        with up.client(refused) as client:
            answer = client.post("/api/v1/apps/shop/bulk", json=preview)
            assert answer.status_code == 401, answer.text
            assert "unknown or revoked API token" in answer.json()["error"], answer.json()
    refused_cli = baton_with_token(token, "audit", "--console", up.console_url)
    assert refused_cli.returncode == 1, refused_cli.stdout
    assert "audit failed (401): unknown or revoked API token" in refused_cli.stderr


def baton_with_token(token: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``baton ARGS`` with ``BATON_TOKEN`` set to ``token`` ("": none)."""
    return subprocess.run(
        [sys.executable, "-m", "baton", *args],
        env={**os.environ, "BATON_TOKEN": token},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
