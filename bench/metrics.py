"""Metrics engine benchmark (issue 4): full recompute, incremental update, memory and reads.

    python -m bench.metrics [--responses 10000000] [--small 10000]
                            [--database-url postgres://postgres@127.0.0.1:5432/csat_bench]

One run (re)creates the benchmark database, migrates it, generates the data inside PostgreSQL
(INSERT ... SELECT FROM generate_series), then measures in child processes, each a fresh
`python -m bench.metrics --phase ...` with its own Django set-up:

- the reference: one raw aggregate scan over the answers joined to their responses
  (RAW_SCAN_SQL, best of 3), measured before the first build and again in the state of the
  steady-state rebuilds (the figure the 3x target is compared with);
- the floor of any rebuild of these rollups: the joined answers grouped into the finest
  cells, only counted, on the rebuild's id ranges and connections (best of 2);
- the first `metrics_rebuild()` (it also flips `in_rollup` on every counted response), then
  VACUUM ANALYZE of the responses (what autovacuum does after such an update), then the
  steady-state `metrics_rebuild()` (best of 2: the nightly recompute);
- a naive pandas computation (every joined answer row read into a DataFrame; NPS, CSAT %,
  CES and FCR per quarter and slice), whose NPS per quarter is checked against the rollups;
- `metrics_apply_response` over ~500 responses submitted through `response_submit`;
- the peak RSS of each recompute process (wait4's ru_maxrss of the child);
- `metric_figures` reads (all, a channel slice, a combination of three filters, and the
  combination's first read after its stored coverage and median are deleted), then the same
  reads on a small database.

Progress goes to stderr; the last line on stdout is one JSON object with the figures.
The databases are dropped at the end only when they take more than 20 GB.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/csat_bench"
DROP_ABOVE_BYTES = 20 * 10**9

# The reference: one grouped scan over the same answer and response rows the rebuild reads.
RAW_SCAN_SQL = (
    "SELECT r.quarter, count(*), sum(a.number) "
    "FROM surveys_answer a JOIN surveys_response r ON r.id = a.response_id "
    "WHERE a.number IS NOT NULL GROUP BY r.quarter"
)

TARGET_REBUILD_VS_RAW = 3.0
TARGET_INCREMENTAL_MEDIAN_MS = 5.0
TARGET_PEAK_RSS_MIB = 500.0
TARGET_READ_MEDIAN_MS = 20.0
TARGET_READ_GROWTH = 1.5

# The newest responses are generated as not yet applied to the rollups (their events still
# queued): the first build catches up on them.
PENDING_RESPONSES = 2000
INCREMENTAL_WARMUP = 20
INCREMENTAL_COUNT = 500
READ_WARMUP = 10
READ_COUNT = 200
READ_FIRST_COUNT = 20
READ_SLICE = ("channel", "email")

# ---------------------------------------------------------------- the generated world

DIMENSIONS = [  # code, name, weight (the healthcare example of metrics.md)
    ("response_speed", "Response speed", 15),
    ("technical_ability", "Technical ability", 25),
    ("emotional_value", "Emotional value", 30),
    ("process_experience", "Process experience", 20),
    ("outcome_satisfaction", "Outcome satisfaction", 10),
]
TOUCHPOINTS = ["consultation", "purchase", "delivery", "after_sales", "renewal"]
TEAMS = ["Front desk", "Delivery desk", "After-sales A", "After-sales B", "Renewals", "VIP care"]
AGENT_COUNT = 48
CHANNELS = [  # channel, share of responses
    ("web", 0.30),
    ("email", 0.24),
    ("sms", 0.14),
    ("qr", 0.08),
    ("phone", 0.08),
    ("embed", 0.09),
    ("api", 0.05),
    ("import", 0.02),
]
# Each survey: title, touchpoint, anonymous, share of responses, scored questions in answer
# order (kind, scale lo, scale hi, role, dimension code). A response answers the first
# question (NPS) and 1 to 3 of the next ones: 2 to 4 answers.
SURVEYS: list[tuple[str, str, bool, float, list[tuple[str, int, int, str, str]]]] = [
    (
        "Bench after-sales support",
        "after_sales",
        False,
        0.34,
        [
            ("nps", 0, 10, "", "outcome_satisfaction"),
            ("csat", 1, 5, "", "emotional_value"),
            ("yes_no", 0, 1, "fcr", ""),
            ("ces", 1, 7, "", "process_experience"),
        ],
    ),
    (
        "Bench delivery",
        "delivery",
        False,
        0.22,
        [
            ("nps", 0, 10, "", ""),
            ("csat", 1, 5, "", "response_speed"),
            ("ces", 1, 7, "", ""),
            ("yes_no", 0, 1, "fcr", ""),
        ],
    ),
    (
        "Bench consultation",
        "consultation",
        False,
        0.18,
        [
            ("nps", 0, 10, "", ""),
            ("csat", 1, 7, "", "technical_ability"),
            ("yes_no", 0, 1, "fcr", ""),
            ("ces", 1, 7, "", "process_experience"),
        ],
    ),
    (
        "Bench onboarding (anonymous)",
        "purchase",
        True,
        0.14,
        [
            ("nps", 0, 10, "", ""),
            ("ces", 1, 7, "", "process_experience"),
            ("csat", 1, 5, "", ""),
            ("yes_no", 0, 1, "fcr", ""),
        ],
    ),
    (
        "Bench renewal widget",
        "renewal",
        False,
        0.12,
        [
            ("nps", 0, 10, "", "outcome_satisfaction"),
            ("csat", 1, 10, "", "emotional_value"),
            ("ces", 1, 7, "", ""),
            ("yes_no", 0, 1, "fcr", ""),
        ],
    ),
]
# Score model: base + spread * (effect + standard normal), clamped to the scale.
SCORE_MODEL = {
    ("nps", 0, 10): (7.8, 2.3),
    ("csat", 1, 5): (4.0, 0.95),
    ("csat", 1, 7): (5.5, 1.3),
    ("csat", 1, 10): (7.9, 1.9),
    ("ces", 1, 7): (5.2, 1.3),
    ("yes_no", 0, 1): (0.0, 0.0),
}
CATEGORIES = [  # complaint category, root cause, share
    ("Late delivery", "process", 0.22),
    ("Rude staff", "people", 0.12),
    ("Wrong diagnosis", "people", 0.08),
    ("Billing error", "tools", 0.15),
    ("Product defect", "product", 0.18),
    ("Long waiting time", "environment", 0.13),
    ("Refund refused", "policy", 0.07),
    ("App crash", "tools", 0.05),
]


def log(message: str) -> None:
    stamp = time.strftime("%H:%M:%S", time.gmtime())
    print(f"[bench.metrics {stamp}Z] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- orchestration (parent)


def _database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _admin_connection(url: str) -> Any:
    import psycopg2

    connection = psycopg2.connect(_with_database(url, "postgres"))
    connection.autocommit = True
    return connection


def database_recreate(url: str) -> None:
    """Drop and create the benchmark database: every run starts from the same data."""
    from psycopg2 import sql

    name = _database_name(url)
    if "bench" not in name:
        raise SystemExit(f"refusing to recreate {name!r}: a benchmark database has 'bench' in it")
    connection = _admin_connection(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        connection.close()


def database_size(url: str) -> int:
    connection = _admin_connection(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_database_size(%s)", [_database_name(url)])
            return int(cursor.fetchone()[0])
    finally:
        connection.close()


def database_drop(url: str) -> None:
    from psycopg2 import sql

    connection = _admin_connection(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(_database_name(url))
                )
            )
    finally:
        connection.close()


def server_settings(url: str) -> dict[str, str]:
    connection = _admin_connection(url)
    names = ["server_version", "shared_buffers", "work_mem", "max_parallel_workers_per_gather"]
    try:
        with connection.cursor() as cursor:
            return {name: _show(cursor, name) for name in names}
    finally:
        connection.close()


def _show(cursor: Any, name: str) -> str:
    cursor.execute(f"SHOW {name}")
    return str(cursor.fetchone()[0])


class PhaseFailed(Exception):
    pass


class CapReached(Exception):
    pass


def run_phase(
    phase: str, url: str, responses: int, args: argparse.Namespace
) -> tuple[dict[str, Any], float]:
    """Run one phase in a child process; returns its JSON result and its peak RSS in MiB."""
    command = [
        sys.executable,
        "-m",
        "bench.metrics",
        "--phase",
        phase,
        "--database-url",
        url,
        "--responses",
        str(responses),
        "--rebuild-cap",
        str(args.rebuild_cap),
    ]
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "csat.settings"}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    output = process.stdout.read()
    process.stdout.close()
    # wait4 gives this child's own resource usage (RUSAGE_CHILDREN would pool every child).
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise PhaseFailed(f"phase {phase} on {_database_name(url)} failed ({process.returncode})")
    return json.loads(output.strip().splitlines()[-1]), usage.ru_maxrss / 1024  # Linux: KiB


def _optional(
    phase: str, url: str, responses: int, args: argparse.Namespace, errors: list[str]
) -> tuple[dict[str, Any], float]:
    """A phase whose failure leaves its figures empty instead of losing the whole run."""
    try:
        return run_phase(phase, url, responses, args)
    except PhaseFailed as failure:
        log(str(failure))
        errors.append(str(failure))
        return {}, 0.0


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


class Steps:
    """Completed phases, kept in a state file so that `--resume` goes on where a run stopped
    (a long run on a shared machine can be interrupted; a lost phase costs only itself)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        name = _database_name(args.database_url)
        self.path = Path(tempfile.gettempdir()) / f"bench-metrics-{name}-{args.responses}.json"
        self.state: dict[str, Any] = {"started": time.time(), "done": {}, "resumed": []}
        if args.resume and self.path.exists():
            self.state = json.loads(self.path.read_text())
            log(f"resuming: {', '.join(self.state['done'])} already done ({self.path})")
        elif self.path.exists():
            self.path.unlink()

    def done(self, key: str) -> bool:
        return key in self.state["done"]

    def run(
        self, key: str, phase: str, url: str, responses: int, errors: list[str] | None = None
    ) -> tuple[dict[str, Any], float]:
        if self.done(key):
            self.state["resumed"].append(key)
            result, rss = self.state["done"][key]
            return result, rss
        if errors is None:
            result, rss = run_phase(phase, url, responses, self.args)
        else:
            result, rss = _optional(phase, url, responses, self.args, errors)
            if not result:
                return result, rss
        self.state["done"][key] = [result, rss]
        self.path.write_text(json.dumps(self.state))
        if key == self.args.stop_after:
            log(f"stopping after {key} as asked; go on with --resume")
            raise SystemExit(0)
        return result, rss


