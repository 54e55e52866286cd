"""Health check, production settings and the role set-up."""

from __future__ import annotations

import subprocess
import sys

from django.contrib.auth.models import Group
from django.test import Client

from tests.live import ROOT, base_env


def test_healthz_answers_ok_when_database_and_broker_answer(client: Client, db: None) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_healthz_names_the_broker_when_it_is_down(
    client: Client, db: None, settings: object, monkeypatch: object
) -> None:
    from csat.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_url = original

    assert response.status_code == 503
    assert response.json()["broker"].startswith("error: ")
    assert response.json()["database"] == "ok"


def test_production_settings_pass_check_deploy_without_warnings() -> None:
    env = base_env() | {
        "DJANGO_DEBUG": "false",
        "SECRET_KEY": "k8#w!" * 12,
        "ALLOWED_HOSTS": "csat.example.com",
    }

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "DEBUG"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_refuses_to_start_without_a_secret_key() -> None:
    env = base_env() | {"DJANGO_DEBUG": "false", "SECRET_KEY": ""}

    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )

    assert result.returncode != 0
    assert "SECRET_KEY must be set when DJANGO_DEBUG is false." in result.stderr


def test_migrate_creates_the_three_role_groups(db: None) -> None:
    groups = {group.name: group.permissions.count() for group in Group.objects.all()}

    assert set(groups) == {"staff", "manager", "admin"}
    assert groups["staff"] < groups["manager"] < groups["admin"]
