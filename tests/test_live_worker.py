"""End to end with real processes: HTTP submissions, a live Celery worker, the dashboard."""

from __future__ import annotations

from pathlib import Path

import pytest

from accounts.models import Role
from accounts.services import user_create
from surveys.services import survey_create_nps
from tests import live
from tests.conftest import database_url

PASSWORD = "live-test-password"


@pytest.mark.django_db(transaction=True)
def test_real_worker_on_postgres_and_redis_updates_dashboard_after_http_submissions(
    postgres: None, redis_url: str, live_server: object, worker_queue: str, tmp_path: Path
) -> None:
    # given a manager, an open survey, and a worker on Redis and the test database
    user_create(username="live.manager", password=PASSWORD, role=Role.MANAGER)
    survey = survey_create_nps(title="Live", nps_question="Recommend us?")
    env = live.base_env() | {"DATABASE_URL": database_url(), "REDIS_URL": redis_url}
    base_url = str(live_server)
    manager = live.logged_in_session(base_url, "live.manager", PASSWORD)
    assert live.dashboard_nps(manager, base_url) == ("No data", 0)

    with live.celery_worker(env, tmp_path / "worker.log", queue=worker_queue):
        # when three customers answer over HTTP
        for score in (10, 9, 3):
            live.submit_nps(base_url, survey.public_id, score)

        # then the worker updates the quarter's NPS: 2 promoters, 1 detractor of 3
        figure = live.wait_for(
            lambda: (f := live.dashboard_nps(manager, base_url))[1] == 3 and f,
            timeout=60,
            what="the dashboard to show n = 3",
        )
    assert figure == ("33.3", 3)


def test_real_worker_on_embedded_default_updates_dashboard_after_http_submissions(
    tmp_path: Path,
) -> None:
    # given the embedded default: SQLite and the filesystem broker, as `make run` has them
    env = live.base_env() | {"CSAT_VAR_DIR": str(tmp_path / "var")}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    manage = [live.sys.executable, "manage.py"]
    for command in (["migrate", "--noinput"], ["demo_data"]):
        live.subprocess.run(
            [*manage, *command], cwd=live.ROOT, env=env, check=True, capture_output=True
        )
    port = live.free_port()
    base_url = f"http://127.0.0.1:{port}"
    web = [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"]

    with (
        live.process(web, env, tmp_path / "web.log", ready="Quit the server"),
        live.celery_worker(env, tmp_path / "worker.log"),
    ):
        manager = live.logged_in_session(base_url, "manager", "csat-demo")
        staff = live.logged_in_session(base_url, "staff", "csat-demo")
        surveys = staff.get(f"{base_url}/api/v1/surveys/", timeout=10).json()
        # one of the demo's one-question NPS surveys (the newest survey asks more)
        public_id = next(
            survey["public_id"]
            for survey in surveys
            if survey["title"].endswith("how likely are you to recommend us?")
        )
        _value, before = live.dashboard_nps(manager, base_url)

        # when three customers answer over HTTP
        for score in (10, 10, 0):
            live.submit_nps(base_url, public_id, score)

        # then the worker, through the filesystem broker, brings n up by three
        live.wait_for(
            lambda: live.dashboard_nps(manager, base_url)[1] == before + 3,
            timeout=60,
            what=f"the dashboard to show n = {before + 3}",
        )