def orchestrate(args: argparse.Namespace) -> dict[str, Any]:
    large = args.database_url
    small = _with_database(large, _database_name(large) + "_small")
    n = args.responses
    errors: list[str] = []
    steps = Steps(args)

    log(f"large database {_database_name(large)}: {n:,} responses")
    postgres = server_settings(large)
    if not steps.done("setup"):
        database_recreate(large)
    setup, _rss = steps.run("setup", "setup", large, n)
    raw_fresh, _rss = steps.run("raw_fresh", "raw", large, n)
    log(f"raw scan before the first build: best {raw_fresh['best_s']:.2f} s")
    first, first_rss = steps.run("first_build", "rebuild", large, n)
    log(f"first build: {first['seconds']:.2f} s (capped: {first['timed_out']}), "
        f"peak RSS {first_rss:.0f} MiB")  # fmt: skip
    vacuum, _rss = steps.run("vacuum", "vacuum", large, n)
    raw, _rss = steps.run("raw", "raw", large, n)
    log(f"raw scan, steady state: best {raw['best_s']:.2f} s")
    grouping, _rss = steps.run("grouping", "grouping", large, n, errors)
    log(f"grouping into the finest cells alone: {grouping}")
    steady = [steps.run("rebuild_1", "rebuild", large, n)]
    # A second run only when the first finished: a capped one is a lower bound already.
    if not steady[0][0]["timed_out"]:
        steady.append(steps.run("rebuild_2", "rebuild", large, n))
    for result, rss in steady:
        log(f"steady rebuild: {result['seconds']:.2f} s (capped: {result['timed_out']}), "
            f"peak RSS {rss:.0f} MiB")  # fmt: skip
    best_steady, _best_rss = min(steady, key=lambda item: item[0]["seconds"])
    if args.explain:
        steps.run("explain", "explain", large, n, errors)
    pandas, pandas_rss = steps.run("pandas", "pandas", large, n, errors)
    incremental, _rss = steps.run("incremental", "incremental", large, n, errors)
    reads_large, _rss = steps.run("reads_large", "reads", large, n, errors)
    log(f"pandas {pandas.get('seconds')} s; incremental {incremental}; reads {reads_large}")

    log(f"small database {_database_name(small)}: {args.small:,} responses")
    if not steps.done("small_setup"):
        database_recreate(small)
    steps.run("small_setup", "setup", small, args.small)
    steps.run("small_rebuild", "rebuild", small, args.small)
    reads_small, _rss = steps.run("reads_small", "reads", small, args.small, errors)
    log(f"reads at {args.small:,}: {reads_small.get('median_ms')}")

    code_versions = {
        key: result.get("code", "?") for key, (result, _rss) in steps.state["done"].items()
    }
    rollup_nps = reads_large.get("nps_by_quarter", {})
    nps_mismatches = {
        label: {"rollups": rollup_nps.get(label), "pandas": value}
        for label, value in pandas.get("nps_by_quarter", {}).items()
        if label != reads_large.get("current")
        and (rollup_nps.get(label) is None or abs(rollup_nps[label] - value) > 1e-9)
    }
    peak_rss = max([first_rss, *(rss for _result, rss in steady)])
    large_medians = reads_large.get("median_ms", {})
    small_medians = reads_small.get("median_ms", {})
    read_large = max(large_medians.values()) if large_medians else None
    read_small = max(small_medians.values()) if small_medians else None
    growth = {key: _ratio(value, small_medians.get(key)) for key, value in large_medians.items()}
    sizes = {"large": database_size(large), "small": database_size(small)}
    dropped = sum(sizes.values()) > DROP_ABOVE_BYTES
    if dropped:
        database_drop(large)
        database_drop(small)

    rebuild_s = best_steady["seconds"]
    incremental_median = incremental.get("median_ms")
    result: dict[str, Any] = {
        "responses": n,
        "answers": setup["rows"]["surveys_answer"],
        "raw_scan_sql": RAW_SCAN_SQL,
        "raw_scan_s": raw["best_s"],
        "raw_scan_before_first_build_s": raw_fresh["best_s"],
        "generate_s": setup["seconds"],
        "first_build_s": first["seconds"],
        "first_build_capped": first["timed_out"],
        "vacuum_after_first_build_s": vacuum["seconds"],
        "rebuild_s": rebuild_s,
        "rebuild_capped": best_steady["timed_out"],
        "rebuild_cap_s": args.rebuild_cap,
        "rebuild_runs_s": [result["seconds"] for result, _rss in steady],
        "rebuild_breakdown_s": best_steady["breakdown_s"],
        "rebuild_top_statements": best_steady["top_statements"],
        "first_build_breakdown_s": first["breakdown_s"],
        "rebuild_vs_raw": _ratio(rebuild_s, raw["best_s"]),
        "rebuild_vs_raw_before_first_build": _ratio(rebuild_s, raw_fresh["best_s"]),
        "grouping_floor_s": grouping.get("best_s"),
        "grouping_floor_cells": grouping.get("cells"),
        "grouping_floor_vs_raw": _ratio(grouping.get("best_s"), raw["best_s"]),
        "rebuild_vs_grouping_floor": _ratio(rebuild_s, grouping.get("best_s")),
        "pandas_s": pandas.get("seconds"),
        "pandas_rows": pandas.get("rows"),
        "pandas_peak_rss_mib": round(pandas_rss, 1),
        "rebuild_vs_pandas": _ratio(rebuild_s, pandas.get("seconds")),
        "nps_matches_pandas": not nps_mismatches if pandas and reads_large else None,
        "nps_mismatches": nps_mismatches,
        "incremental_median_ms": incremental_median,
        "incremental_p95_ms": incremental.get("p95_ms"),
        "incremental_count": incremental.get("count"),
        "submit_median_ms": incremental.get("submit_median_ms"),
        "incremental_matches_rebuild": incremental.get("matches_rebuild"),
        "peak_rss_mib": round(peak_rss, 1),
        "peak_rss_first_build_mib": round(first_rss, 1),
        "read_median_ms_large": read_large,
        "read_median_ms_small": read_small,
        "read_large_vs_small": _ratio(read_large, read_small),
        "read_medians_ms_large": large_medians,
        "read_other_medians_ms_large": reads_large.get("other_median_ms", {}),
        "read_first_medians_ms_large": reads_large.get("first_read_median_ms", {}),
        "read_first_medians_ms_small": reads_small.get("first_read_median_ms", {}),
        "read_medians_ms_small": small_medians,
        "read_growth_by_kind": growth,
        "read_period": reads_large.get("period"),
        "small_responses": args.small,
        "database_size_gb": {key: round(value / 10**9, 2) for key, value in sizes.items()},
        "databases_dropped": dropped,
        "postgres": postgres,
        "errors": errors,
        "code_versions": code_versions,
        "code_changed_during_run": len(set(code_versions.values())) > 1,
        "resumed_steps": steps.state["resumed"],
        "wall_s": round(time.time() - steps.state["started"], 1),
    }
    result["targets_met"] = {
        # A capped rebuild is a lower bound: when it already misses, the target is missed.
        "rebuild_within_3x_raw": (result["rebuild_vs_raw"] or 0) <= TARGET_REBUILD_VS_RAW
        and not result["rebuild_capped"],
        "incremental_median_within_5ms": incremental_median is not None
        and incremental_median <= TARGET_INCREMENTAL_MEDIAN_MS,
        "peak_rss_below_500mib": result["peak_rss_mib"] < TARGET_PEAK_RSS_MIB,
        "read_median_within_20ms": read_large is not None and read_large <= TARGET_READ_MEDIAN_MS,
        "read_flat_within_1_5x": bool(growth)
        and all(value is not None and value <= TARGET_READ_GROWTH for value in growth.values()),
    }
    return result


