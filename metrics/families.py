"""Per-period rollups that are not answer sums: cases, complaint categories, reach
(response rate, coverage, interactions) and the repurchase state of answers.

They depend on the as-of moment (deadlines pass, windows close), so workers recompute them
from source rows. Each family runs one grouped query at cell level (quarter x attributes)
over every quarter in scope and stores the cells (CaseCell, ReachCell: any combination of
filters is a sum of them); Python then adds the cells (not the events) into the slices of
each quarter and its year (PeriodRollup, what a dashboard reads). Distinct-customer counts
and medians cannot be added up, so they get grouped queries of their own per slice; a
combination of two or more filters computes them when first read and stores them
(CombinationRollup, metrics/rollups.py) until the period's family is stored again here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    Aggregate,
    Count,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models import Case as CaseWhen
from django.db.models.functions import Coalesce, Extract, Substr

from feedback.models import Case, ImprovementAction
from metrics import answers, formulas
from metrics.models import (
    CELL_FIELDS,
    CaseCell,
    CombinationRollup,
    PeriodRollup,
    ReachCell,
    RespondentQuarter,
    SliceKind,
)
from surveys.models import Interaction, Invitation, Response

Components = dict[str, Any]
RollupKey = tuple[str, str, str]  # period, slice kind, slice value
Cell = dict[str, Any]

COMMON_SLICES = {
    SliceKind.TOUCHPOINT: "touchpoint_id",
    SliceKind.SEGMENT: "segment",
    SliceKind.TEAM: "team_id",
    SliceKind.AGENT: "agent_id",
}
CASE_SLICES = {SliceKind.CHANNEL: "channel", **COMMON_SLICES}
EVENT_SLICES = {SliceKind.SURVEY: "survey_id", SliceKind.CHANNEL: "channel", **COMMON_SLICES}
RESPONSE_SLICES = {kind: f"response__{field}" for kind, field in EVENT_SLICES.items()}


def repurchase_window() -> timedelta:
    return timedelta(hours=settings.METRICS_REPURCHASE_WINDOW_HOURS)


def repeat_window() -> timedelta:
    return timedelta(days=settings.METRICS_REPEAT_COMPLAINT_DAYS)


def full_years(quarters: Iterable[str]) -> list[str]:
    """Every quarter of the years the given quarters fall in (a year needs all four)."""
    return sorted({f"{label[:4]}Q{index}" for label in quarters for index in range(1, 5)})


def _flag(condition: Q) -> CaseWhen:
    return CaseWhen(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField())


def _is_member(value: object) -> bool:
    # Records without the attribute are left out of that slice (metrics.md, "Slices").
    return value not in (None, "")


def _project(
    cells: Iterable[dict[str, Any]],
    slices: dict[str, str],
    quarter_field: str,
    component_of: Callable[[dict[str, Any]], dict[str, int]],
) -> dict[RollupKey, Components]:
    """Add cell rows into the slices of their quarter and of their year."""
    result: dict[RollupKey, Components] = defaultdict(lambda: defaultdict(int))
    for cell in cells:
        quarter = cell[quarter_field]
        components = component_of(cell)
        keys = [(SliceKind.ALL.value, "")] + [
            (kind.value, str(cell[field]))
            for kind, field in slices.items()
            if _is_member(cell[field])
        ]
        for period in (quarter, quarter[:4]):
            for kind, value in keys:
                target = result[(period, kind, value)]
                for name, amount in components.items():
                    target[name] += amount
    return {key: dict(value) for key, value in result.items()}


def _counts(row: dict[str, Any], names: Sequence[str]) -> dict[str, int]:
    return {name: int(row[name] or 0) for name in names}


# ---------------------------------------------------------------- cases


class Median(Aggregate):
    """PostgreSQL's exact median (the mean of the two middle values for an even count)."""

    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def first_response_hours() -> Any:
    """Hours from opening to the first response (annotated as `first_response`)."""
    return Extract(
        ExpressionWrapper(F("first_response") - F("opened_at"), output_field=DurationField()),
        "epoch",
    ) / Value(3600.0)


