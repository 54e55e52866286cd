"""The answer rollups, kept in step with responses.

AnswerCell counts the counted answers per finest cell (quarter x survey x channel x
touchpoint x segment x team x agent), question, grid row and score, with the repurchase state
of those from identified customers; AnswerSlice holds their one-attribute projections (what a
dashboard reads); RespondentQuarter the identified customers with a counted response per
quarter (coverage). What a question's answers mean (NPS, CSAT, a dimension...) is applied when
read (metrics/measures.py).

The repurchase state is as of the moment on the `repurchase` RollupClock: open while the
response's window is still open then, closed afterwards, bought when the customer's first
purchase in the window (Response.next_purchase_at) is known by then. `answers_close_windows`
moves the clock forward and the answers whose window closed in between.

Incremental path (`answers_apply_response`): a compare-and-swap on `Response.in_rollup`
decides whether the response's contribution must be added (or, once marked test/spam,
taken away); only the worker that flips the flag writes, so applying twice changes nothing.
On PostgreSQL it is a single statement: one round trip.
Full path (`answers_rebuild`): brings every flag in line with the counting rule (only the
responses whose update has not run yet), then groups the answers once into cells and, in the
same aggregate, subtracts the stored cells: only the cells that differ are written, and their
differences, projected, update the slices. Both paths group with the same select (STAGE_SQL),
so they give the same numbers.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from metrics.models import CELL_FIELDS, FrozenQuarter, RollupClock, SliceKind
from surveys.models import Response

# Both paths hold this lock: incremental updates share it, a rebuild takes it alone.
ROLLUP_LOCK = 0x63736174  # "csat"
REPURCHASE_CLOCK = "repurchase"

SCORE_KEY = ("question_id", "grid_row_id", "score")
CELL_KEY = (*CELL_FIELDS, *SCORE_KEY)
SLICE_KEY = ("quarter", "slice_kind", "slice_value", *SCORE_KEY)
COMPONENTS = ("answers", "repurchase_open", "repurchase_closed", "repurchase_bought")
REPURCHASE_COMPONENTS = COMPONENTS[1:]

# Which cell attribute each slice kind projects, and the value that means "none".
SLICE_SOURCES: dict[str, tuple[str, int | str]] = {
    SliceKind.SURVEY: ("survey_id", 0),
    SliceKind.CHANNEL: ("channel", ""),
    SliceKind.TOUCHPOINT: ("touchpoint_id", 0),
    SliceKind.SEGMENT: ("segment", ""),
    SliceKind.TEAM: ("team_id", 0),
    SliceKind.AGENT: ("agent_id", 0),
}

# The repurchase state needs two moments: {closed_by} (the clock minus the window: a response
# submitted by then has its window closed) and {as_of} (the clock). Anonymous answers have
# none. Every identified answer gets one; only NPS and CSAT tables read it.
# Per answer: the cell it falls in and its components (the repurchase state as of {as_of}).
_ROW_KEYS = (
    ("quarter", "r.quarter"),
    ("survey_id", "r.survey_id"),
    ("channel", "r.channel"),
    ("touchpoint_id", "COALESCE(r.touchpoint_id, 0)"),
    ("segment", "r.segment"),
    ("team_id", "COALESCE(r.team_id, 0)"),
    ("agent_id", "COALESCE(r.agent_id, 0)"),
    ("question_id", "a.question_id"),
    ("grid_row_id", "COALESCE(a.grid_row_id, 0)"),
    ("score", "a.number"),
)
_ROW_COMPONENTS = (
    ("answers", "1"),
    (
        "repurchase_open",
        "CASE WHEN r.customer_id IS NOT NULL AND r.submitted_at > {closed_by} THEN 1 ELSE 0 END",
    ),
    (
        "repurchase_closed",
        "CASE WHEN r.customer_id IS NOT NULL AND r.submitted_at <= {closed_by} THEN 1 ELSE 0 END",
    ),
    (
        "repurchase_bought",
        "CASE WHEN r.customer_id IS NOT NULL AND r.submitted_at <= {closed_by} "
        "AND r.next_purchase_at IS NOT NULL AND r.next_purchase_at <= {as_of} THEN 1 ELSE 0 END",
    ),
)
_ROW_FROM = (
    "FROM surveys_answer a JOIN surveys_response r ON r.id = a.response_id "
    "WHERE a.number IS NOT NULL AND {where}"
)
# Grouped into cells, each component times {sign} (+1 adds, -1 takes away).
STAGE_SQL = (
    "SELECT "
    + ", ".join(f"{expression} AS {name}" for name, expression in _ROW_KEYS)
    + ", "
    + ", ".join(f"SUM({expression}) * {{sign}} AS {name}" for name, expression in _ROW_COMPONENTS)
    + " "
    + _ROW_FROM
    + " GROUP BY "
    + ", ".join(expression for _name, expression in _ROW_KEYS)
)


def none_of(field: str) -> int | str:
    """The value a cell column holds when the record lacks the attribute."""
    return 0 if field.endswith("_id") else ""


def window() -> timedelta:
    return timedelta(hours=settings.METRICS_REPURCHASE_WINDOW_HOURS)


def _columns(alias: str, names: Sequence[str]) -> str:
    return ", ".join(f"{alias}.{name}" for name in names)


KINDS_SQL = " UNION ALL ".join(
    f"SELECT '{kind}' AS slice_kind" for kind in [SliceKind.ALL.value, *SLICE_SOURCES]
)


def _value_sql(alias: str) -> str:
    value = "CASE k.slice_kind WHEN 'all' THEN ''"
    for kind, (field, none) in SLICE_SOURCES.items():
        text = f"CAST({alias}.{field} AS TEXT)" if isinstance(none, int) else f"{alias}.{field}"
        value += f" WHEN '{kind}' THEN {text}"
    return value + " END"


def slices_sql(cells: str) -> str:
    """Slice rows (SLICE_KEY + COMPONENTS) projected from a cell relation: every cell adds to
    "all" and to each attribute it has (records without it are left out of that slice)."""
    member = ["k.slice_kind = 'all'"]
    for kind, (field, none) in SLICE_SOURCES.items():
        member.append(f"(k.slice_kind = '{kind}' AND c.{field} <> {none!r})")
    keys = _columns("c", SCORE_KEY)
    sums = ", ".join(f"SUM(c.{name}) AS {name}" for name in COMPONENTS)
    value = _value_sql("c")
    return (
        f"SELECT c.quarter AS quarter, k.slice_kind AS slice_kind, {value} AS slice_value, "
        f"{keys}, {sums} FROM {cells} c CROSS JOIN ({KINDS_SQL}) k "
        f"WHERE {' OR '.join(member)} GROUP BY c.quarter, k.slice_kind, {value}, {keys}"
    )


def grouping_slices_sql(cells: str) -> str:
    """The same rows as slices_sql with one grouped scan (PostgreSQL's GROUPING SETS)."""
    sets = ["(quarter, question_id, grid_row_id, score)"]
    kind = "CASE"
    value = "CASE"
    member = []
    for name, (field, none) in SLICE_SOURCES.items():
        sets.append(f"(quarter, {field}, question_id, grid_row_id, score)")
        kind += f" WHEN GROUPING({field}) = 0 THEN '{name}'"
        text = f"CAST({field} AS TEXT)" if isinstance(none, int) else field
        value += f" WHEN GROUPING({field}) = 0 THEN {text}"
        member.append(f"(GROUPING({field}) = 1 OR {field} <> {none!r})")
    sums = ", ".join(f"SUM({name}) AS {name}" for name in COMPONENTS)
    return (
        f"SELECT quarter AS quarter, {kind} ELSE 'all' END AS slice_kind, "
        f"{value} ELSE '' END AS slice_value, question_id, grid_row_id, score, {sums} "
        f"FROM {cells} c "
        f"GROUP BY GROUPING SETS ({', '.join(sets)}) HAVING {' AND '.join(member)}"
    )


def _upsert(table: str, key: Sequence[str], select: str, *, add: Sequence[str]) -> str:
    """Insert the selected rows (key + COMPONENTS), adding the `add` components to rows that
    exist. Rows are sorted, so two workers touching the same rows lock them in the same
    order; SQLite needs a WHERE in an INSERT ... SELECT that has an ON CONFLICT clause."""
    columns = ", ".join((*key, *COMPONENTS))
    updates = ", ".join(f"{name} = {table}.{name} + EXCLUDED.{name}" for name in add)
    return (
        f"INSERT INTO {table} ({columns}) SELECT {columns} FROM ({select}) x WHERE 1 = 1 "
        f"ORDER BY {', '.join(key)} ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    )


def _lock(shared: bool) -> None:
    """Serialise rebuilds against incremental updates (PostgreSQL; SQLite has one writer)."""
    if connection.vendor == "postgresql":
        function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {function}(%s)", [ROLLUP_LOCK])


def _frozen() -> set[str]:
    return set(FrozenQuarter.objects.values_list("quarter", flat=True))


def _clock_params(at: datetime | None) -> dict[str, Any]:
    """The repurchase moments as parameters; no clock yet means no window has closed."""
    adapt = connection.ops.adapt_datetimefield_value
    if at is None:
        return {"closed_by": None, "as_of": None}
    return {"closed_by": adapt(at - window()), "as_of": adapt(at)}


def repurchase_clock() -> datetime | None:
    return RollupClock.objects.filter(name=REPURCHASE_CLOCK).values_list("at", flat=True).first()


# ---------------------------------------------------------------- incremental path

RESPONDENT_SQL = (
    "SELECT r.quarter AS quarter, r.customer_id AS customer_id, {sign} AS responses "
    "FROM surveys_response r WHERE r.id = {response} AND r.customer_id IS NOT NULL"
)


def _apply_statements(stage: str, respondent: str) -> list[str]:
    cells = f"({stage})"
    return [
        _upsert("metrics_answercell", CELL_KEY, stage, add=COMPONENTS),
        _upsert("metrics_answerslice", SLICE_KEY, slices_sql(cells), add=COMPONENTS),
        "INSERT INTO metrics_respondentquarter (quarter, customer_id, responses) "
        f"SELECT quarter, customer_id, responses FROM ({respondent}) x WHERE 1 = 1 "
        "ON CONFLICT (quarter, customer_id) DO UPDATE "
        "SET responses = metrics_respondentquarter.responses + EXCLUDED.responses",
    ]


# One statement, one round trip: the compare-and-swap and every upsert. `flip` changes the
# flag only when it disagrees with the counting rule (and the quarter is not frozen); the
# sign of the change is +1 when the response now counts. Data-modifying CTEs all run.
# The compare-and-swap and every upsert in one statement, prepared once per connection ($1:
# the response id, $2: when its reach figures are due, or NULL). `flip` changes the flag only
# when it disagrees with the counting rule (and the quarter is not frozen); the sign of the
# change is +1 when the response now counts. Data-modifying CTEs all run.
POSTGRES_APPLY_SQL = """
WITH flip AS (
    UPDATE surveys_response r SET in_rollup = NOT r.in_rollup
    WHERE r.id = $1 AND r.quarter <> ''
      AND r.in_rollup <> (r.status = 'complete' AND NOT r.is_test AND NOT r.is_spam)
      AND NOT EXISTS (SELECT 1 FROM metrics_frozenquarter f WHERE f.quarter = r.quarter)
    RETURNING r.id, CASE WHEN r.in_rollup THEN 1 ELSE -1 END AS sign
), clock AS (
    SELECT MAX(at) AS at FROM metrics_rollupclock WHERE name = '{clock}'
), stage AS (
    {stage}
), cells AS (
    {cells}
), slices AS (
    {slices}
), respondent AS (
    {respondent}
), dirty AS (
    INSERT INTO metrics_dirtyperiod (period, family, due_at)
    SELECT DISTINCT q.quarter, 'reach', $2 FROM (
        SELECT r.quarter FROM surveys_response r WHERE r.id = $1
        UNION ALL
        SELECT i.quarter FROM surveys_invitation i
        JOIN surveys_response r ON r.invitation_id = i.id WHERE r.id = $1
    ) q WHERE q.quarter <> '' AND $2 IS NOT NULL
    ON CONFLICT (period, family) WHERE claimed_at IS NULL DO NOTHING RETURNING 1
)
SELECT (SELECT COUNT(*) FROM flip)
"""
PREPARED_APPLY = "metrics_apply_response"


def _postgres_apply_sql() -> str:
    stage = STAGE_SQL.format(
        sign="(SELECT sign FROM flip)",
        closed_by=f"COALESCE((SELECT at FROM clock) - interval '{window().total_seconds()} "
        "seconds', '-infinity'::timestamptz)",
        as_of="(SELECT at FROM clock)",
        where="r.id IN (SELECT id FROM flip)",
    )
    respondent = RESPONDENT_SQL.format(
        sign="(SELECT sign FROM flip)", response="(SELECT id FROM flip)"
    )
    cells, slices, respondents = _apply_statements("SELECT * FROM stage", respondent)
    return POSTGRES_APPLY_SQL.format(
        clock=REPURCHASE_CLOCK,
        stage=stage,
        cells=cells + " RETURNING 1",
        slices=slices.replace("FROM (SELECT * FROM stage) c", "FROM stage c") + " RETURNING 1",
        respondent=respondents + " RETURNING 1",
    )


def _prepared_apply(cursor: Any) -> str:
    """The statement that runs the prepared update, preparing it on this connection first
    (a prepared statement lives as long as its session: one planning per connection)."""
    raw = connection.connection
    if getattr(connection, "_metrics_prepared_on", None) is not raw:
        cursor.execute(f"PREPARE {PREPARED_APPLY} (bigint, timestamptz) AS {_postgres_apply_sql()}")
        connection._metrics_prepared_on = raw  # type: ignore[attr-defined]
    # Rollups are derived data, and the flag flips in the same transaction as the sums: a
    # crash loses both or neither. The outbox marks the event done only in a later, durable
    # commit, which also flushes this one (synchronous_commit off). Inside a caller's
    # transaction, which may hold writes that must be durable, commits stay synchronous.
    relaxed = "" if connection.in_atomic_block else "SET LOCAL synchronous_commit = off; "
    return (
        f"SELECT pg_advisory_xact_lock_shared({ROLLUP_LOCK}); {relaxed}"
        f"EXECUTE {PREPARED_APPLY} (%(response)s, %(due)s)"
    )


def answers_apply_response(response_id: int, reach_due: datetime | None = None) -> bool:
    """Add a counted response to the rollups, or take away one that stopped counting; with
    `reach_due`, also mark the reach figures of its quarter and of its invitation's send
    quarter dirty (due then).

    Returns True when the rollups changed. Idempotent: the compare-and-swap on in_rollup lets
    only one application through.
    """
    if connection.vendor == "postgresql":
        # One round trip: outside a transaction PostgreSQL runs the statements of one query
        # string as one implicit transaction (the lock is held until it ends).
        with connection.cursor() as cursor:
            cursor.execute(_prepared_apply(cursor), {"response": response_id, "due": reach_due})
            return bool(cursor.fetchone()[0])
    changed = _apply_portable(response_id)
    if reach_due is not None:
        row = Response.objects.filter(pk=response_id).values("quarter", "invitation__quarter")
        found = row.first()
        if found is not None:
            from metrics.models import DirtyPeriod

            DirtyPeriod.objects.bulk_create(
                [
                    DirtyPeriod(period=quarter, family="reach", due_at=reach_due)
                    for quarter in {found["quarter"], found["invitation__quarter"] or ""}
                    if quarter
                ],
                ignore_conflicts=True,
            )
    return changed


def _apply_portable(response_id: int) -> bool:
    """The same change as the PostgreSQL statement, one statement at a time (SQLite)."""
    with transaction.atomic():
        response = Response.objects.filter(pk=response_id).values("quarter").first()
        if response is None or not response["quarter"] or response["quarter"] in _frozen():
            return False
        counted = Response.objects.filter(Response.counted_q(), pk=response_id).exists()
        flipped = Response.objects.filter(pk=response_id, in_rollup=not counted).update(
            in_rollup=counted
        )
        if not flipped:
            return False
        sign = "1" if counted else "-1"
        clock = _clock_params(repurchase_clock())
        stage = STAGE_SQL.format(
            sign=sign,
            closed_by="%(closed_by)s" if clock["closed_by"] else "'0001-01-01'",
            as_of="%(as_of)s" if clock["as_of"] else "NULL",
            where="r.id = %(response)s",
        )
        respondent = RESPONDENT_SQL.format(sign=sign, response="%(response)s")
        params = {**clock, "response": response_id}
        with connection.cursor() as cursor:
            for statement in _apply_statements(stage, respondent):
                cursor.execute(statement, params)
        return True


# ---------------------------------------------------------------- full path


def _scope_sql(
    column: str, quarters: Sequence[str] | None, frozen: set[str]
) -> tuple[str, dict[str, str]]:
    """A condition on the quarter column and its named parameters."""
    where, params = ["1 = 1"], {}
    for name, labels, operator in (("scope", quarters, "IN"), ("frozen", frozen, "NOT IN")):
        if labels is None or (name == "frozen" and not labels):
            continue
        marks = {f"{name}{index}": label for index, label in enumerate(sorted(labels))}
        params.update(marks)
        where.append(f"{column} {operator} ({', '.join(f'%({m})s' for m in marks) or 'NULL'})")
    return " AND ".join(where), params


def _stage(where: str) -> str:
    return STAGE_SQL.format(sign="1", closed_by="%(closed_by)s", as_of="%(as_of)s", where=where)


def answers_rebuild(
    quarters: Sequence[str] | None = None,
    include_frozen: bool = False,
    as_of: datetime | None = None,
) -> None:
    """Rebuild the answer rollups of the given quarters (None: every quarter) from source,
    with the repurchase state as of `as_of` (now), which the clock then shows.

    On PostgreSQL, outside a caller's transaction, the answers are grouped by several
    connections at once (_rebuild_in_parallel); otherwise in one transaction."""
    as_of = as_of or timezone.now()
    if (
        connection.vendor == "postgresql"
        and not connection.in_atomic_block
        and settings.METRICS_REBUILD_CONNECTIONS > 1
    ):
        _rebuild_in_parallel(quarters, include_frozen, as_of)
        return
    with transaction.atomic():
        _lock(shared=False)
        frozen, previous, state_at = _rebuild_start(quarters, include_frozen, as_of)
        with connection.cursor() as cursor:
            _rebuild_settings(cursor, local=True)
            _rebuild_tables(cursor, quarters, frozen, state_at, None, None)
        _rebuild_clock(quarters, frozen, previous, as_of)


def _rebuild_start(
    quarters: Sequence[str] | None, include_frozen: bool, as_of: datetime
) -> tuple[set[str], datetime | None, datetime]:
    """Bring every flag in line with the counting rule: responses whose incremental update
    has not run yet are included here, and their update will then find nothing to do. Only
    mismatched rows are touched (partial indexes cover both sides). Returns the frozen
    quarters, the repurchase clock and the moment the repurchase state is computed as of."""
    frozen = set() if include_frozen else _frozen()
    scope = Q(quarter__in=quarters) if quarters is not None else Q()
    scope &= ~Q(quarter__in=frozen)
    counted = Response.counted_q()
    flipped = Response.objects.filter(scope, ~counted, in_rollup=True).update(in_rollup=False)
    flipped += Response.objects.filter(scope, counted, in_rollup=False).update(in_rollup=True)
    if connection.vendor == "postgresql" and flipped > 1000:
        # Statistics taken before a mass flip would tell the planner that hardly any
        # response is in the rollup, and it would pick nested loops.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE surveys_response")
    previous = repurchase_clock()
    state_at = as_of if quarters is None or previous is None else max(as_of, previous)
    return frozen, previous, state_at


def _rebuild_settings(cursor: Any, *, local: bool) -> None:
    """Big hashes: the responses joined to their answers, and the cells. With less memory
    both spill to disk in batches (at 10M responses: 1 GB keeps the join in one batch; a
    quarter's grouped scan takes 15 s instead of 22 s at 256 MB). No JIT compilation
    (measured: no gain)."""
    if connection.vendor != "postgresql":
        return
    scope = "LOCAL " if local else ""
    cursor.execute(f"SET {scope}work_mem = '1GB'")
    cursor.execute(f"SET {scope}jit = off")


def _rebuild_clock(
    quarters: Sequence[str] | None, frozen: set[str], previous: datetime | None, as_of: datetime
) -> None:
    if quarters is None or previous is None:
        RollupClock.objects.update_or_create(name=REPURCHASE_CLOCK, defaults={"at": as_of})
    elif previous < as_of:
        # Only some quarters were rebuilt as of now: bring the others to the same moment.
        _close_windows(previous, as_of, exclude=set(quarters) | frozen)
        RollupClock.objects.filter(name=REPURCHASE_CLOCK).update(at=as_of)


FRESH_TABLE = "metrics_rebuild_fresh"
FRESH_RESPONDENTS_TABLE = "metrics_rebuild_fresh_respondents"
# The identified customers with a counted response, per quarter.
RESPONDENTS_SQL = (
    "SELECT r.quarter AS quarter, r.customer_id AS customer_id, COUNT(*) AS responses "
    "FROM surveys_response r WHERE r.status = 'complete' AND NOT r.is_test "
    "AND NOT r.is_spam AND r.customer_id IS NOT NULL AND {where} "
    "GROUP BY r.customer_id, r.quarter"
)
REBUILD_RANGES = 3  # id ranges grouped one after the other by the one-transaction rebuild


def _rebuild_in_parallel(
    quarters: Sequence[str] | None, include_frozen: bool, as_of: datetime
) -> None:
    """The rebuild with the answers grouped by several connections side by side.

    PostgreSQL never plans the grouping in parallel by itself (it cannot foresee that 30
    million answers fall into a million cells, so a partial aggregation looks useless to it,
    and a parallel join gathering every joined row into one aggregate is slower than one
    process), so the responses are split into id ranges, each grouped by a connection of its
    own into an unlogged table; the cells are then compared with the stored ones and written
    as in the one-transaction rebuild. The flags are committed first, so that the other
    connections read them; the rollup lock is held by this session from before the flags
    change until the cells are written, so no incremental update (which needs it) runs in
    between. A worker dying in between leaves flags ahead of the cells until the task runs
    again (acks late): the next rebuild computes the cells from the flags."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [ROLLUP_LOCK])
    try:
        with transaction.atomic():
            frozen, previous, state_at = _rebuild_start(quarters, include_frozen, as_of)
        where, params = _scope_sql("r.quarter", quarters, frozen)
        params.update(_clock_params(state_at))
        params["true"] = True
        columns = ", ".join((*CELL_KEY, *COMPONENTS))
        with connection.cursor() as cursor:
            for table, source in (
                (FRESH_TABLE, f"SELECT {columns} FROM metrics_answercell"),
                (FRESH_RESPONDENTS_TABLE, "SELECT quarter, customer_id, responses "
                 "FROM metrics_respondentquarter"),
            ):  # fmt: skip
                cursor.execute(f"DROP TABLE IF EXISTS {table}")
                cursor.execute(f"CREATE UNLOGGED TABLE {table} AS {source} WITH NO DATA")
            count = settings.METRICS_REBUILD_CONNECTIONS
            ranges = _id_ranges(cursor, count)
        if ranges:
            statements = [
                f"INSERT INTO {FRESH_TABLE} ({columns}) "
                + _stage(f"{_range_sql(start, end)} AND r.in_rollup = %(true)s AND {where}")
                for start, end in ranges
            ] + [
                f"INSERT INTO {FRESH_RESPONDENTS_TABLE} (quarter, customer_id, responses) "
                + RESPONDENTS_SQL.format(where=f"{_ids_in('r.id', start, end)} AND {where}")
                for start, end in ranges
            ]
            with ThreadPoolExecutor(max_workers=count) as pool:
                # Each thread has a connection of its own; list() raises the first error.
                list(
                    pool.map(lambda sql: on_own_connection(_run_grouping, sql, params), statements)
                )
        with transaction.atomic(), connection.cursor() as cursor:
            _rebuild_settings(cursor, local=True)
            _rebuild_tables(
                cursor, quarters, frozen, state_at, FRESH_TABLE, FRESH_RESPONDENTS_TABLE
            )
            _rebuild_clock(quarters, frozen, previous, as_of)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {FRESH_TABLE}, {FRESH_RESPONDENTS_TABLE}")
            cursor.execute("SELECT pg_advisory_unlock(%s)", [ROLLUP_LOCK])


def _ids_in(column: str, start: int, end: int) -> str:
    """start < column <= end."""
    return f"{column} > {int(start)} AND {column} <= {int(end)}"


def _range_sql(start: int, end: int) -> str:
    """Responses with start < id <= end, and their answers (both read through their id
    indexes: ids follow the order of insertion, as do the rows)."""
    return f"{_ids_in('r.id', start, end)} AND {_ids_in('a.response_id', start, end)}"


def _id_ranges(cursor: Any, count: int) -> list[tuple[int, int]]:
    """The responses' ids split into `count` ranges (start, end]; none without responses."""
    cursor.execute("SELECT MIN(id), MAX(id) FROM surveys_response")
    low, high = cursor.fetchone()
    if low is None:
        return []
    bounds = [low - 1 + (high - low + 1) * index // count for index in range(count + 1)]
    return list(itertools.pairwise(bounds))


def on_own_connection(function: Callable[..., Any], *args: Any) -> Any:
    """Call `function` in a worker thread, which gets a database connection of its own, and
    close that connection afterwards (it would otherwise outlive the thread)."""
    try:
        return function(*args)
    finally:
        connection.close()


def _run_grouping(sql: str, params: dict[str, Any]) -> None:
    """One range's grouping statement with the rebuild's session settings; a hash aggregate,
    not a sort (see _rebuild_tables)."""
    with connection.cursor() as cursor:
        _rebuild_settings(cursor, local=False)
        cursor.execute("SET enable_sort = off")
        cursor.execute(sql, params)


DELTA_TABLE = "metrics_rebuild_delta"
SLICE_DELTA_TABLE = "metrics_rebuild_slice_delta"


def _rebuild_tables(
    cursor: Any,
    quarters: Sequence[str] | None,
    frozen: set[str],
    state_at: datetime,
    fresh: str | None,
    fresh_respondents: str | None,
) -> None:
    """Compute the cells and respondents of the scope afresh, then write only what differs
    from the stored rows: the nightly rebuild of a settled rollup rewrites nothing.

    The cells cost one grouped scan of the answers: the stored cells of the scope are
    subtracted within the same aggregate, which leaves only the differences. The slices are
    projections of the cells that both paths keep in step (the incremental update and the
    window closing write a cell and its slices in one transaction), so the differences of the
    cells, projected, are the differences of the slices: a projection of a few rows instead of
    all the cells. `fresh` and `fresh_respondents` name tables holding the fresh cells and
    respondents (grouped by range: a row may come once per range); without them they are
    grouped here."""
    where, params = _scope_sql("quarter", quarters, frozen)
    response_where, _same = _scope_sql("r.quarter", quarters, frozen)
    params.update(_clock_params(state_at))
    params["true"] = True
    postgresql = connection.vendor == "postgresql"
    if postgresql:
        # Sorting tens of millions of joined rows on ten keys to group them costs several
        # times a hash aggregate (EXPLAIN ANALYZE at 1M responses: 35 s against 13 s).
        cursor.execute("SET LOCAL enable_sort = off")
    cells = fresh or _fresh_cells(cursor, f"r.in_rollup = %(true)s AND {response_where}", params)
    _sync(
        cursor,
        "metrics_answercell",
        CELL_KEY,
        COMPONENTS,
        cells,
        where,
        params,
        keep_delta=True,
    )
    if postgresql:
        cursor.execute("SET LOCAL enable_sort = on")
    project = grouping_slices_sql if postgresql else slices_sql
    changed = " OR ".join(f"{name} <> 0" for name in COMPONENTS)
    cursor.execute(f"DROP TABLE IF EXISTS {SLICE_DELTA_TABLE}")
    cursor.execute(
        f"CREATE TEMPORARY TABLE {SLICE_DELTA_TABLE} AS SELECT * FROM "
        f"({project(DELTA_TABLE)}) p WHERE {changed}"
    )
    cursor.execute(f"DROP TABLE {DELTA_TABLE}")
    cursor.execute(
        _upsert("metrics_answerslice", SLICE_KEY, f"SELECT * FROM {SLICE_DELTA_TABLE}",
                add=COMPONENTS)
    )  # fmt: skip
    analyze_after(cursor, "metrics_answerslice", max(cursor.rowcount, 0))
    cursor.execute(f"DROP TABLE {SLICE_DELTA_TABLE}")
    # Slices emptied by the differences, or by an incremental update taking a response away.
    empty = " AND ".join(f"{name} = 0" for name in COMPONENTS)
    cursor.execute(f"DELETE FROM metrics_answerslice WHERE {where} AND {empty}", params)
    respondents = fresh_respondents or f"({RESPONDENTS_SQL.format(where=response_where)})"
    _sync(
        cursor,
        "metrics_respondentquarter",
        ("quarter", "customer_id"),
        ("responses",),
        respondents,
        where,
        params,
    )


def _fresh_cells(cursor: Any, where: str, params: dict[str, Any]) -> str:
    """The answers grouped into cells, as a relation for _sync (the rebuild in one
    transaction: inside a caller's transaction, or on SQLite).

    On PostgreSQL the responses are split into id ranges grouped one after the other: each
    range joins its answers to its responses by a merge of their id indexes and groups a
    third of the cells, where a single grouping hashes all the responses first (measured at
    10M responses: 52 s against 65-126 s). A cell met in several ranges comes out once per
    range; _sync adds them up."""
    ranges = _id_ranges(cursor, REBUILD_RANGES) if connection.vendor == "postgresql" else []
    if not ranges:
        return f"({_stage(where)})"
    parts = [_stage(f"{_range_sql(start, end)} AND {where}") for start, end in ranges]
    return "(" + " UNION ALL ".join(parts) + ")"


ANALYZE_AFTER_ROWS = 10_000


def analyze_after(cursor: Any, table: str, changed: int) -> None:
    """Refresh the planner's statistics of a rollup table after a large write (a first
    build, a recompute that changed much): a dashboard read planned with the statistics of an
    empty table filters thousands of cells through the wrong index (measured at 10M
    responses: a combination read 10.3 ms, 8.3 ms after ANALYZE). Autovacuum would, later,
    where it runs."""
    if connection.vendor == "postgresql" and changed >= ANALYZE_AFTER_ROWS:
        cursor.execute(f"ANALYZE {table}")


def _sync(
    cursor: Any,
    table: str,
    key: Sequence[str],
    components: Sequence[str],
    fresh: str,
    where: str,
    params: dict[str, Any],
    *,
    keep_delta: bool = False,
) -> None:
    """Make the rows of `table` within `where` equal to the fresh relation's.

    One aggregate over the fresh rows and the stored ones (negated) gives, per key, the
    difference and whether a fresh row exists; only the keys that differ, or that have no
    fresh row (to delete, including stored rows already emptied), are kept: DELTA_TABLE (left
    in place with `keep_delta`, its components the differences). The differences are added
    to the stored rows, and the rows without a fresh one deleted."""
    keys = ", ".join(key)
    # Integer inputs: a sum of bigints would accumulate in numeric, several times slower.
    differences = ", ".join(f"SUM(CAST({name} AS INTEGER)) AS {name}" for name in components)
    fresh_columns = ", ".join(components)
    stored = ", ".join(f"-{name}" for name in components)
    changed = " OR ".join(f"SUM(CAST({name} AS INTEGER)) <> 0" for name in components)
    # An unlogged table (PostgreSQL) can be filled by a parallel plan; a temporary one cannot.
    kind = "UNLOGGED" if connection.vendor == "postgresql" else "TEMPORARY"
    cursor.execute(f"DROP TABLE IF EXISTS {DELTA_TABLE}")
    cursor.execute(
        f"CREATE {kind} TABLE {DELTA_TABLE} AS SELECT {keys}, {differences}, "
        f"SUM(fresh) AS fresh FROM ("
        f"SELECT {keys}, {fresh_columns}, 1 AS fresh FROM {fresh} f "
        f"UNION ALL SELECT {keys}, {stored}, 0 AS fresh FROM {table} WHERE {where}"
        f") d GROUP BY {keys} HAVING {changed} OR SUM(fresh) = 0",
        params,
    )
    columns = ", ".join((*key, *components))
    updates = ", ".join(f"{name} = {table}.{name} + EXCLUDED.{name}" for name in components)
    cursor.execute(
        f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {DELTA_TABLE} WHERE fresh > 0 "
        f"ORDER BY {keys} ON CONFLICT ({keys}) DO UPDATE SET {updates}"
    )
    written = max(cursor.rowcount, 0)
    cursor.execute(
        f"DELETE FROM {table} WHERE ({keys}) IN (SELECT {keys} FROM {DELTA_TABLE} WHERE fresh = 0)"
    )
    analyze_after(cursor, table, written + max(cursor.rowcount, 0))
    if not keep_delta:
        cursor.execute(f"DROP TABLE {DELTA_TABLE}")


# ---------------------------------------------------------------- windows closing


def answers_close_windows(now: datetime | None = None) -> bool:
    """Move the repurchase clock to now: answers whose window closed since the last move go
    from open to closed (and bought, when the customer bought in the window). Idempotent: a
    second call at the same moment finds nothing to move. Returns whether the clock moved."""
    now = now or timezone.now()
    with transaction.atomic():
        _lock(shared=False)
        previous = (
            RollupClock.objects.select_for_update()
            .filter(name=REPURCHASE_CLOCK)
            .values_list("at", flat=True)
            .first()
        )
        if previous is not None and previous >= now:
            return False
        _close_windows(previous, now, exclude=set())
        RollupClock.objects.update_or_create(name=REPURCHASE_CLOCK, defaults={"at": now})
        return True


def _close_windows(previous: datetime | None, now: datetime, exclude: set[str]) -> None:
    """Move the answers of responses whose window closed in (previous, now]."""
    adapt = connection.ops.adapt_datetimefield_value
    where = "r.in_rollup = %(true)s AND r.customer_id IS NOT NULL AND r.submitted_at <= %(to)s"
    params: dict[str, Any] = {"true": True, "to": adapt(now - window()), "as_of": adapt(now)}
    if previous is not None:
        where += " AND r.submitted_at > %(from)s"
        params["from"] = adapt(previous - window())
    if exclude:
        scope, scope_params = _scope_sql("r.quarter", None, exclude)
        where += f" AND {scope}"
        params.update(scope_params)
    cells = STAGE_SQL.format(sign="1", closed_by="%(to)s", as_of="%(as_of)s", where=where)
    # The moved answers were open: take them out of "open", into "closed" (and "bought").
    moved = (
        f"SELECT {', '.join(CELL_KEY)}, 0 AS answers, -repurchase_closed AS repurchase_open, "
        f"repurchase_closed, repurchase_bought FROM ({cells}) m"
    )
    with connection.cursor() as cursor:
        cursor.execute(_upsert("metrics_answercell", CELL_KEY, moved, add=COMPONENTS), params)
        cursor.execute(
            _upsert("metrics_answerslice", SLICE_KEY, slices_sql(f"({moved})"), add=COMPONENTS),
            params,
        )


def repurchase_refresh(quarters: Sequence[str]) -> None:
    """Recompute the repurchase state of the answers of these quarters as of the clock (a
    purchase recorded late can turn an answer whose window has closed into a repurchase)."""
    if not quarters:
        return
    with transaction.atomic():
        _lock(shared=False)
        at = repurchase_clock()
        if at is None:
            return  # no window has closed yet: every identified answer is open
        where, params = _scope_sql("quarter", quarters, set())
        response_where, _same = _scope_sql("r.quarter", quarters, set())
        params.update(_clock_params(at))
        zero = ", ".join(f"{name} = 0" for name in REPURCHASE_COMPONENTS)
        stage = _stage(f"r.in_rollup = %(true)s AND {response_where}")
        replace = ", ".join(f"{name} = EXCLUDED.{name}" for name in REPURCHASE_COMPONENTS)
        columns = ", ".join((*CELL_KEY, *COMPONENTS))
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE metrics_answercell SET {zero} WHERE {where}", params)
            cursor.execute(
                f"INSERT INTO metrics_answercell ({columns}) SELECT {columns} FROM ({stage}) x "
                f"WHERE 1 = 1 ON CONFLICT ({', '.join(CELL_KEY)}) DO UPDATE SET {replace}",
                {**params, "true": True},
            )
            cursor.execute(f"DELETE FROM metrics_answerslice WHERE {where}", params)
            project = grouping_slices_sql if connection.vendor == "postgresql" else slices_sql
            cells = f"(SELECT * FROM metrics_answercell WHERE {where})"
            columns = ", ".join((*SLICE_KEY, *COMPONENTS))
            cursor.execute(f"INSERT INTO metrics_answerslice ({columns}) {project(cells)}", params)
