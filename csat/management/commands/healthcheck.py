"""`manage.py healthcheck web|worker|beat`: exit 0 when the component is healthy, else 1 and why."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.http.request import validate_host
from django.utils import timezone

from csat.tasks import BEAT_HEARTBEAT_KEY

COMPONENTS = ("web", "worker", "beat")


class Command(BaseCommand):
    help = (
        "Check one csat process for container healthchecks: web (GET /healthz answers 200), "
        "worker (a Celery worker answers a ping), beat (the outbox relay heartbeat is fresh)."
    )
    # A probe that runs every few seconds must be cheap and must not fail on a system check.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        """Declare the component and the per-component options."""
        parser.add_argument("component", choices=COMPONENTS)
        parser.add_argument(
            "--timeout",
            type=float,
            default=5.0,
            help="web and worker: seconds to wait for an answer (default 5).",
        )
        parser.add_argument(
            "--destination",
            default=None,
            help="worker: the node to ping, e.g. celery@$HOSTNAME (default: any worker).",
        )
        parser.add_argument(
            "--max-age",
            type=float,
            default=180.0,
            help="beat: oldest acceptable heartbeat, in seconds (default 180).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Run the check of the chosen component; CommandError (exit 1) when it fails."""
        component: str = options["component"]
        if component == "web":
            message = check_web(timeout=options["timeout"])
        elif component == "worker":
            message = check_worker(timeout=options["timeout"], destination=options["destination"])
        else:
            message = check_beat(max_age=options["max_age"])
        self.stdout.write(message)


def check_web(timeout: float) -> str:
    """GET this container's /healthz and require a 200."""
    url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz"
    request = urllib.request.Request(url, headers={"Host": _accepted_host()})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status: int = response.status
    except urllib.error.HTTPError as error:
        body = error.read(500).decode("utf-8", "replace")
        raise CommandError(f"web: {url} answered {error.code}: {body}") from error
    except OSError as error:  # URLError, refused connection, timeout
        reason = getattr(error, "reason", error)
        raise CommandError(f"web: {url} is unreachable: {reason}") from error
    if status != 200:
        raise CommandError(f"web: {url} answered {status}, expected 200.")
    return f"web: {url} answered 200."


def check_worker(timeout: float, destination: str | None) -> str:
    """Ping Celery workers through the broker and require at least one answer."""
    from csat.celery import app

    try:
        replies = app.control.ping(
            destination=[destination] if destination else None, timeout=timeout
        )
    except Exception as error:  # any broker failure means "unhealthy", said in one line
        raise CommandError(f"worker: could not reach the broker: {error}") from error
    if not replies:
        target = destination or "any worker"
        raise CommandError(f"worker: no answer from {target} within {timeout:g} s.")
    nodes = ", ".join(sorted(node for reply in replies for node in reply))
    return f"worker: {nodes} answered."


def check_beat(max_age: float) -> str:
    """Require a heartbeat from csat.tasks.outbox_relay younger than max_age seconds."""
    try:
        value = cache.get(BEAT_HEARTBEAT_KEY)
    except Exception as error:  # a cache (Redis) outage means "unhealthy", said in one line
        raise CommandError(f"beat: could not read the cache: {error}") from error
    if value is None:
        raise CommandError(
            f"beat: no heartbeat under the cache key {BEAT_HEARTBEAT_KEY!r}: "
            "csat.tasks.outbox_relay has not run (is beat scheduling it and a worker running it?)."
        )
    try:
        beat_at = datetime.fromisoformat(value)
    except (TypeError, ValueError) as error:
        raise CommandError(f"beat: the heartbeat {value!r} is not an ISO timestamp.") from error
    if timezone.is_naive(beat_at):
        beat_at = timezone.make_aware(beat_at)
    age = (timezone.now() - beat_at).total_seconds()
    if age > max_age:
        raise CommandError(
            f"beat: the last heartbeat ({value}) is {age:.0f} s old, older than {max_age:g} s: "
            "beat is not scheduling csat.tasks.outbox_relay or no worker is running it."
        )
    return f"beat: last heartbeat {age:.0f} s ago."


def _accepted_host() -> str:
    """A Host header Django accepts here: 127.0.0.1 when allowed, else the first allowed name."""
    allowed_hosts: list[str] = settings.ALLOWED_HOSTS
    if not allowed_hosts or validate_host("127.0.0.1", allowed_hosts):
        return "127.0.0.1"
    return allowed_hosts[0].lstrip(".")