def _median_hours(
    responded: QuerySet[Case], fields: Sequence[str]
) -> dict[RollupKey, tuple[float | None, int]]:
    """Median hours to first response and its count, per period and slice.

    A median is not a sum of cells: PostgreSQL computes it per group; elsewhere (SQLite in
    development) the delays of the cases are fetched and the median taken here.
    """
    result: dict[RollupKey, tuple[float | None, int]] = {}
    if connection.vendor == "postgresql":
        # One statement: the responded cases are read once (a materialized CTE), then
        # grouped per period and slice.
        delays = responded.annotate(hours=first_response_hours()).values(
            "quarter", *CASE_SLICES.values(), "hours"
        )
        sql, params = delays.query.sql_with_params()
        parts = []
        for period in ("m.quarter", "SUBSTRING(m.quarter, 1, 4)"):
            for kind, field in [(SliceKind.ALL.value, None), *CASE_SLICES.items()]:
                value = "''" if field is None else f"CAST(m.{field} AS TEXT)"
                member = "TRUE" if field is None else f"m.{field} IS NOT NULL"
                if field in ("channel", "segment"):
                    member += f" AND m.{field} <> ''"
                group = period + ("" if field is None else f", m.{field}")
                parts.append(
                    f"SELECT {period}, '{kind}', {value}, "
                    "percentile_cont(0.5) WITHIN GROUP (ORDER BY m.hours), COUNT(*) "
                    f"FROM m WHERE {member} GROUP BY {group}"
                )
        with connection.cursor() as cursor:
            cursor.execute(f"WITH m AS MATERIALIZED ({sql}) " + " UNION ALL ".join(parts), params)
            for period, kind, value, median, count in cursor.fetchall():
                result[(period, kind, value)] = (median, count)
        return result
    delays: dict[RollupKey, list[float]] = defaultdict(list)
    for row in responded.values("opened_at", "first_response", *fields):
        delay = (row["first_response"] - row["opened_at"]).total_seconds() / 3600
        keys = [(SliceKind.ALL.value, "")] + [
            (kind.value, str(row[field]))
            for kind, field in CASE_SLICES.items()
            if _is_member(row[field])
        ]
        for period in (row["quarter"], row["quarter"][:4]):
            for kind, value in keys:
                delays[(period, kind, value)].append(delay)
    return {key: (formulas.median(values), len(values)) for key, values in delays.items()}


CASE_COMPONENTS = (
    "cases",
    "complaints",
    "complaints_resolved",
    "complaints_nonrepeat",
    "complaints_window_open",
    "resolved",
    "resolved_one_contact",
    "fr_met",
    "fr_decided",
    "res_met",
    "res_decided",
    "linked_to_action",
)


def _cell(row: dict[str, Any], quarter_field: str = "quarter") -> dict[str, Any]:
    """A cell's key fields from a grouped row: 0 and "" for a missing attribute."""
    return {
        "quarter": row[quarter_field],
        "survey_id": row.get("survey_id") or 0,
        "channel": row.get("channel") or "",
        "touchpoint_id": row.get("touchpoint_id") or 0,
        "segment": row.get("segment") or "",
        "team_id": row.get("team_id") or 0,
        "agent_id": row.get("agent_id") or 0,
    }


