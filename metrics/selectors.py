"""Reads for metrics: figures computed from the rollups with the formulas of metrics.md.

The contract the dashboards and the API are built on. Every read takes a period label
(2025Q1 or 2025) and any combination of filters (kind -> value; FILTER_KINDS), validated by
`filters_validate`. Nothing here scans responses or answers: metrics/rollups.py reads the
slices (no filter or one) or adds up the cells (a combination).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from csat.errors import ApplicationError
from csat.text import join_items
from metrics import formulas, rollups
from metrics.measures import measures_of, question_map, tables_of
from metrics.models import PeriodRollup, PeriodWeights, SliceKind
from metrics.periods import Period, period_last_day, period_parse

Components = dict[str, Any]
Measures = dict[tuple[str, int, int], dict[str, int]]
FILTER_KINDS = ("survey", "channel", "touchpoint", "segment", "team", "agent")
Filters = Mapping[str, str]  # kind -> value: ids as strings; channel and segment codes


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
    """Mean normalised score per dimension (as "dim:<code>")."""
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
    return periods_weights([period])[period.label]


def periods_weights(periods: Sequence[Period]) -> dict[str, dict[str, float]]:
    """The weights each period's composite index uses: stored by the recompute, else the
    version in force on the period's last day."""
    stored = dict(
        PeriodWeights.objects.filter(period__in=[p.label for p in periods]).values_list(
            "period", "weights"
        )
    )
    result = {}
    for period in periods:
        weights = stored.get(period.label)
        if weights is None:
            from metrics.services import weights_as_dict, weights_profile_in_force

            weights = weights_as_dict(weights_profile_in_force(period_last_day(period)))
        result[period.label] = {code: float(percent) for code, percent in weights.items()}
    return result


def _answer_figures(measures: Measures, weights: dict[str, float]) -> dict[str, Figure]:
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
    by_code = {name[4:]: figure.value for name, figure in scores.items()}
    composite = formulas.composite_index(by_code, weights)
    # n counts the answers of the dimensions that enter the index (listed in the profile);
    # a null index has no n, so it is never flagged as a low sample.
    entering = [
        figure.n
        for name, figure in scores.items()
        if name[4:] in weights and figure.value is not None
    ]
    figures["composite"] = Figure(
        "composite",
        composite,
        sum(entering) if composite is not None else 0,
        details={"scores": by_code, "weights": weights},
    )
    return figures


def _case_figures(
    cases: Components, reach: Components | None, kinds: frozenset[str]
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
    if _applies("complaint_rate", kinds):
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


def _reach_figures(reach: Components, kinds: frozenset[str]) -> dict[str, Figure]:
    figures = {
        "response_rate": _proportion(
            "response_rate", reach.get("delivered_answered", 0), reach.get("delivered", 0)
        )
    }
    if _applies("coverage", kinds):
        figures["coverage"] = _proportion(
            "coverage", reach.get("customers_covered", 0), reach.get("customers", 0)
        )
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


def _applies(metric: str, kinds: frozenset[str]) -> bool:
    """Whether a metric exists within filters of these kinds (metrics.md, "Slices")."""
    return kinds <= METRICS[metric].slices


def _figures(
    periods: Sequence[Period],
    filters: Filters,
    *,
    by: str | None = None,
    metric: str | None = None,
) -> dict[tuple[str, str], dict[str, Figure]]:
    """Figures per (period label, member of `by`, or ""), for one metric or all that exist
    within the filters (and the `by` kind)."""
    kinds = frozenset(filters) | ({by} if by else frozenset())
    wanted = [key for key in METRICS if (metric is None or key == metric) and _applies(key, kinds)]
    needed = {METRICS[key].family for key in wanted}
    if "complaint_rate" in wanted:
        needed.add(PeriodRollup.Family.REACH)
    measures = _measures(periods, filters, by) if "answers" in needed else {}
    family_names = [
        name for name in (PeriodRollup.Family.CASES, PeriodRollup.Family.REACH) if name in needed
    ]
    read = rollups.period_families(periods, family_names, filters, by) if family_names else {}
    cases = read.get(PeriodRollup.Family.CASES, {})
    reach = read.get(PeriodRollup.Family.REACH, {})
    if by is None:
        keys = {(period.label, "") for period in periods}
    else:
        keys = set(measures) | set(cases) | set(reach)
    weights = periods_weights(periods) if "composite" in wanted else {}
    result = {}
    for key in keys:
        figures: dict[str, Figure] = {}
        if "answers" in needed:
            figures.update(_answer_figures(measures.get(key, {}), weights.get(key[0], {})))
        if PeriodRollup.Family.REACH in needed:
            figures.update(_reach_figures(reach.get(key, {}), kinds))
        if PeriodRollup.Family.CASES in needed:
            figures.update(_case_figures(cases.get(key, {}), reach.get(key), kinds))
        result[key] = {name: figures[name] for name in wanted if name in figures}
    return result


def _measures(
    periods: Sequence[Period], filters: Filters, by: str | None = None
) -> dict[tuple[str, str], Measures]:
    """Measure components per (period, member), from the score counts."""
    questions = question_map()
    return {
        key: measures_of(scores, questions)
        for key, scores in rollups.answer_scores(periods, filters, by).items()
    }


def _tables(period: Period, filters: Filters) -> dict[tuple[str, int, int, int], dict[str, int]]:
    """Score counts per scored kind, scale and score."""
    scores = rollups.answer_scores([period], filters).get((period.label, ""), {})
    return tables_of(scores, question_map())


def _clean(filters: Filters | None) -> dict[str, str]:
    return {kind: value for kind, value in (filters or {}).items() if value not in ("", None)}


# ---------------------------------------------------------------- filters


def filters_validate(raw: Mapping[str, str]) -> dict[str, str]:
    """Filters from outside (a page's query string, the API): empty values dropped, every
    kind known, every value an existing survey, channel, touchpoint, segment, team or agent.
    Raises ApplicationError naming each bad field."""
    from accounts.models import Team, User
    from surveys.models import Channel, Segment, Survey, Touchpoint

    models = {"survey": Survey, "touchpoint": Touchpoint, "team": Team, "agent": User}
    codes = {"channel": Channel.values, "segment": Segment.values}
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, str] = {}
    for kind, raw_value in raw.items():
        value = str(raw_value).strip() if raw_value is not None else ""
        if not value:
            continue
        if kind not in FILTER_KINDS:
            errors[kind] = [
                gettext("Unknown filter; use one of: %(kinds)s.")
                % {"kinds": join_items(FILTER_KINDS, english=", ")}
            ]
        elif kind in codes:
            if value not in codes[kind]:
                errors[kind] = [
                    gettext("Unknown %(kind)s %(value)s; use one of: %(codes)s.")
                    % {"kind": kind, "value": value, "codes": join_items(codes[kind], english=", ")}
                ]
            else:
                cleaned[kind] = value
        elif not value.isdigit() or not models[kind].objects.filter(pk=int(value)).exists():
            errors[kind] = [
                gettext("No %(kind)s has the id %(value)s.") % {"kind": kind, "value": value}
            ]
        else:
            cleaned[kind] = str(int(value))
    if errors:
        raise ApplicationError(gettext("The filters are not valid."), errors)
    return cleaned


