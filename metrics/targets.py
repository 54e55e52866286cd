"""Targets: the admin's writes (services) and the reads that set figures against them.

A target stores only what the admin typed. Quarter targets, gap, progress and status are
computed at read time from the rollups (the engine's figures) and the targets in force, so
changing a target needs no recompute (metrics.md, "Targets").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from csat.errors import ApplicationError
from csat.text import join_items
from metrics import formulas, target_formulas
from metrics.models import Target
from metrics.periods import Quarter
from metrics.selectors import METRICS, Figure, MetricSpec
from surveys.models import Segment

NUMBER_FIELDS = ("baseline", "target", "stretch", "benchmark")
WEIGHT_FIELDS = ("weight_q1", "weight_q2", "weight_q3", "weight_q4")
TYPED_FIELDS = ("target_q1", "target_q2", "target_q3", "target_q4")
DEFAULT_WEIGHTS = (Decimal(3), Decimal(5), Decimal(4), Decimal(6))
YEAR_RANGE = (2000, 2100)
MAX_DIGITS_BEFORE_POINT = 7
MAX_WEIGHT_DIGITS_BEFORE_POINT = 4
# The values a metric can take, for refusing a target it can never reach (None: no bound).
PERCENT = (0.0, 100.0)
METRIC_BOUNDS: dict[str, tuple[float | None, float | None]] = {
    "nps": (-100.0, 100.0),
    "ces": (1.0, 7.0),
    "first_response_time": (0.0, None),
    "complaint_rate": (0.0, None),
}

STATUS_LABELS = {
    formulas.STATUS_MET: gettext_lazy("met"),
    formulas.STATUS_MISSED: gettext_lazy("missed"),
    formulas.STATUS_IN_PROGRESS: gettext_lazy("in progress"),
    formulas.STATUS_NO_DATA: gettext_lazy("no data"),
}


# ---------------------------------------------------------------- services


def _number(raw: Any) -> Decimal | None:
    """A typed number, or None for blank; ValueError when it is not a finite number."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool):
        raise ValueError(raw)
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation as error:
        raise ValueError(raw) from error
    if not value.is_finite():
        raise ValueError(raw)
    return value


def _check_bounds(metric: str, field: str, value: Decimal, errors: dict[str, list[str]]) -> None:
    low, high = METRIC_BOUNDS.get(metric, PERCENT)
    if (low is not None and value < Decimal(str(low))) or (
        high is not None and value > Decimal(str(high))
    ):
        if high is None:
            message = _("Must be at least %(low)s.") % {"low": f"{low:g}"}
        else:
            message = _("Must be between %(low)s and %(high)s.") % {
                "low": f"{low:g}",
                "high": f"{high:g}",
            }
        errors.setdefault(field, []).append(message)


def _parse_year(raw: Any, errors: dict[str, list[str]]) -> int | None:
    try:
        year = int(str(raw).strip())
    except (TypeError, ValueError):
        errors["year"] = [_("Give a year such as 2026.")]
        return None
    if not YEAR_RANGE[0] <= year <= YEAR_RANGE[1]:
        errors["year"] = [
            _("Give a year between %(first)d and %(last)d.")
            % {"first": YEAR_RANGE[0], "last": YEAR_RANGE[1]}
        ]
        return None
    return year


def target_set(
    *,
    metric: str,
    year: Any,
    segment: str = "",
    values: Mapping[str, Any],
    user: User | None,
) -> Target:
    """Create or replace the target of a metric, year and segment; refuses bad input whole."""
    errors: dict[str, list[str]] = {}
    spec = METRICS.get(metric)
    if spec is None:
        errors["metric"] = [_("Choose one of: %s.") % join_items(METRICS, english=", ")]
    parsed_year = _parse_year(year, errors)
    segment = segment or ""
    if segment and segment not in Segment.values:
        errors["segment"] = [
            _("Choose one of: %s, or none.") % join_items(Segment.values, english=", ")
        ]
    numbers: dict[str, Decimal | None] = {}
    for field in (*NUMBER_FIELDS, *WEIGHT_FIELDS, *TYPED_FIELDS):
        try:
            numbers[field] = _number(values.get(field))
        except ValueError:
            errors[field] = [_("Give a number such as 42 or 42.5.")]
            continue
        value = numbers[field]
        digits = (
            MAX_WEIGHT_DIGITS_BEFORE_POINT if field in WEIGHT_FIELDS else MAX_DIGITS_BEFORE_POINT
        )
        if value is not None and (
            abs(value) >= Decimal(10) ** digits or value != value.quantize(Decimal("0.01"))
        ):
            errors[field] = [
                _("Give at most two decimal places and %(digits)d digits before them.")
                % {"digits": digits}
            ]
    for field in ("baseline", "target"):
        if field not in errors and numbers.get(field) is None:
            errors[field] = [
                _("Give the baseline: a year's targets start from it.")
                if field == "baseline"
                else _("Give the annual target.")
            ]
    if spec is not None:
        for field in (*NUMBER_FIELDS, *TYPED_FIELDS):
            value = numbers.get(field)
            if field not in errors and value is not None and field != "benchmark":
                _check_bounds(metric, field, value, errors)
    weights = [
        numbers.get(field) if numbers.get(field) is not None else default
        for field, default in zip(WEIGHT_FIELDS, DEFAULT_WEIGHTS, strict=True)
    ]
    if not any(field in errors for field in WEIGHT_FIELDS):
        problem = target_formulas.step_weights_error([float(w) for w in weights if w is not None])
        if problem:
            errors["weights"] = [problem]
    baseline, target, stretch = (
        numbers.get("baseline"),
        numbers.get("target"),
        numbers.get("stretch"),
    )
    if spec is not None and baseline is not None and target is not None and "target" not in errors:
        problem = target_formulas.target_direction_error(
            float(baseline), float(target), lower_is_better=spec.lower_is_better
        )
        if problem:
            errors["target"] = [problem]
        elif stretch is not None and "stretch" not in errors:
            problem = target_formulas.stretch_direction_error(
                float(target), float(stretch), lower_is_better=spec.lower_is_better
            )
            if problem:
                errors["stretch"] = [problem]
    if errors:
        raise ApplicationError(_("The target was not saved: correct the fields named."), errors)
    fields: dict[str, Any] = {field: numbers[field] for field in (*NUMBER_FIELDS, *TYPED_FIELDS)}
    fields.update(dict(zip(WEIGHT_FIELDS, weights, strict=True)))
    fields["updated_by"] = user
    with transaction.atomic():
        saved, _created = Target.objects.update_or_create(
            metric=metric, year=parsed_year, segment=segment, defaults=fields
        )
    return saved