def case_rows(quarters: Sequence[str], as_of: datetime) -> QuerySet[Case]:
    """The cases opened in these quarters by the as-of moment, with what their metrics need."""
    repeat = Case.objects.filter(
        kind=Case.Kind.COMPLAINT,
        customer=OuterRef("customer"),
        category=OuterRef("category"),
        opened_at__gt=OuterRef("resolved_at"),
        opened_at__lte=ExpressionWrapper(
            OuterRef("resolved_at") + repeat_window(), output_field=DateTimeField()
        ),
    ).filter(opened_at__lte=as_of)
    linked = ImprovementAction.cases.through.objects.filter(case_id=OuterRef("pk"))
    counted = Case.objects.filter(quarter__in=quarters, opened_at__lte=as_of).exclude(
        status=Case.Status.WITHDRAWN  # its response was marked spam or test
    )
    return counted.annotate(
        first_response=Coalesce("first_response_at", "resolved_at"),
        has_repeat=Exists(repeat),
        has_action=Exists(linked),
    )


def responded_q(as_of: datetime) -> Q:
    """Cases with a first response (or a resolution) by the as-of moment."""
    return Q(first_response__isnull=False, first_response__lte=as_of)


def _insert_cells(
    model: type[CaseCell] | type[ReachCell],
    grouped: QuerySet[Any],
    components: Sequence[str],
    as_of: datetime,
) -> None:
    """Insert a grouped queryset's rows as cells, in the database (no row through Python):
    the attributes a record lacks become 0 or ""."""
    sql, params = grouped.query.sql_with_params()
    present = set(grouped.query.values_select)

    def attribute(name: str) -> str:
        if name == "quarter":
            return "x.quarter"
        none = "0" if name.endswith("_id") else "''"
        return f"COALESCE(x.{name}, {none})" if name in present else none

    # Every count column of the model: those the query does not compute are 0.
    counts = [
        field.attname
        for field in model._meta.concrete_fields
        if field.get_internal_type() == "BigIntegerField"
    ]
    columns = [*CELL_FIELDS, *counts, "as_of"]
    values = [
        *(attribute(name) for name in CELL_FIELDS),
        *(f"COALESCE(x.{name}, 0)" if name in components else "0" for name in counts),
        "%s",
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) "
            f"SELECT {', '.join(values)} FROM ({sql}) x",
            [connection.ops.adapt_datetimefield_value(as_of), *params],
        )
        answers.analyze_after(cursor, model._meta.db_table, max(cursor.rowcount, 0))


def _slices_from_cells(
    model: type[CaseCell] | type[ReachCell],
    quarters: Sequence[str],
    slices: dict[str, str],
    components: Sequence[str],
) -> dict[RollupKey, Components]:
    """The slices of every quarter and year, added up from the stored cells."""
    result: dict[RollupKey, Components] = {}
    base = model.objects.filter(quarter__in=quarters).annotate(year=Substr("quarter", 1, 4))
    sums = {f"sum_{name}": Sum(name) for name in components}
    for period_field in ("quarter", "year"):
        groups: list[tuple[str, str | None]] = [(SliceKind.ALL.value, None)]
        groups += [(kind.value, field) for kind, field in slices.items()]
        for kind, field in groups:
            keys = [period_field] + ([field] if field else [])
            cells = base.exclude(**{field: answers.none_of(field)}) if field else base
            for row in cells.values(*keys).annotate(**sums).order_by():
                value = str(row[field]) if field else ""
                result[(row[period_field], kind, value)] = {
                    name: int(row[f"sum_{name}"] or 0) for name in components
                }
    return result


