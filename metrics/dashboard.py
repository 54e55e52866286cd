"""Reads behind the quarterly dashboard, the analysis views, the report and the exports.

Every figure comes from the metrics engine's selectors (the rollups); this module only sets
them against the targets and arranges them. The drill-down lists read the source rows behind
a figure (the same period and filters) for a person to look at, never to compute a figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from accounts.models import Role, Team, User
from csat.errors import ApplicationError
from feedback.models import Case, RootCause
from feedback.selectors import case_list_for
from metrics import answers, selectors, target_formulas, targets
from metrics.periods import Quarter
from surveys.models import Channel, Dimension, Response, Segment, Survey, Touchpoint
from surveys.respond import survey_title_for

FILTER_KINDS: tuple[str, ...] = selectors.FILTER_KINDS
TREND_QUARTERS = 8
Filters = dict[str, str]

# Which source rows stand behind a metric (the drill-down): the questions answered.
QUESTION_KINDS: dict[str, Q] = {
    "nps": Q(kind="nps"),
    "csat": Q(kind="csat"),
    "satisfaction": Q(kind="csat"),
    "ces": Q(kind="ces"),
    "ces_easy": Q(kind="ces"),
    "fcr": Q(kind="yes_no", role="fcr"),
    "composite": Q(dimension__isnull=False) | Q(kind="rating_grid"),
}
COMPLAINT_METRICS = frozenset({"complaint_resolution", "nonrepeat_resolution", "complaint_rate"})
CASE_METRICS = frozenset(key for key, spec in selectors.METRICS.items() if spec.family == "cases")


# ---------------------------------------------------------------- query


def query_parse(params: Mapping[str, Any]) -> tuple[Quarter, Filters]:
    """The quarter and filters of a dashboard URL; ApplicationError naming each bad field."""
    errors: dict[str, list[str]] = {}
    label = str(params.get("period") or "").strip()
    quarter = Quarter.current()
    if label:
        try:
            quarter = Quarter.parse(label)
        except ValueError:
            errors["period"] = [
                _("“%(label)s” is not a quarter such as 2025Q1.") % {"label": label[:20]}
            ]
    raw = {kind: str(params.get(kind) or "").strip() for kind in FILTER_KINDS}
    raw = {kind: value for kind, value in raw.items() if value}
    filters: Filters = {}
    try:
        filters = dict(selectors.filters_validate(raw))
    except ApplicationError as error:
        errors.update(error.fields)
    if errors:
        raise ApplicationError(_("The dashboard query is not valid."), errors)
    return quarter, filters


def trend_quarters(quarter: Quarter, count: int = TREND_QUARTERS) -> list[Quarter]:
    """`count` quarters ending with `quarter`, oldest first."""
    quarters = [quarter]
    while len(quarters) < count:
        quarters.insert(0, quarters[0].previous())
    return quarters


def _or_none(filters: Filters) -> Filters | None:
    return filters or None


# ---------------------------------------------------------------- targets and trends


def target_rows_for(quarter: Quarter, filters: Filters) -> list[targets.TargetRow]:
    """Every metric of the quarter (for the filters) against its target."""
    figures = selectors.metric_figures(quarter.label, _or_none(filters))
    return targets.target_rows(quarter, figures, filters.get("segment", ""))


def row_as_dict(row: targets.TargetRow) -> dict[str, Any]:
    """A dashboard row as plain values (the API and the exports)."""
    figure = row.figure
    return {
        "metric": row.metric,
        "label": str(row.spec.label),
        "lower_is_better": row.spec.lower_is_better,
        "available": figure is not None,
        "actual": row.actual,
        "n": figure.n if figure is not None else None,
        "margin": figure.margin if figure is not None else None,
        "low": figure.low if figure is not None else None,
        "high": figure.high if figure is not None else None,
        "change": figure.change if figure is not None else None,
        "change_significant": bool(figure is not None and figure.change_significant),
        "baseline": row.baseline,
        "annual_target": row.annual_target,
        "quarter_target": row.quarter_target,
        "stretch": row.stretch,
        "benchmark": row.benchmark,
        "gap": row.gap,
        "progress": row.progress,
        "status": row.status,
    }


@dataclass(frozen=True)
class TrendPoint:
    quarter: Quarter
    figure: selectors.Figure | None
    target: float | None
    benchmark: float | None

    @property
    def actual(self) -> float | None:
        return self.figure.value if self.figure is not None else None


def trends_for(
    quarters: list[Quarter],
    filters: Filters,
    metrics: list[str],
    figures_by_quarter: Mapping[str, Mapping[str, selectors.Figure]] | None = None,
) -> dict[str, list[TrendPoint]]:
    """Each metric over the quarters, with the quarter targets and benchmark in force.

    One read of every quarter serves every metric (not one read per metric and quarter);
    quarters already read can be passed in."""
    known = dict(figures_by_quarter or {})
    missing = [quarter for quarter in quarters if quarter.label not in known]
    known.update(periods_figures(missing, filters))
    segment = filters.get("segment", "")
    in_force = {
        year: targets.targets_in_force(year, segment) for year in {q.year for q in quarters}
    }
    result = {}
    for metric in metrics:
        points = []
        for quarter in quarters:
            target = in_force[quarter.year].get(metric)
            benchmark = (
                float(target.benchmark)
                if target is not None and target.benchmark is not None
                else None
            )
            points.append(
                TrendPoint(
                    quarter,
                    known[quarter.label].get(metric),
                    targets.quarter_target_of(target, quarter),
                    benchmark,
                )
            )
        result[metric] = points
    return result


def periods_figures(
    quarters: list[Quarter], filters: Filters
) -> dict[str, dict[str, selectors.Figure]]:
    """Every metric of several quarters, read from the rollups together.

    The engine's `metric_trend` reads many periods at once but one metric per call, and
    `metric_figures` one period (and the one before); seventeen trends of eight quarters that
    way cost five times this single read through the same engine function behind them
    (`selectors._figures`; the engine is asked for a public many-periods read)."""
    if not quarters:
        return {}
    figures = selectors._figures(quarters, dict(filters))
    return {quarter.label: figures[(quarter.label, "")] for quarter in quarters}


@dataclass(frozen=True)
class QuarterView:
    rows: list[targets.TargetRow]
    trends: dict[str, list[TrendPoint]]


def quarter_view(quarter: Quarter, filters: Filters) -> QuarterView:
    """The dashboard: every metric against its target, and the trends up to the quarter."""
    figures = selectors.metric_figures(quarter.label, _or_none(filters))
    rows = targets.target_rows(quarter, figures, filters.get("segment", ""))
    available = [row.metric for row in rows if row.figure is not None]
    trends = trends_for(trend_quarters(quarter), filters, available, {quarter.label: figures})
    return QuarterView(rows, trends)


# ---------------------------------------------------------------- analysis


def nps_composition(figure: selectors.Figure | None) -> list[dict[str, Any]]:
    """Promoters, passives and detractors of an NPS figure, with their shares."""
    if figure is None or not figure.n:
        return []
    details = figure.details
    parts = [
        ("promoters", _("Promoters (9-10)"), details.get("promoters", 0)),
        ("passives", _("Passives (7-8)"), details.get("passives", 0)),
        ("detractors", _("Detractors (0-6)"), details.get("detractors", 0)),
    ]
    return [
        {"key": key, "label": label, "count": count, "share": 100 * count / figure.n}
        for key, label, count in parts
    ]


SCALE_KINDS = {
    "nps": pgettext_lazy("scale heading", "NPS"),
    "csat": pgettext_lazy("scale heading", "CSAT"),
    "ces": pgettext_lazy("scale heading", "CES"),
    "rating": pgettext_lazy("scale heading", "Rating grid"),
}


def scale_label(key: str) -> str:
    """An engine table key ("nps 0-10", "csat 1-5") as people read it: "NPS (0-10)",
    "CSAT (1-5 stars)" (a 1-5 CSAT question is answered with stars), "CES (1-7)"."""
    kind, _space, scale = key.partition(" ")
    low, _dash, high = scale.partition("-")
    values = {"kind": SCALE_KINDS.get(kind, kind), "low": low, "high": high}
    if kind == "csat" and (low, high) == ("1", "5"):
        return _("%(kind)s (%(low)s-%(high)s stars)") % values
    return _("%(kind)s (%(low)s-%(high)s)") % values


@dataclass(frozen=True)
class RepurchaseView:
    """The repurchase tables of a quarter (by readable scale name) and why some answers are
    not in the rates yet: their window is open. `closed_quarter` is the latest earlier
    quarter whose every window has closed (for a link), None when the quarter's are."""

    tables: dict[str, list[dict[str, Any]]]
    window_days: int
    window_open: int
    decided: int
    closes_on: date
    closed_quarter: Quarter | None

    @property
    def all_open(self) -> bool:
        return bool(self.window_open) and not self.decided


