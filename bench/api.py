"""API submission benchmark (issue 3): our response API against a minimal Django view.

    python -m bench.api [--duration 20] [--connections 8] [--workers 2] [--rounds 1]
                        [--database-url postgres://postgres@127.0.0.1:5432/csat_bench_api]
                        [--redis-url redis://127.0.0.1:6379/4]

Both sides run in the same process layout, one after the other in the same run: gunicorn
(production settings, DJANGO_DEBUG=false, persistent database connections) serving
`bench.settings`, which is the app plus a bench-only `bench.minimal` app, against PostgreSQL
and Redis, loaded by wrk (a real load generator, `apt-get install wrk`) with `bench/api.lua`:

- ours: `POST /api/v1/surveys/<public_id>/responses/` with token authentication, a unique
  Idempotency-Key per request and an NPS + free-text body: validation, the response, its
  answers, its idempotency key and fingerprint and its outbox row in one transaction, and the
  outbox event sent to Redis after commit by the worker process's publisher thread (no worker
  runs: the queue is dropped afterwards);
- the reference: `POST /bench/minimal/`, a Django view that inserts the JSON body as one row.

wrk posts for `--duration` seconds, then only GETs a page that writes nothing until it stops,
so no insert is in flight at the end: the rows in the database must equal the 2xx answers.
The last line on stdout is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/csat_bench_api"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/4"
TARGET_RATIO = 0.70
TAIL_SECONDS = 3


def log(message: str) -> None:
    print(f"[bench.api] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_env(database_url: str, redis_url: str, queue: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DJANGO_DEBUG": "false",
            "SECRET_KEY": "bench-only-" + "x" * 40,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CELERY_QUEUE": queue,
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def recreate_database(database_url: str) -> None:
    name = urlsplit(database_url).path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"refusing to drop {name!r}: the database name must contain 'bench'")
    admin = urlunsplit(urlsplit(database_url)._replace(path="/postgres"))
    for statement in (
        f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
        f'CREATE DATABASE "{name}"',
    ):
        subprocess.run(["psql", admin, "-qc", statement], check=True, capture_output=True)


def django_setup(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django

    django.setup()


def prepare(env: dict[str, str]) -> dict[str, Any]:
    """Migrate (the minimal app has no migrations: --run-syncdb), create an API client with a
    token and an NPS survey; return what the load generator needs."""
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--run-syncdb", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    django_setup(env)
    from rest_framework.authtoken.models import Token

    from accounts.models import Role
    from accounts.services import user_create
    from surveys.services import survey_create_nps

    user = user_create(
        username="bench.client", password="bench-" + uuid.uuid4().hex, role=Role.STAFF
    )
    survey = survey_create_nps(
        title="Bench", nps_question="Recommend us?", why_question="Why?", created_by=user
    )
    nps, why = survey.questions.order_by("position")
    return {
        "token": Token.objects.create(user=user).key,
        "survey_id": survey.pk,
        "public_id": survey.public_id,
        "body": {"answers": {str(nps.pk): 9, str(why.pk): "Quick and friendly service."}},
    }


def count_rows(kind: str, survey_id: int) -> int:
    from bench.minimal.models import BenchRow
    from surveys.models import Response

    if kind == "api":
        return Response.objects.filter(survey_id=survey_id).count()
    return BenchRow.objects.count()


class Gunicorn:
    def __init__(self, env: dict[str, str], workers: int, log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        self.log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "csat.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--worker-class",
                "sync",
                "--worker-tmp-dir",
                "/dev/shm",
                "--preload",
                "--backlog",
                "2048",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"gunicorn did not start; see {log_path}")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)
        self.log.close()


def run_wrk(
    port: int,
    path: str,
    token: str,
    body_file: Path,
    seconds: float,
    connections: int,
    threads: int,
) -> dict[str, Any]:
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{int(seconds + TAIL_SECONDS)}s",
        "--timeout",
        "10s",
        "-s",
        str(ROOT / "bench" / "api.lua"),
        f"http://127.0.0.1:{port}",
        "--",
        path,
        str(body_file),
        str(seconds),
        "/bench/ping/",
        token,
        uuid.uuid4().hex[:12],
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    match = re.search(r"^WRK_RESULT (\{.*\})$", output, re.MULTILINE)
    if match is None:
        raise SystemExit(f"wrk printed no result:\n{output}")
    result: dict[str, Any] = json.loads(match.group(1))
    result["rps"] = result["acked"] / seconds
    result["command"] = " ".join([*command[:-1], "<run-id>"])
    return result


def drop_queue(redis_url: str, queue: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    client.delete(queue)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of POSTs per side")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--rounds", type=int, default=1, help="alternate the sides this often")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before each side")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")

    queue = f"bench-api-{uuid.uuid4().hex[:8]}"
    env = bench_env(args.database_url, args.redis_url, queue)
    log(f"recreating {args.database_url}")
    recreate_database(args.database_url)
    setup = prepare(env)
    sides = {
        "api": (f"/api/v1/surveys/{setup['public_id']}/responses/", setup["token"]),
        "minimal": ("/bench/minimal/", "-"),
    }
    results: dict[str, list[dict[str, Any]]] = {"api": [], "minimal": []}
    with tempfile.TemporaryDirectory() as scratch:
        body_file = Path(scratch) / "body.json"
        body_file.write_text(json.dumps(setup["body"]))
        try:
            for round_number in range(args.rounds):
                for side, (path, token) in sides.items():
                    server = Gunicorn(env, args.workers, Path(scratch) / f"{side}.log")
                    try:
                        if args.warmup:
                            run_wrk(server.port, path, token, body_file, args.warmup, 2, 1)
                        before = count_rows(side, setup["survey_id"])
                        result = run_wrk(
                            server.port,
                            path,
                            token,
                            body_file,
                            args.duration,
                            args.connections,
                            args.threads,
                        )
                    finally:
                        server.stop()
                    result["stored"] = count_rows(side, setup["survey_id"]) - before
                    if result["refused"] or result["socket_errors"]:
                        tail = server.log_path.read_text(errors="replace")[-3000:]
                        log(f"{side}: errors; the end of gunicorn's log:\n{tail}")
                    results[side].append(result)
                    log(f"round {round_number + 1} {side}: {json.dumps(result)}")
        finally:
            drop_queue(args.redis_url, queue)

    api_rps = statistics.median(r["rps"] for r in results["api"])
    minimal_rps = statistics.median(r["rps"] for r in results["minimal"])
    every = results["api"] + results["minimal"]
    errors = sum(r["refused"] + r["socket_errors"] for r in every)
    summary = {
        "benchmark": "api",
        "duration_s": args.duration,
        "connections": args.connections,
        "gunicorn_workers": args.workers,
        "rounds": args.rounds,
        "api_rps": round(api_rps, 1),
        "minimal_rps": round(minimal_rps, 1),
        "api_vs_minimal": round(api_rps / minimal_rps, 3),
        "target_ratio": TARGET_RATIO,
        "errors": errors,
        "api_acked": sum(r["acked"] for r in results["api"]),
        "api_stored": sum(r["stored"] for r in results["api"]),
        "minimal_acked": sum(r["acked"] for r in results["minimal"]),
        "minimal_stored": sum(r["stored"] for r in results["minimal"]),
        "api_latency_p50_ms": statistics.median(r["latency_p50_ms"] for r in results["api"]),
        "minimal_latency_p50_ms": statistics.median(
            r["latency_p50_ms"] for r in results["minimal"]
        ),
    }
    summary["stored_equals_acked"] = (
        summary["api_acked"] == summary["api_stored"]
        and summary["minimal_acked"] == summary["minimal_stored"]
    )
    summary["meets_target"] = (
        summary["api_vs_minimal"] >= TARGET_RATIO and errors == 0 and summary["stored_equals_acked"]
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