# ---------------------------------------------------------------- phases (child processes)


def _timer() -> Callable[[], float]:
    started = time.perf_counter()
    return lambda: round(time.perf_counter() - started, 3)


def _pick(u: str, options: Sequence[tuple[str, float]]) -> str:
    """A CASE choosing one SQL literal by cumulative share of the uniform column `u`."""
    total = sum(share for _literal, share in options)
    cumulative, branches = 0.0, []
    for literal, share in options[:-1]:
        cumulative += share / total
        branches.append(f"WHEN {u} < {cumulative:.6f} THEN {literal}")
    return f"(CASE {' '.join(branches)} ELSE {options[-1][0]} END)"


def _segment(customer: str) -> str:
    # The segment is a function of the customer id, so responses need no join to customers.
    return (
        f"(CASE WHEN mod({customer}, 20) < 3 THEN 'high_value' "
        f"WHEN mod({customer}, 20) < 6 THEN 'churn_risk' ELSE 'normal' END)"
    )


def _quarter(moment: str) -> str:
    return f"to_char(({moment}) AT TIME ZONE %(zone)s, 'YYYY\"Q\"Q')"


def _customer(u: str) -> str:
    # Skewed: a few customers answer often (the busiest some 2,600 times), most rarely.
    return f"(1 + floor(%(customers)s * power({u}, 1.5))::int)"


def _reference_data() -> dict[str, Any]:
    """The small tables, through the ORM: teams, agents, touchpoints, dimensions, surveys..."""
    from accounts.models import Team, User
    from feedback.models import ComplaintCategory, ImprovementAction
    from metrics.models import Weight, WeightProfile
    from surveys.models import Dimension, Question, Survey, Touchpoint

    teams = [Team.objects.create(name=name) for name in TEAMS]
    agents = User.objects.bulk_create(
        User(username=f"bench-agent-{index:02d}", password="!", team=teams[index % len(teams)])
        for index in range(AGENT_COUNT)
    )
    touchpoints = {
        code: Touchpoint.objects.create(code=code, name=code.replace("_", " ").title(), position=i)
        for i, code in enumerate(TOUCHPOINTS)
    }
    dimensions = {
        code: Dimension.objects.create(code=code, name=name) for code, name, _weight in DIMENSIONS
    }
    profile = WeightProfile.objects.create(effective_from=date(2020, 1, 1))
    Weight.objects.bulk_create(
        Weight(profile=profile, dimension=dimensions[code], percent=weight)
        for code, _name, weight in DIMENSIONS
    )
    surveys, questions = [], []
    for title, touchpoint, anonymous, share, scored in SURVEYS:
        survey = Survey.objects.create(
            title=title, touchpoint=touchpoints[touchpoint], is_anonymous=anonymous
        )
        surveys.append((survey, share))
        for slot, (kind, lo, hi, role, dimension) in enumerate(scored):
            default = Question.DEFAULT_SCALES.get(kind)
            question = Question.objects.create(
                survey=survey,
                position=slot + 1,
                kind=kind,
                text=f"{kind} question {slot + 1}",
                is_required=slot == 0,
                scale_min=lo if default and (lo, hi) != default else None,
                scale_max=hi if default and (lo, hi) != default else None,
                role=role,
                dimension=dimensions[dimension] if dimension else None,
            )
            questions.append((survey, question, slot, kind, lo, hi))
        Question.objects.create(
            survey=survey,
            position=len(scored) + 1,
            kind=Question.Kind.TEXT,
            text="Anything else?",
            is_required=False,
        )
    categories = [
        (ComplaintCategory.objects.create(name=name, root_cause=cause), share)
        for name, cause, share in CATEGORIES
    ]
    actions = [
        ImprovementAction.objects.create(
            title=f"Improvement {index}",
            owner=agents[index],
            lead_department="Operations",
            deadline=date(2027, 6, 30),
        )
        for index in range(20)
    ]
    return {
        "agents": [(slot, agent.pk, agent.team_id) for slot, agent in enumerate(agents)],
        "surveys": surveys,
        "questions": questions,
        "categories": categories,
        "actions": [action.pk for action in actions],
    }


