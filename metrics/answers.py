"""The answer rollups: cells and slices of additive components, kept in step with responses.

Incremental path (`answers_apply_response`): a compare-and-swap on `Response.in_rollup`
decides whether the response's contribution must be added (or, once marked test/spam,
taken away); only the worker that flips the flag writes, so applying twice changes nothing.
Full path (`answers_rebuild`): brings every flag in line with the counting rule, then rebuilds
the cells with one grouped scan and the slices from the cells. Both read the same SQL, so
they give the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, transaction
from django.db.models import Q

from metrics import formulas
from metrics.models import FrozenQuarter, SliceKind
from surveys.models import Response

# Both paths hold this lock: incremental updates share it, a rebuild takes it alone.
ROLLUP_LOCK = 0x63736174  # "csat"

CELL_KEY = (
    "quarter",
    "survey_id",
    "channel",
    "touchpoint_id",
    "segment",
    "team_id",
    "agent_id",
    "measure",
    "scale_lo",
    "scale_hi",
)
SLICE_KEY = ("quarter", "slice_kind", "slice_value", "measure", "scale_lo", "scale_hi")
COMPONENTS = ("n", "total", "total_sq", "count_a", "count_b")

# Which cell attribute each slice kind projects, and the value that means "none".
SLICE_SOURCES: dict[str, tuple[str, object]] = {
    SliceKind.SURVEY: ("survey_id", None),
    SliceKind.CHANNEL: ("channel", None),
    SliceKind.TOUCHPOINT: ("touchpoint_id", 0),
    SliceKind.SEGMENT: ("segment", ""),
    SliceKind.TEAM: ("team_id", 0),
    SliceKind.AGENT: ("agent_id", 0),
}

# One row per (question, grid row) and measure it feeds, with the score ranges counted in
# count_a and count_b. A yes/no answer never feeds a dimension (metrics.md).
MEASURE_MAP_SQL = f"""
measure_map (question_id, grid_row_id, measure, lo, hi, a_lo, a_hi, b_lo, b_hi) AS (
    SELECT q.id, 0, q.kind, s.lo, s.hi,
           CASE q.kind WHEN 'nps' THEN {formulas.NPS_PROMOTER_MIN}
                       WHEN 'csat' THEN s.hi - 1 ELSE {formulas.CES_EASY_MIN} END,
           s.hi,
           s.lo,
           CASE q.kind WHEN 'nps' THEN {formulas.NPS_DETRACTOR_MAX}
                       WHEN 'csat' THEN s.lo + 1 ELSE s.lo - 1 END
    FROM surveys_question q JOIN question_scale s ON s.question_id = q.id
    WHERE q.kind IN ('nps', 'csat', 'ces')
  UNION ALL
    SELECT q.id, 0, 'fcr', 0, 1, 1, 1, 0, -1
    FROM surveys_question q WHERE q.kind = 'yes_no' AND q.role = 'fcr'
  UNION ALL
    SELECT q.id, 0, 'dim:' || CAST(q.dimension_id AS TEXT), s.lo, s.hi, 0, -1, 0, -1
    FROM surveys_question q JOIN question_scale s ON s.question_id = q.id
    WHERE q.kind IN ('nps', 'csat', 'ces') AND q.dimension_id IS NOT NULL
  UNION ALL
    SELECT q.id, g.id, 'dim:' || CAST(g.dimension_id AS TEXT), s.lo, s.hi, 0, -1, 0, -1
    FROM surveys_gridrow g
    JOIN surveys_question q ON q.id = g.question_id
    JOIN question_scale s ON s.question_id = q.id
    WHERE q.kind = 'rating_grid' AND g.dimension_id IS NOT NULL
)"""

QUESTION_SCALE_SQL = """
question_scale (question_id, lo, hi) AS (
    SELECT q.id,
           COALESCE(q.scale_min, CASE q.kind WHEN 'nps' THEN 0 ELSE 1 END),
           COALESCE(q.scale_max, CASE q.kind WHEN 'nps' THEN 10 WHEN 'csat' THEN 5
                                             WHEN 'ces' THEN 7 ELSE 5 END)
    FROM surveys_question q
    WHERE q.kind IN ('nps', 'csat', 'ces', 'rating_grid')
)"""

GROUPED_SELECT_SQL = """
SELECT r.quarter, r.survey_id, r.channel, COALESCE(r.touchpoint_id, 0), r.segment,
       COALESCE(r.team_id, 0), COALESCE(r.agent_id, 0), m.measure, m.lo, m.hi,
       COUNT(*), SUM(a.number), SUM(a.number * a.number),
       SUM(CASE WHEN a.number BETWEEN m.a_lo AND m.a_hi THEN 1 ELSE 0 END),
       SUM(CASE WHEN a.number BETWEEN m.b_lo AND m.b_hi THEN 1 ELSE 0 END)
FROM surveys_answer a
JOIN surveys_response r ON r.id = a.response_id
JOIN measure_map m ON m.question_id = a.question_id
                  AND m.grid_row_id = COALESCE(a.grid_row_id, 0)
WHERE a.number IS NOT NULL AND {where}
GROUP BY r.quarter, r.survey_id, r.channel, COALESCE(r.touchpoint_id, 0), r.segment,
         COALESCE(r.team_id, 0), COALESCE(r.agent_id, 0), m.measure, m.lo, m.hi
