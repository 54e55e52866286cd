"""A small dataset for the dashboard, export and browser tests: NPS answers in two quarters on
two channels and two teams, complaints, the brief's NPS target; rollups rebuilt."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.db import transaction

from accounts.models import Role, Team, User
from feedback.models import ComplaintCategory, RootCause
from feedback.services import case_log_complaint
from metrics.services import metrics_rebuild
from metrics.targets import target_set
from surveys.models import Customer, Response, Survey
from surveys.services import response_submit, survey_create_nps

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 8, 15, 12, tzinfo=SHANGHAI)  # in 2026Q3
Q2_DAY = datetime(2026, 5, 10, 12, tzinfo=SHANGHAI)
Q3_DAY = datetime(2026, 7, 20, 12, tzinfo=SHANGHAI)
# (day, channel, team index, segment, score, why)
ANSWERS = [
    *[(Q2_DAY, "email", 0, "normal", score, "") for score in [10, 9, 9, 8, 7, 6, 3, 10]],
    *[(Q2_DAY, "web", 1, "high_value", score, "") for score in [10, 10, 9, 5]],
    *[(Q3_DAY, "email", 0, "normal", score, "") for score in [10, 10, 9, 9, 8, 2]],
    (Q3_DAY, "web", 1, "high_value", 4, '=HYPERLINK("http://evil.example","click")'),
    (Q3_DAY, "web", 1, "churn_risk", 9, "@SUM(A1:A2) great"),
]


@dataclass
class DashboardData:
    survey: Survey
    teams: list[Team]
    agents: list[User]
    responses: list[Response]


def dashboard_data_build() -> DashboardData:
    """Build the dataset as of NOW (call inside the test's database)."""
    teams = [Team.objects.create(name="Front desk"), Team.objects.create(name="After-sales")]
    # Served-by agents need no password (hashing one takes most of a second).
    agents = [
        User.objects.create(username=f"agent{index}", team=team) for index, team in enumerate(teams)
    ]
    staff_group, _created = Group.objects.get_or_create(name=Role.STAFF)
    for agent in agents:
        agent.groups.add(staff_group)
    survey = survey_create_nps(
        title="Visit", nps_question="Recommend us?", why_question="Why?", created_by=agents[0]
    )
    nps, why = survey.questions.order_by("position")
    category = ComplaintCategory.objects.create(name="Slow response", root_cause=RootCause.PROCESS)
    other = ComplaintCategory.objects.create(name="Rude", root_cause=RootCause.PEOPLE)
    responses = []
    for index, (day, channel, team, segment, score, text) in enumerate(ANSWERS):
        customer = Customer.objects.create(external_id=f"C{index}", segment=segment)
        raw = {str(nps.pk): score, **({str(why.pk): text} if text else {})}
        with time_machine.travel(day, tick=False):
            response, _created = response_submit(
                survey=survey, raw_answers=raw, channel=channel, customer=customer,
                agent=agents[team],
            )  # fmt: skip
        responses.append(response)
    with time_machine.travel(Q3_DAY, tick=False):
        for index, chosen in enumerate([category, category, other]):
            case_log_complaint(
                category=chosen,
                channel="phone",
                summary="Waited two days",
                customer=Customer.objects.get(external_id=f"C{index}"),
                agent=agents[index % 2],
            )
    target_set(
        metric="nps",
        year=2026,
        values={"baseline": 42, "target": 58, "stretch": 62, "benchmark": 65},
        user=None,
    )
    with time_machine.travel(NOW, tick=False):
        metrics_rebuild(["2026Q1", "2026Q2", "2026Q3"], as_of=NOW)
    return DashboardData(survey, teams, agents, responses)


@pytest.fixture(scope="module")
def dashboard_module_data(django_db_setup: None, django_db_blocker: Any) -> Iterator[DashboardData]:
    """The dataset built once per test module, in a transaction rolled back at its end (a
    rebuild takes seconds); each test runs inside it in a savepoint of its own."""
    with django_db_blocker.unblock(), transaction.atomic():
        built = dashboard_data_build()
        yield built
        transaction.set_rollback(True)


@pytest.fixture
def data(dashboard_module_data: DashboardData, db: None) -> Iterator[DashboardData]:
    """The module's dataset, with the clock at NOW."""
    with time_machine.travel(NOW, tick=False):
        yield dashboard_module_data