# ---------------------------------------------------------------- the contract


def metric_figures(period_label: str, filters: Filters | None = None) -> dict[str, Figure]:
    """Every metric for a period (2025Q1 or 2025) within all the filters at once, with the
    change on the period before and its test. A metric absent from the result does not exist
    within these filters (metrics.md, "Slices"); a value None is "no data"."""
    period = period_parse(period_label)
    previous = period.previous()
    figures = _figures([period, previous], _clean(filters))
    current, before = figures[(period.label, "")], figures[(previous.label, "")]
    return {
        key: _change(figure, before[key]) if key in before else figure
        for key, figure in current.items()
    }


def period_figure(period_label: str, metric: str, filters: Filters | None = None) -> Figure | None:
    """One metric without the change on the period before (cheap: for trends and lists);
    None when the metric does not exist within the filters."""
    period = period_parse(period_label)
    return _figures([period], _clean(filters), metric=metric)[(period.label, "")].get(metric)


def metric_trend(
    metric: str, period_labels: Sequence[str], filters: Filters | None = None
) -> list[Figure | None]:
    """One metric for many periods, read together (a trend chart); None where the metric
    does not exist within the filters."""
    periods = [period_parse(label) for label in period_labels]
    figures = _figures(periods, _clean(filters), metric=metric)
    return [figures[(period.label, "")].get(metric) for period in periods]


def slice_figures(
    period_label: str, slice_kind: str, metric: str, filters: Filters | None = None
) -> list[tuple[str, str, Figure]]:
    """(member value, readable label, figure) of one metric for every member of a slice kind
    that has data in the period, within the other filters; sorted by label."""
    others = {kind: value for kind, value in _clean(filters).items() if kind != slice_kind}
    period = period_parse(period_label)
    figures = _figures([period], others, by=slice_kind, metric=metric)
    members = {
        member: found[metric]
        for (_label, member), found in figures.items()
        if metric in found and found[metric].n
    }
    labels = slice_labels(slice_kind, list(members))
    return sorted(
        ((member, labels[member], figure) for member, figure in members.items()),
        key=lambda item: (item[1].lower(), item[0]),
    )


def dimension_figures(period_label: str, filters: Filters | None = None) -> dict[str, Figure]:
    """Dimension scores keyed by dimension code."""
    period = period_parse(period_label)
    measures = _measures([period], _clean(filters)).get((period.label, ""), {})
    return {name[4:]: figure for name, figure in dimension_scores(measures).items()}


