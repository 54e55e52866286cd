"""Pure rules for targets and the diagnosis tables (metrics.md, "Targets"; the brief's Pareto
and status-analysis table).

The quarter-target, gap, progress and status formulas themselves live in
`metrics/formulas.py`; this module adds the checks an admin's input must pass and the
rules of the analysis views. Comparisons use unrounded values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.translation import gettext as _

VITAL_FEW_SHARE = 80.0
QUARTERS = 4

PRIORITY_HIGH = "high"
PRIORITY_MEDIUM = "medium"
PRIORITY_LOW = "low"
PRIORITY_NO_DATA = "no_data"
# The segment status table's priority (documented in README, "Targets and dashboards"):
# high when the segment's satisfaction score is 5 or more points short of its quarter target
# or its most frequent problem accounts for at least half of its complaints; medium when it
# is short of the target at all or that problem accounts for at least 30 %; low otherwise.
PRIORITY_HIGH_GAP = -5.0
PRIORITY_HIGH_SHARE = 50.0
PRIORITY_MEDIUM_SHARE = 30.0


def is_at_or_past(actual: float, threshold: float, *, lower_is_better: bool) -> bool:
    """Whether an actual reaches a threshold in the metric's direction (equal counts)."""
    return actual <= threshold if lower_is_better else actual >= threshold


def target_direction_error(baseline: float, target: float, *, lower_is_better: bool) -> str | None:
    """Why a target on the wrong side of its baseline is refused, or None."""
    values = {"baseline": _plain(baseline), "target": _plain(target)}
    if lower_is_better and target > baseline:
        return (
            _(
                "Lower is better for this metric: the target must be at or below "
                "the baseline (%(baseline)s); it is %(target)s."
            )
            % values
        )
    if not lower_is_better and target < baseline:
        return (
            _(
                "Higher is better for this metric: the target must be at or above "
                "the baseline (%(baseline)s); it is %(target)s."
            )
            % values
        )
    return None


def stretch_direction_error(target: float, stretch: float, *, lower_is_better: bool) -> str | None:
    """Why a stretch target short of the base target is refused, or None."""
    if is_at_or_past(stretch, target, lower_is_better=lower_is_better):
        return None
    values = {"target": _plain(target), "stretch": _plain(stretch)}
    if lower_is_better:
        return (
            _("The stretch target must be at or below the target (%(target)s); it is %(stretch)s.")
            % values
        )
    return (
        _("The stretch target must be at or above the target (%(target)s); it is %(stretch)s.")
        % values
    )


def step_weights_error(weights: Sequence[float]) -> str | None:
    """Why quarterly step weights are refused (not four, negative, not summing above 0)."""
    if len(weights) != QUARTERS:
        return _("Give four step weights, one per quarter; got %(count)d.") % {
            "count": len(weights)
        }
    for quarter, weight in enumerate(weights, start=1):
        if not math.isfinite(weight):
            return _("The Q%(quarter)d weight must be a number.") % {"quarter": quarter}
        if weight < 0:
            return _("The Q%(quarter)d weight must not be negative; it is %(weight)s.") % {
                "quarter": quarter,
                "weight": _plain(weight),
            }
    total = math.fsum(weights)
    if total <= 0:
        return _("The step weights must sum to more than 0; they sum to %(total)s.") % {
            "total": _plain(total)
        }
    return None


@dataclass(frozen=True)
class ParetoRow:
    key: str
    count: int
    share: float  # percent of all counts
    cumulative: float  # percent, this row included
    is_vital_few: bool


def pareto(counts: Sequence[tuple[str, int]], cut: float = VITAL_FEW_SHARE) -> list[ParetoRow]:
    """Categories sorted most first with their cumulative share; the "vital few" are those up
    to and including the first whose cumulative share reaches `cut` percent."""
    ordered = sorted(counts, key=lambda item: (-item[1], item[0]))
    total = sum(count for _key, count in ordered)
    if total == 0:
        return []
    rows = []
    running = 0
    reached = False
    for key, count in ordered:
        running += count
        cumulative = 100 * running / total
        rows.append(ParetoRow(key, count, 100 * count / total, cumulative, not reached))
        reached = reached or cumulative >= cut
    return rows


def segment_priority(gap: float | None, problem_share: float | None) -> str:
    """Priority of a segment from its satisfaction gap to target and its top problem's share."""
    if gap is None and problem_share is None:
        return PRIORITY_NO_DATA
    share = problem_share if problem_share is not None else 0.0
    if (gap is not None and gap <= PRIORITY_HIGH_GAP) or share >= PRIORITY_HIGH_SHARE:
        return PRIORITY_HIGH
    if (gap is not None and gap < 0) or share >= PRIORITY_MEDIUM_SHARE:
        return PRIORITY_MEDIUM
    return PRIORITY_LOW


def _plain(value: float) -> str:
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text
