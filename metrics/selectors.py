"""Reads for metrics: figures computed from the rollups with the formulas of metrics.md.

Nothing here scans responses: answer metrics come from AnswerSlice rows (a year adds its
quarters' components), the others from PeriodRollup rows.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from django.utils.translation import gettext_lazy as _

from metrics import formulas
from metrics.models import AnswerSlice, PeriodRollup, PeriodWeights, SliceKind
from metrics.periods import Period, period_last_day, period_parse, period_quarters
from surveys.models import Dimension

Components = dict[str, Any]
Measures = dict[tuple[str, int, int], dict[str, int]]


@dataclass(frozen=True)
class Figure:
    """One metric for one period and slice. `value` None means "no data" (never 0)."""

    metric: str
    value: float | None
    n: int
    low: float | None = None
    high: float | None = None
    margin: float | None = None
    is_provisional: bool = False
    details: dict[str, Any] = field(default_factory=dict)
    change: float | None = None
    change_z: float | None = None
    change_p: float | None = None
    change_significant: bool = False

    @property
    def has_data(self) -> bool:
        return self.value is not None

    @property
    def is_low_sample(self) -> bool:
        return formulas.is_low_sample(self.n)


@dataclass(frozen=True)
class MetricSpec:
    key: str
    label: Any
    family: str  # "answers" or a PeriodRollup family
    lower_is_better: bool = False
    unit: str = "%"
    slices: frozenset[str] = frozenset(SliceKind.values)


ALL = frozenset(SliceKind.values)
NO_SURVEY = ALL - {SliceKind.SURVEY}
INTERACTION_SLICES = ALL - {SliceKind.SURVEY, SliceKind.CHANNEL}
METRICS: dict[str, MetricSpec] = {
    spec.key: spec
    for spec in [
        MetricSpec("nps", _("NPS"), "answers", unit=""),
        MetricSpec("csat", _("CSAT %"), "answers"),
        MetricSpec("satisfaction", _("Satisfaction score (0-100)"), "answers", unit=""),
        MetricSpec("ces", _("CES (mean, 1-7)"), "answers", unit=""),
        MetricSpec("ces_easy", _("CES: share easy (5-7)"), "answers"),
        MetricSpec("fcr", _("First-contact resolution %"), "answers"),
        MetricSpec("composite", _("Composite index"), "answers", unit=""),
        MetricSpec("response_rate", _("Response rate"), "reach"),
        MetricSpec("coverage", _("Coverage"), "reach", slices=INTERACTION_SLICES),
        MetricSpec(
            "complaint_resolution", _("Complaint resolution rate"), "cases", slices=NO_SURVEY
        ),
        MetricSpec(
            "nonrepeat_resolution",
            _("Non-repeat complaint resolution rate"),
            "cases",
            slices=NO_SURVEY,
        ),
        MetricSpec("operational_fcr", _("Operational FCR"), "cases", slices=NO_SURVEY),
        MetricSpec("sla_first_response", _("SLA: first response"), "cases", slices=NO_SURVEY),
        MetricSpec("sla_resolution", _("SLA: resolution"), "cases", slices=NO_SURVEY),
        MetricSpec(
            "first_response_time",
            _("First-response time (median hours)"),
            "cases",
            lower_is_better=True,
            unit="h",
            slices=NO_SURVEY,
        ),
        MetricSpec(
            "complaint_rate",
            _("Complaint rate"),
            "cases",
            lower_is_better=True,
            slices=INTERACTION_SLICES,
        ),
        MetricSpec("problem_conversion", _("Problem conversion rate"), "cases", slices=NO_SURVEY),
    ]
}


# ---------------------------------------------------------------- reading rollups


def _answer_measures(period: Period, slice_kind: str, slice_value: str) -> Measures:
    labels = [quarter.label for quarter in period_quarters(period)]
    measures: Measures = defaultdict(lambda: defaultdict(int))
    rows = AnswerSlice.objects.filter(
        quarter__in=labels, slice_kind=slice_kind, slice_value=slice_value
    ).values_list("measure", "scale_lo", "scale_hi", "n", "total", "total_sq", "count_a", "count_b")
    for measure, lo, hi, n, total, total_sq, count_a, count_b in rows:
        target = measures[(measure, lo, hi)]
        target["n"] += n
        target["total"] += total
        target["total_sq"] += total_sq
        target["count_a"] += count_a
        target["count_b"] += count_b
    # Cells emptied by a response turned test or spam stay as zero rows until the nightly
    # rebuild: they hold no data.
    return {key: dict(components) for key, components in measures.items() if components["n"]}


def _family(period: Period, slice_kind: str, slice_value: str) -> dict[str, Components]:
    rows = PeriodRollup.objects.filter(
        period=period.label, slice_kind=slice_kind, slice_value=slice_value
    ).values_list("family", "components")
    return dict(rows)


# ---------------------------------------------------------------- formulas over components


def _proportion(metric: str, successes: int, n: int, **details: Any) -> Figure:
    interval = formulas.wilson_interval(successes, n)
    return Figure(
        metric,
        formulas.proportion_percent(successes, n),
        n,
        low=interval[0] if interval else None,
        high=interval[1] if interval else None,
        details={"successes": successes, **details},
    )


def _mean(metric: str, total: float, total_sq: float, n: int) -> Figure:
    value = formulas.mean(total, n)
    margin = formulas.mean_margin(total, total_sq, n)
    return Figure(
        metric,
        value,
        n,
        low=value - margin if value is not None and margin is not None else None,
        high=value + margin if value is not None and margin is not None else None,
        margin=margin,
        details={"sd": formulas.sample_sd(total, total_sq, n)},
    )


def _normalised(
    rows: list[tuple[tuple[str, int, int], dict[str, int]]],
) -> tuple[float, float, int]:
    total = sum(formulas.normalised_total(c["total"], c["n"], lo, hi) for (_m, lo, hi), c in rows)
    squares = sum(
        formulas.normalised_total_of_squares(c["total"], c["total_sq"], c["n"], lo, hi)
        for (_m, lo, hi), c in rows
    )
    return total, squares, sum(c["n"] for _key, c in rows)


def _of(measures: Measures, name: str) -> list[tuple[tuple[str, int, int], dict[str, int]]]:
    return [(key, components) for key, components in measures.items() if key[0] == name]


def _sum(rows: list[tuple[Any, dict[str, int]]], component: str) -> int:
    return sum(components[component] for _key, components in rows)


def dimension_scores(measures: Measures) -> dict[str, Figure]:
    """Mean normalised score per dimension id (as "dim:<id>")."""
    by_dimension: dict[str, list[tuple[tuple[str, int, int], dict[str, int]]]] = defaultdict(list)
    for key, components in measures.items():
        if key[0].startswith("dim:"):
            by_dimension[key[0]].append((key, components))
    scores = {}
    for name, rows in by_dimension.items():
        total, squares, n = _normalised(rows)
        scores[name] = _mean(name, total, squares, n)
    return scores


def period_weights(period: Period) -> dict[str, float]:
    stored = (
        PeriodWeights.objects.filter(period=period.label).values_list("weights", flat=True).first()
    )
    if stored is not None:
        return {code: float(percent) for code, percent in stored.items()}
    from metrics.services import weights_as_dict, weights_profile_in_force

    live = weights_as_dict(weights_profile_in_force(period_last_day(period)))
    return {code: float(percent) for code, percent in live.items()}


def _answer_figures(period: Period, slice_kind: str, slice_value: str) -> dict[str, Figure]:
    measures = _answer_measures(period, slice_kind, slice_value)
    nps_rows = _of(measures, "nps")
    n, promoters, detractors = (
        _sum(nps_rows, "n"),
        _sum(nps_rows, "count_a"),
        _sum(nps_rows, "count_b"),
    )
    value, margin = (
        formulas.nps(promoters, detractors, n),
        formulas.nps_margin(promoters, detractors, n),
    )
    figures = {
        "nps": Figure(
            "nps",
            value,
            n,
            low=value - margin if value is not None and margin is not None else None,
            high=value + margin if value is not None and margin is not None else None,
            margin=margin,
            details={
                "promoters": promoters,
                "detractors": detractors,
                "passives": n - promoters - detractors,
            },
        )
    }
    csat_rows = _of(measures, "csat")
    figures["csat"] = _proportion("csat", _sum(csat_rows, "count_a"), _sum(csat_rows, "n"))
    total, squares, count = _normalised(csat_rows)
    figures["satisfaction"] = _mean("satisfaction", total, squares, count)
    ces_rows = _of(measures, "ces")
    figures["ces"] = _mean(
        "ces", _sum(ces_rows, "total"), _sum(ces_rows, "total_sq"), _sum(ces_rows, "n")
    )
    figures["ces_easy"] = _proportion("ces_easy", _sum(ces_rows, "count_a"), _sum(ces_rows, "n"))
    fcr_rows = _of(measures, "fcr")
    figures["fcr"] = _proportion("fcr", _sum(fcr_rows, "count_a"), _sum(fcr_rows, "n"))
    scores = dimension_scores(measures)
    codes = dict(Dimension.objects.values_list("pk", "code"))
    by_code = {codes.get(int(name[4:]), name): figure.value for name, figure in scores.items()}
    weights = period_weights(period)
    composite = formulas.composite_index(by_code, weights)
    # n counts the answers of the dimensions that enter the index (listed in the profile);
    # a null index has no n, so it is never flagged as a low sample.
    entering = [
        figure.n
        for name, figure in scores.items()
        if codes.get(int(name[4:]), name) in weights and figure.value is not None
    ]
    figures["composite"] = Figure(
        "composite",
        composite,
        sum(entering) if composite is not None else 0,
        details={"scores": by_code, "weights": weights},
    )
    return figures


def _case_figures(
    cases: Components, reach: Components | None, slice_kind: str
) -> dict[str, Figure]:
    complaints = cases.get("complaints", 0)
    figures = {
        "complaint_resolution": _proportion(
            "complaint_resolution", cases.get("complaints_resolved", 0), complaints
        ),
        "nonrepeat_resolution": replace(
            _proportion("nonrepeat_resolution", cases.get("complaints_nonrepeat", 0), complaints),
            is_provisional=cases.get("complaints_window_open", 0) > 0,
        ),
        "operational_fcr": _proportion(
            "operational_fcr", cases.get("resolved_one_contact", 0), cases.get("resolved", 0)
        ),
        "sla_first_response": _proportion(
            "sla_first_response", cases.get("fr_met", 0), cases.get("fr_decided", 0)
        ),
        "sla_resolution": _proportion(
            "sla_resolution", cases.get("res_met", 0), cases.get("res_decided", 0)
        ),
        "first_response_time": Figure(
            "first_response_time",
            cases.get("first_response_hours_median"),
            cases.get("first_response_count", 0),
        ),
        "problem_conversion": _proportion(
            "problem_conversion", cases.get("linked_to_action", 0), cases.get("cases", 0)
        ),
    }
    if slice_kind in METRICS["complaint_rate"].slices:
        # Complaints per interaction can exceed 100 %: a rate, with an interval only when
        # it is a proportion.
        interactions = (reach or {}).get("interactions", 0)
        interval = (
            formulas.wilson_interval(complaints, interactions)
            if complaints <= interactions
            else None
        )
        figures["complaint_rate"] = Figure(
            "complaint_rate",
            formulas.rate(complaints, interactions),
            interactions,
            low=interval[0] if interval else None,
            high=interval[1] if interval else None,
            details={"successes": complaints},
        )
    return figures


def _reach_figures(reach: Components, slice_kind: str) -> dict[str, Figure]:
    figures = {
        "response_rate": _proportion(
            "response_rate", reach.get("delivered_answered", 0), reach.get("delivered", 0)
        )
    }
    if slice_kind in METRICS["coverage"].slices:
        figures["coverage"] = _proportion(
            "coverage", reach.get("customers_covered", 0), reach.get("customers", 0)
        )
    return figures


def _figures(period: Period, slice_kind: str, slice_value: str) -> dict[str, Figure]:
    figures = _answer_figures(period, slice_kind, slice_value)
    family = _family(period, slice_kind, slice_value)
    figures.update(_reach_figures(family.get("reach", {}), slice_kind))
    if slice_kind in METRICS["complaint_resolution"].slices:
        figures.update(_case_figures(family.get("cases", {}), family.get("reach"), slice_kind))
    return figures


# ---------------------------------------------------------------- change and significance


def _change(current: Figure, previous: Figure) -> Figure:
    if current.value is None or previous.value is None:
        return current
    z: float | None = None
    if current.metric == "nps":
        before, after = previous.details, current.details
        z = formulas.nps_change_z(
            before["promoters"], before["detractors"], previous.n,
            after["promoters"], after["detractors"], current.n,
        )  # fmt: skip
    elif "successes" in current.details:
        before, after = previous.details["successes"], current.details["successes"]
        if before <= previous.n and after <= current.n:
            z = formulas.two_proportion_z(before, previous.n, after, current.n)
    elif (
        "sd" in current.details
        and current.details["sd"] is not None
        and previous.details.get("sd") is not None
    ):
        z = formulas.mean_change_z(
            previous.value, previous.details["sd"], previous.n,
            current.value, current.details["sd"], current.n,
        )  # fmt: skip
    return replace(
        current,
        change=current.value - previous.value,
        change_z=z,
        change_p=formulas.two_sided_p(z) if z is not None else None,
        change_significant=formulas.is_significant(z),
    )


def metric_figures(
    period_label: str, slice_kind: str = SliceKind.ALL, slice_value: str = ""
) -> dict[str, Figure]:
    """Every metric for a period (2025Q1 or 2025) and a slice, with the change on the period
    before. A metric absent from the result does not exist for that slice kind."""
    period = period_parse(period_label)
    current = _figures(period, slice_kind, slice_value)
    previous = _figures(period.previous(), slice_kind, slice_value)
    return {
        key: _change(figure, previous[key]) if key in previous else figure
        for key, figure in current.items()
    }


def metric_figure(
    period_label: str, metric: str, slice_kind: str = SliceKind.ALL, slice_value: str = ""
) -> Figure | None:
    """One metric; None when the metric does not exist for the slice kind."""
    return metric_figures(period_label, slice_kind, slice_value).get(metric)


def dimension_figures(
    period_label: str, slice_kind: str = SliceKind.ALL, slice_value: str = ""
) -> dict[str, Figure]:
    """Dimension scores keyed by dimension code."""
    period = period_parse(period_label)
    scores = dimension_scores(_answer_measures(period, slice_kind, slice_value))
    codes = dict(Dimension.objects.values_list("pk", "code"))
    return {codes.get(int(name[4:]), name): figure for name, figure in scores.items()}


def repurchase_table(
    period_label: str, slice_kind: str = SliceKind.ALL, slice_value: str = ""
) -> dict[str, list[dict[str, Any]]]:
    """Repurchase rate per band for each scored kind and scale, with open windows."""
    period = period_parse(period_label)
    components = _family(period, slice_kind, slice_value).get("repurchase", {})
    tables: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for name, count in components.items():
        table, band, which = name.split("|")
        tables[table][band][which] = count
    result: dict[str, list[dict[str, Any]]] = {}
    for table in sorted(tables):
        _kind, scale = table.split(" ")
        lo, hi = (int(part) for part in scale.split("-"))
        rows = []
        for band_lo, band_hi in formulas.REPURCHASE_BANDS[(lo, hi)]:
            counts = tables[table].get(f"{band_lo}-{band_hi}", {})
            n, bought = counts.get("n", 0), counts.get("repurchased", 0)
            rows.append(
                {
                    "band": f"{band_lo}-{band_hi}",
                    "n": n,
                    "repurchased": bought,
                    "rate": formulas.rate(bought, n),
                    "window_open": counts.get("open", 0),
                }
            )
        result[table] = rows
    return result


def slice_members(period_label: str, slice_kind: str) -> list[str]:
    """The members of a slice kind that have answer data in the period."""
    period = period_parse(period_label)
    labels = [quarter.label for quarter in period_quarters(period)]
    return sorted(
        set(
            AnswerSlice.objects.filter(quarter__in=labels, slice_kind=slice_kind)
            .values_list("slice_value", flat=True)
            .distinct()
        )
    )


def slice_label(slice_kind: str, slice_value: str) -> str:
    """A person-readable name for a slice member (a survey's title, a channel's name...)."""
    from accounts.models import Team, User
    from surveys.models import Channel, Segment, Survey, Touchpoint

    lookups: dict[str, Any] = {
        SliceKind.SURVEY: lambda: (
            Survey.objects.filter(pk=slice_value).values_list("title", flat=True).first()
        ),
        SliceKind.CHANNEL: lambda: dict(Channel.choices).get(slice_value),
        SliceKind.TOUCHPOINT: lambda: (
            Touchpoint.objects.filter(pk=slice_value).values_list("name", flat=True).first()
        ),
        SliceKind.SEGMENT: lambda: dict(Segment.choices).get(slice_value),
        SliceKind.TEAM: lambda: (
            Team.objects.filter(pk=slice_value).values_list("name", flat=True).first()
        ),
        SliceKind.AGENT: lambda: (
            User.objects.filter(pk=slice_value).values_list("username", flat=True).first()
        ),
    }
    if slice_kind == SliceKind.ALL:
        return str(_("All"))
    found = lookups[slice_kind]()
    return str(found) if found else slice_value


def period_figure(
    period_label: str, metric: str, slice_kind: str = SliceKind.ALL, slice_value: str = ""
) -> Figure | None:
    """One metric without the change on the period before (cheaper: for trends and lists)."""
    period = period_parse(period_label)
    if METRICS[metric].family == "answers":
        return _answer_figures(period, slice_kind, slice_value).get(metric)
    return _figures(period, slice_kind, slice_value).get(metric)


def slice_figures(period_label: str, slice_kind: str, metric: str) -> list[tuple[str, Figure]]:
    """One metric for every member of a slice kind that has data in the period."""
    result = []
    for member in slice_members(period_label, slice_kind):
        figure = period_figure(period_label, metric, slice_kind, member)
        if figure is not None and figure.n:
            result.append((slice_label(slice_kind, member), figure))
    return result
