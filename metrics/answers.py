"""The answer rollups: cells and slices of additive components, kept in step with responses.

Three rollups come from the answers of counted responses, all at the finest grain (quarter x
survey x channel x touchpoint x segment x team x agent) with one-attribute slices beside:
measure components (AnswerCell/AnswerSlice: NPS, CSAT, CES, FCR, dimensions), the score
distribution with the repurchase state of each answer (ScoreCell/ScoreSlice), and the
customers who responded in each quarter (RespondentQuarter, for coverage).

Incremental path (`answers_apply_response`): a compare-and-swap on `Response.in_rollup`
decides whether the response's contribution must be added (or, once marked test/spam,
taken away); only the worker that flips the flag writes, so applying twice changes nothing.
Full path (`answers_rebuild`): brings every flag in line with the counting rule, then groups
the answers once into a staging table at (cell, question, grid row, score, repurchase state)
and derives every rollup from it. Both paths derive the rollups with the same SQL
(`cells_sql`, `scores_sql`, `slices_sql`) from the same staging select, so they give the same
numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from metrics import formulas
from metrics.models import CELL_FIELDS, FrozenQuarter, SliceKind
from surveys.models import Question, Response

# Both paths hold this lock: incremental updates share it, a rebuild takes it alone.
ROLLUP_LOCK = 0x63736174  # "csat"

CELL_KEY = (*CELL_FIELDS, "measure", "scale_lo", "scale_hi")
SLICE_KEY = ("quarter", "slice_kind", "slice_value", "measure", "scale_lo", "scale_hi")
COMPONENTS = ("n", "total", "total_sq", "count_a", "count_b")
SCORE_MEASURE = ("kind", "scale_lo", "scale_hi", "score")
SCORE_COMPONENTS = ("answers", "repurchase_open", "repurchase_closed", "repurchase_bought")
REPURCHASE_COMPONENTS = SCORE_COMPONENTS[1:]
REPURCHASE_KINDS = ("nps", "csat")

# Which cell attribute each slice kind projects, and the value that means "none".
SLICE_SOURCES: dict[str, tuple[str, object]] = {
    SliceKind.SURVEY: ("survey_id", 0),
    SliceKind.CHANNEL: ("channel", ""),
    SliceKind.TOUCHPOINT: ("touchpoint_id", 0),
    SliceKind.SEGMENT: ("segment", ""),
    SliceKind.TEAM: ("team_id", 0),
    SliceKind.AGENT: ("agent_id", 0),
}

# Repurchase state of an answer (metrics.md, "Repurchase rate by score"): 0 anonymous (left
# out), 1 window still open, 2 closed without a purchase in it, 3 closed with one.
STAGE_SQL = """
SELECT r.quarter AS quarter, r.survey_id AS survey_id, r.channel AS channel,
       COALESCE(r.touchpoint_id, 0) AS touchpoint_id, r.segment AS segment,
       COALESCE(r.team_id, 0) AS team_id, COALESCE(r.agent_id, 0) AS agent_id,
       a.question_id AS question_id, COALESCE(a.grid_row_id, 0) AS grid_row_id,
       a.number AS score, {state} AS rstate, COUNT(*) AS answers
FROM surveys_answer a
JOIN surveys_response r ON r.id = a.response_id
WHERE a.number IS NOT NULL AND {where}
GROUP BY r.quarter, r.survey_id, r.channel, COALESCE(r.touchpoint_id, 0), r.segment,
         COALESCE(r.team_id, 0), COALESCE(r.agent_id, 0), a.question_id,
         COALESCE(a.grid_row_id, 0), a.number, {state}
