"""The container setup: docker-compose.yml and the Dockerfile as read, and `healthcheck beat`."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
import yaml
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from csat.tasks import BEAT_HEARTBEAT_KEY

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("postgres", "redis", "web", "worker", "beat")
APP_SERVICES = ("web", "worker", "beat")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """docker-compose.yml as Compose sees it, YAML anchors and merge keys resolved."""
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture
def empty_cache(settings: Any) -> None:
    """A local-memory cache, empty, in place of whatever REDIS_URL points to."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "tests-healthcheck",
        }
    }
    cache.clear()


def _dockerfile_instructions(name: str) -> list[str]:
    """The arguments of every `name` instruction in the Dockerfile, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    return [
        line.strip()[len(name) :].strip()
        for line in text.splitlines()
        if line.strip().upper().startswith(f"{name} ")
    ]


def test_compose_defines_the_five_services_with_healthchecks(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == set(SERVICES)
    for name in SERVICES:
        healthcheck = compose["services"][name]["healthcheck"]
        assert healthcheck["test"], name


def test_web_worker_and_beat_run_the_same_image_built_from_the_anchor(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]

    assert compose["x-app"]["build"] == "."
    assert compose["x-app"]["image"] == "csat:latest"
    for name in APP_SERVICES:
        assert services[name]["build"] == compose["x-app"]["build"], name
        assert services[name]["image"] == compose["x-app"]["image"], name
        assert services[name]["environment"] == compose["x-app"]["environment"], name


def test_app_services_get_production_settings_from_the_environment(
    compose: dict[str, Any],
) -> None:
    environment = compose["x-app"]["environment"]

    assert environment["DJANGO_DEBUG"] == "false"
    assert environment["DATABASE_URL"] == "postgres://csat:csat@postgres:5432/csat"
    assert environment["REDIS_URL"] == "redis://redis:6379/0"
    assert environment["SECRET_KEY"].startswith("${SECRET_KEY:?")
    assert environment["SECURE_SSL_REDIRECT"] == "${SECURE_SSL_REDIRECT:-false}"
    assert environment["ALLOWED_HOSTS"].endswith(",127.0.0.1")


def test_postgres_keeps_its_data_on_a_declared_named_volume(compose: dict[str, Any]) -> None:
    volumes = compose["services"]["postgres"]["volumes"]

    assert "postgres-data:/var/lib/postgresql/data" in volumes
    assert "postgres-data" in compose["volumes"]


def test_web_publishes_port_8000_and_migrates_before_gunicorn(compose: dict[str, Any]) -> None:
    web = compose["services"]["web"]

    assert "8000:8000" in web["ports"]
    assert web["command"].index("migrate --noinput") < web["command"].index("gunicorn")
    assert "csat.wsgi:application" in web["command"]
    assert any("/healthz" in part for part in web["healthcheck"]["test"])


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_wait_for_healthy_postgres_and_redis(
    compose: dict[str, Any], name: str
) -> None:
    depends_on = compose["services"][name]["depends_on"]

    assert depends_on["postgres"] == {"condition": "service_healthy"}
    assert depends_on["redis"] == {"condition": "service_healthy"}


def test_beat_waits_for_a_healthy_web_which_has_applied_the_migrations(
    compose: dict[str, Any],
) -> None:
    assert compose["services"]["beat"]["depends_on"]["web"] == {"condition": "service_healthy"}


def test_worker_and_beat_healthchecks_probe_their_own_process(compose: dict[str, Any]) -> None:
    worker_test = compose["services"]["worker"]["healthcheck"]["test"]
    beat_test = compose["services"]["beat"]["healthcheck"]["test"]

    # "$$" is Compose's escape: the container's shell sees $HOSTNAME, the worker's node name.
    assert worker_test[0] == "CMD-SHELL"
    assert "celery -A csat inspect ping --destination celery@$$HOSTNAME" in worker_test[1]
    assert beat_test[:5] == ["CMD", "python", "manage.py", "healthcheck", "beat"]
    assert compose["services"]["worker"]["command"] == "celery -A csat worker --loglevel=INFO"
    assert compose["services"]["beat"]["command"] == "celery -A csat beat --loglevel=INFO"


def test_dockerfile_runs_gunicorn_as_a_non_root_user_without_a_baked_secret() -> None:
    commands = _dockerfile_instructions("CMD")
    users = _dockerfile_instructions("USER")
    environment = " ".join(_dockerfile_instructions("ENV"))

    assert len(commands) == 1
    command = " ".join(json.loads(commands[0]))
    assert "gunicorn csat.wsgi:application" in command
    assert "--bind 0.0.0.0:${PORT:-8000}" in command
    assert "--workers ${WEB_CONCURRENCY:-3}" in command
    assert users == ["10001:10001"]
    assert "SECRET_KEY" not in environment
    assert "DJANGO_DEBUG" not in environment


def test_healthcheck_beat_fails_without_a_heartbeat(empty_cache: None) -> None:
    with pytest.raises(CommandError, match=r"^beat: no heartbeat under the cache key "):
        call_command("healthcheck", "beat")


def test_healthcheck_beat_passes_with_a_fresh_heartbeat(empty_cache: None) -> None:
    output = io.StringIO()
    with time_machine.travel(timezone.now(), tick=False):
        cache.set(BEAT_HEARTBEAT_KEY, timezone.now().isoformat())

        call_command("healthcheck", "beat", stdout=output)

    assert output.getvalue() == "beat: last heartbeat 0 s ago.\n"


def test_healthcheck_beat_fails_with_a_ten_minute_old_heartbeat(empty_cache: None) -> None:
    ten_minutes_ago = timezone.now() - timedelta(minutes=10)
    cache.set(BEAT_HEARTBEAT_KEY, ten_minutes_ago.isoformat())

    with pytest.raises(CommandError, match=r"is 600 s old, older than 180 s"):
        call_command("healthcheck", "beat")


def test_healthcheck_beat_honours_a_longer_max_age(empty_cache: None) -> None:
    ten_minutes_ago = timezone.now() - timedelta(minutes=10)
    cache.set(BEAT_HEARTBEAT_KEY, ten_minutes_ago.isoformat())

    call_command("healthcheck", "beat", "--max-age", "900")


def test_healthcheck_beat_rejects_a_heartbeat_that_is_not_a_timestamp(empty_cache: None) -> None:
    cache.set(BEAT_HEARTBEAT_KEY, "yesterday")

    with pytest.raises(CommandError, match=r"the heartbeat 'yesterday' is not an ISO timestamp"):
        call_command("healthcheck", "beat")