def cases_compute(
    quarters: Sequence[str], as_of: datetime, store: Sequence[str]
) -> dict[RollupKey, Components]:
    """Complaint resolution, non-repeat resolution, operational FCR, SLA, conversion, FRT:
    stores the cells of the `store` quarters, returns the slices of each quarter and year."""
    rows = case_rows(quarters, as_of)
    complaint = Q(kind=Case.Kind.COMPLAINT)
    resolved = Q(resolved_at__isnull=False, resolved_at__lte=as_of)
    responded = responded_q(as_of)
    fr_met = responded & Q(first_response__lte=F("first_response_due_at"))
    res_met = resolved & Q(resolved_at__lte=F("resolution_due_at"))
    aggregates = {
        "cases": Count("pk"),
        "complaints": Count("pk", filter=complaint),
        "complaints_resolved": Count("pk", filter=complaint & resolved),
        "complaints_nonrepeat": Count("pk", filter=complaint & resolved & Q(has_repeat=False)),
        "complaints_window_open": Count(
            "pk", filter=complaint & resolved & Q(resolved_at__gt=as_of - repeat_window())
        ),
        "resolved": Count("pk", filter=resolved),
        "resolved_one_contact": Count("pk", filter=resolved & Q(contact_count=1)),
        "fr_met": Sum(_flag(fr_met)),
        "fr_decided": Sum(_flag(fr_met | Q(first_response_due_at__lt=as_of))),
        "res_met": Sum(_flag(res_met)),
        "res_decided": Sum(_flag(res_met | Q(resolution_due_at__lt=as_of))),
        "linked_to_action": Count("pk", filter=Q(has_action=True)),
        "first_response_count": Count("pk", filter=responded),
    }
    fields = ["quarter", *CASE_SLICES.values()]
    CaseCell.objects.filter(quarter__in=store).delete()
    grouped = rows.filter(quarter__in=store).values(*fields).annotate(**aggregates).order_by()
    _insert_cells(CaseCell, grouped, list(aggregates), as_of)
    result = _slices_from_cells(CaseCell, quarters, CASE_SLICES, CASE_COMPONENTS)
    medians = _median_hours(rows.filter(responded), fields)
    for key, components in result.items():
        median, count = medians.get(key, (None, 0))
        components["first_response_hours_median"] = median
        components["first_response_count"] = count
    return result


def categories_compute(quarters: Sequence[str], as_of: datetime) -> dict[RollupKey, Components]:
    """Complaints opened in each period by category, with the distinct identified customers
    who made them, per slice: {category id: [complaints, customers]}."""
    complaints = Case.objects.filter(
        kind=Case.Kind.COMPLAINT, quarter__in=quarters, opened_at__lte=as_of
    ).annotate(year=Substr("quarter", 1, 4))
    aggregates = {"complaints": Count("pk"), "customers": Count("customer", distinct=True)}
    result: dict[RollupKey, Components] = defaultdict(dict)
    for period_field in ("quarter", "year"):
        groups: list[tuple[str, str | None]] = [(SliceKind.ALL.value, None)]
        groups += [(kind.value, field) for kind, field in CASE_SLICES.items()]
        for kind, field in groups:
            keys = [period_field, "category_id"] + ([field] if field else [])
            for row in complaints.values(*keys).annotate(**aggregates).order_by():
                if field and not _is_member(row[field]):
                    continue
                value = str(row[field]) if field else ""
                category = str(row["category_id"] or 0)
                result[(row[period_field], kind, value)][category] = [
                    row["complaints"],
                    row["customers"],
                ]
    return dict(result)


# ---------------------------------------------------------------- reach


def covered_interactions(labels: Sequence[str], as_of: datetime) -> QuerySet[Interaction]:
    """The interactions of a period (its quarters), each marked whether its customer has a
    counted response in the period: the respondents come from the answer rollups'
    RespondentQuarter, not from the responses."""
    responded = RespondentQuarter.objects.filter(
        customer_id=OuterRef("customer_id"), quarter__in=labels, responses__gt=0
    )
    return Interaction.objects.filter(quarter__in=labels, occurred_at__lte=as_of).annotate(
        responded=Exists(responded)
    )


COVERAGE_AGGREGATES = {
    "customers": Count("customer", distinct=True),
    "customers_covered": Count("customer", distinct=True, filter=Q(responded=True)),
}