"""
STATE_SQL = (
    "CASE WHEN r.customer_id IS NULL THEN 0 WHEN r.submitted_at > %(open_after)s THEN 1 "
    "WHEN r.next_purchase_at IS NOT NULL AND r.next_purchase_at <= %(as_of)s THEN 3 ELSE 2 END"
)


def _scale_sql(bound: str) -> str:
    """The question's scale bound with the kind's default (Question.DEFAULT_SCALES)."""
    index = 0 if bound == "min" else 1
    whens = " ".join(
        f"WHEN '{kind}' THEN {scale[index]}" for kind, scale in Question.DEFAULT_SCALES.items()
    )
    return f"COALESCE(q.scale_{bound}, CASE q.kind {whens} END)"


def measure_map_sql() -> str:
    """One row per (question, grid row) and measure it feeds, with its scale and the score
    ranges counted in count_a and count_b: the thresholds of metrics/formulas.py written as
    SQL over lo and hi (csat_top_two_threshold is hi - 1, csat_bottom_two_threshold lo + 1;
    tests/metrics/test_rollup_sql.py checks them against the functions). A yes/no answer
    never feeds a dimension."""
    lo, hi = _scale_sql("min"), _scale_sql("max")
    a_lo = (
        f"CASE q.kind WHEN 'nps' THEN {formulas.NPS_PROMOTER_MIN} WHEN 'csat' THEN {hi} - 1 "
        f"ELSE {formulas.CES_EASY_MIN} END"
    )
    b_lo = f"CASE q.kind WHEN 'ces' THEN 0 ELSE {lo} END"
    b_hi = (
        f"CASE q.kind WHEN 'nps' THEN {formulas.NPS_DETRACTOR_MAX} WHEN 'csat' THEN {lo} + 1 "
        "ELSE -1 END"
    )
    scored = "q.kind IN ('nps', 'csat', 'ces')"
    return (
        "SELECT q.id AS question_id, 0 AS grid_row_id, q.kind AS measure, "
        f"{lo} AS lo, {hi} AS hi, {a_lo} AS a_lo, {hi} AS a_hi, {b_lo} AS b_lo, {b_hi} AS b_hi "
        f"FROM surveys_question q WHERE {scored} "
        "UNION ALL "
        f"SELECT q.id, 0, 'dim:' || CAST(q.dimension_id AS TEXT), {lo}, {hi}, 0, -1, 0, -1 "
        f"FROM surveys_question q WHERE {scored} AND q.dimension_id IS NOT NULL "
        "UNION ALL "
        "SELECT q.id, 0, 'fcr', 0, 1, 1, 1, 0, -1 FROM surveys_question q "
        "WHERE q.kind = 'yes_no' AND q.role = 'fcr' "
        "UNION ALL "
        f"SELECT g.question_id, g.id, 'dim:' || CAST(g.dimension_id AS TEXT), {lo}, {hi}, "
        "0, -1, 0, -1 FROM surveys_gridrow g JOIN surveys_question q ON q.id = g.question_id "
        "WHERE q.kind = 'rating_grid' AND g.dimension_id IS NOT NULL"
    )


def score_map_sql() -> str:
    """One row per scored (question, grid row): the kind and scale its scores are counted in."""
    lo, hi = _scale_sql("min"), _scale_sql("max")
    return (
        f"SELECT q.id AS question_id, 0 AS grid_row_id, q.kind AS kind, {lo} AS lo, {hi} AS hi "
        "FROM surveys_question q WHERE q.kind IN ('nps', 'csat', 'ces') "
        f"UNION ALL SELECT g.question_id, g.id, 'rating', {lo}, {hi} "
        "FROM surveys_gridrow g JOIN surveys_question q ON q.id = g.question_id "
        "WHERE q.kind = 'rating_grid'"
    )


def _columns(alias: str, names: Sequence[str]) -> str:
    return ", ".join(f"{alias}.{name}" for name in names)


def cells_sql(stage: str, sign: str = "1") -> str:
    """AnswerCell rows, columns named as the table's (CELL_KEY + COMPONENTS), from a staging
    relation (a table or a parenthesised select with STAGE_SQL's columns)."""
    cells = _columns("s", CELL_FIELDS)
    return (
        f"SELECT {cells}, m.measure AS measure, m.lo AS scale_lo, m.hi AS scale_hi, "
        f"SUM(s.answers) * {sign} AS n, SUM(s.answers * s.score) * {sign} AS total, "
        f"SUM(s.answers * s.score * s.score) * {sign} AS total_sq, "
        f"SUM(CASE WHEN s.score BETWEEN m.a_lo AND m.a_hi THEN s.answers ELSE 0 END) * {sign} "
        "AS count_a, "
        f"SUM(CASE WHEN s.score BETWEEN m.b_lo AND m.b_hi THEN s.answers ELSE 0 END) * {sign} "
        "AS count_b "
        f"FROM {stage} s JOIN ({measure_map_sql()}) m "
        "ON m.question_id = s.question_id AND m.grid_row_id = s.grid_row_id "
        f"GROUP BY {cells}, m.measure, m.lo, m.hi"
    )


def scores_sql(stage: str, sign: str = "1", *, repurchase_only: bool = False) -> str:
    """ScoreCell rows (CELL_FIELDS + SCORE_MEASURE + SCORE_COMPONENTS) from a staging relation."""
    cells = _columns("s", CELL_FIELDS)
    kinds = ", ".join(f"'{kind}'" for kind in REPURCHASE_KINDS)

    def state(condition: str, name: str) -> str:
        return (
            f"SUM(CASE WHEN k.kind IN ({kinds}) AND {condition} THEN s.answers ELSE 0 END) "
            f"* {sign} AS {name}"
        )

    only = f" WHERE k.kind IN ({kinds})" if repurchase_only else ""
    return (
        f"SELECT {cells}, k.kind AS kind, k.lo AS scale_lo, k.hi AS scale_hi, s.score AS score, "
        f"SUM(s.answers) * {sign} AS answers, {state('s.rstate = 1', 'repurchase_open')}, "
        f"{state('s.rstate >= 2', 'repurchase_closed')}, "
        f"{state('s.rstate = 3', 'repurchase_bought')} "
        f"FROM {stage} s JOIN ({score_map_sql()}) k "
        f"ON k.question_id = s.question_id AND k.grid_row_id = s.grid_row_id{only} "
        f"GROUP BY {cells}, k.kind, k.lo, k.hi, s.score"
    )


KINDS_SQL = " UNION ALL ".join(
    f"SELECT '{kind}' AS slice_kind" for kind in [SliceKind.ALL.value, *SLICE_SOURCES]
)


def slices_sql(cells: str, measure: Sequence[str], components: Sequence[str]) -> str:
    """Slice rows (quarter, slice kind, slice value, measure..., components...) projected from
    a cell relation: every cell adds to "all" and to each attribute it has."""
    value = "CASE k.slice_kind WHEN 'all' THEN ''"
    member = ["k.slice_kind = 'all'"]
    for kind, (field, none) in SLICE_SOURCES.items():
        text = f"CAST(c.{field} AS TEXT)" if isinstance(none, int) else f"c.{field}"
        value += f" WHEN '{kind}' THEN {text}"
        member.append(f"(k.slice_kind = '{kind}' AND c.{field} <> {none!r})")
    value += " END"
    keys = _columns("c", measure)
    sums = ", ".join(f"SUM(c.{name}) AS {name}" for name in components)
    return (
        f"SELECT c.quarter AS quarter, k.slice_kind AS slice_kind, {value} AS slice_value, "
        f"{keys}, {sums} FROM {cells} c CROSS JOIN ({KINDS_SQL}) k "
        f"WHERE {' OR '.join(member)} GROUP BY c.quarter, k.slice_kind, {value}, {keys}"
    )


def _upsert(
    table: str,
    key: Sequence[str],
    components: Sequence[str],
    select: str,
    *,
    replace: Sequence[str] = (),
) -> str:
    """Insert the selected rows, adding their components to existing rows (or, for the
    components named in `replace`, replacing only those)."""
    columns = ", ".join((*key, *components))
    updates = ", ".join(
        f"{name} = EXCLUDED.{name}" if replace else f"{name} = {table}.{name} + EXCLUDED.{name}"
        for name in (replace or components)
    )
    # Sorted, so two workers touching the same rows lock them in the same order; SQLite needs
    # a WHERE in an INSERT ... SELECT that has an ON CONFLICT clause.
    return (
        f"INSERT INTO {table} ({columns}) SELECT {columns} FROM ({select}) x WHERE 1 = 1 "
        f"ORDER BY {', '.join(key)} ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    )


def _insert(table: str, columns: Sequence[str], select: str) -> str:
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(columns)} FROM ({select}) x"
    )


