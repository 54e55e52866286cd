"""Per-period rollups that are not answer sums: cases, reach (response rate, coverage,
interactions) and repurchase by score.

They depend on the as-of moment (deadlines pass, windows close), so workers recompute them
from source rows. Each family runs one grouped query at cell level (quarter x attributes)
over every quarter in scope; Python then adds the cells (not the events) into the slices of
each quarter and its year. Distinct-customer counts and medians cannot be added up, so they
get grouped queries of their own.
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
from metrics import formulas
from metrics.models import PeriodRollup, SliceKind
from surveys.models import Answer, Interaction, Invitation, Question, Response

Components = dict[str, Any]
RollupKey = tuple[str, str, str]  # period, slice kind, slice value

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


def _median_hours(
    responded: QuerySet[Case], fields: Sequence[str]
) -> dict[RollupKey, tuple[float | None, int]]:
    """Median hours to first response and its count, per period and slice.

    A median is not a sum of cells: PostgreSQL computes it per group; elsewhere (SQLite in
    development) the delays of the cases are fetched and the median taken here.
    """
    result: dict[RollupKey, tuple[float | None, int]] = {}
    if connection.vendor == "postgresql":
        hours = Extract(
            ExpressionWrapper(F("first_response") - F("opened_at"), output_field=DurationField()),
            "epoch",
        ) / Value(3600.0)
        annotated = responded.annotate(year=Substr("quarter", 1, 4))
        for period_field in ("quarter", "year"):
            groups: list[tuple[str, str | None]] = [(SliceKind.ALL.value, None)]
            groups += [(kind.value, field) for kind, field in CASE_SLICES.items()]
            for kind, field in groups:
                keys = [period_field] + ([field] if field else [])
                for row in (
                    annotated.values(*keys).annotate(m=Median(hours), c=Count("pk")).order_by()
                ):
                    if field and not _is_member(row[field]):
                        continue
                    value = str(row[field]) if field else ""
                    result[(row[period_field], kind, value)] = (row["m"], row["c"])
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


def cases_compute(quarters: Sequence[str], as_of: datetime) -> dict[RollupKey, Components]:
    """Complaint resolution, non-repeat resolution, operational FCR, SLA, conversion, FRT."""
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
    rows = Case.objects.filter(quarter__in=quarters, opened_at__lte=as_of).annotate(
        first_response=Coalesce("first_response_at", "resolved_at"),
        has_repeat=Exists(repeat),
        has_action=Exists(linked),
    )
    complaint = Q(kind=Case.Kind.COMPLAINT)
    resolved = Q(resolved_at__isnull=False, resolved_at__lte=as_of)
    responded = Q(first_response__isnull=False, first_response__lte=as_of)
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
    }
    fields = ["quarter", *CASE_SLICES.values()]
    cells = rows.values(*fields).annotate(**aggregates).order_by()
    result = _project(cells, CASE_SLICES, "quarter", lambda row: _counts(row, list(aggregates)))
    medians = _median_hours(rows.filter(responded), fields)
    for key, components in result.items():
        median, count = medians.get(key, (None, 0))
        components["first_response_hours_median"] = median
        components["first_response_count"] = count
    return result


# ---------------------------------------------------------------- reach


def _coverage(labels: Sequence[str], period: str, as_of: datetime) -> dict[RollupKey, Components]:
    responded = Response.objects.filter(
        Response.counted_q(),
        customer=OuterRef("customer"),
        quarter__in=labels,
        submitted_at__lte=as_of,
    )
    interactions = Interaction.objects.filter(quarter__in=labels, occurred_at__lte=as_of).annotate(
        responded=Exists(responded)
    )
    aggregates = {
        "customers": Count("customer", distinct=True),
        "customers_covered": Count("customer", distinct=True, filter=Q(responded=True)),
    }
    result = {
        (period, SliceKind.ALL.value, ""): _counts(
            interactions.aggregate(**aggregates), list(aggregates)
        )
    }
    for kind, field in COMMON_SLICES.items():
        for row in interactions.values(field).annotate(**aggregates).order_by():
            if _is_member(row[field]):
                result[(period, kind.value, str(row[field]))] = _counts(row, list(aggregates))
    return result


def reach_compute(quarters: Sequence[str], as_of: datetime) -> dict[RollupKey, Components]:
    """Invitations delivered and answered (by send quarter), interactions, coverage."""
    answered = Response.objects.filter(
        Response.counted_q(), invitation=OuterRef("pk"), submitted_at__lte=as_of
    )
    invitations = (
        Invitation.objects.filter(
            quarter__in=quarters,
            sent_at__lte=as_of,
            delivered_at__isnull=False,
            delivered_at__lte=as_of,
        )
        .annotate(answered=Exists(answered))
        .values("quarter", *EVENT_SLICES.values())
        .annotate(delivered=Count("pk"), delivered_answered=Count("pk", filter=Q(answered=True)))
        .order_by()
    )
    result = _project(
        invitations,
        EVENT_SLICES,
        "quarter",
        lambda row: _counts(row, ["delivered", "delivered_answered"]),
    )
    interactions = (
        Interaction.objects.filter(quarter__in=quarters, occurred_at__lte=as_of)
        .values("quarter", *COMMON_SLICES.values())
        .annotate(interactions=Count("pk"))
        .order_by()
    )
    for key, components in _project(
        interactions, COMMON_SLICES, "quarter", lambda row: _counts(row, ["interactions"])
    ).items():
        result.setdefault(key, {}).update(components)
    years = sorted({label[:4] for label in quarters})
    periods = [(label, [label]) for label in quarters]
    periods += [(year, [label for label in quarters if label.startswith(year)]) for year in years]
    for period, labels in periods:
        for key, components in _coverage(labels, period, as_of).items():
            result.setdefault(key, {}).update(components)
    return result


# ---------------------------------------------------------------- repurchase


def _scale(bound: str) -> Coalesce:
    default = CaseWhen(
        When(question__kind=Question.Kind.NPS, then=Value(0 if bound == "min" else 10)),
        default=Value(1 if bound == "min" else 5),
    )
    return Coalesce(f"question__scale_{bound}", default)


def _band() -> CaseWhen:
    whens = [
        When(
            scale_lo=lo,
            scale_hi=hi,
            number__gte=band_lo,
            number__lte=band_hi,
            then=Value(f"{band_lo}-{band_hi}"),
        )
        for (lo, hi), bands in formulas.REPURCHASE_BANDS.items()
        for band_lo, band_hi in bands
    ]
    return CaseWhen(*whens, default=Value(""))


def repurchase_key(kind: str, lo: int, hi: int, band: str, count: str) -> str:
    """The flat component name of one band's count: "nps 0-10|9-10|repurchased"."""
    return f"{kind} {lo}-{hi}|{band}|{count}"