def _coverage(quarters: Sequence[str], as_of: datetime) -> dict[RollupKey, Components]:
    """Coverage components of every quarter and year, all and per slice, in one statement.

    The interactions are read once: each distinct (quarter, customer, attributes) is marked
    covered in its quarter (the customer has a counted response in that quarter) and in its
    year (in any quarter of that year) by joins to the respondents rollup; the distinct
    customers of each period and slice are then counted from those rows."""
    marks = ", ".join(["%s"] * len(quarters)) or "NULL"
    fields = list(COMMON_SLICES.values())
    columns = ", ".join(f"i.{field}" for field in fields)
    parts = []
    for period in ("quarter", "year"):
        covered = f"covered_{period}"
        for kind, field in [(SliceKind.ALL.value, None), *COMMON_SLICES.items()]:
            value = "''" if field is None else f"CAST(m.{field} AS TEXT)"
            member = "1 = 1" if field is None else f"m.{field} IS NOT NULL"
            if field == "segment":
                member += " AND m.segment <> ''"
            # Covered is a function of the period and the customer: the distinct rows of
            # (period, member, customer, covered) count each customer once (a hash
            # aggregate, cheaper than sorting for COUNT(DISTINCT)).
            parts.append(
                f"SELECT d.period, '{kind}' AS slice_kind, d.slice_value, "
                "COUNT(*) AS customers, SUM(d.covered) AS customers_covered FROM ("
                f"SELECT DISTINCT m.{period} AS period, {value} AS slice_value, m.customer_id, "
                f"m.{covered} AS covered FROM marked m WHERE {member}"
                f") d GROUP BY d.period, d.slice_value"
            )
    sql = (
        f"WITH seen AS (SELECT DISTINCT i.quarter, i.customer_id, {columns} "
        f"FROM surveys_interaction i WHERE i.quarter IN ({marks}) AND i.occurred_at <= %s), "
        f"marked AS (SELECT s.quarter, SUBSTR(s.quarter, 1, 4) AS year, s.customer_id, "
        f"{', '.join(f's.{field}' for field in fields)}, "
        "CASE WHEN rq.customer_id IS NULL THEN 0 ELSE 1 END AS covered_quarter, "
        "CASE WHEN ry.customer_id IS NULL THEN 0 ELSE 1 END AS covered_year "
        "FROM seen s LEFT JOIN metrics_respondentquarter rq ON rq.quarter = s.quarter "
        "AND rq.customer_id = s.customer_id AND rq.responses > 0 "
        "LEFT JOIN (SELECT DISTINCT SUBSTR(quarter, 1, 4) AS year, customer_id "
        f"FROM metrics_respondentquarter WHERE responses > 0 AND quarter IN ({marks})) ry "
        "ON ry.year = SUBSTR(s.quarter, 1, 4) AND ry.customer_id = s.customer_id) "
        + " UNION ALL ".join(parts)
    )
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(sql, [*quarters, adapt(as_of), *quarters])
        return {
            (period, kind, value): {"customers": customers, "customers_covered": covered}
            for period, kind, value, customers, covered in cursor.fetchall()
        }


REACH_COMPONENTS = ("delivered", "delivered_answered", "interactions")


def reach_compute(
    quarters: Sequence[str], as_of: datetime, store: Sequence[str]
) -> dict[RollupKey, Components]:
    """Invitations delivered and answered (by send quarter), interactions, coverage: stores
    the cells of the `store` quarters, returns the slices of each quarter and year."""
    answered = Response.objects.filter(
        Response.counted_q(), invitation=OuterRef("pk"), submitted_at__lte=as_of
    )
    invitations = (
        Invitation.objects.filter(
            quarter__in=store,
            sent_at__lte=as_of,
            delivered_at__isnull=False,
            delivered_at__lte=as_of,
        )
        .annotate(answered=Exists(answered))
        .values("quarter", *EVENT_SLICES.values())
        .annotate(delivered=Count("pk"), delivered_answered=Count("pk", filter=Q(answered=True)))
        .order_by()
    )
    # Interactions have no survey nor channel: their cells (survey 0, channel "") never meet
    # an invitation's.
    interactions = (
        Interaction.objects.filter(quarter__in=store, occurred_at__lte=as_of)
        .values("quarter", *COMMON_SLICES.values())
        .annotate(interactions=Count("pk"))
        .order_by()
    )
    ReachCell.objects.filter(quarter__in=store).delete()
    _insert_cells(ReachCell, invitations, ["delivered", "delivered_answered"], as_of)
    _insert_cells(ReachCell, interactions, ["interactions"], as_of)
    result = _slices_from_cells(ReachCell, quarters, EVENT_SLICES, REACH_COMPONENTS)
    for key, components in _coverage(quarters, as_of).items():
        result.setdefault(key, {}).update(components)
    return result