"""


def _with(sql: str) -> str:
    return f"WITH {QUESTION_SCALE_SQL}, {MEASURE_MAP_SQL}\n{sql}"


def _lock(shared: bool) -> None:
    """Serialise rebuilds against incremental updates (PostgreSQL; SQLite has one writer)."""
    if connection.vendor == "postgresql":
        function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {function}(%s)", [ROLLUP_LOCK])


def _frozen() -> set[str]:
    return set(FrozenQuarter.objects.values_list("quarter", flat=True))


def _upsert(table: str, key: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> None:
    """Add each row's components to its cell, creating the cell when new."""
    # Sorted, so two workers touching the same cells lock them in the same order.
    rows = sorted(rows, key=lambda row: tuple(str(value) for value in row[: len(key)]))
    if not rows:
        return
    columns = (*key, *COMPONENTS)
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    updates = ", ".join(f"{name} = {table}.{name} + EXCLUDED.{name}" for name in COMPONENTS)
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
        + ", ".join([placeholders] * len(rows))
        + f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for row in rows for value in row])


def slice_rows(cell: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """The slice rows one cell row adds to: all, and each attribute it has."""
    values = dict(zip(CELL_KEY, cell, strict=False))
    components = cell[len(CELL_KEY) :]
    measure = (values["measure"], values["scale_lo"], values["scale_hi"])
    rows = [(values["quarter"], SliceKind.ALL.value, "", *measure, *components)]
    for kind, (field, none) in SLICE_SOURCES.items():
        if values[field] != none:
            rows.append((values["quarter"], kind.value, str(values[field]), *measure, *components))
    return rows


def answers_apply_response(response_id: int) -> bool:
    """Add a counted response to the rollups, or take away one that stopped counting.

    Returns True when the rollups changed. Idempotent: the compare-and-swap on in_rollup lets
    only one application through.
    """
    with transaction.atomic():
        _lock(shared=True)
        response = Response.objects.filter(pk=response_id).values("quarter").first()
        if response is None or response["quarter"] in _frozen():
            return False
        counted = Response.objects.filter(Response.counted_q(), pk=response_id).exists()
        flipped = Response.objects.filter(pk=response_id, in_rollup=not counted).update(
            in_rollup=counted
        )
        if not flipped or not response["quarter"]:
            return bool(flipped)
        sign = 1 if counted else -1
        with connection.cursor() as cursor:
            cursor.execute(_with(GROUPED_SELECT_SQL.format(where="r.id = %s")), [response_id])
            cells = [
                (*row[: len(CELL_KEY)], *(sign * int(value) for value in row[len(CELL_KEY) :]))
                for row in cursor.fetchall()
            ]
        _upsert("metrics_answercell", CELL_KEY, cells)
        _upsert("metrics_answerslice", SLICE_KEY, [r for cell in cells for r in slice_rows(cell)])
        return True


def answers_rebuild(quarters: Sequence[str] | None = None, include_frozen: bool = False) -> None:
    """Rebuild the cells and slices of the given quarters (None: every quarter) from source."""
    with transaction.atomic():
        _lock(shared=False)
        frozen = set() if include_frozen else _frozen()
        scope = Q(quarter__in=quarters) if quarters is not None else Q()
        scope &= ~Q(quarter__in=frozen)
        counted = Response.counted_q()
        # Bring every flag in line with the counting rule first: responses whose incremental
        # update has not run yet are included here, and their update will then find nothing
        # to do. Only mismatched rows are touched (partial indexes cover both sides).
        Response.objects.filter(scope, ~counted, in_rollup=True).update(in_rollup=False)
        Response.objects.filter(scope, counted, in_rollup=False).update(in_rollup=True)

        where, params = ["r.in_rollup = %s"], [True]
        cell_where, cell_params = ["1 = 1"], []
        if quarters is not None:
            marks = ", ".join(["%s"] * len(quarters)) or "NULL"
            where.append(f"r.quarter IN ({marks})")
            params.extend(quarters)
            cell_where.append(f"quarter IN ({marks})")
            cell_params.extend(quarters)
        if frozen:
            marks = ", ".join(["%s"] * len(frozen))
            where.append(f"r.quarter NOT IN ({marks})")
            params.extend(sorted(frozen))
            cell_where.append(f"quarter NOT IN ({marks})")
            cell_params.extend(sorted(frozen))
        cell_filter = " AND ".join(cell_where)
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM metrics_answercell WHERE {cell_filter}", cell_params)
            cursor.execute(f"DELETE FROM metrics_answerslice WHERE {cell_filter}", cell_params)
            select = GROUPED_SELECT_SQL.format(where=" AND ".join(where))
            cursor.execute(
                _with(
                    f"INSERT INTO metrics_answercell ({', '.join((*CELL_KEY, *COMPONENTS))})"
                    f"{select}"
                ),
                params,
            )
            sums = ", ".join(f"SUM({name})" for name in COMPONENTS)
            measure = "measure, scale_lo, scale_hi"
            for kind, (field, none) in [(SliceKind.ALL, ("''", None)), *SLICE_SOURCES.items()]:
                value = "''" if kind == SliceKind.ALL else f"CAST({field} AS TEXT)"
                group = "" if kind == SliceKind.ALL else f"{value}, "
                skip = "" if none is None else f" AND {field} <> %s"
                cursor.execute(
                    f"INSERT INTO metrics_answerslice ({', '.join((*SLICE_KEY, *COMPONENTS))}) "
                    f"SELECT quarter, %s, {value}, {measure}, {sums} FROM metrics_answercell "
                    f"WHERE {cell_filter}{skip} GROUP BY quarter, {group}{measure}",
                    [kind.value, *cell_params, *([] if none is None else [none])],
                )