def repurchase_compute(quarters: Sequence[str], as_of: datetime) -> dict[RollupKey, Components]:
    """Repurchase by score band per scored kind and scale, with the open-window count."""
    window = repurchase_window()
    # Response.next_purchase_at holds the first purchase in the response's window, kept up
    # to date by each purchase (responses_link_purchases): no per-answer purchase lookup.
    bought = Q(response__next_purchase_at__isnull=False, response__next_purchase_at__lte=as_of)
    open_window = Q(response__submitted_at__gt=as_of - window)
    cells = (
        Answer.objects.filter(
            Response.counted_q("response__"),
            response__quarter__in=quarters,
            response__customer__isnull=False,
            response__submitted_at__lte=as_of,
            question__kind__in=[Question.Kind.NPS, Question.Kind.CSAT],
            number__isnull=False,
        )
        .annotate(scale_lo=_scale("min"), scale_hi=_scale("max"))
        .annotate(band=_band())
        .values(
            "response__quarter",
            "question__kind",
            "scale_lo",
            "scale_hi",
            "band",
            *RESPONSE_SLICES.values(),
        )
        .annotate(
            n=Count("pk", filter=~open_window),
            bought=Count("pk", filter=~open_window & bought),
            open=Count("pk", filter=open_window),
        )
        .order_by()
    )

    def components(row: dict[str, Any]) -> dict[str, int]:
        name = (row["question__kind"], row["scale_lo"], row["scale_hi"], row["band"])
        return {
            repurchase_key(*name, "n"): row["n"],
            repurchase_key(*name, "repurchased"): row["bought"],
            repurchase_key(*name, "open"): row["open"],
        }

    return _project(cells, RESPONSE_SLICES, "response__quarter", components)


# ---------------------------------------------------------------- storing

FAMILIES: dict[str, Callable[[Sequence[str], datetime], dict[RollupKey, Components]]] = {
    PeriodRollup.Family.CASES: cases_compute,
    PeriodRollup.Family.REACH: reach_compute,
    PeriodRollup.Family.REPURCHASE: repurchase_compute,
}


@transaction.atomic
def family_store(
    family: str, quarters: Sequence[str], as_of: datetime, skip: Iterable[str] = ()
) -> int:
    """Recompute one family for whole years around `quarters`; replace their rows.

    Periods in `skip` (frozen quarters, and years whose quarters are all frozen) keep
    their rows. Returns the number of rows written.
    """
    scope = full_years(quarters)
    skipped = set(skip)
    periods = [label for label in scope if label not in skipped]
    periods += [year for year in sorted({q[:4] for q in scope}) if year not in skipped]
    computed = FAMILIES[family](scope, as_of)
    PeriodRollup.objects.filter(family=family, period__in=periods).delete()
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
        if period in periods
    ]
    PeriodRollup.objects.bulk_create(rows, batch_size=1000)
    return len(rows)
