"""Import benchmark (issue 3): a million CSV rows through the real import path, against
PostgreSQL's COPY of the same rows into a plain table.

    python -m bench.import_csv [--rows 1000000]
                               [--database-url postgres://postgres@127.0.0.1:5432/csat_bench_i3_import]

One run (re)creates the benchmark database, migrates it, creates an NPS + CSAT + free-text
survey with 50,000 customers, 24 agents in 4 teams and 5 touchpoints, and writes a CSV file
of N responses (response id, submitted at, customer, agent, touchpoint, NPS, CSAT, why; about
a third of the "why" cells blank, some with commas, quotes and Chinese text). Then each step
runs in a child process of its own (`--phase ...`, a fresh Django set-up, like a worker), so
its peak memory is that process's ru_maxrss (from wait4):

- `copy`: the reference, COPY ... FROM STDIN (FORMAT csv) of the file into a plain table with
  the same typed columns, no index or key (best of 2);
- `floor`: a second reference, the same rows put into the real response and answer tables by
  PostgreSQL alone (COPY into a staging table, then INSERT ... SELECT with their indexes and
  foreign-key checks), no Python per row: what the schema itself costs;
- `store`: the floor of any import into this schema: COPY of the finished rows (those the
  `floor` produced, ids and all) straight into the real tables, with the foreign-key checks
  and without them (session_replication_role = replica);
- `upload`: the upload service (the file into the database, recognised, mapped);
- `validate`: the dry run that lists every bad row (the task's service function);
- `import`: the import task's service function `import_job_run` (chunks through COPY into
  staging tables and INSERT ... SELECT ON CONFLICT, then the rebuild of the quarters' answer
  rollups); the target is `import_vs_copy` <= 3 for the rows, and < 500 MiB of memory;
- `handoff`: the outbox events of the committed chunks (bulk follow-up cases);
- `check`: responses in the database == rows, and the dashboard's NPS per quarter equals the
  one computed from the generated scores;
- `reimport`: the same file imported again: nothing is created.

Progress goes to stderr; the last line on stdout is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/csat_bench_i3_import"
TARGET_IMPORT_VS_COPY = 3.0
TARGET_PEAK_RSS_MIB = 500.0
CUSTOMERS = 50_000
TEAMS = 4
AGENTS = 24
TOUCHPOINTS = ["consultation", "purchase", "delivery", "after_sales", "renewal"]
# Written as local times without an offset: the import reads them in the reporting zone.
ZONE = ZoneInfo(os.environ.get("REPORTING_TIME_ZONE", os.environ.get("TIME_ZONE", "Asia/Shanghai")))
FIRST_MOMENT = datetime(2025, 1, 1, 8, 0, tzinfo=ZONE)
SPAN_SECONDS = 180 * 24 * 3600  # two quarters
WHY = [
    "",
    "",
    "Fast and friendly",
    "The engineer came the same day, thank you",
    'Slow after-sales response, "still waiting"',
    "售后响应太慢，等了三天",  # noqa: RUF001 (Chinese text has full-width commas)
    "服务很好，技术人员很专业",  # noqa: RUF001
    "Price, delivery, support: all fine",
    "Could not reach anyone by phone",
]
PLAIN_TABLE = """
CREATE TABLE bench_copy_plain (
    response_id text, submitted_at timestamptz, customer text, agent text,
    touchpoint text, nps smallint, csat smallint, why text
)
"""


def log(message: str) -> None:
    stamp = time.strftime("%H:%M:%S", time.gmtime())
    print(f"[bench.import_csv {stamp}Z] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- orchestration (parent)


def _database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _admin_connection(url: str) -> Any:
    import psycopg2

    connection = psycopg2.connect(urlunsplit(urlsplit(url)._replace(path="/postgres")))
    connection.autocommit = True
    return connection


def database_recreate(url: str) -> None:
    """Drop and create the benchmark database (only names starting with csat_bench_i3)."""
    from psycopg2 import sql

    name = _database_name(url)
    if not name.startswith("csat_bench_i3"):
        raise SystemExit(f"refusing to recreate {name!r}: its name must start with csat_bench_i3")
    connection = _admin_connection(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        connection.close()


def write_csv(path: Path, rows: int, seed: int = 7) -> dict[str, dict[str, int]]:
    """The generated file; returns promoters, detractors and n per quarter (for the check)."""
    random.seed(seed)
    counts: dict[str, dict[str, int]] = {}
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["response_id", "submitted_at", "customer", "agent", "touchpoint", "nps", "csat", "why"]
        )
        for index in range(rows):
            moment = FIRST_MOMENT + timedelta(seconds=random.randrange(SPAN_SECONDS))
            nps = min(10, max(0, round(random.gauss(7.6, 2.4))))
            csat = min(5, max(1, round(random.gauss(4.0, 1.0))))
            quarter = f"{moment.year}Q{(moment.month - 1) // 3 + 1}"
            tally = counts.setdefault(quarter, {"promoters": 0, "detractors": 0, "n": 0})
            tally["n"] += 1
            tally["promoters"] += nps >= 9
            tally["detractors"] += nps <= 6
            writer.writerow(
                [
                    f"P{index:08d}",
                    moment.strftime("%Y-%m-%d %H:%M:%S"),
                    f"C{random.randrange(CUSTOMERS):06d}",
                    f"agent{random.randrange(AGENTS):02d}",
                    random.choice(TOUCHPOINTS),
                    nps,
                    csat,
                    random.choice(WHY),
                ]
            )
    return counts


def run_phase(phase: str, args: argparse.Namespace, *extra: str) -> tuple[dict[str, Any], float]:
    """Run one phase in a child process; returns its JSON result and its peak RSS in MiB."""
    command = [
        sys.executable,
        "-m",
        "bench.import_csv",
        "--phase",
        phase,
        "--database-url",
        args.database_url,
        "--rows",
        str(args.rows),
        "--file",
        str(args.file),
        *extra,
    ]
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "DJANGO_SETTINGS_MODULE": "csat.settings",
        "IMPORT_CHUNK_ROWS": str(args.chunk_rows),
        "IMPORT_MAX_FILE_MB": "2048",
        # As a production worker runs: with DEBUG on, Django would keep every statement (the
        # file's 1 MB parts among them) in connection.queries.
        "DJANGO_DEBUG": "false",
        # Without REDIS_URL the outbox's messages go to a filesystem queue: a temporary one.
        "CSAT_VAR_DIR": str(args.file.parent / "var"),
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-import-not-a-secret"),
    }
    env.pop("REDIS_URL", None)  # tasks are run in the child itself, never sent
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    output = process.stdout.read()
    process.stdout.close()
    # wait4 gives this child's own resource usage (RUSAGE_CHILDREN would pool every child).
    _pid, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"phase {phase} failed")
    return json.loads(output.strip().splitlines()[-1]), usage.ru_maxrss / 1024  # Linux: KiB


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def orchestrate(args: argparse.Namespace) -> dict[str, Any]:
    started = time.time()
    directory = Path(tempfile.mkdtemp(prefix="bench-import-"))
    args.file = directory / "responses.csv"
    log(f"database {_database_name(args.database_url)}: {args.rows:,} rows")
    database_recreate(args.database_url)
    setup, _rss = run_phase("setup", args)
    log(f"migrated and seeded in {setup['seconds']} s")
    clock = time.perf_counter()
    expected = write_csv(args.file, args.rows)
    size = args.file.stat().st_size
    log(f"wrote {args.file} ({size / 2**20:.1f} MiB) in {time.perf_counter() - clock:.1f} s")

    copies = [run_phase("copy", args)[0]["seconds"] for _run in range(2)]
    copy_s = min(copies)
    log(f"COPY into a plain table: {copies} s")
    floor, _rss = run_phase("floor", args)
    log(f"SQL alone into the real tables: {floor}")
    store, _rss = run_phase("store", args)
    log(f"COPY of the finished rows into the real tables: {store}")
    upload, upload_rss = run_phase("upload", args)
    log(f"upload: {upload['seconds']} s, peak RSS {upload_rss:.0f} MiB")
    job = str(upload["job"])
    validate, validate_rss = run_phase("validate", args, "--job", job)
    log(f"dry run: {validate['seconds']} s, peak RSS {validate_rss:.0f} MiB: {validate['job']}")
    imported, import_rss = run_phase("import", args, "--job", job)
    log(f"import: {imported['seconds']} s, peak RSS {import_rss:.0f} MiB: {imported}")
    handoff, handoff_rss = run_phase("handoff", args)
    log(f"hand-off: {handoff}")
    check, _rss = run_phase("check", args, "--expected", json.dumps(expected))
    log(f"check: {check}")
    reimport: dict[str, Any] = {}
    reimport_rss = 0.0
    if not args.skip_reimport:
        reimport, reimport_rss = run_phase("reimport", args)
        log(f"second import of the same file: {reimport}")
    shutil.rmtree(directory)

    import_s = imported["seconds"]
    rows_s = imported["rows_seconds"]
    peak = max(upload_rss, validate_rss, import_rss, handoff_rss, reimport_rss)
    result: dict[str, Any] = {
        "rows": args.rows,
        "file_mib": round(size / 2**20, 1),
        "chunk_rows": args.chunk_rows,
        "copy_s": copy_s,
        "copy_runs_s": copies,
        "import_s": import_s,
        "import_rows_s": rows_s,
        "import_rebuild_s": imported["rebuild_seconds"],
        "import_breakdown_s": imported["breakdown"],
        "import_vs_copy": _ratio(import_s, copy_s),
        "sql_floor_s": floor["seconds"],
        "sql_floor_breakdown_s": floor["breakdown"],
        "import_rows_vs_sql_floor": _ratio(rows_s, floor["seconds"]),
        "store_floor_s": store["with_foreign_keys"]["seconds"],
        "store_floor_breakdown_s": store["with_foreign_keys"]["breakdown"],
        "store_floor_vs_copy": _ratio(store["with_foreign_keys"]["seconds"], copy_s),
        "import_vs_store_floor": _ratio(import_s, store["with_foreign_keys"]["seconds"]),
        "store_floor_no_fk_s": store["without_foreign_keys"]["seconds"],
        "store_floor_no_fk_breakdown_s": store["without_foreign_keys"]["breakdown"],
        "store_floor_no_fk_vs_copy": _ratio(store["without_foreign_keys"]["seconds"], copy_s),
        "import_rows_vs_copy": _ratio(rows_s, copy_s),
        "validate_s": validate["seconds"],
        "validate_vs_copy": _ratio(validate["seconds"], copy_s),
        "upload_s": upload["seconds"],
        "handoff_s": handoff["seconds"],
        "handoff_events": handoff["events"],
        "peak_rss_mib": round(peak, 1),
        "peak_rss_by_phase_mib": {
            "upload": round(upload_rss, 1),
            "validate": round(validate_rss, 1),
            "import": round(import_rss, 1),
            "handoff": round(handoff_rss, 1),
            "reimport": round(reimport_rss, 1),
        },
        "responses_in_db": check["responses"],
        "answers_in_db": check["answers"],
        "cases_opened": check["cases"],
        "responses_equal_rows": check["responses"] == args.rows,
        "nps_matches_file": check["nps_matches"],
        "nps_by_quarter": check["nps"],
        "reimport_s": reimport.get("seconds"),
        "reimport_created": reimport.get("created"),
        "reimport_skipped": reimport.get("skipped"),
        "responses_after_reimport": reimport.get("responses"),
        "postgres": setup["postgres"],
        "wall_s": round(time.time() - started, 1),
    }
    result["targets_met"] = {
        "import_within_3x_copy": (result["import_vs_copy"] or 99) <= TARGET_IMPORT_VS_COPY,
        "import_rows_within_3x_copy": (result["import_rows_vs_copy"] or 99)
        <= TARGET_IMPORT_VS_COPY,
        "peak_rss_below_500mib": peak < TARGET_PEAK_RSS_MIB,
        "responses_equal_rows": result["responses_equal_rows"],
    }
    return result


# ---------------------------------------------------------------- phases (child processes)


def _django() -> None:
    import django

    django.setup()


def _timer() -> Any:
    started = time.perf_counter()
    return lambda: round(time.perf_counter() - started, 3)


def phase_setup(args: argparse.Namespace) -> dict[str, Any]:
    _django()
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import Team, User
    from surveys.models import Question, Survey, Touchpoint

    elapsed = _timer()
    call_command("migrate", verbosity=0)
    teams = [Team.objects.create(name=f"Bench team {index}") for index in range(TEAMS)]
    User.objects.bulk_create(
        User(username=f"agent{index:02d}", team=teams[index % TEAMS]) for index in range(AGENTS)
    )
    touchpoint = None
    for position, code in enumerate(TOUCHPOINTS):
        touchpoint = Touchpoint.objects.create(code=code, name=code.title(), position=position)
    survey = Survey.objects.create(title="Bench panel import", touchpoint=touchpoint)
    Question.objects.create(survey=survey, position=1, kind="nps", text="Recommend us?")
    Question.objects.create(survey=survey, position=2, kind="csat", text="Satisfied?")
    Question.objects.create(survey=survey, position=3, kind="text", text="Why?", is_required=False)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO surveys_customer (external_id, name, email, phone, segment, language, "
            "consents_to_contact, created_at) "
            "SELECT 'C' || lpad(i::text, 6, '0'), 'Customer ' || i, '', '', "
            "(CASE WHEN i %% 20 < 3 THEN 'high_value' WHEN i %% 20 < 6 THEN 'churn_risk' "
            "ELSE 'normal' END), 'zh-hans', true, now() FROM generate_series(0, %s) i",
            [CUSTOMERS - 1],
        )
        cursor.execute("ANALYZE")
        settings = {}
        for name in ("server_version", "shared_buffers", "work_mem", "synchronous_commit"):
            cursor.execute(f"SHOW {name}")
            settings[name] = cursor.fetchone()[0]
    return {"seconds": elapsed(), "survey": survey.pk, "postgres": settings}


def phase_copy(args: argparse.Namespace) -> dict[str, Any]:
    import psycopg2

    connection = psycopg2.connect(args.database_url)
    with connection, connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_copy_plain")
        cursor.execute(PLAIN_TABLE)
    elapsed = _timer()
    with connection, connection.cursor() as cursor, args.file.open("rb") as handle:
        cursor.copy_expert(
            "COPY bench_copy_plain FROM STDIN WITH (FORMAT csv, HEADER true)", handle
        )
    seconds = elapsed()
    with connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM bench_copy_plain")
        rows = cursor.fetchone()[0]
        cursor.execute("DROP TABLE bench_copy_plain")
    connection.close()
    assert rows == args.rows, rows
    return {"seconds": seconds, "rows": rows}


def phase_floor(args: argparse.Namespace) -> dict[str, Any]:
    """A second reference: the same rows put into the real tables by PostgreSQL alone (COPY
    into a staging table, then INSERT ... SELECT into responses and answers, their indexes
    and foreign keys), with no Python per row; the rows are removed afterwards."""
    _django()
    from django.conf import settings
    from django.db import connection, transaction

    from surveys.imports.writers import insert_plan
    from surveys.models import Answer, Response, Survey

    survey = Survey.objects.get(title="Bench panel import")
    questions = {question.kind: question.pk for question in survey.questions.all()}
    response_columns, response_select, response_params = insert_plan(
        Response,
        {
            "survey_id": ("%s", [survey.pk]),
            "channel": ("'import'", []),
            "status": ("'complete'", []),
            "customer_id": ("c.id", []),
            "agent_id": ("u.id", []),
            "team_id": ("u.team_id", []),
            "touchpoint_id": ("t.id", []),
            "segment": ("c.segment", []),
            "quarter": (
                "to_char(s.submitted_at AT TIME ZONE %s, 'YYYY\"Q\"Q')",
                [settings.REPORTING_TIME_ZONE],
            ),
            "submitted_at": ("s.submitted_at", []),
            "import_key": ("s.response_id", []),
            # As the import stores a big import's rows: counted by its closing rebuild.
            "in_rollup": ("true", []),
        },
    )
    answer_columns, answer_select, answer_params = insert_plan(
        Answer,
        {
            "response_id": ("r.id", []),
            "question_id": ("v.question_id", []),
            "grid_row_id": ("NULL", []),
            "choice_id": ("NULL", []),
            "number": ("v.number", []),
            "text": ("v.text", []),
        },
    )
    spent: dict[str, float] = {}
    elapsed = _timer()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL TIME ZONE %s", [settings.REPORTING_TIME_ZONE])
        cursor.execute(PLAIN_TABLE.replace("CREATE TABLE", "CREATE TEMPORARY TABLE"))
        with args.file.open("rb") as handle:
            cursor.copy_expert(
                "COPY bench_copy_plain FROM STDIN WITH (FORMAT csv, HEADER true)", handle
            )
        spent["copy"] = elapsed()
        cursor.execute(
            f"INSERT INTO surveys_response ({response_columns}) SELECT {response_select} "
            "FROM bench_copy_plain s "
            "LEFT JOIN surveys_customer c ON c.external_id = s.customer "
            "LEFT JOIN accounts_user u ON u.username = s.agent "
            "LEFT JOIN surveys_touchpoint t ON t.code = s.touchpoint",
            response_params,
        )
        spent["responses"] = round(elapsed() - sum(spent.values()), 3)
        cursor.execute(
            f"INSERT INTO surveys_answer ({answer_columns}) SELECT {answer_select} "
            "FROM bench_copy_plain s JOIN surveys_response r ON r.import_key = s.response_id "
            "CROSS JOIN LATERAL (VALUES (%s, s.nps, ''), (%s, s.csat, ''), (%s, NULL, s.why)) "
            "AS v (question_id, number, text) WHERE v.number IS NOT NULL OR v.text <> ''",
            [*answer_params, questions["nps"], questions["csat"], questions["text"]],
        )
        spent["answers"] = round(elapsed() - sum(spent.values()), 3)
    seconds = elapsed()
    spent["commit_foreign_keys"] = round(seconds - sum(spent.values()), 3)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM surveys_response")
        rows = cursor.fetchone()[0]
        # The finished rows, for the `store` phase: COPY of exactly what an import stores.
        for table in STORED_TABLES:
            with _stored_file(args, table).open("wb") as handle:
                cursor.copy_expert(f"COPY {table} TO STDOUT", handle)
        cursor.execute("TRUNCATE surveys_answer, surveys_response CASCADE")
        cursor.execute("VACUUM ANALYZE surveys_response")
        cursor.execute("VACUUM ANALYZE surveys_answer")
    assert rows == args.rows, rows
    return {"seconds": seconds, "breakdown": spent}


STORED_TABLES = ("surveys_response", "surveys_answer")


def _stored_file(args: argparse.Namespace, table: str) -> Path:
    return args.file.parent / f"{table}.copy"


def phase_store(args: argparse.Namespace) -> dict[str, Any]:
    """The floor of any import into this schema: COPY of the finished rows (the responses and
    answers the `floor` phase produced, ids and all) straight into the real tables, with
    their indexes and unique constraints, once with the foreign-key checks and once without
    them (session_replication_role = replica: superuser only, the triggers skipped). No
    import code can store these rows faster than COPY of the rows themselves."""
    import psycopg2

    connection = psycopg2.connect(args.database_url)
    result: dict[str, Any] = {}
    for name, role in (("with_foreign_keys", "origin"), ("without_foreign_keys", "replica")):
        spent: dict[str, float] = {}
        elapsed = _timer()
        with connection, connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL session_replication_role = {role}")
            for table in STORED_TABLES:
                with _stored_file(args, table).open("rb") as handle:
                    cursor.copy_expert(f"COPY {table} FROM STDIN", handle)
                spent[table] = round(elapsed() - sum(spent.values()), 3)
        seconds = elapsed()
        spent["commit_foreign_keys"] = round(seconds - sum(spent.values()), 3)
        with connection, connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM surveys_response")
            rows = cursor.fetchone()[0]
            cursor.execute("TRUNCATE surveys_answer, surveys_response CASCADE")
        assert rows == args.rows, rows
        result[name] = {"seconds": seconds, "breakdown": spent}
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE surveys_response")
        cursor.execute("VACUUM ANALYZE surveys_answer")
    connection.close()
    for table in STORED_TABLES:
        _stored_file(args, table).unlink()
    return result


def _no_enqueue() -> None:
    # The benchmark runs each task's service function itself, in its own process.
    from surveys.imports import services

    services._enqueue = lambda step, job_id: None


def phase_upload(args: argparse.Namespace) -> dict[str, Any]:
    _django()
    _no_enqueue()
    from django.core.files import File

    from surveys.imports import services
    from surveys.models import Survey

    survey = Survey.objects.get(title="Bench panel import")
    questions = {question.kind: question.pk for question in survey.questions.all()}
    elapsed = _timer()
    with args.file.open("rb") as handle:
        job = services.import_job_create(
            kind="responses", survey=survey, upload=File(handle, name="responses.csv"), user=None
        )
    columns = {
        0: "key",
        1: "submitted_at",
        2: "customer",
        3: "agent",
        4: "touchpoint",
        5: f"q{questions['nps']}",
        6: f"q{questions['csat']}",
        7: f"q{questions['text']}",
    }
    services.import_job_set_mapping(job=job, columns=columns)
    return {"seconds": elapsed(), "job": job.pk}


def phase_validate(args: argparse.Namespace) -> dict[str, Any]:
    _django()
    _no_enqueue()
    from surveys.imports import services
    from surveys.imports.models import ImportJob

    elapsed = _timer()
    assert services.import_job_validate(args.job)
    seconds = elapsed()
    job = ImportJob.objects.get(pk=args.job)
    services.import_job_confirm(job=job)
    return {
        "seconds": seconds,
        "job": {
            "status": job.status,
            "rows_total": job.rows_total,
            "rows_valid": job.rows_valid,
            "rows_invalid": job.rows_invalid,
        },
    }


def phase_import(args: argparse.Namespace) -> dict[str, Any]:
    _django()
    _no_enqueue()
    from surveys.imports import handoff, services, writers
    from surveys.imports.models import ImportJob
    from surveys.imports.schemas import RowSchema

    spent = {"parse": 0.0, "write": 0.0, "rebuild": 0.0}

    def timed(name: str, function: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - started

        return wrapper

    RowSchema.parse_chunk = timed("parse", RowSchema.parse_chunk)  # type: ignore[method-assign]
    services.write_chunk = timed("write", writers.write_chunk)
    handoff.metrics_rebuild = timed("rebuild", handoff.metrics_rebuild)
    elapsed = _timer()
    assert services.import_job_run(args.job)
    seconds = elapsed()
    job = ImportJob.objects.get(pk=args.job)
    assert job.status == ImportJob.Status.DONE, (job.status, job.message)
    breakdown = {name: round(value, 3) for name, value in spent.items()}
    breakdown["read_and_other"] = round(seconds - sum(spent.values()), 3)
    return {
        "seconds": seconds,
        "rows_seconds": round(seconds - spent["rebuild"], 3),
        "rebuild_seconds": round(spent["rebuild"], 3),
        "breakdown": breakdown,
        "imported": job.rows_imported,
        "invalid": job.rows_invalid,
    }


def phase_handoff(args: argparse.Namespace) -> dict[str, Any]:
    _django()
    from csat.outbox import outbox_drain

    elapsed = _timer()
    events = outbox_drain()
    return {"seconds": elapsed(), "events": events}


def phase_check(args: argparse.Namespace) -> dict[str, Any]:
    _django()
    from feedback.models import Case
    from metrics import formulas, selectors
    from surveys.models import Answer, Response

    expected = json.loads(args.expected)
    nps: dict[str, Any] = {}
    matches = True
    for quarter, tally in sorted(expected.items()):
        figure = selectors.period_figure(quarter, "nps")
        wanted = formulas.nps(tally["promoters"], tally["detractors"], tally["n"])
        got = figure.value if figure else None
        nps[quarter] = {"dashboard": got, "file": wanted, "n": figure.n if figure else 0}
        matches &= got is not None and abs(got - wanted) < 1e-9 and figure.n == tally["n"]
    return {
        "responses": Response.objects.filter(channel="import").count(),
        "answers": Answer.objects.count(),
        "cases": Case.objects.count(),
        "nps": nps,
        "nps_matches": matches,
    }


def phase_reimport(args: argparse.Namespace) -> dict[str, Any]:
    _django()
    _no_enqueue()
    from surveys.imports.models import ImportJob
    from surveys.models import Response

    upload = phase_upload(args)
    job_id = upload["job"]
    args.job = job_id
    phase_validate(args)
    elapsed = _timer()
    from surveys.imports import services

    assert services.import_job_run(job_id)
    seconds = elapsed()
    job = ImportJob.objects.get(pk=job_id)
    return {
        "seconds": seconds,
        "created": job.rows_imported,
        "skipped": job.rows_skipped,
        "responses": Response.objects.filter(channel="import").count(),
    }


PHASES = {
    "setup": phase_setup,
    "copy": phase_copy,
    "floor": phase_floor,
    "store": phase_store,
    "upload": phase_upload,
    "validate": phase_validate,
    "import": phase_import,
    "handoff": phase_handoff,
    "check": phase_check,
    "reimport": phase_reimport,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--chunk-rows", type=int, default=10_000)
    parser.add_argument("--skip-reimport", action="store_true")
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--job", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--expected", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(PHASES[args.phase](args)))
        return
    print(json.dumps(orchestrate(args)))


if __name__ == "__main__":
    main()
