"""Every formula of the metric contract (docs: /work/shared/metrics.md) as a pure function.

Inputs are counts and sums that the database has already aggregated; outputs are unrounded.
A formula whose denominator is 0 returns ``None`` ("no data"), never 0.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from decimal import Decimal

Z_95 = 1.96
LOW_SAMPLE_MAX = 29
SIGNIFICANCE_ALPHA = 0.05

NPS_PROMOTER_MIN = 9
NPS_DETRACTOR_MAX = 6
CES_EASY_MIN = 5

QUARTERS_PER_YEAR = 4
WEIGHTS_TOTAL = Decimal(100)
WEIGHT_PLACES = 2

STATUS_MET = "met"
STATUS_MISSED = "missed"
STATUS_IN_PROGRESS = "in_progress"
STATUS_NO_DATA = "no_data"

REPURCHASE_BANDS: dict[tuple[int, int], list[tuple[int, int]]] = {
    (0, 10): [(0, 2), (3, 4), (5, 6), (7, 8), (9, 10)],
    (1, 10): [(1, 2), (3, 4), (5, 6), (7, 8), (9, 10)],
    (1, 5): [(point, point) for point in range(1, 6)],
    (1, 7): [(point, point) for point in range(1, 8)],
}


def _check_count(count: int, n: int, name: str) -> None:
    if count < 0 or count > n:
        raise ValueError(f"{name} must be between 0 and n ({n}); it is {count}.")


def _check_shares(promoters: int, detractors: int, n: int) -> None:
    if n < 0:
        raise ValueError(f"n must not be negative; it is {n}.")
    _check_count(promoters, n, "promoters")
    _check_count(detractors, n, "detractors")
    _check_count(promoters + detractors, n, "promoters + detractors")


def _nps_variance_over_n(promoters: int, detractors: int, n: int) -> float:
    # (p + d - (p - d)^2) / n with p = P/n, d = D/n, kept in integers until the last
    # division so that an all-promoter or all-passive sample gives exactly 0.
    numerator = (promoters + detractors) * n - (promoters - detractors) ** 2
    return numerator / n**3


# ---------------------------------------------------------------- sample size


def is_low_sample(n: int) -> bool:
    """Whether a figure with denominator n is flagged "low sample" (1 to 29)."""
    return 1 <= n <= LOW_SAMPLE_MAX


# ---------------------------------------------------------------- classification


def is_promoter(score: int) -> bool:
    """Whether an NPS score (0-10) is a promoter (9-10)."""
    return score >= NPS_PROMOTER_MIN


def is_detractor(score: int) -> bool:
    """Whether an NPS score (0-10) is a detractor (0-6)."""
    return score <= NPS_DETRACTOR_MAX


def csat_top_two_threshold(lo: int, hi: int) -> int:
    """Lowest CSAT score counted as satisfied: the top two points of the lo..hi scale."""
    if hi <= lo:
        raise ValueError(f"A scale needs hi > lo; got {lo}..{hi}.")
    return hi - 1


def csat_bottom_two_threshold(lo: int, hi: int) -> int:
    """Highest CSAT score counted as low (opens a case): the bottom two points of lo..hi."""
    if hi <= lo:
        raise ValueError(f"A scale needs hi > lo; got {lo}..{hi}.")
    return lo + 1


def is_ces_easy(score: int) -> bool:
    """Whether a CES score (1-7, 7 = very easy) counts toward "% easy" (5-7)."""
    return score >= CES_EASY_MIN


# ---------------------------------------------------------------- scores and shares


def normalise(score: float, lo: float, hi: float) -> float:
    """Score on a lo..hi scale mapped to 0..100: 100 * (s - lo) / (hi - lo)."""
    if hi <= lo:
        raise ValueError(f"A scale needs hi > lo; got {lo}..{hi}.")
    return 100 * (score - lo) / (hi - lo)


def normalised_total(total: float, n: int, lo: float, hi: float) -> float:
    """Sum of the normalised scores of n answers on one lo..hi scale, from their raw sum."""
    if hi <= lo:
        raise ValueError(f"A scale needs hi > lo; got {lo}..{hi}.")
    return 100 * (total - n * lo) / (hi - lo)


def normalised_total_of_squares(
    total: float, total_of_squares: float, n: int, lo: float, hi: float
) -> float:
    """Sum of squared normalised scores of n answers on one lo..hi scale, from raw sums."""
    if hi <= lo:
        raise ValueError(f"A scale needs hi > lo; got {lo}..{hi}.")
    factor = 100 / (hi - lo)
    return factor**2 * (total_of_squares - 2 * lo * total + n * lo**2)


def nps(promoters: int, detractors: int, n: int) -> float | None:
    """Net Promoter Score, 100 * (P - D) with P, D the promoter and detractor shares."""
    _check_shares(promoters, detractors, n)
    if n == 0:
        return None
    return 100 * (promoters - detractors) / n


def proportion_percent(successes: int, n: int) -> float | None:
    """Share of successes among n answers, in percent (CSAT %, % easy, FCR %)."""
    _check_count(successes, n, "successes")
    if n == 0:
        return None
    return 100 * successes / n


def fcr_percent(yes: int, no: int) -> float | None:
    """Survey FCR %: 100 * yes / (yes + no); blank answers are not passed in."""
    return proportion_percent(yes, yes + no)


def rate(numerator: int, denominator: int) -> float | None:
    """A rate in percent (response rate, coverage, case rates): 100 * numerator / denominator."""
    if denominator == 0:
        return None
    return 100 * numerator / denominator


def mean(total: float, n: int) -> float | None:
    """Mean of n values from their sum."""
    if n == 0:
        return None
    return total / n


def sample_sd(total: float, total_of_squares: float, n: int) -> float | None:
    """Sample standard deviation (n - 1) of n values from their sum and sum of squares."""
    if n < 2:
        return None
    variance = (total_of_squares - total * total / n) / (n - 1)
    # Identical values have variance 0, but sums of normalised (non-integer) scores cancel
    # only to float noise: treat anything within 1e-12 of the mean square as 0, so that a
    # change test on identical answers stays undefined rather than "significant".
    if variance <= 1e-12 * abs(total_of_squares) / n:
        return 0.0
    return math.sqrt(variance)


def median(values: Sequence[float]) -> float | None:
    """Median of the values (first-response time in hours); None when there are none."""
    if not values:
        return None
    return float(statistics.median(values))


# ---------------------------------------------------------------- 95% intervals


def nps_margin(promoters: int, detractors: int, n: int) -> float | None:
    """Half-width of the NPS 95% interval: 1.96 * 100 * sqrt((p + d - (p - d)^2) / n)."""
    _check_shares(promoters, detractors, n)
    if n == 0:
        return None
    return Z_95 * 100 * math.sqrt(_nps_variance_over_n(promoters, detractors, n))


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float] | None:
    """Wilson score interval of a proportion, as (low, high) bounds in percent."""
    _check_count(successes, n, "successes")
    if n == 0:
        return None
    share = successes / n
    z_squared = z * z
    denominator = 1 + z_squared / n
    centre = (share + z_squared / (2 * n)) / denominator
    half_width = z / denominator * math.sqrt(share * (1 - share) / n + z_squared / (4 * n * n))
    # Float error can push a bound a hair outside 0..1 when the share is 0 or 1.
    low = min(max(centre - half_width, 0.0), 1.0)
    high = min(max(centre + half_width, 0.0), 1.0)
    return 100 * low, 100 * high


def mean_margin(total: float, total_of_squares: float, n: int) -> float | None:
    """Half-width of a mean's 95% interval: 1.96 * sd / sqrt(n); None when n < 2."""
    sd = sample_sd(total, total_of_squares, n)
    if sd is None:
        return None
    return Z_95 * sd / math.sqrt(n)


