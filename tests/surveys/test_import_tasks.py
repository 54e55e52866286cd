"""Import tasks: run twice, work done once; an interrupted import resumes after its last
committed chunk; stalled jobs are sent again; a worker killed mid-file is replaced and the
import finishes without duplicates (real PostgreSQL, Redis and worker processes)."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg2
import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from feedback.models import Case
from metrics import selectors
from surveys.imports import handoff, services, tasks
from surveys.imports.models import ImportChunk, ImportJob, ImportRowError
from surveys.models import Customer, Response, Survey
from tests import live
from tests.conftest import database_url
from tests.surveys.import_support import (
    RESPONSES_HEADER,
    check,
    drain_outbox,
    nps_columns,
    upload,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 6, 30, 12, tzinfo=SHANGHAI)


def _rows(count: int, *, first: int = 1, customer: str = "") -> str:
    return "".join(
        f"R-{index},2025-05-01 10:00,{customer},,,{index % 11},\n"
        for index in range(first, first + count)
    )


@time_machine.travel(NOW, tick=False)
def test_the_check_run_twice_lists_each_problem_once(nps_survey: Survey) -> None:
    job = upload(RESPONSES_HEADER + _rows(2) + "R-9,2025-05-01,,,,42,\n", survey=nps_survey)
    services.import_job_set_mapping(job=job, columns=nps_columns(nps_survey))

    assert tasks.import_validate(job.pk) is True
    assert tasks.import_validate(job.pk) is False

    job.refresh_from_db()
    assert (job.status, job.rows_valid, job.rows_invalid) == ("validated", 2, 1)
    assert ImportRowError.objects.filter(job=job).count() == 1


@time_machine.travel(NOW, tick=False)
def test_the_import_run_twice_imports_once(nps_survey: Survey) -> None:
    job = check(upload(RESPONSES_HEADER + _rows(3), survey=nps_survey), nps_columns(nps_survey))
    services.import_job_confirm(job=job)

    assert tasks.import_run(job.pk) is True
    assert tasks.import_run(job.pk) is False

    job.refresh_from_db()
    assert (job.status, job.rows_imported, job.attempts) == ("done", 3, 1)
    assert Response.objects.count() == 3
    assert ImportChunk.objects.filter(job=job).count() == 1


@time_machine.travel(NOW, tick=False)
def test_a_chunk_event_handled_twice_opens_one_case_and_counts_each_response_once(
    nps_survey: Survey,
) -> None:
    job = check(
        upload(
            RESPONSES_HEADER + "R-1,2025-05-01,,,,2,Late\nR-2,2025-05-01,,,,9,\n", survey=nps_survey
        ),
        nps_columns(nps_survey),
    )
    services.import_job_confirm(job=job)
    services.import_job_run(job.pk)
    chunk = ImportChunk.objects.get(job=job)

    handoff.import_chunk_apply(chunk.pk)
    handoff.import_chunk_apply(chunk.pk)

    assert list(Case.objects.values_list("response__import_key", "summary")) == [("R-1", "Late")]
    figure = selectors.period_figure("2025Q2", "nps")
    assert figure is not None
    assert (figure.n, figure.value) == (2, 0.0)


@time_machine.travel(NOW, tick=False)
def test_an_interrupted_import_resumes_after_its_last_committed_chunk(
    nps_survey: Survey, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given chunks of 2 rows: rows 2-3 (one bad), then 4-5, then 6-7 whose R-1 repeats row 2
    settings.IMPORT_CHUNK_ROWS = 2
    content = RESPONSES_HEADER + (
        "R-1,2025-05-01,,,,9,\nR-2,2025-05-01,,,,99,\n"
        "R-3,2025-05-01,,,,3,\nR-4,2025-05-01,,,,4,\n"
        "R-1,2025-05-02,,,,5,\nR-6,2025-05-02,,,,6,\n"
    )
    job = check(upload(content, survey=nps_survey), nps_columns(nps_survey))
    services.import_job_confirm(job=job)
    commit = services._commit_chunk
    calls: list[int] = []

    def dies_on_the_second_chunk(*args: Any) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise ConnectionError("worker lost")
        commit(*args)

    monkeypatch.setattr(services, "_commit_chunk", dies_on_the_second_chunk)

    # when the worker dies while writing the second chunk
    with pytest.raises(ConnectionError):
        services.import_job_run(job.pk)
    job.refresh_from_db()
    assert (job.status, job.rows_checkpoint, job.rows_imported) == ("running", 3, 1)
    assert job.message == "ConnectionError('worker lost')"

    # and the redelivered task runs it again
    monkeypatch.setattr(services, "_commit_chunk", commit)
    assert services.import_job_run(job.pk) is True

    # then it resumes after row 3: every row once, every problem once
    job.refresh_from_db()
    assert (job.status, job.rows_imported, job.rows_invalid, job.attempts) == ("done", 4, 2, 2)
    assert sorted(Response.objects.values_list("import_key", flat=True)) == [
        "R-1",
        "R-3",
        "R-4",
        "R-6",
    ]
    assert list(ImportRowError.objects.filter(job=job).values_list("row", "message")) == [
        (3, "Choose a whole number from 0 to 10."),
        (6, "This id is already on row 2 of the file."),
    ]
    assert list(ImportChunk.objects.filter(job=job).values_list("first_row", "last_row")) == [
        (2, 3),
        (4, 5),
        (6, 7),
    ]


def test_mapping_enqueues_the_check_only_after_the_transaction_commits(
    nps_survey: Survey,
    django_capture_on_commit_callbacks: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[int] = []
    monkeypatch.setattr(tasks.import_validate, "delay", sent.append)
    job = upload(RESPONSES_HEADER + _rows(1), survey=nps_survey)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.import_job_set_mapping(job=job, columns=nps_columns(nps_survey))
        assert sent == []

    for callback in callbacks:
        callback()
    assert sent == [job.pk]


def test_the_relay_sends_a_stalled_job_again_and_fails_it_after_too_many_attempts(
    nps_survey: Survey,
    settings: Any,
    django_capture_on_commit_callbacks: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[int] = []
    monkeypatch.setattr(tasks.import_run, "delay", sent.append)
    stale = timezone.now() - timedelta(seconds=settings.IMPORT_STALLED_AFTER_SECONDS + 1)
    job = upload(RESPONSES_HEADER + _rows(1), survey=nps_survey)
    ImportJob.objects.filter(pk=job.pk).update(status="running", heartbeat_at=stale, attempts=1)
    fresh = upload(RESPONSES_HEADER + _rows(1, first=5), survey=nps_survey)
    ImportJob.objects.filter(pk=fresh.pk).update(status="running", heartbeat_at=timezone.now())

    with django_capture_on_commit_callbacks(execute=True):
        assert services.import_jobs_resume_stalled() == 1
        # a second relay right after finds the job's heartbeat touched: nothing to send
        assert tasks.imports_resume_stalled() == 0
    assert sent == [job.pk]

    ImportJob.objects.filter(pk=job.pk).update(
        heartbeat_at=stale, attempts=settings.IMPORT_MAX_ATTEMPTS, message="OperationalError()"
    )
    assert services.import_jobs_resume_stalled() == 0
    job.refresh_from_db()
    assert job.status == "failed"
    assert job.message == "The import stopped after 5 attempts: OperationalError()"


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_import_is_replaced_and_the_import_finishes_without_duplicates(
    postgres: None, redis_url: str, worker_queue: str, tmp_path: Path
) -> None:
    # given a checked file of 300 rows in chunks of 50; the row of customer C-BLOCK is in the
    # fourth chunk, and this test holds that customer's row locked, so the worker's fourth
    # commit (its foreign-key check) waits
    env = live.base_env() | {
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_url,
        "IMPORT_CHUNK_ROWS": "50",
        "CELERY_VISIBILITY_TIMEOUT": "3",
        "CELERY_UNACKED_RESTORE_THROTTLE": "1",
    }
    survey = _panel_survey()
    Customer.objects.create(external_id="C-BLOCK")
    content = RESPONSES_HEADER + _rows(159) + _rows(1, first=160, customer="C-BLOCK")
    content += "R-BAD,2025-05-01,,,,11,\n" + _rows(139, first=161)
    job = check(upload(content, survey=survey), nps_columns(survey))
    assert (job.rows_valid, job.rows_invalid) == (299, 1)
    holder = psycopg2.connect(database_url())
    holder.cursor().execute(
        "SELECT 1 FROM surveys_customer WHERE external_id = 'C-BLOCK' FOR UPDATE"
    )
    services.import_job_confirm(job=job)  # the task is sent when this commits

    # when the worker has committed three chunks, waits on the fourth, and is killed
    with live.celery_worker(env, tmp_path / "first.log", queue=worker_queue) as first:
        live.wait_for(_waiting_on_a_lock, timeout=60, what="the worker to wait on the lock")
        job.refresh_from_db()
        assert (job.status, job.rows_checkpoint) == ("running", 151)
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    holder.rollback()
    holder.close()
    live.wait_for(lambda: not _job_locked(job.pk), timeout=30, what="the dead worker's session")

    # then a new worker gets the unacknowledged task back and finishes the import
    with live.celery_worker(env, tmp_path / "second.log", queue=worker_queue):
        live.wait_for(
            lambda: ImportJob.objects.filter(pk=job.pk, status="done").exists(),
            timeout=90,
            what="the import to be done by the second worker",
        )
    job.refresh_from_db()
    assert (job.rows_imported, job.rows_invalid, job.rows_skipped) == (299, 1, 0)
    assert Response.objects.filter(survey=survey).count() == 299
    assert ImportRowError.objects.filter(job=job).count() == 1
    assert list(ImportChunk.objects.filter(job=job).values_list("first_row", flat=True)) == [
        2,
        52,
        102,
        152,
        202,
        252,
    ]
    assert job.attempts == 2
    drain_outbox()
    nps = selectors.period_figure("2025Q2", "nps")
    assert nps is not None
    assert nps.n == 299


def _panel_survey() -> Survey:
    from surveys.services import survey_create_nps

    return survey_create_nps(title="Panel", nps_question="Recommend?", why_question="Why?")


def _waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return bool(cursor.fetchone()[0])


def _job_locked(job_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
            "AND classid = %s AND objid = %s",
            [services.IMPORT_LOCK_CLASS, job_id],
        )
        return bool(cursor.fetchone()[0])
