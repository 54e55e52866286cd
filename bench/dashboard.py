"""Dashboard page benchmark (issue 5): the quarterly dashboard's server time at 10 million
responses against the same page at 10 thousand.

    python -m bench.dashboard [--responses 10000000] [--small 10000] [--requests 40]
                              [--database-url postgres://postgres@127.0.0.1:5432/csat_bench_i5]
                              [--reuse]

Each database (the large one and `<name>_small`) is recreated, migrated and filled by
bench.metrics' generator (INSERT ... SELECT inside PostgreSQL), then the metrics engine's
full rebuild computes its rollups and a target is set for every metric, as an admin would.
`--reuse` keeps a database that is already filled (the generation of 10 million responses
takes most of the run).

The measure runs in a child process of its own (`--phase measure`): a logged-in manager's
Django test client GETs `/dashboard/` for the last closed quarter, unfiltered and with a
channel filter and a segment filter; the server time of a request is the time the whole
Django stack takes to answer it (middleware, view, selectors, template), in process, without
a network. After warm-up requests, the median of `--requests` requests per URL is kept.

Targets: median at most 300 ms at 10 million responses, and at most 1.5x the median at
10 thousand. Progress goes to stderr; the last line on stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

from bench.metrics import (
    ROOT,
    _database_name,
    _timer,
    _with_database,
    database_recreate,
    generate,
    log,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/csat_bench_i5"
TARGET_MEDIAN_MS = 300.0
TARGET_GROWTH = 1.5
WARMUP = 3
FILTERS = ["", "&channel=email", "&segment=high_value"]
# The combination bench.metrics reads too (its agent looked up by name in each database).
COMBINATION = "&channel=email&segment=normal&agent={agent}"
COMBINATION_AGENT = "bench-agent-03"


def code_version() -> str:
    """The commit checked out, and whether the work tree differs from it."""
    head = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return head + ("+changes" if dirty else "")


def _has_data(url: str) -> str:
    """ "ready" (targets set), "built" (generated and rolled up, e.g. by bench.metrics, but
    no targets yet) or "" (to generate)."""
    import psycopg2

    try:
        connection = psycopg2.connect(url)
    except psycopg2.OperationalError:
        return ""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass('metrics_target') IS NOT NULL")
            if not cursor.fetchone()[0]:
                return ""
            cursor.execute("SELECT count(*) FROM metrics_target")
            if cursor.fetchone()[0]:
                return "ready"
            cursor.execute(
                "SELECT EXISTS (SELECT 1 FROM surveys_response) "
                "AND EXISTS (SELECT 1 FROM metrics_answerslice)"
            )
            return "built" if cursor.fetchone()[0] else ""
    finally:
        connection.close()


def phase_setup(args: argparse.Namespace) -> dict[str, Any]:
    """Migrate, generate, rebuild the rollups and set a target for every metric."""
    from django.core.management import call_command

    from metrics.services import metrics_rebuild

    elapsed = _timer()
    call_command("migrate", verbosity=0)
    rows = generate(args.responses)["rows"]
    generated = elapsed()
    log(f"generated in {generated:.1f} s; rebuilding the rollups")
    metrics_rebuild()
    rebuilt = elapsed() - generated
    log(f"rebuilt in {rebuilt:.1f} s")
    phase_targets(args)
    return {"rows": rows, "generate_s": generated, "rebuild_s": round(rebuilt, 3)}


def phase_targets(args: argparse.Namespace) -> dict[str, Any]:
    """A target for every metric in two years, and the manager who reads the page."""
    from accounts.models import Role, User
    from accounts.services import user_create
    from metrics.periods import Quarter
    from metrics.selectors import METRICS
    from metrics.targets import target_set

    year = Quarter.current().year
    for metric, spec in METRICS.items():
        low, high = (20.0, 10.0) if spec.lower_is_better else (40.0, 60.0)
        if metric == "ces":  # a mean on the 1-7 scale
            low, high = 4.0, 6.0
        for target_year in (year - 1, year):
            target_set(
                metric=metric,
                year=target_year,
                values={"baseline": low, "target": high, "benchmark": high + 1},
                user=None,
            )
    if not User.objects.filter(username="bench-manager").exists():
        user_create(username="bench-manager", password="bench-manager-pw", role=Role.MANAGER)
    return {}


def phase_measure(args: argparse.Namespace) -> dict[str, Any]:
    """Median server time of the dashboard page per filter."""
    from django.test import Client

    from accounts.models import User
    from metrics.periods import Quarter

    client = Client()
    client.force_login(User.objects.get(username="bench-manager"))
    period = Quarter.current().previous().label
    medians, sizes = {}, {}
    agent = User.objects.filter(username=COMBINATION_AGENT).values_list("pk", flat=True).first()
    urls = {extra.lstrip("&") or "all": extra for extra in FILTERS}
    if agent is not None:
        urls["channel+segment+agent"] = COMBINATION.format(agent=agent)
    for key, extra in urls.items():
        url = f"/dashboard/?period={period}{extra}"
        for _run in range(WARMUP):
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
        times = []
        for _run in range(args.requests):
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        medians[key] = round(statistics.median(times), 1)
        sizes[key] = len(response.content)
        log(f"  {url}: median {medians[key]} ms over {args.requests} requests")
    # The machine is shared: the load average says how busy it was while measuring.
    return {
        "period": period,
        "median_ms": medians,
        "page_bytes": sizes,
        "load_average_1m_after": round(os.getloadavg()[0], 2),
    }


PHASES = {"setup": phase_setup, "targets": phase_targets, "measure": phase_measure}


def run_phase(phase: str, url: str, responses: int, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.dashboard", "--phase", phase, "--database-url", url,
               "--responses", str(responses), "--requests", str(args.requests)]  # fmt: skip
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "csat.settings",
           "DJANGO_DEBUG": "true", "REDIS_URL": os.environ.get("REDIS_URL", "")}  # fmt: skip
    output = subprocess.run(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, check=True
    ).stdout
    return dict(json.loads(output.strip().splitlines()[-1]))


def orchestrate(args: argparse.Namespace) -> dict[str, Any]:
    started = time.time()
    large = args.database_url
    small = _with_database(large, _database_name(large) + "_small")
    setups = {}
    for url, n in ((large, args.responses), (small, args.small)):
        state = _has_data(url) if args.reuse else ""
        if state:
            # A database another benchmark filled and rolled up (bench.metrics) needs only
            # the targets and the manager; it is read, never recreated.
            if state == "built":
                run_phase("targets", url, n, args)
            log(f"{_database_name(url)}: reused ({state})")
            setups[_database_name(url)] = f"reused ({state})"
            continue
        if not _database_name(url).startswith("csat_bench_i5"):
            raise SystemExit("bench.dashboard only recreates databases named csat_bench_i5*")
        log(f"{_database_name(url)}: {n:,} responses")
        database_recreate(url)
        setups[_database_name(url)] = run_phase("setup", url, n, args)
    measured_large = run_phase("measure", large, args.responses, args)
    measured_small = run_phase("measure", small, args.small, args)
    large_ms, small_ms = measured_large["median_ms"], measured_small["median_ms"]
    growth = {key: round(value / small_ms[key], 3) for key, value in large_ms.items()}
    result: dict[str, Any] = {
        "responses": args.responses,
        "small_responses": args.small,
        "requests_per_url": args.requests,
        "period": measured_large["period"],
        "dashboard_median_ms_large": max(large_ms.values()),
        "dashboard_median_ms_small": max(small_ms.values()),
        "dashboard_large_vs_small": round(max(large_ms.values()) / max(small_ms.values()), 3),
        "median_ms_large": large_ms,
        "median_ms_small": small_ms,
        "growth_by_filter": growth,
        "page_bytes": measured_large["page_bytes"],
        "load_average_1m": {
            "large": measured_large["load_average_1m_after"],
            "small": measured_small["load_average_1m_after"],
        },
        "cpu_count": os.cpu_count(),
        "setups": setups,
        "code": code_version(),
        "wall_s": round(time.time() - started, 1),
    }
    result["targets_met"] = {
        "median_within_300ms": result["dashboard_median_ms_large"] <= TARGET_MEDIAN_MS,
        "within_1_5x_of_small": all(value <= TARGET_GROWTH for value in growth.values()),
    }
    return result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard", description=__doc__)
    parser.add_argument("--responses", type=int, default=10_000_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--reuse", action="store_true", help="keep databases already filled")
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:
        os.environ["DATABASE_URL"] = args.database_url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csat.settings")
        import django

        django.setup()
        result = PHASES[args.phase](args)
    else:
        result = orchestrate(args)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
