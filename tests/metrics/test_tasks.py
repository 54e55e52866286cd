"""Every metrics task run twice does its work once; dirty periods, recompute jobs, freezing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.utils import timezone

from csat.models import OutboxEvent
from csat.outbox import outbox_process
from metrics import answers, selectors, services, tasks
from metrics.models import (
    AnswerCell,
    AnswerSlice,
    CaseCell,
    DirtyPeriod,
    FrozenQuarter,
    PeriodRollup,
    RecomputeJob,
    RollupClock,
)
from surveys.models import Response, Survey
from surveys.services import response_submit

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _submit(survey: Survey, score: int, at: datetime) -> Response:
    nps = survey.questions.get(kind="nps")
    with time_machine.travel(at, tick=False):
        response, _created = response_submit(survey=survey, raw_answers={str(nps.pk): score})
    # Handlers can record events of their own (a low score opens a case): run until none is left.
    while pending := list(
        OutboxEvent.objects.filter(processed_at__isnull=True).values_list("pk", flat=True)
    ):
        for event_id in pending:
            outbox_process(event_id)
    return response


def test_a_response_marks_its_quarter_dirty_and_the_periodic_task_clears_it(
    nps_survey: Survey,
) -> None:
    _submit(nps_survey, 3, datetime(2025, 5, 1, tzinfo=SHANGHAI))
    # Its answers' repurchase state is in the answer rollups already: no repurchase refresh.
    assert set(DirtyPeriod.objects.values_list("period", "family")) == {
        ("2025Q2", "reach"),
        ("2025Q2", "cases"),
    }

    with time_machine.travel(timezone.now() + timedelta(minutes=1), tick=False):
        first = tasks.metrics_recompute_dirty()
        second = tasks.metrics_recompute_dirty()

    assert (first, second) == (2, 0)
    assert not DirtyPeriod.objects.exists()
    cases = PeriodRollup.objects.get(period="2025Q2", family="cases", slice_kind="all")
    assert cases.components["cases"] == 1
    assert PeriodRollup.objects.filter(period="2025", family="cases", slice_kind="all").exists()


def test_a_recompute_that_dies_keeps_its_dirty_periods_until_the_lease_runs_out(
    nps_survey: Survey, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a dirty quarter, and a worker that dies in the middle of its recompute
    _submit(nps_survey, 3, datetime(2025, 5, 1, tzinfo=SHANGHAI))
    real_store = services.families.family_store

    def dies(*args: object, **kwargs: object) -> int:
        raise SystemExit("worker killed")

    monkeypatch.setattr(services.families, "family_store", dies)
    soon = timezone.now() + timedelta(minutes=1)
    with time_machine.travel(soon, tick=False), pytest.raises(SystemExit):
        tasks.metrics_recompute_dirty()

    # then the marks are still there, claimed: not taken again while the lease runs
    marks = set(DirtyPeriod.objects.values_list("period", "family"))
    assert marks == {("2025Q2", "reach"), ("2025Q2", "cases")}
    assert not DirtyPeriod.objects.filter(claimed_at__isnull=True).exists()
    monkeypatch.setattr(services.families, "family_store", real_store)
    with time_machine.travel(soon + timedelta(minutes=1), tick=False):
        assert tasks.metrics_recompute_dirty() == 0
    assert not PeriodRollup.objects.filter(period="2025Q2", family="cases").exists()

    # and once the lease has run out, the next run recomputes them and clears them
    lease = timedelta(seconds=settings.METRICS_DIRTY_LEASE_SECONDS)
    with time_machine.travel(soon + lease + timedelta(seconds=1), tick=False):
        assert tasks.metrics_recompute_dirty() == 2
    assert not DirtyPeriod.objects.exists()
    cases = PeriodRollup.objects.get(period="2025Q2", family="cases", slice_kind="all")
    assert cases.components["cases"] == 1


def test_an_event_during_a_recompute_asks_for_another_one(
    nps_survey: Survey, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a dirty quarter being recomputed (a detractor's response opened a case)
    _submit(nps_survey, 3, datetime(2025, 5, 1, tzinfo=SHANGHAI))
    real_store = services.families.family_store
    during: list[set[tuple[str, str]]] = []

    def store_while_a_case_is_logged(family: str, *args: Any, **kwargs: Any) -> int:
        written = real_store(family, *args, **kwargs)
        if family == "cases" and not during:
            # when another detractor's response (and its case) commits while it runs
            _submit(nps_survey, 2, datetime(2025, 5, 2, tzinfo=SHANGHAI))
            during.append(set(DirtyPeriod.objects.values_list("period", "family")))
        return written

    monkeypatch.setattr(services.families, "family_store", store_while_a_case_is_logged)
    with time_machine.travel(timezone.now() + timedelta(minutes=1), tick=False):
        assert tasks.metrics_recompute_dirty() == 2
    monkeypatch.setattr(services.families, "family_store", real_store)

    # then the claimed marks are gone and the event's own marks wait for the next run
    assert during == [{("2025Q2", "reach"), ("2025Q2", "cases")}]
    unclaimed = DirtyPeriod.objects.filter(claimed_at__isnull=True)
    assert set(unclaimed.values_list("period", "family")) == {
        ("2025Q2", "reach"),
        ("2025Q2", "cases"),
    }
    assert DirtyPeriod.objects.count() == 2
    with time_machine.travel(timezone.now() + timedelta(minutes=2), tick=False):
        assert tasks.metrics_recompute_dirty() == 2
    cases = PeriodRollup.objects.get(period="2025Q2", family="cases", slice_kind="all")
    assert cases.components["cases"] == 2
    assert not DirtyPeriod.objects.exists()


def test_recompute_job_runs_once_and_reports_progress(nps_survey: Survey) -> None:
    _submit(nps_survey, 10, datetime(2025, 5, 1, tzinfo=SHANGHAI))
    job = RecomputeJob.objects.create(reason="test")

    first = tasks.metrics_run_recompute(job.pk)
    second = tasks.metrics_run_recompute(job.pk)

    job.refresh_from_db()
    assert (first, second) == (True, False)
    assert job.status == RecomputeJob.Status.DONE
    assert job.progress_percent == 100


def test_a_job_whose_worker_died_runs_again_on_redelivery(nps_survey: Survey) -> None:
    job = RecomputeJob.objects.create(reason="test", status=RecomputeJob.Status.RUNNING)

    assert tasks.metrics_run_recompute(job.pk) is True
    job.refresh_from_db()
    assert job.status == RecomputeJob.Status.DONE


def test_frozen_quarter_keeps_its_snapshot_until_an_admin_recompute(nps_survey: Survey) -> None:
    response = _submit(nps_survey, 10, datetime(2024, 2, 1, tzinfo=SHANGHAI))
    services.metrics_rebuild()
    with time_machine.travel(datetime(2025, 1, 1, tzinfo=SHANGHAI), tick=False):
        frozen = services.metrics_freeze_closed()
    assert "2024Q1" in frozen
    Response.objects.filter(pk=response.pk).update(is_spam=True)

    services.metrics_apply_response(response.pk)
    services.metrics_rebuild()
    snapshot = selectors.metric_figures("2024Q1")["nps"]

    services.metrics_rebuild(include_frozen=True)
    recomputed = selectors.metric_figures("2024Q1")["nps"]

    assert snapshot is not None
    assert recomputed is not None
    assert (snapshot.n, snapshot.value) == (1, 100.0)
    assert (recomputed.n, recomputed.value) == (0, None)
    assert FrozenQuarter.objects.filter(quarter="2024Q1").exists()


def test_the_nightly_freezes_a_settling_quarter_after_recomputing_it(nps_survey: Survey) -> None:
    # given a counted response of 2024Q1 later found to be spam, its rollups not yet corrected
    response = _submit(nps_survey, 10, datetime(2024, 2, 1, tzinfo=SHANGHAI))
    services.metrics_rebuild()
    Response.objects.filter(pk=response.pk).update(is_spam=True)

    with time_machine.travel(datetime(2025, 1, 1, tzinfo=SHANGHAI), tick=False):
        # when beat's nightly task runs, the night 2024Q1 settles, and then its job
        tasks.metrics_nightly()
        assert not FrozenQuarter.objects.exists()
        job = RecomputeJob.objects.get(reason="nightly")
        assert tasks.metrics_run_recompute(job.pk) is True

    # then 2024Q1 is frozen with the recomputed numbers (no data), not the stale ones
    figure = selectors.metric_figures("2024Q1")["nps"]
    assert FrozenQuarter.objects.filter(quarter="2024Q1").exists()
    assert figure is not None
    assert (figure.n, figure.value) == (0, None)


def test_open_periods_are_refreshed_as_time_passes(nps_survey: Survey) -> None:
    now = datetime(2025, 5, 1, tzinfo=SHANGHAI)

    services.metrics_refresh_open_periods(now)

    periods = set(DirtyPeriod.objects.values_list("period", flat=True))
    assert {"2025Q2", "2025Q1", "2024Q4"} <= periods
    soon = timezone.now() + timedelta(seconds=10)
    assert all(row.due_at <= soon for row in DirtyPeriod.objects.all())


def test_refreshing_open_periods_twice_closes_windows_and_marks_periods_once(
    nps_survey: Survey,
) -> None:
    _submit(nps_survey, 9, datetime(2025, 1, 10, tzinfo=SHANGHAI))
    later = datetime(2025, 6, 1, tzinfo=SHANGHAI)

    with time_machine.travel(later, tick=False):
        tasks.metrics_refresh_open_periods()
        marked = sorted(DirtyPeriod.objects.values_list("period", "family", "due_at"))
        clock = list(RollupClock.objects.values_list("name", "at"))
        tasks.metrics_refresh_open_periods()

    assert sorted(DirtyPeriod.objects.values_list("period", "family", "due_at")) == marked
    assert list(RollupClock.objects.values_list("name", "at")) == clock == [("repurchase", later)]


def test_a_rebuild_that_writes_many_cells_refreshes_the_planners_statistics(
    nps_survey: Survey, postgres: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given responses whose cells are not stored yet, and a threshold of one written row
    for score in (3, 9, 10):
        _submit(nps_survey, score, datetime(2025, 5, 1, tzinfo=SHANGHAI))
    AnswerCell.objects.all().delete()
    AnswerSlice.objects.all().delete()
    Response.objects.update(in_rollup=False)
    monkeypatch.setattr(answers, "ANALYZE_AFTER_ROWS", 1)

    # when the rebuild writes them
    services.metrics_rebuild()

    # then the planner's row counts of the rollup tables are those of the rows written,
    # the case family's (the detractor's follow-up case) included
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reltuples FROM pg_class WHERE relname IN "
            "('metrics_answercell', 'metrics_answerslice', 'metrics_casecell', "
            "'metrics_periodrollup')"
        )
        estimated = dict(cursor.fetchall())
    assert CaseCell.objects.exists()
    assert estimated == {
        "metrics_answercell": AnswerCell.objects.count(),
        "metrics_answerslice": AnswerSlice.objects.count(),
        "metrics_casecell": CaseCell.objects.count(),
        "metrics_periodrollup": PeriodRollup.objects.count(),
    }
