"""Targets: the pure rules, the admin's input refused field by field, the API and the page."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from accounts.models import User
from csat.errors import ApplicationError
from metrics import formulas, target_formulas, targets
from metrics.models import Target
from metrics.periods import Quarter
from metrics.selectors import METRICS, Figure

SHANGHAI = ZoneInfo("Asia/Shanghai")
NPS_PLAN = {"baseline": 42, "target": 58, "stretch": 62, "benchmark": 65}


# ---------------------------------------------------------------- pure rules


def test_target_below_baseline_is_refused_for_a_higher_is_better_metric() -> None:
    # given NPS baseline 42 / when the target is 40 / then the rule names both numbers
    assert target_formulas.target_direction_error(42, 40, lower_is_better=False) == (
        "Higher is better for this metric: the target must be at or above the baseline (42); "
        "it is 40."
    )
    assert target_formulas.target_direction_error(42, 42, lower_is_better=False) is None


def test_target_above_baseline_is_refused_for_a_lower_is_better_metric() -> None:
    # given first-response time baseline 24 h / when the target is 30 h / then it is refused
    assert target_formulas.target_direction_error(24, 30, lower_is_better=True) == (
        "Lower is better for this metric: the target must be at or below the baseline (24); "
        "it is 30."
    )
    assert target_formulas.target_direction_error(24, 4, lower_is_better=True) is None


def test_stretch_short_of_the_target_is_refused_in_the_metric_direction() -> None:
    assert target_formulas.stretch_direction_error(58, 55.5, lower_is_better=False) == (
        "The stretch target must be at or above the target (58); it is 55.5."
    )
    assert target_formulas.stretch_direction_error(4, 2, lower_is_better=True) is None
    assert target_formulas.stretch_direction_error(4, 5, lower_is_better=True) == (
        "The stretch target must be at or below the target (4); it is 5."
    )


def test_step_weights_summing_to_zero_or_negative_are_refused() -> None:
    assert target_formulas.step_weights_error([0, 0, 0, 0]) == (
        "The step weights must sum to more than 0; they sum to 0."
    )
    assert target_formulas.step_weights_error([3, -5, 4, 6]) == (
        "The Q2 weight must not be negative; it is -5."
    )
    assert target_formulas.step_weights_error([3, 5, 4]) == (
        "Give four step weights, one per quarter; got 3."
    )
    assert target_formulas.step_weights_error([3, 5, 4, 6]) is None


def test_status_reverses_for_lower_is_better_and_compares_unrounded() -> None:
    # given complaint rate (lower is better) with a quarter target of 5.0
    # when the actual is 4.99 / 5.0 / 5.004 (the last shows as 5.0 but is past the target)
    # then met, met, and missed in a closed quarter or in progress in the current one
    assert formulas.target_status(4.99, 5.0, lower_is_better=True, quarter_closed=True) == "met"
    assert formulas.target_status(5.0, 5.0, lower_is_better=True, quarter_closed=True) == "met"
    assert formulas.target_status(5.004, 5.0, lower_is_better=True, quarter_closed=True) == (
        "missed"
    )
    assert formulas.target_status(5.004, 5.0, lower_is_better=True, quarter_closed=False) == (
        "in_progress"
    )
    assert formulas.target_status(None, 5.0, lower_is_better=True, quarter_closed=True) == (
        "no_data"
    )


def test_pareto_marks_the_vital_few_up_to_the_first_category_reaching_80_percent() -> None:
    # given complaints 40, 22, 14, 10, 8, 6 (100 in all)
    rows = target_formulas.pareto(
        [
            ("billing", 10),
            ("slow", 40),
            ("personal", 22),
            ("defect", 14),
            ("wait", 8),
            ("policy", 6),
        ]
    )
    # then sorted most first, cumulative 40, 62, 76, 86, 94, 100; the vital few are the first
    # four (76 % is short of 80 %, 86 % reaches it)
    assert [row.key for row in rows] == ["slow", "personal", "defect", "billing", "wait", "policy"]
    assert [row.cumulative for row in rows] == [40.0, 62.0, 76.0, 86.0, 94.0, 100.0]
    assert [row.is_vital_few for row in rows] == [True, True, True, True, False, False]
    assert target_formulas.pareto([]) == []


def test_segment_priority_from_the_gap_to_target_and_the_top_problem_share() -> None:
    assert target_formulas.segment_priority(-7.0, 45.0) == "high"  # the brief's high-value row
    assert target_formulas.segment_priority(2.0, 62.0) == "high"  # the brief's normal row
    assert target_formulas.segment_priority(-0.5, 10.0) == "medium"
    assert target_formulas.segment_priority(1.0, 30.0) == "medium"
    assert target_formulas.segment_priority(1.0, 29.9) == "low"
    assert target_formulas.segment_priority(None, None) == "no_data"


# ---------------------------------------------------------------- services


def _set(metric: str = "nps", year: Any = 2026, **values: Any) -> Target:
    return targets.target_set(metric=metric, year=year, values={**NPS_PLAN, **values}, user=None)


@pytest.mark.django_db
def test_nps_target_derives_the_brief_quarter_targets() -> None:
    # given NPS 42 -> 58 with the default weights 3, 5, 4, 6
    target = _set()
    # when its plan is read / then the quarters are 44.67, 49.11, 52.67, 58.00
    plan = targets.target_plan(target)
    assert target.weights == [3.0, 5.0, 4.0, 6.0]
    assert [round(value, 2) for value in plan.quarter_targets if value is not None] == [
        44.67, 49.11, 52.67, 58.0,
    ]  # fmt: skip
    assert plan.typed == [False, False, False, False]


@pytest.mark.django_db
def test_typed_quarter_targets_are_used_and_the_rest_derived() -> None:
    target = _set(target_q2="50")
    plan = targets.target_plan(target)
    assert plan.quarter_targets == pytest.approx([42 + 16 * 3 / 18, 50.0, 42 + 16 * 12 / 18, 58])
    assert plan.typed == [False, True, False, False]


@pytest.mark.django_db
def test_setting_a_target_again_replaces_it() -> None:
    _set()
    _set(target=60)
    assert list(Target.objects.values_list("metric", "year", "segment", "target")) == [
        ("nps", 2026, "", 60)
    ]


def _refused(**kwargs: Any) -> dict[str, list[str]]:
    with pytest.raises(ApplicationError) as caught:
        targets.target_set(**{"metric": "nps", "year": 2026, "user": None, **kwargs})
    assert caught.value.message == "The target was not saved: correct the fields named."
    assert not Target.objects.exists()
    return caught.value.fields


@pytest.mark.django_db
def test_target_on_the_wrong_side_of_the_baseline_is_refused_and_nothing_stored() -> None:
    fields = _refused(values={"baseline": 42, "target": 30})
    assert fields == {
        "target": [
            "Higher is better for this metric: the target must be at or above the baseline "
            "(42); it is 30."
        ]
    }


@pytest.mark.django_db
def test_lower_is_better_target_above_the_baseline_is_refused() -> None:
    fields = _refused(metric="complaint_rate", values={"baseline": 5, "target": 6})
    assert fields == {
        "target": [
            "Lower is better for this metric: the target must be at or below the baseline "
            "(5); it is 6."
        ]
    }


@pytest.mark.django_db
def test_missing_baseline_non_numbers_and_zero_weights_are_each_named() -> None:
    fields = _refused(
        year="next year",
        values={
            "target": "fifty",
            "stretch": "1e400",
            "weight_q1": "0",
            "weight_q2": "0",
            "weight_q3": "0",
            "weight_q4": "0",
        },
    )
    assert fields == {
        "year": ["Give a year such as 2026."],
        "target": ["Give a number such as 42 or 42.5."],
        "stretch": ["Give at most two decimal places and 7 digits before them."],
        "baseline": ["Give the baseline: a year's targets start from it."],
        "weights": ["The step weights must sum to more than 0; they sum to 0."],
    }


@pytest.mark.django_db
def test_unknown_metric_segment_and_out_of_range_values_are_refused() -> None:
    assert _refused(metric="happiness", values=NPS_PLAN) == {
        "metric": ["Choose one of: " + ", ".join(METRICS) + "."]
    }
    assert _refused(segment="vip", values=NPS_PLAN) == {
        "segment": ["Choose one of: high_value, normal, churn_risk, or none."]
    }
    assert _refused(values={"baseline": 42, "target": 120}) == {
        "target": ["Must be between -100 and 100."]
    }
    assert _refused(metric="csat", values={"baseline": 70, "target": 80, "target_q3": "101"}) == {
        "target_q3": ["Must be between 0 and 100."]
    }


# ---------------------------------------------------------------- reads


def _figure(value: float | None, metric: str = "nps") -> Figure:
    return Figure(metric, value, 100 if value is not None else 0)


@pytest.mark.django_db
def test_target_row_sets_the_actual_against_the_quarter_target() -> None:
    # given NPS 42 -> 58 and an actual of 50 in 2026Q2 (target 49.11), a closed quarter
    target = _set()
    with time_machine.travel(datetime(2026, 8, 1, tzinfo=SHANGHAI), tick=False):
        row = targets.target_row(METRICS["nps"], _figure(50.0), target, Quarter(2026, 2))
        in_q3 = targets.target_row(METRICS["nps"], _figure(50.0), target, Quarter(2026, 3))
    # then the gap is 50 - 49.11, progress 8/16 and the quarter is met
    assert row.quarter_target == pytest.approx(42 + 16 * 8 / 18)
    assert row.gap == pytest.approx(50 - (42 + 16 * 8 / 18))
    assert row.progress == 0.5
    assert (row.status, row.baseline, row.stretch, row.benchmark) == ("met", 42, 62, 65)
    # and in the current quarter 50 is short of 52.67: in progress
    assert in_q3.status == "in_progress"


@pytest.mark.django_db
def test_a_segment_target_overrides_the_one_for_every_customer() -> None:
    _set()
    targets.target_set(
        metric="nps",
        year=2026,
        segment="high_value",
        values={"baseline": 48, "target": 64},
        user=None,
    )
    assert float(targets.targets_in_force(2026, "high_value")["nps"].baseline) == 48
    assert float(targets.targets_in_force(2026, "normal")["nps"].baseline) == 42
    assert float(targets.targets_in_force(2026)["nps"].baseline) == 42


# ---------------------------------------------------------------- API and page


def test_admin_sets_a_target_through_the_api(admin_client_: Client) -> None:
    body = {"metric": "first_response_time", "year": 2026, "baseline": 24, "target": 4,
            "weights": [3, 5, 4, 6], "quarter_targets": [None, 15]}  # fmt: skip
    response = admin_client_.post("/api/v1/targets/", body, content_type="application/json")
    assert response.status_code == 201
    data = response.json()
    assert data["quarter_targets"] == pytest.approx([24 - 20 * 3 / 18, 15, 24 - 20 * 12 / 18, 4])
    assert (data["baseline"], data["target"], data["stretch"]) == (24, 4, None)


def test_api_names_the_bad_field_and_stores_nothing(admin_client_: Client) -> None:
    body = {"metric": "nps", "year": 2026, "baseline": 42, "target": 58, "weights": [0, 0, 0, 0]}
    response = admin_client_.post("/api/v1/targets/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "message": "The target was not saved: correct the fields named.",
            "fields": {"weights": ["The step weights must sum to more than 0; they sum to 0."]},
        }
    }
    assert not Target.objects.exists()


def test_manager_reads_targets_but_cannot_set_them(manager_client: Client) -> None:
    _set()
    assert manager_client.get("/api/v1/targets/?year=2026").json()[0]["quarter_targets"][
        3
    ] == pytest.approx(58)
    body = {"metric": "nps", "year": 2026, "baseline": 1, "target": 2}
    response = manager_client.post("/api/v1/targets/", body, content_type="application/json")
    assert response.status_code == 403
    assert manager_client.post("/settings/targets/", {"metric": "nps"}).status_code == 403


def test_staff_cannot_read_targets(staff_client: Client) -> None:
    assert staff_client.get("/api/v1/targets/").status_code == 403
    assert staff_client.get("/settings/targets/").status_code == 403


def test_targets_are_in_the_openapi_schema(admin_client_: Client) -> None:
    schema = admin_client_.get("/api/v1/schema/?format=json").json()
    assert {"/api/v1/targets/", "/api/v1/targets/{id}/", "/api/v1/targets/status/"} <= set(
        schema["paths"]
    )


def test_admin_page_saves_a_target_and_lists_its_quarters(admin_client_: Client) -> None:
    form = {"metric": "nps", "year": "2026", "segment": "", "baseline": "42", "target": "58",
            "stretch": "", "benchmark": "65", "weight_q1": "3", "weight_q2": "5",
            "weight_q3": "4", "weight_q4": "6"}  # fmt: skip
    response = admin_client_.post("/settings/targets/", form, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Target for NPS in 2026 saved." in page
    assert all(value in page for value in ["44.67", "49.11", "52.67", "58.00"])


def test_admin_page_shows_each_problem_next_to_its_field(admin_client_: Client) -> None:
    form = {"metric": "nps", "year": "2026", "baseline": "", "target": "58",
            "weight_q1": "0", "weight_q2": "0", "weight_q3": "0", "weight_q4": "0"}  # fmt: skip
    response = admin_client_.post("/settings/targets/", form)
    assert response.status_code == 400
    page = response.content.decode()
    assert "Give the baseline: a year&#x27;s targets start from it." in page
    assert "The step weights must sum to more than 0; they sum to 0." in page
    assert not Target.objects.exists()


def test_removing_a_target_asks_first_then_removes_it(admin_client_: Client, admin: User) -> None:
    target = _set()

    asked = admin_client_.post("/settings/targets/", {"delete": target.pk})

    assert asked.status_code == 200
    assert Target.objects.filter(pk=target.pk).exists()
    page = asked.content.decode()
    assert f"Remove the {target.year} target for NPS (every customer)?" in page
    assert '<button type="submit" name="confirm" value="yes">Remove the target</button>' in page
    assert '<a href="/settings/targets/">Keep it</a>' in page

    removed = admin_client_.post("/settings/targets/", {"delete": target.pk, "confirm": "yes"})

    assert removed.status_code == 302
    assert not Target.objects.exists()
