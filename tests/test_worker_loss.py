"""A worker killed mid-task loses nothing: the task comes back and completes once."""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg2
import pytest
from django.utils import timezone

from feedback.models import ComplaintCategory, RootCause
from feedback.services import case_log_complaint
from metrics import tasks
from metrics.answers import ROLLUP_LOCK
from metrics.families import family_lock
from metrics.models import DirtyPeriod, PeriodRollup, RecomputeJob
from metrics.services import metrics_request_recompute
from tests import live
from tests.conftest import database_url


@pytest.mark.django_db(transaction=True)
def test_recompute_survives_its_worker_being_killed(
    postgres: None, redis_url: str, worker_queue: str, tmp_path: Path
) -> None:
    # given a recompute job, and the rollup lock held elsewhere so that the job must wait
    env = live.base_env() | {
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_url,
        "CELERY_VISIBILITY_TIMEOUT": "3",
        "CELERY_UNACKED_RESTORE_THROTTLE": "1",
    }
    holder = psycopg2.connect(database_url())
    holder.autocommit = True
    holder.cursor().execute("SELECT pg_advisory_lock(%s)", [ROLLUP_LOCK])
    job = metrics_request_recompute(reason="test")  # enqueued when its transaction commits

    # when the worker takes the job and is killed while it waits on the lock
    with live.celery_worker(env, tmp_path / "first.log", queue=worker_queue) as first:
        live.wait_for(
            lambda: RecomputeJob.objects.filter(
                pk=job.pk, status=RecomputeJob.Status.RUNNING
            ).exists(),
            timeout=30,
            what="the first worker to start the job",
        )
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    holder.close()

    # then a new worker gets the unacknowledged task back and finishes the job
    with live.celery_worker(env, tmp_path / "second.log", queue=worker_queue):
        live.wait_for(
            lambda: RecomputeJob.objects.filter(
                pk=job.pk, status=RecomputeJob.Status.DONE
            ).exists(),
            timeout=60,
            what="the job to be done by the second worker",
        )
    job.refresh_from_db()
    assert job.steps_done == job.steps_total


@pytest.mark.django_db(transaction=True)
def test_dirty_periods_survive_their_worker_being_killed(
    postgres: None, redis_url: str, worker_queue: str, tmp_path: Path
) -> None:
    # given a dirty quarter, and the cases family's recompute lock held elsewhere so that the
    # worker claims the mark and then waits
    env = live.base_env() | {
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_url,
        "METRICS_DIRTY_LEASE_SECONDS": "2",
    }
    category = ComplaintCategory.objects.create(name="Late", root_cause=RootCause.PROCESS)
    opened = datetime(2025, 5, 6, 10, tzinfo=UTC)
    case_log_complaint(category=category, channel="phone", summary="late", opened_at=opened)
    DirtyPeriod.objects.all().delete()
    mark = DirtyPeriod.objects.create(period="2025Q2", family="cases", due_at=timezone.now())
    holder = psycopg2.connect(database_url())
    holder.autocommit = True
    holder.cursor().execute("SELECT pg_advisory_lock(%s, %s)", [ROLLUP_LOCK, family_lock("cases")])

    # when the worker claims it and is killed during the recompute
    with live.celery_worker(env, tmp_path / "first.log", queue=worker_queue) as first:
        tasks.metrics_recompute_dirty.delay()
        live.wait_for(
            lambda: DirtyPeriod.objects.filter(pk=mark.pk, claimed_at__isnull=False).exists(),
            timeout=30,
            what="the first worker to claim the dirty quarter",
        )
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    holder.close()

    # then the mark is still there, and a worker running after the lease recomputes it
    assert DirtyPeriod.objects.filter(pk=mark.pk).exists()
    assert not PeriodRollup.objects.filter(period="2025Q2", family="cases").exists()
    time.sleep(2.5)
    with live.celery_worker(env, tmp_path / "second.log", queue=worker_queue):
        tasks.metrics_recompute_dirty.delay()
        live.wait_for(
            lambda: not DirtyPeriod.objects.exists(),
            timeout=60,
            what="the second worker to recompute the quarter",
        )
    cases = PeriodRollup.objects.get(period="2025Q2", family="cases", slice_kind="all")
    assert cases.components["cases"] == 1