def band_label(band: str) -> str:
    """A score band as people read it: "3-4", and "3" for a one-point band (not "3-3")."""
    low, _dash, high = band.partition("-")
    return low if low == high else band


def _repurchase_counts(quarter: Quarter, filters: Filters) -> tuple[dict[str, Any], int, int]:
    tables = selectors.repurchase_table(quarter.label, _or_none(filters))
    rows = [row for table in tables.values() for row in table]
    return tables, sum(row["window_open"] for row in rows), sum(row["n"] for row in rows)


def repurchase_for(quarter: Quarter, filters: Filters) -> RepurchaseView:
    """Repurchase by score band, with what the open windows mean for the quarter."""
    tables, window_open, decided = _repurchase_counts(quarter, filters)
    window = answers.window()
    closed_quarter = None
    if window_open:
        # The latest earlier quarter with answers and no window open (within the filters);
        # else the latest whose windows have all closed by the calendar.
        clock = answers.repurchase_clock() or timezone.now()
        candidate = quarter.previous()
        while candidate.end + window > clock:
            _tables, earlier_open, earlier_decided = _repurchase_counts(candidate, filters)
            if earlier_decided and not earlier_open:
                break
            candidate = candidate.previous()
        closed_quarter = candidate
    return RepurchaseView(
        tables={
            scale_label(key): [{**row, "band": band_label(row["band"])} for row in rows]
            for key, rows in tables.items()
        },
        window_days=round(window.total_seconds() / 86400),
        window_open=window_open,
        decided=decided,
        closes_on=(quarter.end + window).astimezone(quarter.start.tzinfo).date(),
        closed_quarter=closed_quarter,
    )