# ---------------------------------------------------------------- storing


def _store_periods(
    family: str, periods: Sequence[str], computed: dict[RollupKey, Components], as_of: datetime
) -> int:
    PeriodRollup.objects.filter(family=family, period__in=periods).delete()
    # The combinations' coverage and medians stored by reads were computed as of the cells
    # replaced now: the next read computes them again.
    CombinationRollup.objects.filter(family=family, period__in=periods).delete()
    wanted = set(periods)
    rows = [
        PeriodRollup(
            period=period,
            family=family,
            slice_kind=kind,
            slice_value=value,
            components=components,
            as_of=as_of,
        )
        for (period, kind, value), components in computed.items()
        if period in wanted
    ]
    PeriodRollup.objects.bulk_create(rows, batch_size=1000)
    with connection.cursor() as cursor:
        answers.analyze_after(cursor, PeriodRollup._meta.db_table, len(rows))
    return len(rows)


def family_lock(family: str) -> int:
    """The second key of the advisory lock a family's recompute holds (the first is
    answers.ROLLUP_LOCK)."""
    return list(PeriodRollup.Family.values).index(family) + 1


@transaction.atomic
def family_store(
    family: str, quarters: Sequence[str], as_of: datetime, skip: Iterable[str] = ()
) -> int:
    """Recompute one family for `quarters` and their years; replace their rows.

    The cells and rows of the given quarters and of their years are replaced; the other
    quarters of those years keep theirs, computed as of an earlier moment by the recompute
    their own last event (or the hourly refresh) asked for, and so do the combination
    figures stored for them. A year's additive slices are the sums of its quarters' cells as
    stored (the ones replaced now included); its medians and distinct customers, which are
    not sums, are computed from the year's source rows as of `as_of`. Periods in `skip`
    (frozen quarters, and years whose quarters are all frozen) keep their rows. Returns the
    number of rows written.
    """
    skipped = set(skip)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # One recompute of a family at a time: a later one waits for the running one and
            # then reads the rows as they are after it, so an older result never lands last.
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [answers.ROLLUP_LOCK, family_lock(family)]
            )
            # The grouped queries over the cases and interactions sort hundreds of thousands
            # of rows: in memory rather than on disk; and no JIT compilation, which cost
            # more than a second per query at 10M responses for no gain.
            cursor.execute("SET LOCAL work_mem = '256MB'")
            cursor.execute("SET LOCAL jit = off")
    if family == PeriodRollup.Family.REPURCHASE:
        # Additive per quarter: no year to recompute.
        answers.repurchase_refresh([label for label in quarters if label not in skipped])
        return 0
    scope = full_years(quarters)
    quarters_kept = sorted({label for label in quarters if label not in skipped})
    periods = quarters_kept + [
        year for year in sorted({q[:4] for q in quarters}) if year not in skipped
    ]
    if family == PeriodRollup.Family.CASES:
        computed = cases_compute(scope, as_of, quarters_kept)
        written = _store_periods(family, periods, computed, as_of)
        categories = categories_compute(scope, as_of)
        return written + _store_periods(PeriodRollup.Family.CATEGORIES, periods, categories, as_of)
    computed = reach_compute(scope, as_of, quarters_kept)
    return _store_periods(family, periods, computed, as_of)