ANSWER_CELL = ("metrics_answercell", CELL_KEY, COMPONENTS)
ANSWER_SLICE = ("metrics_answerslice", SLICE_KEY, COMPONENTS)
SCORE_CELL = ("metrics_scorecell", (*CELL_FIELDS, *SCORE_MEASURE), SCORE_COMPONENTS)
SCORE_SLICE = (
    "metrics_scoreslice",
    ("quarter", "slice_kind", "slice_value", *SCORE_MEASURE),
    SCORE_COMPONENTS,
)


def _params(as_of: datetime) -> dict[str, Any]:
    window = timedelta(hours=settings.METRICS_REPURCHASE_WINDOW_HOURS)
    adapt = connection.ops.adapt_datetimefield_value
    return {"as_of": adapt(as_of), "open_after": adapt(as_of - window)}


def _lock(shared: bool) -> None:
    """Serialise rebuilds against incremental updates (PostgreSQL; SQLite has one writer)."""
    if connection.vendor == "postgresql":
        function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {function}(%s)", [ROLLUP_LOCK])


def _frozen() -> set[str]:
    return set(FrozenQuarter.objects.values_list("quarter", flat=True))


def _response_statements(sign: str) -> list[str]:
    """The upserts that add (sign 1) or take away (sign -1) one response's contribution."""
    stage = "(" + STAGE_SQL.format(state=STATE_SQL, where="r.id = %(response)s") + ")"
    cells, scores = cells_sql(stage, sign), scores_sql(stage, sign)
    respondent = (
        f"SELECT r.quarter AS quarter, r.customer_id AS customer_id, {sign} AS responses "
        "FROM surveys_response r WHERE r.id = %(response)s AND r.customer_id IS NOT NULL"
    )
    return [
        _upsert(*ANSWER_CELL, cells),
        _upsert(*ANSWER_SLICE, slices_sql(f"({cells})", CELL_KEY[-3:], COMPONENTS)),
        _upsert(*SCORE_CELL, scores),
        _upsert(*SCORE_SLICE, slices_sql(f"({scores})", SCORE_MEASURE, SCORE_COMPONENTS)),
        _upsert(
            "metrics_respondentquarter", ("quarter", "customer_id"), ("responses",), respondent
        ),
    ]