def distribution_for(quarter: Quarter, filters: Filters) -> dict[str, list[dict[str, Any]]]:
    """Answers per score, one table per scored kind and scale, with each score's share."""
    tables = selectors.score_distribution(quarter.label, _or_none(filters))
    result = {}
    for name, rows in tables.items():
        total = sum(row["count"] for row in rows)
        result[name] = [
            {**row, "share": 100 * row["count"] / total if total else None} for row in rows
        ]
    return result


def dimension_rows(period: str, filters: Filters) -> list[dict[str, Any]]:
    """Each dimension's score in a period (a quarter or a year) with its weight in the
    profile the composite index used."""
    scores = selectors.dimension_figures(period, _or_none(filters))
    composite = selectors.period_figure(period, "composite", _or_none(filters))
    weights = (composite.details.get("weights") or {}) if composite is not None else {}
    names = dict(Dimension.objects.values_list("code", "name"))
    codes = sorted(set(scores) | set(weights), key=lambda code: names.get(code, code))
    return [
        {
            "code": code,
            "name": names.get(code, code),
            "figure": scores.get(code),
            "score": scores[code].value if code in scores else None,
            "n": scores[code].n if code in scores else 0,
            "weight": weights.get(code),
        }
        for code in codes
    ]


def pareto_for(quarter: Quarter, filters: Filters) -> list[dict[str, Any]]:
    """Complaint categories most first, with cumulative share and the vital few marked."""
    categories = selectors.complaint_categories(quarter.label, _or_none(filters))
    by_key = {str(row["category_id"]): row for row in categories}
    rows = target_formulas.pareto([(key, row["complaints"]) for key, row in by_key.items()])
    causes = dict(RootCause.choices)
    return [
        {
            **by_key[row.key],
            # The fishbone group as people read it (the row keeps the code for the API).
            "root_cause_label": str(causes.get(by_key[row.key]["root_cause"], "")),
            "share": row.share,
            "cumulative": row.cumulative,
            "is_vital_few": row.is_vital_few,
        }
        for row in rows
    ]


def segment_status(quarter: Quarter, filters: Filters) -> list[dict[str, Any]]:
    """The brief's status-analysis table: one row per customer segment."""
    names = dict(Dimension.objects.values_list("code", "name"))
    rows = []
    segments = [filters["segment"]] if filters.get("segment") else list(Segment.values)
    for segment in segments:
        scoped = {**filters, "segment": segment}
        satisfaction = selectors.period_figure(quarter.label, "satisfaction", scoped)
        dimensions = selectors.dimension_figures(quarter.label, scoped)
        scored = [
            (figure.value, code) for code, figure in dimensions.items() if figure.value is not None
        ]
        weakest = min(scored)[1] if scored else None
        categories = selectors.complaint_categories(quarter.label, scoped)
        complaints = sum(row["complaints"] for row in categories)
        top = categories[0] if categories else None
        share = 100 * top["complaints"] / complaints if top and complaints else None
        target = targets.targets_in_force(quarter.year, segment).get("satisfaction")
        quarter_target = targets.quarter_target_of(target, quarter)
        actual = satisfaction.value if satisfaction is not None else None
        gap = actual - quarter_target if actual is not None and quarter_target is not None else None
        rows.append(
            {
                "segment": segment,
                "label": str(Segment(segment).label),
                "n": satisfaction.n if satisfaction is not None else 0,
                "mean_score": actual,
                "weakest_dimension": names.get(weakest, weakest) if weakest else None,
                "weakest_score": min(scored)[0] if scored else None,
                "top_problem": top["name"] if top else None,
                "problem_share": share,
                "customers_affected": top["customers"] if top else None,
                "quarter_target": quarter_target,
                "gap": gap,
                "priority": target_formulas.segment_priority(gap, share),
            }
        )
    return rows


