"""Retention: responses older than the survey's retention period are deleted, and the
metrics engine rebuilds the quarters they counted in."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.models import User
from metrics import selectors
from metrics.models import RecomputeJob
from metrics.services import metrics_apply_response, metrics_run_recompute
from surveys import tasks
from surveys.models import Answer, Channel, Invitation, Response, Survey
from surveys.retention import responses_purge_expired
from surveys.services import response_submit
from tests.surveys.builders import customer


def _submit(survey: Survey, score: int) -> Response:
    question = survey.questions.get(kind="nps")
    response, _created = response_submit(survey=survey, raw_answers={str(question.pk): score})
    metrics_apply_response(response.pk)
    return response


def _nps_count(quarter: str) -> int:
    figure = selectors.period_figure(quarter, "nps")
    return figure.n if figure else 0


@pytest.fixture
def survey(nps_survey: Survey) -> Survey:
    nps_survey.retention_days = 30
    nps_survey.save()
    return nps_survey


def test_purge_deletes_old_responses_and_answers_and_rollups_follow(
    survey: Survey, postgres: None
) -> None:
    with time_machine.travel("2025-01-10 10:00 +08:00"):
        old = _submit(survey, 3)
    with time_machine.travel("2025-03-01 10:00 +08:00"):
        recent = _submit(survey, 9)
    assert _nps_count("2025Q1") == 2

    with time_machine.travel("2025-03-05 10:00 +08:00"):
        deleted = responses_purge_expired()

    assert deleted == 1
    assert list(Response.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not Answer.objects.filter(response_id=old.pk).exists()
    job = RecomputeJob.objects.get()
    assert (job.reason, job.quarters, job.status) == ("retention purge", ["2025Q1"], "queued")
    metrics_run_recompute(job.pk)
    assert _nps_count("2025Q1") == 1


def test_purge_run_twice_deletes_once_and_asks_for_one_rebuild(survey: Survey) -> None:
    with time_machine.travel("2025-01-10 10:00 +08:00"):
        _submit(survey, 3)
        _submit(survey, 10)

    with time_machine.travel("2025-06-01 10:00 +08:00"):
        first = tasks.responses_purge_expired.apply().get()
        second = tasks.responses_purge_expired.apply().get()

    assert (first, second) == (2, 0)
    assert not Response.objects.exists()
    assert RecomputeJob.objects.count() == 1


def test_surveys_without_retention_keep_everything(nps_survey: Survey) -> None:
    with time_machine.travel("2020-01-10 10:00 +08:00"):
        _submit(nps_survey, 3)

    assert responses_purge_expired() == 0
    assert Response.objects.count() == 1
    assert not RecomputeJob.objects.exists()


def test_old_partial_responses_age_from_when_they_were_saved(survey: Survey, staff: User) -> None:
    invitation = Invitation.objects.create(
        survey=survey, customer=customer(), channel=Channel.EMAIL
    )
    question = survey.questions.get(kind="nps")
    with time_machine.travel("2025-01-10 10:00 +08:00"):
        response_submit(
            survey=survey,
            raw_answers={str(question.pk): 5},
            invitation=invitation,
            is_partial=True,
        )

    with time_machine.travel("2025-02-10 10:00 +08:00"):
        deleted = responses_purge_expired()

    assert deleted == 1
    assert not Response.objects.exists()
    # A partial response never counted: nothing to rebuild.
    assert not RecomputeJob.objects.exists()


def test_a_response_inside_the_period_is_kept(survey: Survey) -> None:
    now = timezone.now()
    with time_machine.travel(now - timedelta(days=29)):
        _submit(survey, 7)

    with time_machine.travel(now):
        assert responses_purge_expired() == 0
    assert Response.objects.count() == 1