# ---------------------------------------------------------------- composite index and weights


def composite_index(
    scores: Mapping[str, float | None], weights: Mapping[str, Decimal | float]
) -> float | None:
    """Weighted mean of the dimension scores that have data and are in the weight profile."""
    weighted_sum = 0.0
    weight_sum = 0.0
    for dimension, score in scores.items():
        if score is None or dimension not in weights:
            continue
        weight = float(weights[dimension])
        weighted_sum += weight * score
        weight_sum += weight
    if weight_sum == 0:
        return None
    return weighted_sum / weight_sum


def _format_decimal(value: Decimal) -> str:
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def weights_total_error(weights: Mapping[str, Decimal]) -> str | None:
    """Why a weight profile is refused (negative, over two decimals, total not 100), or None."""
    for dimension, weight in weights.items():
        if not weight.is_finite():
            return f"Weight for {dimension} must be a number; it is {weight}."
        if weight < 0:
            return f"Weight for {dimension} must not be negative; it is {_format_decimal(weight)}."
        exponent = weight.normalize().as_tuple().exponent
        if isinstance(exponent, int) and exponent < -WEIGHT_PLACES:
            return (
                f"Weight for {dimension} must have at most two decimal places; "
                f"it is {_format_decimal(weight)}."
            )
    total = sum(weights.values(), Decimal(0))
    if total != WEIGHTS_TOTAL:
        return f"Weights must sum to 100; they sum to {_format_decimal(total)}."
    return None


# ---------------------------------------------------------------- targets


def quarter_target(
    baseline: float, target: float, weights: Sequence[float], quarter: int
) -> float | None:
    """Quarter-k target: B + (T - B) * (w1 + ... + wk) / (w1 + ... + w4)."""
    if not 1 <= quarter <= len(weights):
        raise ValueError(f"quarter must be between 1 and {len(weights)}; it is {quarter}.")
    weight_sum = math.fsum(weights)
    if weight_sum == 0:
        return None
    return baseline + (target - baseline) * math.fsum(weights[:quarter]) / weight_sum


