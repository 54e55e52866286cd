"""Reading the rollups for periods and any combination of filters (metrics/selectors.py).

No filter, or one filter, reads the slices: a few hundred rows per quarter (AnswerSlice,
PeriodRollup). Two filters or more add up the cells that match them all (AnswerCell,
CaseCell, ReachCell), grouped in the database. A year adds its
quarters, except for what cannot be added: distinct customers (coverage, customers per
complaint category) and the median first-response time. For those, a combination of filters
is computed as of the moment the cells were computed, from the rows that are not responses:
interactions joined to the respondents rollup (RespondentQuarter), and the cases. Coverage,
the median and the complaint categories are computed the first time a combination is read
and stored (CombinationRollup), keyed by that moment: a later read of the same combination
reads one row; a recompute of the period's family deletes them (and moves the moment on).
Nothing here reads a response or an answer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Count, Max, Model, QuerySet, Sum

from feedback.models import Case
from metrics import families, formulas
from metrics.models import (
    AnswerCell,
    AnswerSlice,
    CaseCell,
    CombinationRollup,
    PeriodRollup,
    ReachCell,
    SliceKind,
)
from metrics.periods import Period, period_quarters

FILTER_FIELDS = {
    SliceKind.SURVEY.value: "survey_id",
    SliceKind.CHANNEL.value: "channel",
    SliceKind.TOUCHPOINT.value: "touchpoint_id",
    SliceKind.SEGMENT.value: "segment",
    SliceKind.TEAM.value: "team_id",
    SliceKind.AGENT.value: "agent_id",
}
INTEGER_KINDS = frozenset({"survey", "touchpoint", "team", "agent"})
SCORE_COMPONENTS = ("answers", "repurchase_open", "repurchase_closed", "repurchase_bought")

Filters = Mapping[str, str]
Components = dict[str, Any]
# (period label, member of the grouping kind or "") -> what was read
Keyed = dict[tuple[str, str], Any]


def _cell_value(kind: str, value: str) -> int | str:
    return int(value) if kind in INTEGER_KINDS else value


def cell_filter(filters: Filters) -> dict[str, int | str]:
    """The cell columns and values that a combination of filters selects."""
    return {FILTER_FIELDS[kind]: _cell_value(kind, value) for kind, value in filters.items()}


def _uses_slices(filters: Filters, by: str | None) -> tuple[str, str] | None:
    """The slice (kind, value) to read, or None when the cells must be added up."""
    if by is not None:
        return (by, "") if not filters else None
    if not filters:
        return (SliceKind.ALL.value, "")
    if len(filters) == 1:
        ((kind, value),) = filters.items()
        return kind, value
    return None


def _quarter_labels(periods: Sequence[Period]) -> list[str]:
    return sorted({quarter.label for period in periods for quarter in period_quarters(period)})


def _spread(
    periods: Sequence[Period], rows: Iterable[tuple[str, str, Any, dict[str, int]]]
) -> dict[tuple[str, str], dict[Any, dict[str, int]]]:
    """Add quarter rows (quarter, member, key, components) into every asked period holding
    the quarter (a quarter itself, or its year)."""
    owners: dict[str, list[str]] = defaultdict(list)
    for period in periods:
        for quarter in period_quarters(period):
            owners[quarter.label].append(period.label)
    result: dict[tuple[str, str], dict[Any, dict[str, int]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int))
    )
    for quarter, member, key, components in rows:
        for label in owners.get(quarter, ()):
            target = result[(label, member)][key]
            for name, amount in components.items():
                target[name] += amount
    return result


def _grouped(
    model: type[Model],
    quarters: Sequence[str],
    filters: Filters,
    by: str | None,
    keys: Sequence[str],
    components: Sequence[str],
) -> Iterable[tuple[str, str, tuple[Any, ...], dict[str, int]]]:
    """Rows (quarter, member, key, components) from slices or from summed cells."""
    use = _uses_slices(filters, by)
    if use is not None:
        kind, value = use
        rows: QuerySet[Any] = model.objects.filter(quarter__in=quarters, slice_kind=kind)
        if by is None:
            rows = rows.filter(slice_value=value)
        for row in rows.values_list("quarter", "slice_value", *keys, *components):
            member = row[1] if by is not None else ""
            yield (
                row[0],
                member,
                tuple(row[2 : 2 + len(keys)]),
                dict(zip(components, row[2 + len(keys) :], strict=True)),
            )
        return
    group = [FILTER_FIELDS[by]] if by is not None else []
    cells = (
        _cell_model(model)
        .objects.filter(quarter__in=quarters, **cell_filter(filters))
        .exclude(**({group[0]: _none(by)} if by is not None else {}))
        .values("quarter", *group, *keys)
        .annotate(**{f"sum_{name}": Sum(name) for name in components})
        .order_by()
        # Tuples: a combination can add up a few hundred score rows per quarter.
        .values_list("quarter", *group, *keys, *(f"sum_{name}" for name in components))
    )
    first_key = 1 + len(group)
    first_sum = first_key + len(keys)
    for row in cells:
        yield (
            row[0],
            str(row[1]) if group else "",
            row[first_key:first_sum],
            {
                name: int(amount or 0)
                for name, amount in zip(components, row[first_sum:], strict=True)
            },
        )


def _cell_model(model: type[Model]) -> type[Model]:
    return {AnswerSlice: AnswerCell}[model]


def _none(kind: str | None) -> int | str:
    return 0 if kind in INTEGER_KINDS else ""


def answer_scores(
    periods: Sequence[Period], filters: Filters, by: str | None = None
) -> dict[tuple[str, str], dict[tuple[int, int, int], dict[str, int]]]:
    """Score counts per (period, member): {(question id, grid row id, score): components}."""
    rows = _grouped(
        AnswerSlice,
        _quarter_labels(periods),
        filters,
        by,
        ("question_id", "grid_row_id", "score"),
        SCORE_COMPONENTS,
    )
    return {
        key: {score: dict(counts) for score, counts in scores.items()}
        for key, scores in _spread(periods, rows).items()
    }


# ---------------------------------------------------------------- period families


CASE_ADDITIVE = (*families.CASE_COMPONENTS, "first_response_count")
REACH_ADDITIVE = ("delivered", "delivered_answered", "interactions")


def period_families(
    periods: Sequence[Period], names: Sequence[str], filters: Filters, by: str | None = None
) -> dict[str, dict[tuple[str, str], Components]]:
    """Several families' components per (period, member): one query for the slices."""
    use = _uses_slices(filters, by)
    if use is None:
        return _combined_families(periods, names, filters, by)
    kind, value = use
    rows = PeriodRollup.objects.filter(
        period__in=[period.label for period in periods], family__in=names, slice_kind=kind
    )
    if by is None:
        rows = rows.filter(slice_value=value)
    result: dict[str, dict[tuple[str, str], Components]] = {name: {} for name in names}
    for family, period, member, components in rows.values_list(
        "family", "period", "slice_value", "components"
    ):
        result[family][(period, member if by is not None else "")] = components
    return result


