"""Signing a browser page in to the console as a person would: a console user made in the test's
store, its name and password typed on the console's own sign-in page."""

from __future__ import annotations

from playwright.async_api import Page, expect

from store.database import Store
from store.roles import Role
from store.users import create_user

PASSWORD = "a browser test's password"
"""The password of every user ``add_user`` makes."""


async def add_user(store: Store, name: str, role: Role) -> None:
    """Make the console user ``name`` with ``role`` and the password ``PASSWORD``."""
    async with store.sessionmaker.begin() as session:
        await create_user(session, name, role, password=PASSWORD, actor="tests")


async def type_credentials(page: Page, name: str, password: str) -> None:
    """On the sign-in page: type a name and a password and press Sign in."""
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Password").fill(password)
    await page.get_by_test_id("signin-submit").click()


async def sign_in(page: Page, base: str, store: Store, role: Role, name: str = "") -> str:
    """Make a user with ``role`` (named after it unless ``name`` is given) in ``store``, and sign
    ``page`` in as it through the sign-in page of the console at ``base``; returns the name."""
    name = name or role.value
    await add_user(store, name, role)
    await page.goto(f"{base}/signin")
    await type_credentials(page, name, PASSWORD)
    await expect(page.get_by_test_id("whoami")).to_contain_text(f"{name} · {role.value}")
    return name
