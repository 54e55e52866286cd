"""The metric contract's formulas on hand-computed cases, plus properties that hold for any counts.

Pure functions only: no database, no Django settings needed.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metrics.formulas import (
    LOW_SAMPLE_MAX,
    REPURCHASE_BANDS,
    composite_index,
    csat_bottom_two_threshold,
    csat_top_two_threshold,
    fcr_percent,
    is_ces_easy,
    is_deadline_met,
    is_detractor,
    is_low_sample,
    is_promoter,
    is_significant,
    is_window_open,
    is_within_window,
    mean,
    mean_change_z,
    mean_margin,
    median,
    normalise,
    normalised_total,
    normalised_total_of_squares,
    nps,
    nps_change_z,
    nps_margin,
    progress_to_target,
    proportion_percent,
    quarter_target,
    quarter_targets,
    rate,
    repurchase_band,
    sample_sd,
    target_gap,
    target_status,
    two_proportion_z,
    two_sided_p,
    weights_total_error,
    wilson_interval,
)

HEALTHCARE_WEIGHTS = {
    "response_speed": Decimal("15"),
    "technical_ability": Decimal("25"),
    "emotional_value": Decimal("30"),
    "process_experience": Decimal("20"),
    "outcome_satisfaction": Decimal("10"),
}
PLAN_STEP_WEIGHTS = [3.0, 5.0, 4.0, 6.0]


def exactly(message: str) -> str:
    """A pytest.raises pattern matching the whole message and nothing else."""
    return f"^{re.escape(message)}$"


@st.composite
def nps_samples(draw: st.DrawFn, max_n: int = 500) -> tuple[int, int, int]:
    """Promoters, detractors and n with P + D <= n."""
    n = draw(st.integers(min_value=0, max_value=max_n))
    promoters = draw(st.integers(min_value=0, max_value=n))
    detractors = draw(st.integers(min_value=0, max_value=n - promoters))
    return promoters, detractors, n


@st.composite
def proportion_samples(draw: st.DrawFn, max_n: int = 500) -> tuple[int, int]:
    """Successes and n with successes <= n."""
    n = draw(st.integers(min_value=0, max_value=max_n))
    successes = draw(st.integers(min_value=0, max_value=n))
    return successes, n


# ---------------------------------------------------------------- sample size


def test_low_sample_flags_denominators_from_1_to_29_only() -> None:
    # given the boundaries of the low-sample band
    # when each is checked / then only 1..29 are flagged, and no data is not
    assert LOW_SAMPLE_MAX == 29
    assert is_low_sample(0) is False
    assert is_low_sample(1) is True
    assert is_low_sample(29) is True
    assert is_low_sample(30) is False


# ---------------------------------------------------------------- NPS


def test_nps_of_5_promoters_3_passives_2_detractors_is_30() -> None:
    # given 5 promoters, 3 passives and 2 detractors of 10
    # when NPS is computed / then it is 100 * (0.5 - 0.2)
    assert nps(5, 2, 10) == 30.0


def test_nps_margin_of_5_promoters_2_detractors_of_10_follows_the_contract() -> None:
    # given p = 0.5, d = 0.2, so p + d - (p - d)^2 = 0.7 - 0.09 = 0.61
    # when the margin is computed
    margin = nps_margin(5, 2, 10)
    # then it is 196 * sqrt(0.61 / 10) = 196 * sqrt(0.061)
    assert margin == pytest.approx(48.4084290180956, rel=1e-12)


def test_nps_margin_is_0_when_every_answer_is_a_promoter() -> None:
    # given 20 promoters of 20, so the variance is 1 + 0 - 1 = 0
    # when the margin is computed / then it is exactly 0
    assert nps_margin(20, 0, 20) == 0.0


def test_nps_and_margin_are_none_without_answers() -> None:
    # given no answers / when NPS and its margin are computed / then there is no data
    assert nps(0, 0, 0) is None
    assert nps_margin(0, 0, 0) is None


def test_nps_refuses_more_promoters_and_detractors_than_answers() -> None:
    # given 6 promoters and 5 detractors claimed among 10 answers
    # when NPS is computed / then it is refused
    message = "promoters + detractors must be between 0 and n (10); it is 11."
    with pytest.raises(ValueError, match=exactly(message)):
        nps(6, 5, 10)


def test_nps_scores_9_and_10_promote_and_0_to_6_detract() -> None:
    # given the NPS scale 0-10 / when each score is classified / then 7-8 are passives
    assert [score for score in range(11) if is_promoter(score)] == [9, 10]
    assert [score for score in range(11) if is_detractor(score)] == [0, 1, 2, 3, 4, 5, 6]


# ---------------------------------------------------------------- shares and Wilson


def test_proportion_percent_of_7_of_8_is_87_5() -> None:
    # given 7 satisfied answers of 8 / when CSAT % is computed / then it is 87.5
    assert proportion_percent(7, 8) == 87.5


def test_fcr_percent_counts_yes_over_yes_plus_no() -> None:
    # given 3 yes and 1 no / when FCR % is computed / then it is 75
    assert fcr_percent(3, 1) == 75.0
    assert fcr_percent(0, 0) is None


def test_rate_is_a_percentage_and_may_exceed_100() -> None:
    # given 3 complaints over 2 interactions and 1 of 4 / when rates are computed
    # then they are plain percentages, and no interactions is no data
    assert rate(1, 4) == 25.0
    assert rate(3, 2) == 150.0
    assert rate(0, 0) is None


def test_wilson_interval_of_7_of_10_matches_hand_computation() -> None:
    # given 7 of 10: p = 0.7, z^2 = 3.8416, 1 + z^2/n = 1.38416
    # centre = (0.7 + 0.19208) / 1.38416; half = 1.96 / 1.38416 * sqrt(0.021 + 0.009604)
    centre = 0.89208 / 1.38416
    half = 1.96 / 1.38416 * math.sqrt(0.030604)
    # when the Wilson interval is computed
    interval = wilson_interval(7, 10)
    # then its bounds are centre -/+ half, in percent
    assert interval is not None
    assert interval[0] == pytest.approx(100 * (centre - half), rel=1e-12)
    assert interval[1] == pytest.approx(100 * (centre + half), rel=1e-12)
    assert interval[0] == pytest.approx(39.67732199795652, rel=1e-12)
    assert interval[1] == pytest.approx(89.2210712513788, rel=1e-12)


def test_wilson_interval_of_0_of_10_starts_exactly_at_0() -> None:
    # given no successes of 10 / when the interval is computed
    interval = wilson_interval(0, 10)
    # then the low bound is 0 and the high bound is 100 * z^2 / (n + z^2)
    assert interval is not None
    assert interval[0] == 0.0
    assert interval[1] == pytest.approx(100 * 3.8416 / 13.8416, rel=1e-12)


def test_wilson_interval_of_10_of_10_ends_exactly_at_100() -> None:
    # given every answer a success / when the interval is computed / then it ends at 100
    interval = wilson_interval(10, 10)
    assert interval is not None
    assert interval[1] == 100.0
    assert interval[0] == pytest.approx(100 * 10 / 13.8416, rel=1e-12)


# ---------------------------------------------------------------- means


def test_mean_sd_and_margin_of_1_2_3_4_from_sums() -> None:
    # given the values 1, 2, 3, 4: sum 10, sum of squares 30
    # when the mean, sample sd and margin are computed
    # then mean = 2.5, sd = sqrt((30 - 100/4) / 3) = sqrt(5/3), margin = 1.96 * sd / 2
    assert mean(10, 4) == 2.5
    assert sample_sd(10, 30, 4) == pytest.approx(math.sqrt(5 / 3), rel=1e-12)
    assert mean_margin(10, 30, 4) == pytest.approx(0.98 * math.sqrt(5 / 3), rel=1e-12)


def test_a_single_value_has_a_mean_but_no_sd_or_margin() -> None:
    # given one value of 4 / when the figures are computed / then only the mean exists
    assert mean(4, 1) == 4.0
    assert sample_sd(4, 16, 1) is None
    assert mean_margin(4, 16, 1) is None


def test_mean_is_none_without_values() -> None:
    # given no values / when the mean is computed / then there is no data
    assert mean(0, 0) is None


def test_sample_sd_of_identical_values_is_0_despite_float_error() -> None:
    # given 0.7 five times, whose float sums give a variance of about -1e-16
    total = sum([0.7] * 5)
    total_of_squares = sum([0.7 * 0.7] * 5)
    # when the sd is computed / then the tiny negative variance is clamped to 0
    assert sample_sd(total, total_of_squares, 5) == 0.0


def test_median_of_odd_and_even_counts_and_of_nothing() -> None:
    # given first-response hours / when the median is taken / then the middle or mean of two
    assert median([5.0, 1.0, 3.0]) == 3.0
    assert median([1.0, 2.0, 3.0, 10.0]) == 2.5
    assert median([]) is None


# ---------------------------------------------------------------- scales


def test_normalise_maps_the_scale_onto_0_to_100() -> None:
    # given scores on 1-5, 1-7 and 0-10 / when normalised / then 100 * (s - lo) / (hi - lo)
    assert normalise(4, 1, 5) == 75.0
    assert normalise(1, 1, 5) == 0.0
    assert normalise(7, 1, 7) == 100.0
    assert normalise(4, 1, 7) == 50.0
    assert normalise(3, 0, 10) == 30.0


def test_normalise_refuses_an_empty_scale() -> None:
    # given a scale whose hi equals lo / when normalised / then it is refused
    with pytest.raises(ValueError, match=exactly("A scale needs hi > lo; got 3..3.")):
        normalise(3, 3, 3)


def test_normalised_sums_of_4_and_5_on_1_to_5_match_normalising_each_answer() -> None:
    # given answers 4 and 5 on 1-5: raw sum 9, raw sum of squares 41
    # when the sums are normalised / then they equal 75 + 100 and 75^2 + 100^2
    assert normalised_total(9, 2, 1, 5) == 175.0
    assert normalised_total_of_squares(9, 41, 2, 1, 5) == 15625.0


def test_csat_top_two_and_bottom_two_points_per_scale() -> None:
    # given the three CSAT scales / when thresholds are computed / then top and bottom two points
    assert csat_top_two_threshold(1, 5) == 4
    assert csat_top_two_threshold(1, 7) == 6
    assert csat_top_two_threshold(1, 10) == 9
    assert csat_bottom_two_threshold(1, 5) == 2
    assert csat_bottom_two_threshold(1, 7) == 2
    assert csat_bottom_two_threshold(1, 10) == 2


def test_ces_easy_is_5_to_7() -> None:
    # given the CES scale 1-7 / when each score is checked / then 5, 6 and 7 are easy
    assert [score for score in range(1, 8) if is_ces_easy(score)] == [5, 6, 7]


# ---------------------------------------------------------------- composite index and weights


def test_composite_index_leaves_out_dimensions_without_data() -> None:
    # given the healthcare weights and no outcome-satisfaction data
    scores: dict[str, float | None] = {
        "response_speed": 80.0,
        "technical_ability": 70.0,
        "emotional_value": 90.0,
        "process_experience": 60.0,
        "outcome_satisfaction": None,
    }
    # when the index is computed
    index = composite_index(scores, HEALTHCARE_WEIGHTS)
    # then it is (15*80 + 25*70 + 30*90 + 20*60) / (15 + 25 + 30 + 20) = 6850 / 90
    assert index == pytest.approx(6850 / 90, rel=1e-12)


def test_composite_index_ignores_a_dimension_the_profile_does_not_list() -> None:
    # given a scored dimension missing from the profile
    scores: dict[str, float | None] = {"response_speed": 40.0, "parking": 0.0}
    # when the index is computed / then only the listed dimension counts
    assert composite_index(scores, HEALTHCARE_WEIGHTS) == 40.0


def test_composite_index_counts_a_zero_weight_dimension_with_weight_0() -> None:
    # given a zero-weight dimension with data next to a weighted one
    scores: dict[str, float | None] = {"a": 50.0, "b": 100.0}
    weights = {"a": Decimal("0"), "b": Decimal("100")}
    # when the index is computed / then the zero-weight dimension does not move it
    assert composite_index(scores, weights) == 100.0


def test_composite_index_is_none_when_no_dimension_with_data_has_weight() -> None:
    # given dimensions with data that all weigh 0, and a slice with no data at all
    # when the index is computed / then there is no data
    assert composite_index({"a": 50.0}, {"a": Decimal("0"), "b": Decimal("100")}) is None
    assert composite_index({"a": None, "b": None}, HEALTHCARE_WEIGHTS) is None
    assert composite_index({}, HEALTHCARE_WEIGHTS) is None


def test_healthcare_weights_and_thirds_summing_to_100_are_accepted() -> None:
    # given the healthcare profile and 33.33 + 33.33 + 33.34
    thirds = {"a": Decimal("33.33"), "b": Decimal("33.33"), "c": Decimal("33.34")}
    # when validated / then both are fine
    assert weights_total_error(HEALTHCARE_WEIGHTS) is None
    assert weights_total_error(thirds) is None


def test_weights_summing_to_99_99_are_refused_naming_the_total() -> None:
    # given three weights of 33.33 / when validated / then the message names the total
    weights = {"a": Decimal("33.33"), "b": Decimal("33.33"), "c": Decimal("33.33")}
    assert weights_total_error(weights) == "Weights must sum to 100; they sum to 99.99."


def test_weights_summing_to_more_than_100_are_refused_naming_the_total() -> None:
    # given 60 + 50.50 / when validated / then the total is shown without trailing zeros
    weights = {"a": Decimal("60"), "b": Decimal("50.50")}
    assert weights_total_error(weights) == "Weights must sum to 100; they sum to 110.5."


def test_a_negative_weight_is_refused_naming_the_dimension() -> None:
    # given a negative weight that still makes the total 100
    weights = {"speed": Decimal("110"), "outcome": Decimal("-10")}
    # when validated / then the message names the dimension
    assert weights_total_error(weights) == "Weight for outcome must not be negative; it is -10."


def test_a_weight_with_three_decimal_places_is_refused_naming_the_dimension() -> None:
    # given 33.333 + 66.667 / when validated / then the first offending dimension is named
    weights = {"speed": Decimal("33.333"), "outcome": Decimal("66.667")}
    assert weights_total_error(weights) == (
        "Weight for speed must have at most two decimal places; it is 33.333."
    )


def test_trailing_zeros_do_not_count_as_decimal_places() -> None:
    # given 50.000 + 50 / when validated / then 50.000 is two places or fewer
    assert weights_total_error({"a": Decimal("50.000"), "b": Decimal("50")}) is None


# ---------------------------------------------------------------- targets


def test_quarter_targets_for_nps_42_to_58_with_plan_weights_3_5_4_6() -> None:
    # given baseline 42, annual target 58 and step weights 3, 5, 4, 6
    # when each quarter's target is derived
    targets = [quarter_target(42, 58, PLAN_STEP_WEIGHTS, quarter) for quarter in range(1, 5)]
    # then they are 42 + 16 * 3/18, 8/18, 12/18, 18/18
    assert targets == pytest.approx([42 + 16 * 3 / 18, 42 + 16 * 8 / 18, 42 + 16 * 12 / 18, 58])
    assert [round(target, 2) for target in targets if target is not None] == [
        44.67,
        49.11,
        52.67,
        58.00,
    ]
    assert targets[3] == 58.0


def test_quarter_target_is_none_when_the_step_weights_sum_to_0() -> None:
    # given all-zero step weights / when a quarter target is derived / then there is none
    assert quarter_target(42, 58, [0.0, 0.0, 0.0, 0.0], 2) is None


def test_quarter_target_refuses_a_fifth_quarter() -> None:
    # given four step weights / when quarter 5 is asked for / then it is refused
    with pytest.raises(ValueError, match=exactly("quarter must be between 1 and 4; it is 5.")):
        quarter_target(42, 58, PLAN_STEP_WEIGHTS, 5)


def test_quarter_targets_use_typed_values_where_given_and_derive_the_rest() -> None:
    # given a typed Q2 target of 50 and the plan weights
    # when the four targets are resolved
    targets = quarter_targets(42, 58, PLAN_STEP_WEIGHTS, [None, 50.0, None, None])
    # then Q2 is the typed value and the others are derived
    assert targets == pytest.approx([42 + 16 * 3 / 18, 50.0, 42 + 16 * 12 / 18, 58.0])
    assert quarter_targets(42, 58, None, [45.0]) == [45.0, None, None, None]


def test_gap_and_progress_toward_the_annual_target() -> None:
    # given baseline 42, annual target 58 and an actual of 50 against a quarter target of 52
    # when gap and progress are computed / then gap = -2 and progress = 8 / 16
    assert target_gap(50.0, 52.0) == -2.0
    assert progress_to_target(50.0, 42, 58) == 0.5
    assert target_gap(None, 52.0) is None
    assert progress_to_target(None, 42, 58) is None


def test_progress_is_none_when_the_target_equals_the_baseline() -> None:
    # given T = B / when progress is computed / then it is undefined
    assert progress_to_target(50.0, 42, 42) is None


def test_progress_for_a_lower_is_better_target_is_positive_when_moving_down() -> None:
    # given first-response time baseline 30 h, target 20 h, actual 25 h
    # when progress is computed / then it is halfway
    assert progress_to_target(25.0, 30, 20) == 0.5


def test_status_is_met_when_the_actual_reaches_the_quarter_target() -> None:
    # given an actual exactly at the target, and one above it
    # when the status is computed / then both are met, whether or not the quarter is closed
    assert target_status(44.0, 44.0, lower_is_better=False, quarter_closed=False) == "met"
    assert target_status(45.0, 44.0, lower_is_better=False, quarter_closed=True) == "met"


def test_status_short_of_target_is_missed_when_closed_and_in_progress_when_current() -> None:
    # given an actual short of the target / when the status is computed
    # then a closed quarter missed it and the current quarter is still in progress
    assert target_status(43.9, 44.0, lower_is_better=False, quarter_closed=True) == "missed"
    assert target_status(43.9, 44.0, lower_is_better=False, quarter_closed=False) == "in_progress"


def test_status_for_lower_is_better_counts_below_target_as_met() -> None:
    # given a first-response-time target of 20 h
    # when actuals of 18 h and 22 h are judged in a closed quarter / then below is met
    assert target_status(18.0, 20.0, lower_is_better=True, quarter_closed=True) == "met"
    assert target_status(22.0, 20.0, lower_is_better=True, quarter_closed=True) == "missed"


def test_status_without_an_actual_is_no_data() -> None:
    # given no actual / when the status is computed / then it is no data
    assert target_status(None, 44.0, lower_is_better=False, quarter_closed=True) == "no_data"


def test_status_compares_unrounded_values() -> None:
    # given an actual of 44.66 against a target of 44.666... (both display as 44.7)
    target = quarter_target(42, 58, PLAN_STEP_WEIGHTS, 1)
    assert target is not None
    # when the status is computed / then the unrounded actual is short of it
    assert target_status(44.66, target, lower_is_better=False, quarter_closed=True) == "missed"


# ---------------------------------------------------------------- quarter-over-quarter change


def test_nps_change_z_matches_hand_computation() -> None:
    # given Q1 P=5 D=2 n=10 (NPS 30, var 0.61) and Q2 P=8 D=1 n=10 (NPS 70, var 0.41)
    # when z is computed
    z = nps_change_z(5, 2, 10, 8, 1, 10)
    # then z = (70 - 30) / (100 * sqrt(0.061 + 0.041))
    assert z == pytest.approx(0.4 / math.sqrt(0.102), rel=1e-12)
    assert is_significant(z) is False


def test_nps_change_z_is_none_when_both_variances_are_0_or_a_period_is_empty() -> None:
    # given two all-promoter quarters, and an empty quarter / when z is computed / then none
    assert nps_change_z(10, 0, 10, 30, 0, 30) is None
    assert nps_change_z(0, 0, 0, 5, 2, 10) is None
    assert is_significant(None) is False


def test_two_proportion_z_uses_the_pooled_proportion() -> None:
    # given 40 of 100 then 55 of 100: pooled 0.475
    # when z is computed / then z = 0.15 / sqrt(0.475 * 0.525 * (1/100 + 1/100))
    z = two_proportion_z(40, 100, 55, 100)
    assert z == pytest.approx(0.15 / math.sqrt(0.475 * 0.525 * 0.02), rel=1e-12)
    assert z == pytest.approx(2.1239769762143665, rel=1e-12)
    assert is_significant(z) is True


def test_two_proportion_z_is_none_when_undefined() -> None:
    # given an empty period, and two periods with every answer a success
    # when z is computed / then the test is undefined
    assert two_proportion_z(0, 0, 5, 10) is None
    assert two_proportion_z(10, 10, 20, 20) is None
    assert two_proportion_z(0, 10, 0, 20) is None


def test_mean_change_z_matches_hand_computation() -> None:
    # given mean 3.5 (sd 1.0, n 50) then mean 4.0 (sd 1.2, n 60)
    # when z is computed / then z = 0.5 / sqrt(1/50 + 1.44/60)
    z = mean_change_z(3.5, 1.0, 50, 4.0, 1.2, 60)
    assert z == pytest.approx(0.5 / math.sqrt(0.02 + 0.024), rel=1e-12)


def test_mean_change_z_is_none_when_undefined() -> None:
    # given an empty period, a single-value period, or no variance at all
    # when z is computed / then the test is undefined
    assert mean_change_z(3.0, 1.0, 0, 4.0, 1.0, 10) is None
    assert mean_change_z(3.0, 0.0, 1, 4.0, 1.0, 10) is None
    assert mean_change_z(3.0, 0.0, 10, 4.0, 0.0, 10) is None


def test_two_sided_p_of_1_96_is_just_under_0_05() -> None:
    # given z = 1.96 and z = -1.96 / when p is computed / then 2 * (1 - Phi(1.96))
    assert two_sided_p(1.96) == pytest.approx(0.04999579029644087, rel=1e-9)
    assert two_sided_p(-1.96) == two_sided_p(1.96)
    assert two_sided_p(0.0) == 1.0
    assert is_significant(1.96) is True
    assert is_significant(1.95) is False


# ---------------------------------------------------------------- windows and deadlines


def test_windows_are_open_at_the_start_and_closed_at_the_end() -> None:
    # given a 90-day (2160 h) repurchase window
    # when purchases are placed / then (submission, submission + window] counts
    assert is_within_window(0.0, 2160) is False
    assert is_within_window(0.5, 2160) is True
    assert is_within_window(2160.0, 2160) is True
    assert is_within_window(2160.5, 2160) is False
    # and the window is open until exactly 90 days have passed since submission
    assert is_window_open(2159.9, 2160) is True
    assert is_window_open(2160.0, 2160) is False


def test_an_sla_deadline_reached_exactly_is_met() -> None:
    # given a 24 h deadline / when answered at 24 h and just after / then 24 h is met
    assert is_deadline_met(24.0, 24) is True
    assert is_deadline_met(24.01, 24) is False


# ---------------------------------------------------------------- repurchase bands


def test_repurchase_bands_per_scale() -> None:
    # given the four scales / when scores are banded / then they follow the contract
    assert repurchase_band(0, 0, 10) == (0, 2)
    assert repurchase_band(6, 0, 10) == (5, 6)
    assert repurchase_band(10, 0, 10) == (9, 10)
    assert repurchase_band(1, 1, 10) == (1, 2)
    assert repurchase_band(8, 1, 10) == (7, 8)
    assert repurchase_band(3, 1, 5) == (3, 3)
    assert repurchase_band(7, 1, 7) == (7, 7)
    assert REPURCHASE_BANDS[(1, 5)] == [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5)]


def test_repurchase_band_refuses_an_unknown_scale_or_a_score_off_the_scale() -> None:
    # given a 0-5 scale and a score of 11 on 0-10 / when banded / then refused
    with pytest.raises(ValueError, match=exactly("No repurchase bands for the 0..5 scale.")):
        repurchase_band(3, 0, 5)
    with pytest.raises(ValueError, match=exactly("Score 11 is outside the 0..10 scale.")):
        repurchase_band(11, 0, 10)


# ---------------------------------------------------------------- properties


@given(nps_samples())
def test_nps_is_always_between_minus_100_and_100(sample: tuple[int, int, int]) -> None:
    # given any promoters and detractors of n / when NPS is computed / then it is in range
    promoters, detractors, n = sample
    score = nps(promoters, detractors, n)
    if score is not None:
        assert -100 <= score <= 100


@given(nps_samples())
def test_nps_and_margin_are_none_exactly_when_n_is_0(sample: tuple[int, int, int]) -> None:
    # given any NPS counts / when computed / then no data iff there are no answers
    promoters, detractors, n = sample
    assert (nps(promoters, detractors, n) is None) == (n == 0)
    assert (nps_margin(promoters, detractors, n) is None) == (n == 0)


@given(proportion_samples())
def test_proportions_are_none_exactly_when_n_is_0(sample: tuple[int, int]) -> None:
    # given any successes of n / when shares and intervals are computed / then no data iff n = 0
    successes, n = sample
    assert (proportion_percent(successes, n) is None) == (n == 0)
    assert (rate(successes, n) is None) == (n == 0)
    assert (wilson_interval(successes, n) is None) == (n == 0)
    assert (mean(float(successes), n) is None) == (n == 0)


@given(proportion_samples())
def test_wilson_interval_holds_the_observed_share_within_0_to_100(
    sample: tuple[int, int],
) -> None:
    # given any successes of n > 0 / when the interval is computed
    successes, n = sample
    interval = wilson_interval(successes, n)
    share = proportion_percent(successes, n)
    if interval is None or share is None:
        return
    # then 0 <= low <= share <= high <= 100
    low, high = interval
    assert 0.0 <= low <= share + 1e-9
    assert share - 1e-9 <= high <= 100.0


@given(nps_samples(max_n=200).filter(lambda s: s[2] > 0), st.integers(min_value=2, max_value=50))
def test_nps_margin_shrinks_as_n_grows_for_fixed_shares(
    sample: tuple[int, int, int], factor: int
) -> None:
    # given fixed promoter and detractor shares at n and at factor * n
    promoters, detractors, n = sample
    _assert_narrower(
        nps_margin(promoters, detractors, n),
        nps_margin(factor * promoters, factor * detractors, factor * n),
    )


@given(
    proportion_samples(max_n=200).filter(lambda s: s[1] > 0),
    st.integers(min_value=2, max_value=50),
)
def test_wilson_interval_narrows_as_n_grows_for_a_fixed_share(
    sample: tuple[int, int], factor: int
) -> None:
    # given a fixed share at n and at factor * n
    successes, n = sample
    small = wilson_interval(successes, n)
    large = wilson_interval(factor * successes, factor * n)
    assert small is not None
    assert large is not None
    # when the widths are compared / then the larger sample is narrower
    assert large[1] - large[0] < small[1] - small[0]


@given(
    st.lists(st.integers(min_value=1, max_value=7), min_size=2, max_size=60),
    st.integers(min_value=2, max_value=50),
)
def test_mean_margin_shrinks_as_n_grows_for_the_same_spread(values: list[int], factor: int) -> None:
    # given CES answers, and the same answers `factor` times over (same mean, same spread)
    def margin(sample: list[int]) -> float | None:
        return mean_margin(float(sum(sample)), float(sum(v * v for v in sample)), len(sample))

    _assert_narrower(margin(values), margin(values * factor))


def _assert_narrower(small: float | None, large: float | None) -> None:
    """When a margin at n and at factor * n are compared, the larger sample is narrower (or
    both are 0)."""
    assert small is not None
    assert large is not None
    if small == 0:
        assert large == 0
    else:
        assert large < small


@given(
    st.dictionaries(
        st.sampled_from(sorted(HEALTHCARE_WEIGHTS)),
        st.one_of(st.none(), st.floats(min_value=0, max_value=100)),
    )
)
def test_composite_index_lies_between_the_weighted_scores(scores: dict[str, float | None]) -> None:
    # given any scores for the healthcare dimensions / when the index is computed
    index = composite_index(scores, HEALTHCARE_WEIGHTS)
    present = [score for score in scores.values() if score is not None]
    # then it is none without data, else within the lowest and highest score
    if not present:
        assert index is None
    else:
        assert index is not None
        assert min(present) - 1e-9 <= index <= max(present) + 1e-9
