"""Load demo data (csat/management/demo/): three log-ins, two years of history, and every
feature shown through its services; prints the API user's token."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand
from rest_framework.authtoken.models import Token

from accounts.models import User
from csat.management.demo import demo_load
from csat.management.demo.outreach import API_USERNAME


class Command(BaseCommand):
    help = "Load demo data (idempotent: does nothing when the demo users exist)."

    def handle(self, *args: Any, **options: Any) -> None:
        if User.objects.filter(username="manager").exists():
            self.stdout.write("Demo data already loaded.")
        else:
            started = time.monotonic()
            demo_load()
            seconds = time.monotonic() - started
            self.stdout.write(f"Demo data loaded in {seconds:.1f} s; metrics computed.")
        token = Token.objects.filter(user__username=API_USERNAME).first()
        if token is not None:
            self.stdout.write(
                f"API token of the demo user {API_USERNAME!r} (header Authorization: Token ...):"
                f" {token.key}"
            )