def period_rollups(
    periods: Sequence[Period], family: str, filters: Filters, by: str | None = None
) -> dict[tuple[str, str], Components]:
    """A family's components per (period, member)."""
    return period_families(periods, [family], filters, by)[family]


def _combined_families(
    periods: Sequence[Period], names: Sequence[str], filters: Filters, by: str | None
) -> dict[str, dict[tuple[str, str], Components]]:
    """Families summed from their cells for a combination of filters (or per member of
    `by`), with their non-additive figures (coverage, the first-response median, categories):
    stored ones read for every family in one query, the others computed and stored."""
    results: dict[str, dict[tuple[str, str], Components]] = {}
    wanted: dict[str, dict[tuple[str, str], tuple[datetime, Filters]]] = {}
    for family in names:
        if family == PeriodRollup.Family.CATEGORIES:
            results[family], wanted[family] = {}, _categories_wanted(periods, filters)
        else:
            results[family], wanted[family] = _cell_family(periods, family, filters, by)
    figures = combinations_figures(periods, wanted)
    for family, result in results.items():
        if family == PeriodRollup.Family.CATEGORIES:
            result.update(figures[family])
            continue
        for key, components in result.items():
            components.update(figures[family][key])
    return results


def _cell_family(
    periods: Sequence[Period], family: str, filters: Filters, by: str | None
) -> tuple[dict[tuple[str, str], Components], dict[tuple[str, str], tuple[datetime, Filters]]]:
    """A case or reach family's additive components per (period, member) from its cells, and
    the non-additive figures it needs: (the as-of moment of the cells, the filters)."""
    model: type[CaseCell] | type[ReachCell] = (
        CaseCell if family == PeriodRollup.Family.CASES else ReachCell
    )
    additive = CASE_ADDITIVE if model is CaseCell else REACH_ADDITIVE
    group = [FILTER_FIELDS[by]] if by is not None else []
    # Case cells have no survey (0): saying so lets the cell key's index narrow by the
    # channel that follows it (a survey filter never reaches the case figures).
    criteria = cell_filter(filters)
    if model is CaseCell:
        criteria.setdefault("survey_id", 0)
    cells = (
        model.objects.filter(quarter__in=_quarter_labels(periods), **criteria)
        .exclude(**({group[0]: _none(by)} if by is not None else {}))
        .values("quarter", *group)
        .annotate(as_of_max=Max("as_of"), **{name: Sum(name) for name in additive})
        .order_by()
    )
    rows, as_of = [], {}
    for row in cells:
        member = str(row[group[0]]) if group else ""
        rows.append((row["quarter"], member, "", {name: int(row[name] or 0) for name in additive}))
        as_of[row["quarter"]] = max(row["as_of_max"], as_of.get(row["quarter"], row["as_of_max"]))
    result: dict[tuple[str, str], Components] = {
        key: dict(values[""]) for key, values in _spread(periods, rows).items()
    }
    wanted: dict[tuple[str, str], tuple[datetime, Filters]] = {}
    for label, member in result:
        narrowed = dict(filters)
        if by is not None:
            narrowed[by] = member
        wanted[(label, member)] = (_period_as_of(label, periods, as_of), narrowed)
    return result, wanted