def answers_apply_response(response_id: int, as_of: datetime | None = None) -> bool:
    """Add a counted response to the rollups, or take away one that stopped counting.

    Returns True when the rollups changed. Idempotent: the compare-and-swap on in_rollup lets
    only one application through.
    """
    as_of = as_of or timezone.now()
    with transaction.atomic():
        _lock(shared=True)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # Rollups are derived data, and the flag flips in the same transaction as the
                # sums: a crash loses both or neither. The outbox marks the event done only in
                # a later, durable commit, which also flushes this one.
                cursor.execute("SET LOCAL synchronous_commit = off")
        response = Response.objects.filter(pk=response_id).values("quarter").first()
        if response is None or FrozenQuarter.objects.filter(quarter=response["quarter"]).exists():
            return False
        counted = Response.objects.filter(Response.counted_q(), pk=response_id).exists()
        flipped = Response.objects.filter(pk=response_id, in_rollup=not counted).update(
            in_rollup=counted
        )
        if not flipped or not response["quarter"]:
            return bool(flipped)
        params = {**_params(as_of), "response": response_id}
        with connection.cursor() as cursor:
            for statement in _response_statements("1" if counted else "-1"):
                cursor.execute(statement, params)
        return True


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


def answers_rebuild(
    quarters: Sequence[str] | None = None,
    include_frozen: bool = False,
    as_of: datetime | None = None,
) -> None:
    """Rebuild the answer rollups of the given quarters (None: every quarter) from source."""
    as_of = as_of or timezone.now()
    with transaction.atomic():
        _lock(shared=False)
        frozen = set() if include_frozen else _frozen()
        scope = Q(quarter__in=quarters) if quarters is not None else Q()
        scope &= ~Q(quarter__in=frozen)
        counted = Response.counted_q()
        # Bring every flag in line with the counting rule first: responses whose incremental
        # update has not run yet are included here, and their update will then find nothing
        # to do. Only mismatched rows are touched (partial indexes cover both sides).
        flipped = Response.objects.filter(scope, ~counted, in_rollup=True).update(in_rollup=False)
        flipped += Response.objects.filter(scope, counted, in_rollup=False).update(in_rollup=True)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                if flipped > 1000:
                    # Statistics taken before a mass flip would tell the planner that hardly
                    # any response is in the rollup, and it would pick nested loops.
                    cursor.execute("ANALYZE surveys_response")
                cursor.execute("SET LOCAL work_mem = '64MB'")
            _rebuild_statements(cursor, quarters, frozen, as_of)


