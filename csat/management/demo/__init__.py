"""The demo data `make run` loads (python manage.py demo_data): two years of history written in
bulk (history.py), then each newer feature through its own services: template surveys and
their channels (showcase.py), invitations (outreach.py), file imports (imports.py)."""

from __future__ import annotations

import random

from django.db import transaction
from django.test.utils import override_settings

from csat.management.demo.answers import Respondents
from csat.management.demo.backends import DemoEmailBackend, DemoSmsBackend
from csat.management.demo.history import History
from csat.management.demo.imports import imports_load
from csat.management.demo.outreach import Outreach
from csat.management.demo.showcase import Showcase
from csat.outbox import outbox_drain
from metrics.services import metrics_rebuild, responses_link_purchases

BACKENDS = "csat.management.demo.backends"


def features_load(history: History, rng: random.Random) -> None:
    """The newer features on top of the history, each through its services."""
    now = history.now
    staff = history.users["staff"]
    after_sales = [agent for agent in history.agents if agent.team == history.teams["after_sales"]]
    showcase = Showcase(rng, now, staff)
    surveys = showcase.build()
    # After the templates made their dimensions (SERVQUAL's are new).
    respondents = Respondents(rng)
    outreach = Outreach(rng, now, respondents, history.customers)
    api_user, _token = outreach.api_user()
    outreach.touchpoint_rule(history.service, after_sales)
    # Texted nine days ago, so the fatigue rule keeps the email send from inviting them again.
    fatigued = outreach.high_value.pop()
    outreach.sms_send(surveys["transactional_csat"], staff, fatigued)
    outreach.email_send(surveys["relationship_nps"], staff, fatigued)
    outreach.api_answers(surveys["service_dimensions"], api_user)
    callers = [outreach.others.pop() for _index in range(12)]
    showcase.answer_on_channels(respondents, callers, history.agents)
    imports_load(staff)


def demo_load() -> None:
    """Load everything in one transaction, then compute every figure."""
    DemoEmailBackend.sent.clear()
    DemoSmsBackend.sent.clear()
    with (
        override_settings(
            EMAIL_BACKEND=f"{BACKENDS}.DemoEmailBackend",
            SMS_BACKEND=f"{BACKENDS}.DemoSmsBackend",
        ),
        transaction.atomic(),
    ):
        history = History(random.Random(2025))
        history.load()
        responses_link_purchases()
        # A random stream of its own: the history's figures stay as they were.
        features_load(history, random.Random(2026))
        outbox_drain()
    metrics_rebuild()