# The filters each non-additive figure depends on: cases have no survey, interactions
# neither survey nor channel (metrics.md, "Slices").
COMBINATION_KINDS = {
    PeriodRollup.Family.CASES: frozenset(families.CASE_SLICES),
    PeriodRollup.Family.CATEGORIES: frozenset(families.CASE_SLICES),
    PeriodRollup.Family.REACH: frozenset(families.COMMON_SLICES),
}


def combination_key(family: str, filters: Filters) -> str:
    """The stored key of a combination for a family: the filters it depends on, sorted."""
    kinds = COMBINATION_KINDS[family]
    return "&".join(
        f"{kind}={_cell_value(kind, value)}"
        for kind, value in sorted(filters.items())
        if kind in kinds
    )


def combination_compute(
    family: str, label: str, periods: Sequence[Period], filters: Filters, as_of: datetime
) -> Components:
    """Coverage (reach), the median first-response time (cases) or the complaints and
    customers per category (categories) of a combination, computed from the interactions or
    the cases as of the moment of the cells."""
    if family == PeriodRollup.Family.CASES:
        return _median_from_cases(label, periods, filters, as_of)
    if family == PeriodRollup.Family.CATEGORIES:
        return _categories_from_cases(label, periods, filters, as_of)
    return _coverage_from_interactions(label, periods, filters, as_of)


def combinations_figures(
    periods: Sequence[Period],
    wanted: Mapping[str, Mapping[tuple[str, str], tuple[datetime, Filters]]],
) -> dict[str, dict[tuple[str, str], Components]]:
    """The non-additive components of combinations per family and (period, member), given
    the as-of moment of the period's cells and the filters: stored ones (one query for every
    family), the others computed and stored.

    A row is served only for the moment it was computed as of: one left by a read that raced
    a recompute (computed from the cells before it) is never matched again. Concurrent first
    reads compute the same figure; the unique key keeps one row (ON CONFLICT DO NOTHING).
    """
    keys = {
        (family, key): (family, key[0], combination_key(family, narrowed), moment)
        for family, family_wanted in wanted.items()
        for key, (moment, narrowed) in family_wanted.items()
    }
    stored: dict[tuple[str, str, str, datetime], Components] = {}
    if keys:
        rows = CombinationRollup.objects.filter(
            family__in={family for family, _period, _key, _moment in keys.values()},
            period__in={period for _family, period, _key, _moment in keys.values()},
            filters__in={key for _family, _period, key, _moment in keys.values()},
        ).values_list("family", "period", "filters", "as_of", "components")
        stored = {
            (family, period, key, moment): components
            for family, period, key, moment, components in rows
        }
    result: dict[str, dict[tuple[str, str], Components]] = {family: {} for family in wanted}
    fresh: dict[tuple[str, str, str, datetime], Components] = {}
    for family, family_wanted in wanted.items():
        for key, (moment, narrowed) in family_wanted.items():
            stored_key = keys[(family, key)]
            components = stored.get(stored_key, fresh.get(stored_key))
            if components is None:
                components = combination_compute(family, key[0], periods, narrowed, moment)
                fresh[stored_key] = components
            result[family][key] = dict(components)
    if fresh:
        CombinationRollup.objects.bulk_create(
            [
                CombinationRollup(
                    period=period, family=family, filters=key, as_of=moment, components=components
                )
                for (family, period, key, moment), components in fresh.items()
            ],
            ignore_conflicts=True,
        )
    return result