def _secondary_indexes(cursor: Any, table: str) -> list[tuple[str, str]]:
    cursor.execute(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = %s::regclass AND NOT i.indisprimary AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)",
        [table],
    )
    return list(cursor.fetchall())


def _generation_statements(ref: dict[str, Any], n: int) -> list[tuple[str, str]]:
    agents = "(VALUES " + ", ".join(f"({s}, {u}, {t})" for s, u, t in ref["agents"]) + ")"
    agents += " AS agent(slot, user_id, team_id)"
    surveys = [(str(survey.pk), share) for survey, share in ref["surveys"]]
    named = [(str(survey.pk), share) for survey, share in ref["surveys"] if not survey.is_anonymous]
    anonymous = [str(survey.pk) for survey, _share in ref["surveys"] if survey.is_anonymous]
    touchpoint = (
        "(CASE {survey} "
        + " ".join(f"WHEN {s.pk} THEN {s.touchpoint_id}" for s, _share in ref["surveys"])
        + " END)"
    )
    channels = [(f"'{channel}'", share) for channel, share in CHANNELS]
    nps_questions = ", ".join(
        str(q.pk) for _s, q, _slot, kind, _lo, _hi in ref["questions"] if kind == "nps"
    )
    questions = ", ".join(
        f"({survey.pk}, {question.pk}, {slot}, '{kind}', {lo}, {hi}, "
        f"{SCORE_MODEL[(kind, lo, hi)][0]}::float8, {SCORE_MODEL[(kind, lo, hi)][1]}::float8)"
        for survey, question, slot, kind, lo, hi in ref["questions"]
    )
    categories = [(str(category.pk), share) for category, share in ref["categories"]]
    complaint_channels = [("'phone'", 0.5), ("'email'", 0.3), ("'web'", 0.2)]
    invited_channels = [("'email'", 0.6), ("'sms'", 0.4)]
    actions = "ARRAY[" + ", ".join(str(pk) for pk in ref["actions"]) + "]"
    agent_slot = (
        "CASE WHEN u_agent < 0.75 THEN floor(%(agents)s * power(u_agent / 0.75, 1.3))::int END"
    )
    uniforms = ", ".join(
        f"random() AS {name}"
        for name in (
            "u_survey",
            "u_channel",
            "u_status",
            "u_agent",
            "u_customer",
            "u_anon",
            "u_flag",
            "u_category",
            "u_delivered",
        )
    )
    moment = "%(start)s::timestamptz + make_interval(secs => %(span)s * sqrt(random()))"
    counted = "r.status = 'complete' AND NOT r.is_test AND NOT r.is_spam"
    # The score effect: agents, channels and segments differ; quality improves over time.
    effect = (
        "(mod(coalesce(r.agent_id, 0), 7) - 3) * 0.12"
        " + CASE r.channel WHEN 'phone' THEN -0.35 WHEN 'sms' THEN -0.15 WHEN 'api' THEN 0.15"
        " ELSE 0 END"
        " + CASE r.segment WHEN 'churn_risk' THEN -0.6 WHEN 'high_value' THEN 0.25 ELSE 0 END"
        " + 0.4 * extract(epoch FROM r.created_at - %(start)s::timestamptz) / %(span)s - 0.2"
    )
    gauss = "(random() + random() + random() + random() - 2.0) * 1.732"
    case_columns = (
        "kind, status, customer_id, response_id, category_id, channel, interaction_id, "
        "touchpoint_id, segment, agent_id, team_id, assignee_id, summary, opened_at, quarter, "
        "first_response_due_at, resolution_due_at, first_response_at, resolved_at, contact_count, "
        "resolution, resolution_note"
    )
    # First response within 0-40 h (93 %, skewed early), resolution 6-76 h later (85 %);
    # nothing after now.
    case_timeline = (
        "SELECT z.*, CASE WHEN z.first_response_at IS NOT NULL AND z.u3 < 0.85 "
        "AND z.first_response_at + z.d2 <= %(now)s THEN z.first_response_at + z.d2 END "
        "AS resolved_at FROM (SELECT w.*, CASE WHEN w.u1 < 0.93 AND w.opened_at + w.d1 <= "
        "%(now)s THEN w.opened_at + w.d1 END AS first_response_at FROM ({inner}) AS w) AS z"
    )
    case_randoms = (
        "random() AS u1, random() AS u3, "
        "make_interval(secs => 144000 * power(random(), 2)) AS d1, "
        "make_interval(secs => 21600 + 252000 * random()) AS d2, "
        "1 + floor(3 * power(random(), 3))::int AS contact_count"
    )
    case_values = (
        "CASE WHEN x.resolved_at IS NULL THEN 'open' ELSE 'resolved' END, x.customer_id, "
        "{response}, {category}, x.channel, {interaction}, x.touchpoint_id, x.segment, "
        "x.agent_id, x.team_id, x.agent_id, '', x.opened_at, x.quarter, "
        "x.opened_at + interval '24 hours', x.opened_at + interval '48 hours', "
        "x.first_response_at, x.resolved_at, x.contact_count, "
        "CASE WHEN x.resolved_at IS NULL THEN '' ELSE 'Resolved with the customer.' END, ''"
    )
    invitation_columns = (
        "id, survey_id, customer_id, channel, token, status, interaction_id, agent_id, team_id, "
        "touchpoint_id, segment, due_at, sent_at, quarter, delivered_at, expires_at, error, "
        "created_at, suppression_reason, attempts, provider_message_id, reminder_attempts, "
        "reminder_message_id"
    )
    from feedback.models import ImprovementAction
    from surveys.models import Response

    action_cases = ImprovementAction.cases.through._meta.db_table
    # The customer's first purchase in the repurchase window after submission, where the
    # schema keeps it on the response (what responses_link_purchases derives).
    next_purchase_column, next_purchase_value = "", ""
    if any(field.name == "next_purchase_at" for field in Response._meta.get_fields()):
        next_purchase_column = ", next_purchase_at"
        next_purchase_value = (
            ", CASE WHEN h.status = 'complete' AND h.customer_id IS NOT NULL THEN "
            "(SELECT min(p.purchased_at) FROM surveys_purchase p "
            "WHERE p.customer_id = h.customer_id AND p.purchased_at > h.t "
            "AND p.purchased_at <= h.t + make_interval(hours => %(window_hours)s)) END"
        )
    return [
        (
            "customers",
            "INSERT INTO surveys_customer (id, external_id, name, email, phone, segment, "
            "language, consents_to_contact, unsubscribed_at, created_at) "
            "SELECT i, 'bench-' || i, 'Customer ' || i, 'c' || i || '@example.com', '', "
            f"{_segment('i')}, 'en', true, NULL, %(start)s "
            "FROM generate_series(1, %(customers)s) AS i",
        ),
        (
            "purchases",
            "INSERT INTO surveys_purchase (id, customer_id, purchased_at, amount, external_id, "
            f"created_at) SELECT i, {_customer('u_customer')}, "
            "%(start)s::timestamptz + make_interval(secs => %(span_now)s * u_flag), "
            "round((20 + 480 * u_anon)::numeric, 2), '', %(now)s "
            f"FROM (SELECT i, {uniforms} FROM generate_series(1, %(purchases)s) AS i) AS u",
        ),
        (
            "responses",
            "INSERT INTO surveys_response (id, survey_id, channel, status, customer_id, agent_id, "
            "team_id, touchpoint_id, submission_key, invitation_id, segment, quarter, in_rollup, "
            "language, is_test, is_spam, ip_address, user_agent, created_at, submitted_at, "
            "submission_fingerprint, import_key, source_label"
            f"{next_purchase_column}) "
            f"SELECT h.i, h.survey_id, h.channel, h.status, h.customer_id, agent.user_id, "
            f"agent.team_id, {touchpoint.format(survey='h.survey_id')}, '', "
            "CASE WHEN h.channel IN ('email', 'sms') AND h.customer_id IS NOT NULL "
            "AND h.status = 'complete' AND mod(h.i, 20) = 0 THEN h.i END, "
            f"CASE WHEN h.customer_id IS NULL THEN '' ELSE {_segment('h.customer_id')} END, "
            f"CASE WHEN h.status = 'complete' THEN {_quarter('h.t')} ELSE '' END, "
            # Every insert path applies its response to the rollups (metrics_apply_response
            # flips in_rollup), so stored responses are in_rollup when counted; the newest
            # ones, whose outbox events are still queued, are not yet.
            "h.status = 'complete' AND h.u_flag >= 0.01 AND h.i <= %(applied)s, "
            "'en', h.u_flag < 0.005, h.u_flag >= 0.005 AND h.u_flag < 0.01, NULL, '', "
            "h.t, CASE WHEN h.status = 'complete' THEN h.t END, '', '', ''"
            f"{next_purchase_value} "
            "FROM (SELECT g.*, CASE WHEN g.survey_id IN ("
            + (", ".join(anonymous) or "0")
            + f") OR g.u_anon < 0.08 THEN NULL ELSE {_customer('g.u_customer')} END "
            f"AS customer_id FROM (SELECT i, {_pick('u_survey', surveys)} AS survey_id, "
            f"{_pick('u_channel', channels)} AS channel, "
            "CASE WHEN u_status < 0.01 THEN 'partial' ELSE 'complete' END AS status, "
            f"{agent_slot} AS agent_slot, u_customer, u_anon, u_flag, t FROM (SELECT i, "
            f"{uniforms}, {moment} AS t FROM generate_series(1, %(n)s) AS i) AS u) AS g) AS h "
            f"LEFT JOIN {agents} ON agent.slot = h.agent_slot",
        ),
        (
            "answers",
            "INSERT INTO surveys_answer (response_id, question_id, grid_row_id, choice_id, "
            "number, text) SELECT e.id, q.question_id, NULL, NULL, CASE WHEN q.kind = 'yes_no' "
            "THEN CASE WHEN random() < 0.72 + 0.08 * e.effect THEN 1 ELSE 0 END "
            f"ELSE greatest(q.lo, least(q.hi, round(q.base + q.spread * (e.effect + {gauss}))))"
            "::int END, '' "
            f"FROM (SELECT r.id, r.survey_id, r.status, {effect} AS effect "
            "FROM surveys_response r) AS e "
            f"JOIN (VALUES {questions}) AS q(survey_id, question_id, slot, kind, lo, hi, base, "
            "spread) ON q.survey_id = e.survey_id "
            "WHERE q.slot <= CASE WHEN e.status = 'partial' THEN 0 "
            "ELSE 1 + mod(hashint8(e.id)::bigint & 2147483647, 3) END",
        ),
        (
            "interactions",
            "INSERT INTO surveys_interaction (id, customer_id, touchpoint_id, agent_id, team_id, "
            "segment, occurred_at, quarter, description, external_id, created_at) "
            "SELECT g.i, g.customer_id, g.touchpoint_id, agent.user_id, agent.team_id, "
            f"{_segment('g.customer_id')}, g.t, {_quarter('g.t')}, '', '', g.t "
            f"FROM (SELECT i, {_customer('u_customer')} AS customer_id, "
            + _pick("u_survey", [(str(s.touchpoint_id), share) for s, share in ref["surveys"]])
            + f" AS touchpoint_id, {agent_slot} AS agent_slot, t FROM (SELECT i, {uniforms}, "
            f"{moment} AS t FROM generate_series(1, %(interactions)s) AS i) AS u) AS g "
            f"LEFT JOIN {agents} ON agent.slot = g.agent_slot",
        ),
        (
            "invitations answered",
            f"INSERT INTO surveys_invitation ({invitation_columns}) "
            "SELECT r.id, r.survey_id, r.customer_id, r.channel, 'bench-' || r.id, 'delivered', "
            "NULL, r.agent_id, r.team_id, r.touchpoint_id, r.segment, r.sent, r.sent, "
            f"{_quarter('r.sent')}, r.sent + interval '1 minute', r.sent + interval '14 days', "
            "'', r.sent, '', 1, '', 0, '' FROM (SELECT r.*, "
            "r.submitted_at - make_interval(secs => 172800 * random()) AS sent "
            "FROM surveys_response r WHERE r.invitation_id IS NOT NULL) AS r",
        ),
        (
            "invitations unanswered",
            f"INSERT INTO surveys_invitation ({invitation_columns}) "
            "SELECT %(n)s + g.i, g.survey_id, g.customer_id, g.channel, "
            "'bench-' || (%(n)s + g.i), "
            "CASE WHEN g.u_delivered < 0.9 THEN 'delivered' ELSE 'failed' END, NULL, "
            f"agent.user_id, agent.team_id, {touchpoint.format(survey='g.survey_id')}, "
            f"{_segment('g.customer_id')}, g.t, g.t, {_quarter('g.t')}, "
            "CASE WHEN g.u_delivered < 0.9 THEN g.t + interval '1 minute' END, "
            "g.t + interval '14 days', "
            "CASE WHEN g.u_delivered < 0.9 THEN '' ELSE 'mailbox unavailable' END, g.t, "
            "'', 1, '', 0, '' "
            f"FROM (SELECT i, {_pick('u_survey', named)} AS survey_id, "
            f"{_pick('u_channel', invited_channels)} "
            f"AS channel, {_customer('u_customer')} AS customer_id, {agent_slot} AS agent_slot, "
            f"u_delivered, t FROM (SELECT i, {uniforms}, {moment} AS t "
            "FROM generate_series(1, %(invitations)s) AS i) AS u) AS g "
            f"LEFT JOIN {agents} ON agent.slot = g.agent_slot",
        ),
        (
            "follow-up cases",
            f"INSERT INTO feedback_case ({case_columns}) SELECT 'follow_up', "
            + case_values.format(response="x.id", category="NULL", interaction="NULL")
            + " FROM ("
            + case_timeline.format(
                inner="SELECT r.id, r.customer_id, r.channel, r.touchpoint_id, r.segment, "
                "r.agent_id, r.team_id, r.submitted_at AS opened_at, r.quarter, "
                f"{case_randoms} FROM surveys_response r "
                f"JOIN surveys_answer a ON a.response_id = r.id WHERE a.question_id IN "
                f"({nps_questions}) AND a.number <= 6 AND {counted} AND mod(r.id, 5) = 0"
            )
            + ") AS x",
        ),
        (
            "complaints",
            f"INSERT INTO feedback_case ({case_columns}) SELECT 'complaint', "
            + case_values.format(response="NULL", category="x.category_id", interaction="x.id")
            + " FROM ("
            + case_timeline.format(
                inner=f"SELECT c.*, {_quarter('c.opened_at')} AS quarter, "
                f"{_pick('c.u_channel', complaint_channels)} AS channel, "
                f"{_pick('c.u_category', categories)} AS category_id "
                "FROM (SELECT i.id, i.customer_id, i.touchpoint_id, i.segment, i.agent_id, "
                "i.team_id, least(i.occurred_at + make_interval(secs => 86400 * random()), "
                f"%(now)s) AS opened_at, random() AS u_channel, random() AS u_category, "
                f"{case_randoms} FROM surveys_interaction i WHERE mod(i.id, 5) = 0) AS c"
            )
            + ") AS x",
        ),
        (
            "improvement action links",
            f"INSERT INTO {action_cases} (improvementaction_id, case_id) "
            f"SELECT ({actions})[1 + mod(c.id, 20)::int], c.id FROM feedback_case c "
            "WHERE mod(c.id, 8) = 0",
        ),
    ]


