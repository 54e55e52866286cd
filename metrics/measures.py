"""What a question's scores mean: the measures and score tables of metrics.md, applied to the
score counts the rollups keep per question (metrics/answers.py).

A measure is nps, csat, ces, fcr or dim:<dimension code>, on a scale: its components (n, total,
total_sq, count_a, count_b) are what every survey metric's formula needs. count_a counts
promoters (nps), the top two points (csat), easy scores (ces) or yes (fcr); count_b counts
detractors (nps) or the bottom two points (csat). Scales are kept apart, so answers on
different scales are normalised answer by answer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from django.db import connection

from metrics import formulas
from surveys.models import Question

ScoreKey = tuple[int, int, int]  # question id, grid row id (0: none), score
MeasureKey = tuple[str, int, int]  # measure, scale lo, scale hi
TableKey = tuple[str, int, int, int]  # kind (nps, csat, ces, rating), lo, hi, score
Counts = Mapping[str, int]


@dataclass(frozen=True)
class Scored:
    """What the scores of one question (or grid row) feed."""

    measures: tuple[str, ...]  # measure names
    lo: int
    hi: int
    table: str | None  # the score table's kind, None when its scores have none


QUESTION_MAP_SQL = """
SELECT q.id, 0, q.kind, q.role, q.scale_min, q.scale_max, d.code
FROM surveys_question q LEFT JOIN surveys_dimension d ON d.id = q.dimension_id
WHERE q.kind IN ('nps', 'csat', 'ces', 'yes_no')
UNION ALL
SELECT q.id, g.id, q.kind, q.role, q.scale_min, q.scale_max, d.code
FROM surveys_gridrow g JOIN surveys_question q ON q.id = g.question_id
LEFT JOIN surveys_dimension d ON d.id = g.dimension_id
WHERE q.kind = 'rating_grid'
"""


def question_map() -> dict[tuple[int, int], Scored]:
    """(question id, grid row id) -> what its scores feed; dimensions by code (dim:<code>).
    A yes/no answer feeds FCR (when the question has that role) and never a dimension."""
    result: dict[tuple[int, int], Scored] = {}
    with connection.cursor() as cursor:
        cursor.execute(QUESTION_MAP_SQL)
        rows = cursor.fetchall()
    for question, grid_row, kind, role, scale_min, scale_max, dimension in rows:
        if kind == "yes_no":
            if role == Question.Role.FCR:
                result[(question, 0)] = Scored(("fcr",), 0, 1, None)
            continue
        default = Question.DEFAULT_SCALES[kind]
        lo = scale_min if scale_min is not None else default[0]
        hi = scale_max if scale_max is not None else default[1]
        dimensions = (f"dim:{dimension}",) if dimension else ()
        if kind == "rating_grid":
            result[(question, grid_row)] = Scored(dimensions, lo, hi, "rating")
        else:
            result[(question, 0)] = Scored((kind, *dimensions), lo, hi, kind)
    return result


def _ranges(measure: str, lo: int, hi: int) -> tuple[range, range]:
    """The scores counted in count_a and in count_b."""
    if measure == "nps":
        return range(formulas.NPS_PROMOTER_MIN, hi + 1), range(lo, formulas.NPS_DETRACTOR_MAX + 1)
    if measure == "csat":
        return (
            range(formulas.csat_top_two_threshold(lo, hi), hi + 1),
            range(lo, formulas.csat_bottom_two_threshold(lo, hi) + 1),
        )
    if measure == "ces":
        return range(formulas.CES_EASY_MIN, hi + 1), range(0)
    if measure == "fcr":
        return range(1, 2), range(0)
    return range(0), range(0)


def measures_of(
    scores: Mapping[ScoreKey, Counts], questions: Mapping[tuple[int, int], Scored]
) -> dict[MeasureKey, dict[str, int]]:
    """Measure components from score counts."""
    result: dict[MeasureKey, dict[str, int]] = defaultdict(
        lambda: {"n": 0, "total": 0, "total_sq": 0, "count_a": 0, "count_b": 0}
    )
    for (question, grid_row, score), counts in scores.items():
        answers = counts["answers"]
        scored = questions.get((question, grid_row))
        if not answers or scored is None:
            continue
        for measure in scored.measures:
            target = result[(measure, scored.lo, scored.hi)]
            a, b = _ranges(measure, scored.lo, scored.hi)
            target["n"] += answers
            target["total"] += answers * score
            target["total_sq"] += answers * score * score
            target["count_a"] += answers if score in a else 0
            target["count_b"] += answers if score in b else 0
    return {key: value for key, value in result.items() if value["n"]}


def tables_of(
    scores: Mapping[ScoreKey, Counts], questions: Mapping[tuple[int, int], Scored]
) -> dict[TableKey, dict[str, int]]:
    """Score counts (and repurchase states) per scored kind, scale and score."""
    result: dict[TableKey, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (question, grid_row, score), counts in scores.items():
        scored = questions.get((question, grid_row))
        if scored is None or scored.table is None:
            continue
        target = result[(scored.table, scored.lo, scored.hi, score)]
        for name, value in counts.items():
            target[name] += value
    return {key: dict(value) for key, value in result.items()}