def _stage_select(response_where: str) -> str:
    return STAGE_SQL.format(state=STATE_SQL, where=f"r.in_rollup = %(true)s AND {response_where}")


def _rebuild_statements(
    cursor: Any, quarters: Sequence[str] | None, frozen: set[str], as_of: datetime
) -> None:
    where, scope = _scope_sql("quarter", quarters, frozen)
    response_where, _same = _scope_sql("r.quarter", quarters, frozen)
    params = {**scope, **_params(as_of), "true": True}
    for table in (
        "metrics_answercell",
        "metrics_answerslice",
        "metrics_scorecell",
        "metrics_scoreslice",
        "metrics_respondentquarter",
    ):
        cursor.execute(f"DELETE FROM {table} WHERE {where}", scope)
    cursor.execute("DROP TABLE IF EXISTS metrics_stage")
    cursor.execute(
        f"CREATE TEMPORARY TABLE metrics_stage AS {_stage_select(response_where)}", params
    )
    table, key, components = ANSWER_CELL
    cursor.execute(_insert(table, (*key, *components), cells_sql("metrics_stage")))
    table, key, components = SCORE_CELL
    cursor.execute(_insert(table, (*key, *components), scores_sql("metrics_stage")))
    cursor.execute("DROP TABLE metrics_stage")
    _rebuild_slices(cursor, where, scope)
    cursor.execute(
        "INSERT INTO metrics_respondentquarter (quarter, customer_id, responses) "
        "SELECT r.quarter, r.customer_id, COUNT(*) FROM surveys_response r "
        f"WHERE r.in_rollup = %(true)s AND r.customer_id IS NOT NULL AND {response_where} "
        "GROUP BY r.quarter, r.customer_id",
        params,
    )


def _rebuild_slices(cursor: Any, where: str, scope: dict[str, str], answers: bool = True) -> None:
    """Project the cells in scope into their slices (the slices in scope were deleted)."""
    for cells, slices, measure in (
        (ANSWER_CELL, ANSWER_SLICE, CELL_KEY[-3:]),
        (SCORE_CELL, SCORE_SLICE, SCORE_MEASURE),
    ):
        if cells is ANSWER_CELL and not answers:
            continue
        table, key, components = slices
        source = f"(SELECT * FROM {cells[0]} WHERE {where})"
        cursor.execute(
            _insert(table, (*key, *components), slices_sql(source, measure, components)), scope
        )


def repurchase_refresh(quarters: Sequence[str], as_of: datetime) -> None:
    """Recompute the repurchase state of the answers of these quarters as of a moment: windows
    close as time passes, and a purchase can be recorded late."""
    if not quarters:
        return
    with transaction.atomic():
        _lock(shared=False)
        where, scope = _scope_sql("quarter", quarters, set())
        response_where, _same = _scope_sql("r.quarter", quarters, set())
        params = {**scope, **_params(as_of), "true": True}
        stage = _stage_select(f"r.customer_id IS NOT NULL AND {response_where}")
        zero = ", ".join(f"{name} = 0" for name in REPURCHASE_COMPONENTS)
        table, key, components = SCORE_CELL
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET {zero} WHERE {where}", scope)
            cursor.execute(
                _upsert(
                    table,
                    key,
                    components,
                    scores_sql(f"({stage})", repurchase_only=True),
                    replace=REPURCHASE_COMPONENTS,
                ),
                params,
            )
            cursor.execute(f"DELETE FROM {SCORE_SLICE[0]} WHERE {where}", scope)
            _rebuild_slices(cursor, where, scope, answers=False)