def quarter_targets(
    baseline: float,
    target: float,
    weights: Sequence[float] | None,
    typed: Sequence[float | None] = (),
) -> list[float | None]:
    """The four quarter targets: typed where given, derived from step weights for the rest."""
    targets: list[float | None] = []
    for quarter in range(1, QUARTERS_PER_YEAR + 1):
        typed_target = typed[quarter - 1] if quarter <= len(typed) else None
        if typed_target is not None:
            targets.append(typed_target)
        elif weights:
            targets.append(quarter_target(baseline, target, weights, quarter))
        else:
            targets.append(None)
    return targets


def target_gap(actual: float | None, quarter_target: float) -> float | None:
    """Gap between the actual and the quarter's target: actual - quarter target."""
    if actual is None:
        return None
    return actual - quarter_target


def progress_to_target(actual: float | None, baseline: float, target: float) -> float | None:
    """Progress toward the annual target as a fraction: (actual - B) / (T - B)."""
    if actual is None or target == baseline:
        return None
    return (actual - baseline) / (target - baseline)


def target_status(
    actual: float | None, quarter_target: float, *, lower_is_better: bool, quarter_closed: bool
) -> str:
    """Quarter status against its target: "met", "missed", "in_progress" or "no_data"."""
    if actual is None:
        return STATUS_NO_DATA
    is_met = actual <= quarter_target if lower_is_better else actual >= quarter_target
    if is_met:
        return STATUS_MET
    return STATUS_MISSED if quarter_closed else STATUS_IN_PROGRESS


# ---------------------------------------------------------------- quarter-over-quarter change


def nps_change_z(p1: int, d1: int, n1: int, p2: int, d2: int, n2: int) -> float | None:
    """z of an NPS change: (nps2 - nps1) / (100 * sqrt(var1/n1 + var2/n2))."""
    _check_shares(p1, d1, n1)
    _check_shares(p2, d2, n2)
    if n1 == 0 or n2 == 0:
        return None
    standard_error_squared = _nps_variance_over_n(p1, d1, n1) + _nps_variance_over_n(p2, d2, n2)
    if standard_error_squared == 0:
        return None
    change = (p2 - d2) / n2 - (p1 - d1) / n1
    return change / math.sqrt(standard_error_squared)


def two_proportion_z(x1: int, n1: int, x2: int, n2: int) -> float | None:
    """z of a change in proportion x/n, the two-proportion z-test with the pooled proportion."""
    _check_count(x1, n1, "x1")
    _check_count(x2, n2, "x2")
    if n1 == 0 or n2 == 0:
        return None
    pooled_successes = x1 + x2
    pooled_n = n1 + n2
    if pooled_successes in (0, pooled_n):
        return None
    pooled = pooled_successes / pooled_n
    standard_error = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return (x2 / n2 - x1 / n1) / standard_error


def mean_change_z(m1: float, s1: float, n1: int, m2: float, s2: float, n2: int) -> float | None:
    """z of a change in mean: (m2 - m1) / sqrt(s1^2/n1 + s2^2/n2); None when n < 2."""
    # A sample standard deviation needs two values, so a period with one has no test.
    if n1 < 2 or n2 < 2:
        return None
    standard_error_squared = s1 * s1 / n1 + s2 * s2 / n2
    if standard_error_squared == 0:
        return None
    return (m2 - m1) / math.sqrt(standard_error_squared)


def two_sided_p(z: float) -> float:
    """Two-sided p-value of a standard normal z."""
    return math.erfc(abs(z) / math.sqrt(2))


def is_significant(z: float | None, alpha: float = SIGNIFICANCE_ALPHA) -> bool:
    """Whether a change is significant: a defined z with two-sided p < alpha."""
    if z is None:
        return False
    return two_sided_p(z) < alpha


# ---------------------------------------------------------------- time windows


def is_within_window(elapsed_hours: float, window_hours: float) -> bool:
    """Whether an event falls in (start, start + window]: repurchase, repeat complaint."""
    return 0 < elapsed_hours <= window_hours


def is_window_open(elapsed_hours: float, window_hours: float) -> bool:
    """Whether a window started elapsed_hours before the as-of moment has not yet closed."""
    return elapsed_hours < window_hours


def is_deadline_met(elapsed_hours: float, deadline_hours: float) -> bool:
    """Whether an SLA deadline is met; exactly the deadline is met."""
    return elapsed_hours <= deadline_hours


# ---------------------------------------------------------------- outcome


def repurchase_band(score: int, lo: int, hi: int) -> tuple[int, int]:
    """The repurchase-rate band (first, last score) holding a score on the lo..hi scale."""
    bands = REPURCHASE_BANDS.get((lo, hi))
    if bands is None:
        raise ValueError(f"No repurchase bands for the {lo}..{hi} scale.")
    for first, last in bands:
        if first <= score <= last:
            return first, last
    raise ValueError(f"Score {score} is outside the {lo}..{hi} scale.")
