"""Retention: responses older than the survey's retention period are deleted, and the
metrics engine rebuilds the quarters they counted in."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from accounts.models import User
from metrics import selectors
from metrics.models import RecomputeJob
from metrics.services import (
    metrics_apply_response,
    metrics_freeze_closed,
    metrics_nightly,
    metrics_rebuild,
    metrics_recompute_dirty,
    metrics_run_recompute,
)
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


def _nps(period: str) -> tuple[float | None, int] | None:
    figure = selectors.period_figure(period, "nps")
    return (figure.value, figure.n) if figure else None


def test_purge_leaves_a_frozen_quarter_as_it_was_and_tells_the_admin_what_a_recompute_would_do(
    nps_survey: Survey, postgres: None, admin_client_: Client
) -> None:
    # given three answers in 2025Q1, frozen in August 2025 (NPS 33.3, n = 3), and one in Q2
    nps_survey.retention_days = 365
    nps_survey.save()
    with time_machine.travel("2025-01-10 10:00 +08:00"):
        for score in (3, 10, 9):
            _submit(nps_survey, score)
    with time_machine.travel("2025-05-10 10:00 +08:00"):
        _submit(nps_survey, 10)
    with time_machine.travel("2025-08-01 10:00 +08:00"):
        metrics_rebuild()
        assert metrics_freeze_closed() == ["2025Q1"]
    frozen = {period: _nps(period) for period in ("2025Q1", "2025")}
    assert frozen["2025Q1"] == (pytest.approx(100 / 3), 3)

    # when the retention purge deletes the Q1 answers a year later, and every worker runs
    with time_machine.travel("2026-01-15 10:00 +08:00", tick=False):
        assert responses_purge_expired() == 3
        metrics_nightly()
        metrics_recompute_dirty()
        page = admin_client_.get("/settings/weights/").content.decode()

    # then the frozen quarter (and its year) keep their figures, no recompute job is queued
    # for a quarter it would not change, and the admin is told what a recompute would do
    assert {period: _nps(period) for period in ("2025Q1", "2025")} == frozen
    assert not RecomputeJob.objects.exists()
    note = re.search(r'data-testid="purged-snapshots">(.*?)</div>', page, re.S)
    assert note is not None
    assert " ".join(html.unescape(re.sub(r"<[^>]+>", " ", note.group(1))).split()) == (
        "These frozen quarters keep figures that include responses the retention purge has "
        "since deleted. Their figures stay as they were frozen unless you recompute with frozen "
        "quarters included: 2025Q1: 3 counted responses deleted (last on 2026-01-15). "
        "Recomputing would drop them from 2025Q1's figures, and the frozen figures could not "
        "be restored."
    )

    # when the admin asks for that recompute anyway
    with time_machine.travel("2026-01-16 10:00 +08:00", tick=False):
        admin_client_.post("/settings/recompute/", {"include_frozen": "on"})
        metrics_run_recompute(RecomputeJob.objects.get().pk)
        page = admin_client_.get("/settings/weights/").content.decode()

    # then 2025Q1 has no answers left and the notice is gone
    assert _nps("2025Q1") == (None, 0)
    assert 'data-testid="purged-snapshots"' not in page