def target_delete(*, target: Target) -> None:
    """Remove a target; figures simply show no target afterwards."""
    target.delete()


# ---------------------------------------------------------------- selectors


@dataclass(frozen=True)
class TargetPlan:
    """A target with its four quarter targets resolved (typed where given, else derived)."""

    target: Target
    quarter_targets: list[float | None]
    typed: list[bool]

    @property
    def quarters(self) -> list[tuple[float | None, bool]]:
        return list(zip(self.quarter_targets, self.typed, strict=True))


def target_plan(target: Target) -> TargetPlan:
    """The four quarter targets of a target."""
    typed = target.typed_targets
    return TargetPlan(
        target,
        formulas.quarter_targets(
            float(target.baseline), float(target.target), target.weights, typed
        ),
        [value is not None for value in typed],
    )


def targets_in_force(year: int, segment: str = "") -> dict[str, Target]:
    """Each metric's target for a year: the segment's own where it has one, else the one for
    every customer."""
    rows = Target.objects.filter(year=year, segment__in={"", segment})
    chosen: dict[str, Target] = {}
    for target in rows:
        if target.metric not in chosen or target.segment:
            chosen[target.metric] = target
    return chosen


def target_list(year: int | None = None) -> list[Target]:
    """Every target (of a year), newest year first, in the metrics' order."""
    order = {key: index for index, key in enumerate(METRICS)}
    rows = Target.objects.select_related("updated_by")
    if year is not None:
        rows = rows.filter(year=year)
    return sorted(rows, key=lambda t: (-t.year, order.get(t.metric, 99), t.segment))


@dataclass(frozen=True)
class TargetRow:
    """One metric of a quarter set against its target (every value unrounded)."""

    spec: MetricSpec
    figure: Figure | None  # None: the metric does not exist for the chosen filters
    target: Target | None
    quarter_target: float | None
    gap: float | None
    progress: float | None
    status: str | None  # None: no target to compare with

    @property
    def metric(self) -> str:
        return self.spec.key

    @property
    def actual(self) -> float | None:
        return self.figure.value if self.figure is not None else None

    @property
    def baseline(self) -> float | None:
        return float(self.target.baseline) if self.target else None

    @property
    def annual_target(self) -> float | None:
        return float(self.target.target) if self.target else None

    @property
    def stretch(self) -> float | None:
        return (
            float(self.target.stretch) if self.target and self.target.stretch is not None else None
        )

    @property
    def benchmark(self) -> float | None:
        if self.target and self.target.benchmark is not None:
            return float(self.target.benchmark)
        return None

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS[self.status]) if self.status else ""


def target_row(
    spec: MetricSpec,
    figure: Figure | None,
    target: Target | None,
    quarter: Quarter,
    as_of: datetime | None = None,
) -> TargetRow:
    """A metric's figure for a quarter against its target in force."""
    if target is None:
        return TargetRow(spec, figure, None, None, None, None, None)
    quarter_target = target_plan(target).quarter_targets[quarter.quarter - 1]
    actual = figure.value if figure is not None else None
    baseline, annual = float(target.baseline), float(target.target)
    status = (
        formulas.target_status(
            actual,
            quarter_target,
            lower_is_better=spec.lower_is_better,
            quarter_closed=quarter.is_closed(as_of),
        )
        if quarter_target is not None
        else formulas.STATUS_NO_DATA
    )
    return TargetRow(
        spec,
        figure,
        target,
        quarter_target,
        formulas.target_gap(actual, quarter_target) if quarter_target is not None else None,
        formulas.progress_to_target(actual, baseline, annual),
        status,
    )


def target_rows(
    quarter: Quarter,
    figures: Mapping[str, Figure],
    segment: str = "",
    as_of: datetime | None = None,
) -> list[TargetRow]:
    """Every metric of a quarter against the targets in force (for the segment, if any)."""
    targets = targets_in_force(quarter.year, segment)
    return [
        target_row(spec, figures.get(key), targets.get(key), quarter, as_of)
        for key, spec in METRICS.items()
    ]


def quarter_target_of(target: Target | None, quarter: Quarter) -> float | None:
    """The target for one quarter of the target's year (None without a target)."""
    if target is None or target.year != quarter.year:
        return None
    value = target_plan(target).quarter_targets[quarter.quarter - 1]
    return value if value is None or math.isfinite(value) else None
