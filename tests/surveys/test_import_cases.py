"""Bulk follow-up cases for imported chunks (feedback.services.cases_open_for_responses): the
same cases as the one-by-one path, once each."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import time_machine

from accounts.models import User
from feedback.models import Case, SlaPolicy
from feedback.services import case_open_for_response, cases_open_for_responses
from metrics.models import DirtyPeriod
from surveys.models import Customer, Question, Response, Survey
from surveys.services import response_submit

SHANGHAI = ZoneInfo("Asia/Shanghai")
# NPS, CSAT on 1-7 (its bottom two points are 1-2), why: and whether a case opens.
ANSWERS = [
    (6, 5, "Too slow", True),
    (9, 2, "", True),
    (8, 3, "Fine", False),
    (10, 7, "", False),
]


def _survey() -> Survey:
    survey = Survey.objects.create(title="Service")
    Question.objects.create(survey=survey, position=1, kind="nps", text="Recommend?")
    Question.objects.create(
        survey=survey, position=2, kind="csat", text="Satisfied?", scale_min=1, scale_max=7
    )
    Question.objects.create(survey=survey, position=3, kind="text", text="Why?", is_required=False)
    return survey


def _respond(survey: Survey, agent: User, customer: Customer) -> list[Response]:
    questions = list(survey.questions.order_by("position"))
    responses = []
    for nps, csat, why, _opens in ANSWERS:
        with time_machine.travel(datetime(2025, 5, 6, 9, tzinfo=SHANGHAI), tick=False):
            response, _created = response_submit(
                survey=survey,
                raw_answers={
                    str(questions[0].pk): nps,
                    str(questions[1].pk): csat,
                    str(questions[2].pk): why,
                },
                agent=agent,
                customer=customer,
            )
        responses.append(response)
    return responses


def _cases(responses: list[Response]) -> list[tuple[object, ...]]:
    return list(
        Case.objects.filter(response__in=responses)
        .order_by("response_id")
        .values_list(
            "kind",
            "channel",
            "segment",
            "customer_id",
            "agent_id",
            "team_id",
            "summary",
            "opened_at",
            "quarter",
            "first_response_due_at",
            "resolution_due_at",
        )
    )


def test_bulk_opening_gives_the_cases_of_the_one_by_one_path_once_each(staff: User) -> None:
    # given the same answers twice, and a 12 h / 36 h policy for follow-ups
    SlaPolicy.objects.create(case_kind="follow_up", first_response_hours=12, resolution_hours=36)
    customer = Customer.objects.create(external_id="C-1", segment="high_value")
    survey = _survey()
    one_by_one = _respond(survey, staff, customer)
    in_bulk = _respond(survey, staff, customer)
    # a test response never opens a case
    spare = _respond(survey, staff, customer)
    Response.objects.filter(pk__in=[response.pk for response in spare]).update(is_test=True)

    for response in one_by_one:
        case_open_for_response(response.pk)
    ids = [response.pk for response in [*in_bulk, *spare]]
    opened = cases_open_for_responses(ids)
    again = cases_open_for_responses(ids)

    assert (opened, again) == (2, 0)
    assert _cases(in_bulk) == _cases(one_by_one)
    opened_at = datetime(2025, 5, 6, 9, tzinfo=SHANGHAI)
    assert _cases(in_bulk) == [
        (
            "follow_up",
            "web",
            "high_value",
            customer.pk,
            staff.pk,
            staff.team_id,
            summary,
            opened_at,
            "2025Q2",
            opened_at + timedelta(hours=12),
            opened_at + timedelta(hours=36),
        )
        for summary in ("Too slow", "")
    ]
    assert not Case.objects.filter(response__in=spare).exists()
    # the quarter's case metrics are marked for recompute in the same transaction
    assert DirtyPeriod.objects.filter(period="2025Q2", family="cases").exists()
