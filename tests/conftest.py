"""Personas (staff, manager, admin, outsider) and helpers shared by every test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, connections
from django.test import Client
from django.utils import translation
from playwright.sync_api import Browser, sync_playwright

from accounts.models import Role, Team, User
from accounts.services import user_create
from surveys.models import Survey
from surveys.services import survey_create_nps
from tests.browser.support import CHROMIUM

PASSWORD = "correct-horse-battery"


def _requires(condition: bool, reason: str) -> None:
    if not condition:
        pytest.skip(reason)


@pytest.fixture
def postgres(db: None) -> None:
    """The test needs PostgreSQL (set DATABASE_URL=postgres://...); CI always has it."""
    _requires(connection.vendor == "postgresql", "needs PostgreSQL: set DATABASE_URL")


@pytest.fixture
def redis_url() -> str:
    """The test needs Redis (set REDIS_URL); CI always has it."""
    url = os.environ.get("REDIS_URL", "")
    _requires(bool(url), "needs Redis: set REDIS_URL")
    return url


@pytest.fixture
def worker_queue() -> Iterator[str]:
    """A queue of this test's own, so no other worker on the broker takes its tasks."""
    from csat.celery import app

    queue = f"csat-test-{uuid.uuid4().hex[:8]}"
    previous = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    yield queue
    app.conf.task_default_queue = previous


def database_url() -> str:
    """The test database as a URL, for processes started by a test (a Celery worker)."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def team(db: None) -> Team:
    return Team.objects.create(name="Support desk")


@pytest.fixture
def staff(team: Team) -> User:
    return user_create(username="sam.staff", password=PASSWORD, role=Role.STAFF, team=team)


@pytest.fixture
def manager(db: None) -> User:
    return user_create(username="mia.manager", password=PASSWORD, role=Role.MANAGER)


@pytest.fixture
def admin(db: None) -> User:
    return user_create(username="ada.admin", password=PASSWORD, role=Role.ADMIN)


def _client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def staff_client(staff: User) -> Client:
    return _client_for(staff)


@pytest.fixture
def manager_client(manager: User) -> Client:
    return _client_for(manager)


@pytest.fixture
def admin_client_(admin: User) -> Client:
    return _client_for(admin)


@pytest.fixture
def nps_survey(staff: User) -> Survey:
    return survey_create_nps(
        title="After-sales visit",
        nps_question="How likely are you to recommend us?",
        why_question="Why?",
        created_by=staff,
    )


@pytest.fixture(autouse=True)
def _no_respond_rate_limit(settings: Any) -> None:
    """Public survey POSTs are rate limited per IP; tests post from one address, so the limit
    is off unless a test turns it on (tests/surveys/test_respond.py)."""
    settings.RESPOND_RATE_LIMIT = ""


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Persona fixtures hash a password each (about a second with the production hasher on
    this machine); tests do not measure the hasher, so they use a fast one."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _default_language_after_each_test() -> Iterator[None]:
    """A request in Chinese leaves zh-hans active in the thread (LocaleMiddleware activates a
    language and nothing deactivates it): a later test reading messages outside a request
    would get Chinese. Each test ends back in the default language."""
    yield
    translation.deactivate()


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless. `make test` installs it when missing; where it cannot be
    installed the browser tests are skipped locally, and in CI a skip fails the run
    (conftest.py at the root)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("needs Chromium: apt-get install chromium")
    # Playwright's sync API runs an event loop in this thread; the ORM calls around it are safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()
        # ORM calls made while Playwright's loop runs get connections of their own: close them,
        # or they outlive the test and block the test database's teardown.
        connections.close_all()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
