"""A worker killed mid-task loses nothing: the task comes back and completes once."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psycopg2
import pytest

from metrics.answers import ROLLUP_LOCK
from metrics.models import RecomputeJob
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