def generate(n: int) -> dict[str, Any]:
    """Fill the database inside PostgreSQL: set-based INSERT ... SELECT, no Python rows."""
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from metrics.periods import Quarter

    now = timezone.now()
    first = Quarter.current()
    for _step in range(7):
        first = first.previous()
    start = first.start
    end = now - timedelta(hours=1)
    params = {
        "n": n,
        "applied": n - min(PENDING_RESPONSES, n // 100),
        "customers": max(1000, round(200_000 * n / 10_000_000)),
        "agents": AGENT_COUNT,
        "interactions": max(100, n // 20),
        "purchases": max(100, n // 20),
        "invitations": max(100, n * 3 // 100),
        "start": start,
        "span": (end - start).total_seconds(),
        "span_now": (now - start).total_seconds(),
        "now": now,
        "zone": settings.REPORTING_TIME_ZONE,
        "window_hours": settings.METRICS_REPURCHASE_WINDOW_HOURS,
    }
    ref = _reference_data()
    statements = _generation_statements(ref, n)
    bulk_tables = ["surveys_response", "surveys_answer"]
    with connection.cursor() as cursor:
        cursor.execute("SET work_mem = '256MB'")
        cursor.execute("SET maintenance_work_mem = '1GB'")
        cursor.execute("SET synchronous_commit = off")
        # Bulk load: foreign keys are checked by construction, not per row (the deferred
        # trigger queue of 30 million rows would not fit), and the secondary indexes of the
        # two big tables are built once at the end from their exact definitions.
        cursor.execute("SET session_replication_role = replica")
        indexes = [index for table in bulk_tables for index in _secondary_indexes(cursor, table)]
        for name, _definition in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        for label, statement in statements:
            if label == "follow-up cases":
                for name, definition in indexes:
                    elapsed = _timer()
                    cursor.execute(definition)
                    log(f"  index {name}: {elapsed():.1f} s")
                indexes = []
                # The case queries join the two big tables: the planner needs their statistics.
                elapsed = _timer()
                cursor.execute("ANALYZE surveys_response, surveys_answer")
                log(f"  analyze: {elapsed():.1f} s")
            if label == "responses":
                # Each response looks up its customer's next purchase: an index-only scan once
                # the visibility map is set.
                cursor.execute("VACUUM (ANALYZE) surveys_purchase")
            elapsed = _timer()
            cursor.execute(statement, params)
            log(f"  {label}: {cursor.rowcount:,} rows in {elapsed():.1f} s")
        for table in (
            "surveys_customer",
            "surveys_response",
            "surveys_interaction",
            "surveys_purchase",
            "surveys_invitation",
        ):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        cursor.execute("SET session_replication_role = origin")
        elapsed = _timer()
        cursor.execute("VACUUM (ANALYZE)")
        log(f"  vacuum analyze: {elapsed():.1f} s")
        rows = {}
        for table in (
            "surveys_customer",
            "surveys_response",
            "surveys_answer",
            "surveys_interaction",
            "surveys_invitation",
            "surveys_purchase",
            "feedback_case",
        ):
            cursor.execute(f"SELECT count(*) FROM {table}")
            rows[table] = cursor.fetchone()[0]
    log(f"  rows: {rows}")
    return {"rows": rows, "start": start.isoformat()}


def phase_setup(args: argparse.Namespace) -> dict[str, Any]:
    from django.core.management import call_command

    elapsed = _timer()
    call_command("migrate", verbosity=0)
    log(f"migrated in {elapsed():.1f} s; generating {args.responses:,} responses")
    result = generate(args.responses)
    result["seconds"] = elapsed()
    log(f"set-up done in {result['seconds']:.1f} s")
    return result


def phase_raw(args: argparse.Namespace) -> dict[str, Any]:
    from django.db import connection

    times = []
    with connection.cursor() as cursor:
        for _run in range(3):
            elapsed = _timer()
            cursor.execute(RAW_SCAN_SQL)
            groups = cursor.fetchall()
            times.append(elapsed())
    return {"best_s": min(times), "times_s": times, "groups": len(groups)}


def phase_grouping(args: argparse.Namespace) -> dict[str, Any]:
    """The floor of any rebuild of the answer rollups: the answers joined to their responses
    and grouped into the finest cells (the ten keys every filter combination is summed from),
    only counted, nothing summed or stored; split into id ranges grouped side by side on
    METRICS_REBUILD_CONNECTIONS connections, as the rebuild does (best of 2)."""
    from concurrent.futures import ThreadPoolExecutor

    from django.conf import settings
    from django.db import connection

    from metrics import answers

    keys = ", ".join(expression for _name, expression in answers._ROW_KEYS)
    count = settings.METRICS_REBUILD_CONNECTIONS
    with connection.cursor() as cursor:
        ranges = answers._id_ranges(cursor, count)

    def grouped(bounds: tuple[int, int]) -> int:
        with connection.cursor() as cursor:
            answers._rebuild_settings(cursor, local=False)
            cursor.execute("SET enable_sort = off")
            cursor.execute(
                f"SELECT count(*) FROM (SELECT {keys} FROM surveys_answer a "
                "JOIN surveys_response r ON r.id = a.response_id "
                f"WHERE a.number IS NOT NULL AND {answers._range_sql(*bounds)} "
                f"GROUP BY {keys}) g"
            )
            return int(cursor.fetchone()[0])

    times = []
    cells = 0
    for _run in range(2):
        elapsed = _timer()
        with ThreadPoolExecutor(max_workers=count) as pool:
            cells = sum(pool.map(lambda bounds: answers.on_own_connection(grouped, bounds), ranges))
        times.append(elapsed())
    return {"best_s": min(times), "times_s": times, "connections": count, "cells": cells}


@contextmanager
def _statement_timings(into: list[tuple[float, str]]) -> Iterator[None]:
    from django.db import connection

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            into.append((time.perf_counter() - started, sql))

    with connection.execute_wrapper(wrapper):
        yield


def phase_rebuild(args: argparse.Namespace) -> dict[str, Any]:
    """One metrics_rebuild(), timed whole and by step (wrappers only measure, never change).

    Past --rebuild-cap seconds the running statement is cancelled (the rebuild's transaction
    rolls back) and the result says so: its seconds are then a lower bound.
    """
    import threading

    from django.db import DatabaseError, connection

    from metrics import answers, families, services

    breakdown: dict[str, float] = {}
    done = threading.Event()
    timed_out = threading.Event()

    def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def run(*positional: Any, **keywords: Any) -> Any:
            if timed_out.is_set():
                raise CapReached
            started = time.perf_counter()
            try:
                return function(*positional, **keywords)
            finally:
                label = name if name != "family_store" else f"family:{positional[0]}"
                breakdown[label] = round(
                    breakdown.get(label, 0.0) + time.perf_counter() - started, 3
                )
                log(f"  rebuild step {label}: {time.perf_counter() - started:.1f} s")

        return run

    answers.answers_rebuild = timed("answers_rebuild", answers.answers_rebuild)
    families.family_store = timed("family_store", families.family_store)
    services.weights_store_for_periods = timed("weights", services.weights_store_for_periods)
    connection.ensure_connection()
    raw_connection = connection.connection

    def watchdog() -> None:
        if done.wait(args.rebuild_cap):
            return
        timed_out.set()
        log(f"  rebuild cap of {args.rebuild_cap:.0f} s reached: cancelling")
        raw_connection.cancel()
        while not done.wait(1):  # again, should the cancel have fallen between statements
            raw_connection.cancel()

    threading.Thread(target=watchdog, daemon=True).start()
    statements: list[tuple[float, str]] = []
    error = ""
    with _statement_timings(statements):
        elapsed = _timer()
        try:
            services.metrics_rebuild()
        except (DatabaseError, CapReached) as problem:
            if not timed_out.is_set():
                raise
            error = str(problem).strip() or "cap reached between steps"
        finally:
            done.set()
        seconds = elapsed()
    top = sorted(statements, key=lambda item: item[0], reverse=True)[:8]
    return {
        "seconds": seconds,
        "timed_out": timed_out.is_set(),
        "error": error,
        "breakdown_s": breakdown,
        "statements": len(statements),
        "top_statements": [
            {"s": round(duration, 3), "sql": re.sub(r"\s+", " ", sql)[:160]}
            for duration, sql in top
        ],
    }


def phase_vacuum(args: argparse.Namespace) -> dict[str, Any]:
    from django.db import connection

    elapsed = _timer()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) surveys_response")
    return {"seconds": elapsed()}


class _Explained(Exception):
    pass


def phase_explain(args: argparse.Namespace) -> dict[str, Any]:
    """Plans to stderr: EXPLAIN ANALYZE of the reference scan, then EXPLAIN of the rebuild's
    grouped scan as the rebuild issues it (its settings and parameters; the rebuild is then
    rolled back: analysing it would cost a rebuild's worth of time)."""
    from django.db import connection, transaction

    from metrics import answers

    plans = {}
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {RAW_SCAN_SQL}")
        plans["raw scan"] = "\n".join(row[0] for row in cursor.fetchall())
    log(f"EXPLAIN ANALYZE raw scan:\n{plans['raw scan']}")

    def explain(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.startswith(f"CREATE UNLOGGED TABLE {answers.DELTA_TABLE} AS "):
            select = sql.split(" AS ", 1)[1]
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN {select}", params)
                plans["rebuild cells"] = "\n".join(row[0] for row in cursor.fetchall())
            log(f"EXPLAIN rebuild cells:\n{plans['rebuild cells']}")
            raise _Explained
        return execute(sql, params, many, context)

    try:
        with connection.execute_wrapper(explain), transaction.atomic():
            answers.answers_rebuild()
    except _Explained:
        pass
    return {"plans": list(plans)}


def phase_pandas(args: argparse.Namespace) -> dict[str, Any]:
    """The naive way: every joined answer row into a DataFrame, then group in pandas."""
    import numpy as np
    import pandas as pd
    from django.db import connection

    elapsed = _timer()
    query = (
        "COPY (SELECT r.quarter, r.survey_id, r.channel, r.touchpoint_id, r.segment, r.team_id, "
        "r.agent_id, r.status, r.is_test, r.is_spam, q.kind, q.role, q.scale_min, q.scale_max, "
        "a.number FROM surveys_answer a JOIN surveys_response r ON r.id = a.response_id "
        "JOIN surveys_question q ON q.id = a.question_id) TO STDOUT WITH (FORMAT csv, HEADER)"
    )
    with tempfile.TemporaryFile() as buffer:
        with connection.cursor() as cursor:
            cursor.copy_expert(query, buffer)
        loaded_in = elapsed()
        buffer.seek(0)
        frame = pd.read_csv(
            buffer,
            dtype={
                "quarter": "category",
                "survey_id": "int32",
                "channel": "category",
                "touchpoint_id": "float32",
                "segment": "category",
                "team_id": "float32",
                "agent_id": "float32",
                "status": "category",
                "kind": "category",
                "role": "category",
                "scale_min": "float32",
                "scale_max": "float32",
                "number": "float32",
            },
            true_values=["t"],
            false_values=["f"],
        )
    rows = len(frame)
    counted = frame[
        (frame["status"] == "complete")
        & ~frame["is_test"]
        & ~frame["is_spam"]
        & frame["number"].notna()
    ]
    kind = counted["kind"].astype(str)
    low = counted["scale_min"].fillna(pd.Series(np.where(kind == "nps", 0, 1), counted.index))
    high = counted["scale_max"].fillna(kind.map({"nps": 10, "csat": 5, "ces": 7}))
    number = counted["number"]
    metrics = {
        "nps": (kind == "nps", number >= 9, number <= 6),
        "csat": (kind == "csat", number >= high - 1, number <= low + 1),
        "ces": (kind == "ces", number >= 5, number * 0),
        "fcr": ((kind == "yes_no") & (counted["role"] == "fcr"), number == 1, number * 0),
    }
    slices = ["survey_id", "channel", "touchpoint_id", "segment", "team_id", "agent_id"]
    figures = 0
    nps_by_quarter: dict[str, float] = {}
    for name, (mask, first, second) in metrics.items():
        part = counted.loc[mask, ["quarter", *slices, "number"]].assign(
            a=first[mask].astype("int64"), b=second[mask].astype("int64")
        )
        for column in [None, *slices]:
            keys = ["quarter"] if column is None else ["quarter", column]
            grouped = part.groupby(keys, observed=True).agg(
                n=("number", "size"), total=("number", "sum"), a=("a", "sum"), b=("b", "sum")
            )
            if name == "nps":
                value = 100 * (grouped["a"] - grouped["b"]) / grouped["n"]
            elif name == "ces":
                value = grouped["total"] / grouped["n"]
            else:
                value = 100 * grouped["a"] / grouped["n"]
            figures += len(value)
            if name == "nps" and column is None:
                nps_by_quarter = {str(label): float(v) for label, v in value.items()}
    return {
        "seconds": elapsed(),
        "load_s": loaded_in,
        "rows": rows,
        "figures": figures,
        "nps_by_quarter": nps_by_quarter,
    }


def _percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def phase_incremental(args: argparse.Namespace) -> dict[str, Any]:
    """Submit responses through the service, then time metrics_apply_response for each."""
    import csat.outbox
    from accounts.models import User
    from metrics.answers import answers_rebuild
    from metrics.models import AnswerSlice
    from metrics.periods import Quarter
    from metrics.services import metrics_apply_response
    from surveys.models import Customer, Question, Survey
    from surveys.services import response_submit

    # The bench runs the handler itself, timed; no task goes to a broker (the filesystem
    # broker under ./var would hand it to a development worker on another database).
    csat.outbox.outbox_dispatch = lambda event_id: None  # type: ignore[assignment]

    rng = random.Random(4)
    surveys = list(Survey.objects.filter(title__startswith="Bench").prefetch_related("questions"))
    agents = [*User.objects.filter(username__startswith="bench-agent-"), None]
    customer_count = Customer.objects.count()
    customers = list(Customer.objects.filter(pk__in=rng.sample(range(1, customer_count + 1), 600)))
    channels = [channel for channel, _share in CHANNELS if channel != "import"]
    response_ids, submit_ms = [], []
    for _index in range(INCREMENTAL_WARMUP + INCREMENTAL_COUNT):
        survey = rng.choice(surveys)
        raw: dict[str, Any] = {}
        for question in survey.questions.all():
            lo, hi = question.scale or (0, 1)
            if question.kind == Question.Kind.NPS:
                raw[str(question.pk)] = rng.choices(range(11), weights=[1] * 7 + [3, 3, 4, 4])[0]
            elif question.kind in (Question.Kind.CSAT, Question.Kind.CES) and rng.random() < 0.7:
                raw[str(question.pk)] = rng.randint(lo, hi)
            elif question.kind == Question.Kind.YES_NO and rng.random() < 0.6:
                raw[str(question.pk)] = rng.choice(["yes", "no"])
            elif question.kind == Question.Kind.TEXT and rng.random() < 0.2:
                raw[str(question.pk)] = "Quick and friendly."
        started = time.perf_counter()
        response, _created = response_submit(
            survey=survey,
            raw_answers=raw,
            channel=rng.choice(channels),
            customer=None if survey.is_anonymous else rng.choice(customers),
            agent=rng.choice(agents),
        )
        submit_ms.append((time.perf_counter() - started) * 1000)
        response_ids.append(response.pk)
    apply_ms = []
    for response_id in response_ids:
        started = time.perf_counter()
        metrics_apply_response(response_id)
        apply_ms.append((time.perf_counter() - started) * 1000)
    timed = apply_ms[INCREMENTAL_WARMUP:]

    # The incremental path must give the numbers a rebuild gives (style.md, "Data flow").
    current = Quarter.current().label
    columns = ("slice_kind", "slice_value", "question_id", "grid_row_id", "score", "answers",
               "repurchase_open", "repurchase_closed", "repurchase_bought")  # fmt: skip
    # Emptied rows (a response taken away again) hold no data; a rebuild drops them.
    incremental = sorted(
        row
        for row in AnswerSlice.objects.filter(quarter=current).values_list(*columns)
        if any(row[5:])
    )
    answers_rebuild([current])
    rebuilt = sorted(AnswerSlice.objects.filter(quarter=current).values_list(*columns))
    return {
        "median_ms": round(statistics.median(timed), 3),
        "p95_ms": round(_percentile(timed, 0.95), 3),
        "count": len(timed),
        "submit_median_ms": round(statistics.median(submit_ms), 3),
        "matches_rebuild": incremental == rebuilt,
        "rows_differing": len(set(incremental) ^ set(rebuilt)),
    }


def _timed_reads(read: Callable[[], object]) -> float:
    for _run in range(READ_WARMUP):
        read()
    times = []
    for _run in range(READ_COUNT):
        started = time.perf_counter()
        read()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 3)


def _timed_first_reads(read: Callable[[], object]) -> float:
    """Median of reads that each find no stored combination figure, as after a recompute of
    the period's families (which deletes them): the read computes and stores them."""
    from metrics.models import CombinationRollup

    times = []
    for _run in range(READ_FIRST_COUNT):
        CombinationRollup.objects.all().delete()
        started = time.perf_counter()
        read()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 3)


def phase_reads(args: argparse.Namespace) -> dict[str, Any]:
    """Dashboard reads for the last closed quarter, medians in ms: every metric with no
    filter, one filter and a combination of three (the target's figures), and the other
    reads a dashboard makes (an 8-quarter trend, a slice list, score distribution, complaint
    categories), reported beside them."""
    from accounts.models import User
    from metrics.periods import Quarter
    from metrics.selectors import (
        complaint_categories,
        metric_figures,
        metric_trend,
        score_distribution,
        slice_figures,
    )

    current = Quarter.current()
    period = current.previous().label
    agent = User.objects.filter(username="bench-agent-03").values_list("pk", flat=True).first()
    combination = {"channel": "email", "segment": "normal", "agent": str(agent)}
    quarter, labels = current, []
    for _step in range(8):
        labels.append(quarter.label)
        quarter = quarter.previous()
    # First: a combination's coverage and median first-response time are computed and
    # stored by the first read after a recompute of its period (then read back).
    first_reads = {
        "channel+segment+agent": _timed_first_reads(lambda: metric_figures(period, combination))
    }
    medians = {
        "all": _timed_reads(lambda: metric_figures(period)),
        "channel=email": _timed_reads(lambda: metric_figures(period, dict([READ_SLICE]))),
        "channel+segment+agent": _timed_reads(lambda: metric_figures(period, combination)),
    }
    others = {
        "trend nps 8 quarters": _timed_reads(lambda: metric_trend("nps", labels)),
        "nps by agent": _timed_reads(lambda: slice_figures(period, "agent", "nps")),
        "score distribution": _timed_reads(lambda: score_distribution(period)),
        "complaint categories": _timed_reads(lambda: complaint_categories(period)),
        "score distribution, combination": _timed_reads(
            lambda: score_distribution(period, combination)
        ),
        "complaint categories, combination": _timed_reads(
            lambda: complaint_categories(period, {"channel": "phone", "agent": str(agent)})
        ),
    }
    return {
        "period": period,
        "current": current.label,
        "median_ms": medians,
        "first_read_median_ms": first_reads,
        "other_median_ms": others,
        "nps_by_quarter": {label: metric_figures(label)["nps"].value for label in labels},
    }


PHASES: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "setup": phase_setup,
    "raw": phase_raw,
    "grouping": phase_grouping,
    "rebuild": phase_rebuild,
    "vacuum": phase_vacuum,
    "explain": phase_explain,
    "pandas": phase_pandas,
    "incremental": phase_incremental,
    "reads": phase_reads,
}


def run_child(args: argparse.Namespace) -> dict[str, Any]:
    # DATABASE_URL must be set before Django reads its settings.
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csat.settings")
    import django

    django.setup()
    return {**PHASES[args.phase](args), "code": code_version()}


def code_version() -> str:
    """The commit checked out and a hash of the application's Python files as they are now:
    another engineer may be changing them while the benchmark runs."""
    # `git rev-parse` also works in a worktree, where .git is a file naming the real one.
    found = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    head = found.stdout.strip() or "unknown"
    digest = hashlib.sha256()
    for path in sorted(ROOT.glob("[acfms]*/**/*.py")):
        if ".venv" not in path.parts and "bench" not in path.parts:
            digest.update(path.read_bytes())
    return f"{head[:12]}+{digest.hexdigest()[:12]}"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.metrics", description=__doc__)
    parser.add_argument("--responses", type=int, default=10_000_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument(
        "--explain", action="store_true", help="print EXPLAIN ANALYZE of the scans to stderr"
    )
    parser.add_argument(
        "--rebuild-cap",
        type=float,
        default=1500.0,
        help="cancel a metrics_rebuild() running longer than this (s); reported as a lower bound",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="go on from the phases a stopped run with the same database and size completed",
    )
    parser.add_argument(
        "--stop-after",
        metavar="STEP",
        help="stop once this step (e.g. setup, raw_fresh) is done; --resume goes on from there",
    )
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    result = run_child(args) if args.phase else orchestrate(args)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