PRIORITY_LABELS = {
    target_formulas.PRIORITY_HIGH: gettext_lazy("high"),
    target_formulas.PRIORITY_MEDIUM: gettext_lazy("medium"),
    target_formulas.PRIORITY_LOW: gettext_lazy("low"),
    target_formulas.PRIORITY_NO_DATA: gettext_lazy("no data"),
}


# ---------------------------------------------------------------- filter choices and labels


def filter_choices() -> dict[str, list[tuple[str, str]]]:
    """The options of each filter of the dashboard form."""
    return {
        "survey": [
            (str(survey.pk), survey_title_for(survey))
            for survey in Survey.objects.only("pk", "title", "translations", "default_language")
        ],
        "channel": [(value, str(label)) for value, label in Channel.choices],
        "touchpoint": [
            (str(pk), name) for pk, name in Touchpoint.objects.values_list("pk", "name")
        ],
        "segment": [(value, str(label)) for value, label in Segment.choices],
        "team": [(str(pk), name) for pk, name in Team.objects.values_list("pk", "name")],
        "agent": agent_choices(),
    }


def agent_choices() -> list[tuple[str, str]]:
    """Staff members (who serve customers; never a scan of the responses) by the name people
    know them by, the full name (else the username), in name order."""
    agents = (
        User.objects.filter(Q(team__isnull=False) | Q(groups__name=Role.STAFF))
        .distinct()
        .only("pk", "username", "first_name", "last_name")
    )
    named = [(agent.display_name, agent.pk) for agent in agents]
    return [(str(pk), name) for name, pk in sorted(named, key=lambda x: (x[0].casefold(), x[1]))]


# ---------------------------------------------------------------- drill-down (source rows)


def drilldown_responses(quarter: Quarter, filters: Filters, metric: str) -> QuerySet[Response]:
    """The counted responses of the quarter and filters behind an answer metric."""
    responses = Response.objects.filter(Response.counted_q(), quarter=quarter.label)
    lookups = {
        "survey": "survey_id",
        "channel": "channel",
        "touchpoint": "touchpoint_id",
        "segment": "segment",
        "team": "team_id",
        "agent": "agent_id",
    }
    responses = responses.filter(**{lookups[kind]: value for kind, value in filters.items()})
    condition = QUESTION_KINDS.get(metric)
    if condition is not None:
        responses = responses.filter(_answering(metric, condition))
    return responses.select_related("survey", "customer", "agent", "team", "touchpoint").order_by(
        "-submitted_at", "-pk"
    )


def _answering(metric: str, condition: Q) -> Exists:
    """Responses with an answer to a question of the metric's kind (for the composite index, a
    question or grid row tagged with a dimension). The questions are looked up first, so each
    response is checked through the answers' response index."""
    from surveys.models import Answer, GridRow, Question

    questions = Question.objects.filter(condition)
    if metric == "composite":
        match = Q(question__dimension__isnull=False) | Q(
            grid_row_id__in=list(
                GridRow.objects.filter(dimension__isnull=False).values_list("pk", flat=True)
            )
        )
        match &= Q(question_id__in=list(questions.values_list("pk", flat=True)))
    else:
        match = Q(question_id__in=list(questions.values_list("pk", flat=True)))
    return Exists(Answer.objects.filter(match, response=OuterRef("pk")))


def drilldown_cases(quarter: Quarter, filters: Filters, metric: str, user: User) -> QuerySet[Case]:
    """The cases opened in the quarter (complaints for complaint metrics) that the user may
    see: staff only their own team's."""
    cases = case_list_for(user).filter(quarter=quarter.label).exclude(status=Case.Status.WITHDRAWN)
    if metric in COMPLAINT_METRICS:
        cases = cases.filter(kind=Case.Kind.COMPLAINT)
    lookups = {
        "channel": "channel",
        "touchpoint": "touchpoint_id",
        "segment": "segment",
        "team": "team_id",
        "agent": "agent_id",
    }
    cases = cases.filter(
        **{lookups[kind]: value for kind, value in filters.items() if kind in lookups}
    )
    return cases.order_by("-opened_at", "-pk")
