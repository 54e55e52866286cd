"""Personas (staff, manager, admin, outsider) and helpers shared by every test."""

from __future__ import annotations

import os

import pytest
from django.db import connection
from django.test import Client

from accounts.models import Role, Team, User
from accounts.services import user_create
from surveys.models import Survey
from surveys.services import survey_create_nps

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