def _period_as_of(label: str, periods: Sequence[Period], as_of: dict[str, datetime]) -> datetime:
    period = next(period for period in periods if period.label == label)
    moments = [as_of[q.label] for q in period_quarters(period) if q.label in as_of]
    return max(moments)


def _labels(label: str, periods: Sequence[Period]) -> list[str]:
    period = next(period for period in periods if period.label == label)
    return [quarter.label for quarter in period_quarters(period)]


def _case_filter(filters: Filters) -> dict[str, int | str]:
    return {
        FILTER_FIELDS[kind]: _cell_value(kind, value)
        for kind, value in filters.items()
        if kind != SliceKind.SURVEY
    }


def _median_from_cases(
    label: str, periods: Sequence[Period], filters: Filters, as_of: datetime
) -> Components:
    """The median first-response time of a combination of filters, from the cases."""
    responded = families.case_rows(_labels(label, periods), as_of).filter(
        families.responded_q(as_of), **_case_filter(filters)
    )
    if connection.vendor == "postgresql":
        hours = families.first_response_hours()
        row = responded.aggregate(median=families.Median(hours), count=Count("pk"))
        return {"first_response_hours_median": row["median"], "first_response_count": row["count"]}
    delays = [
        (first - opened).total_seconds() / 3600
        for opened, first in responded.values_list("opened_at", "first_response")
    ]
    return {
        "first_response_hours_median": formulas.median(delays),
        "first_response_count": len(delays),
    }


def _coverage_from_interactions(
    label: str, periods: Sequence[Period], filters: Filters, as_of: datetime
) -> Components:
    """Coverage of a combination of filters: interactions joined to the respondents rollup."""
    narrowed = {
        FILTER_FIELDS[kind]: _cell_value(kind, value)
        for kind, value in filters.items()
        if kind not in (SliceKind.SURVEY, SliceKind.CHANNEL)
    }
    row = (
        families.covered_interactions(_labels(label, periods), as_of)
        .filter(**narrowed)
        .aggregate(**families.COVERAGE_AGGREGATES)
    )
    return {name: int(row[name] or 0) for name in families.COVERAGE_AGGREGATES}


def _categories_wanted(
    periods: Sequence[Period], filters: Filters
) -> dict[tuple[str, str], tuple[datetime, Filters]]:
    """The periods whose complaints and distinct customers per category a combination of
    filters needs, as of the moment of the period's case cells (computed on first read, then
    stored).

    A quarter's case cells and its case rollups are written together, as of one moment: the
    quarter's "all" row gives it in one index lookup (no row: the quarter has no case)."""
    moments = PeriodRollup.objects.filter(
        period__in=_quarter_labels(periods),
        family=PeriodRollup.Family.CASES,
        slice_kind=SliceKind.ALL,
        slice_value="",
    ).values_list("period", "as_of")
    as_of = dict(moments)
    return {
        (period.label, ""): (_period_as_of(period.label, periods, as_of), dict(filters))
        for period in periods
        if any(quarter.label in as_of for quarter in period_quarters(period))
    }


def _categories_from_cases(
    label: str, periods: Sequence[Period], filters: Filters, as_of: datetime
) -> Components:
    """Complaints and distinct customers per category of a combination, from the cases."""
    rows = (
        Case.objects.filter(
            kind=Case.Kind.COMPLAINT,
            quarter__in=_labels(label, periods),
            opened_at__lte=as_of,
            **_case_filter(filters),
        )
        .values("category_id")
        .annotate(complaints=Count("pk"), customers=Count("customer", distinct=True))
        .order_by()
    )
    return {str(row["category_id"] or 0): [row["complaints"], row["customers"]] for row in rows}