def repurchase_table(
    period_label: str, filters: Filters | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Repurchase rate per score band for each scored kind and scale ("nps 0-10",
    "csat 1-5"...) with its 95% (Wilson) interval and low-sample flag, and the answers whose
    window is still open; only identified customers."""
    period = period_parse(period_label)
    scores = _tables(period, _clean(filters))
    tables: dict[tuple[str, int, int], dict[tuple[int, int], dict[str, int]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int))
    )
    for (kind, lo, hi, score), counts in scores.items():
        bands = formulas.REPURCHASE_BANDS.get((lo, hi))
        if kind not in ("nps", "csat") or bands is None:
            continue
        if not counts["repurchase_open"] + counts["repurchase_closed"]:
            continue
        band = formulas.repurchase_band(score, lo, hi)
        target = tables[(kind, lo, hi)][band]
        target["n"] += counts["repurchase_closed"]
        target["repurchased"] += counts["repurchase_bought"]
        target["open"] += counts["repurchase_open"]
    result: dict[str, list[dict[str, Any]]] = {}
    for kind, lo, hi in sorted(tables):
        rows = []
        for band_lo, band_hi in formulas.REPURCHASE_BANDS[(lo, hi)]:
            counts = tables[(kind, lo, hi)].get((band_lo, band_hi), {})
            n, bought = counts.get("n", 0), counts.get("repurchased", 0)
            low, high = formulas.wilson_interval(bought, n) or (None, None)
            rows.append(
                {
                    "band": f"{band_lo}-{band_hi}",
                    "n": n,
                    "repurchased": bought,
                    "rate": formulas.rate(bought, n),
                    "low": low,
                    "high": high,
                    "is_low_sample": formulas.is_low_sample(n),
                    "window_open": counts.get("open", 0),
                }
            )
        result[f"{kind} {lo}-{hi}"] = rows
    return result


def score_distribution(
    period_label: str, filters: Filters | None = None
) -> dict[str, list[dict[str, int]]]:
    """How many counted answers gave each score, per scored kind and scale ("nps 0-10",
    "csat 1-5", "ces 1-7", "rating 1-5"...): every point of the scale listed."""
    period = period_parse(period_label)
    scores = _tables(period, _clean(filters))
    tables: dict[tuple[str, int, int], dict[int, int]] = defaultdict(dict)
    for (kind, lo, hi, score), counts in scores.items():
        if counts["answers"]:
            tables[(kind, lo, hi)][score] = counts["answers"]
    return {
        f"{kind} {lo}-{hi}": [
            {"score": point, "count": tables[(kind, lo, hi)].get(point, 0)}
            for point in range(lo, hi + 1)
        ]
        for kind, lo, hi in sorted(tables)
    }


def complaint_categories(period_label: str, filters: Filters | None = None) -> list[dict[str, Any]]:
    """Complaints opened in the period by category, most first, with the distinct identified
    customers who made them. Complaints have no survey: with a survey filter, none."""
    from feedback.models import ComplaintCategory

    cleaned = _clean(filters)
    if SliceKind.SURVEY in cleaned:
        return []
    period = period_parse(period_label)
    counts = rollups.period_rollups([period], PeriodRollup.Family.CATEGORIES, cleaned).get(
        (period.label, ""), {}
    )
    categories = {
        category.pk: category
        for category in ComplaintCategory.objects.filter(
            pk__in=[int(pk) for pk in counts if int(pk)]
        )
    }
    rows = []
    for pk, (complaints, customers) in counts.items():
        category = categories.get(int(pk))
        rows.append(
            {
                "category_id": category.pk if category else None,
                "name": category.name if category else gettext("No category"),
                "root_cause": category.root_cause if category else "",
                "complaints": complaints,
                "customers": customers,
            }
        )
    return sorted(rows, key=lambda row: (-row["complaints"], row["name"]))


def slice_labels(slice_kind: str, values: Sequence[str]) -> dict[str, str]:
    """Person-readable names of slice members (a survey's title, a channel's name...)."""
    from accounts.models import Team, User
    from surveys.models import Channel, Segment, Survey, Touchpoint

    found: dict[str, str] = {}
    ids = [int(value) for value in values if value.isdigit()]
    if slice_kind == SliceKind.SURVEY:
        found = {
            str(pk): title
            for pk, title in Survey.objects.filter(pk__in=ids).values_list("pk", "title")
        }
    elif slice_kind == SliceKind.TOUCHPOINT:
        found = {
            str(pk): name
            for pk, name in Touchpoint.objects.filter(pk__in=ids).values_list("pk", "name")
        }
    elif slice_kind == SliceKind.TEAM:
        found = {
            str(pk): name for pk, name in Team.objects.filter(pk__in=ids).values_list("pk", "name")
        }
    elif slice_kind == SliceKind.AGENT:
        found = {
            str(user.pk): user.display_name
            for user in User.objects.filter(pk__in=ids).only(
                "pk", "username", "first_name", "last_name"
            )
        }
    elif slice_kind == SliceKind.CHANNEL:
        found = {code: str(label) for code, label in Channel.choices}
    elif slice_kind == SliceKind.SEGMENT:
        found = {code: str(label) for code, label in Segment.choices}
    return {value: found.get(value, value) for value in values}


def slice_label(slice_kind: str, slice_value: str) -> str:
    """A person-readable name for one slice member."""
    if slice_kind == SliceKind.ALL:
        return str(_("All"))
    return slice_labels(slice_kind, [slice_value])[slice_value]
