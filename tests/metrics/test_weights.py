"""Admins set dimension weights: validated, versioned, audited, and used by the composite."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from metrics import selectors
from metrics.models import RecomputeJob, WeightChange, WeightProfile
from metrics.periods import Quarter, period_last_day
from metrics.services import metrics_rebuild, weights_profile_in_force, weights_set
from surveys.models import Dimension, Question, Survey
from surveys.services import response_submit

SHANGHAI = ZoneInfo("Asia/Shanghai")
HEALTHCARE = {
    "response-speed": "15",
    "technical-ability": "25",
    "emotional-value": "30",
    "process-experience": "20",
    "outcome": "10",
}


@pytest.fixture
def dimensions(db: None) -> dict[str, Dimension]:
    return {code: Dimension.objects.create(code=code, name=code) for code in HEALTHCARE}


def _respond_in_2025q1(survey: Survey) -> None:
    nps = survey.questions.get(kind="nps")
    with time_machine.travel(datetime(2025, 2, 1, tzinfo=SHANGHAI), tick=False):
        response_submit(survey=survey, raw_answers={str(nps.pk): 9})


def _form(weights: dict[str, str], day: str = "2025-01-01") -> dict[str, str]:
    return {"effective_from": day, **{f"weight_{code}": value for code, value in weights.items()}}


def test_admin_saves_weights_and_the_change_is_recorded(
    admin_client_: Client, dimensions: dict[str, Dimension], nps_survey: Survey
) -> None:
    _respond_in_2025q1(nps_survey)  # the first quarter the new version applies to

    response = admin_client_.post("/settings/weights/", _form(HEALTHCARE))

    assert response.status_code == 302
    profile = WeightProfile.objects.get()
    assert profile.effective_from == date(2025, 1, 1)
    change = WeightChange.objects.get()
    assert change.before == {}
    assert change.after["emotional-value"] == "30.00"
    assert change.changed_by.username == "ada.admin"
    job = RecomputeJob.objects.get()
    assert (job.reason, job.quarters[0]) == ("Weights changed", "2025Q1")


def test_a_version_for_quarters_without_data_queues_no_recompute(
    dimensions: dict[str, Dimension], nps_survey: Survey
) -> None:
    # given responses of 2025Q1, recomputed up to the current quarter
    _respond_in_2025q1(nps_survey)

    # when a version from the next quarter is saved
    next_quarter = period_last_day(Quarter.current()) + timedelta(days=1)
    weights_set(effective_from=next_quarter, weights=HEALTHCARE, user=None)

    # then nothing is recomputed (an empty list of quarters would have meant all of them)
    assert not RecomputeJob.objects.exists()


def test_a_new_version_records_the_weights_it_replaces_from_its_date(
    dimensions: dict[str, Dimension],
) -> None:
    # given the healthcare weights from January
    weights_set(effective_from=date(2025, 1, 1), weights=HEALTHCARE, user=None)

    # when a version from July moves 10 points from emotional value to outcome
    weights_set(
        effective_from=date(2025, 7, 1),
        weights={**HEALTHCARE, "emotional-value": "20", "outcome": "20"},
        user=None,
    )

    # then its change shows the January weights as before, and its own as after
    change = WeightChange.objects.get(effective_from=date(2025, 7, 1))
    assert change.before == {code: f"{value}.00" for code, value in HEALTHCARE.items()}
    assert change.after["emotional-value"] == "20.00"
    assert change.after["outcome"] == "20.00"


def test_weights_that_do_not_sum_to_100_are_refused_naming_the_total(
    admin_client_: Client, dimensions: dict[str, Dimension]
) -> None:
    response = admin_client_.post("/settings/weights/", _form({**HEALTHCARE, "outcome": "9.99"}))

    assert response.status_code == 400
    assert "Weights must sum to 100; they sum to 99.99." in response.content.decode()
    assert not WeightProfile.objects.exists()
    assert not WeightChange.objects.exists()


def test_thirds_with_two_decimals_are_accepted(dimensions: dict[str, Dimension]) -> None:
    weights_set(
        effective_from=date(2025, 1, 1),
        weights={"response-speed": "33.33", "technical-ability": "33.33", "outcome": "33.34"},
        user=None,
    )

    assert WeightProfile.objects.count() == 1


def test_negative_weight_is_refused(dimensions: dict[str, Dimension]) -> None:
    with pytest.raises(Exception, match="must not be negative"):
        weights_set(
            effective_from=date(2025, 1, 1),
            weights={"response-speed": "-10", "outcome": "110"},
            user=None,
        )


def test_manager_reads_weights_but_cannot_change_them(
    manager_client: Client, dimensions: dict[str, Dimension]
) -> None:
    assert manager_client.get("/settings/weights/").status_code == 200
    assert manager_client.post("/settings/weights/", _form(HEALTHCARE)).status_code == 403
    assert not WeightProfile.objects.exists()


def test_api_refuses_a_bad_total_with_the_message(
    admin_client_: Client, dimensions: dict[str, Dimension]
) -> None:
    response = admin_client_.post(
        "/api/v1/weights/",
        {"effective_from": "2025-01-01", "weights": {"outcome": 50, "response-speed": 60}},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json()["error"]["message"] == "Weights must sum to 100; they sum to 110."


def test_quarter_uses_the_version_in_force_on_its_last_day(
    dimensions: dict[str, Dimension],
) -> None:
    weights_set(effective_from=date(2025, 1, 1), weights=HEALTHCARE, user=None)
    later = {**HEALTHCARE, "response-speed": "25", "outcome": "0"}
    weights_set(effective_from=date(2025, 3, 31), weights=later, user=None)

    in_force = weights_profile_in_force(date(2025, 3, 31))
    before = weights_profile_in_force(date(2025, 3, 30))

    assert in_force is not None
    assert before is not None
    assert in_force.effective_from == date(2025, 3, 31)
    assert before.effective_from == date(2025, 1, 1)


def test_composite_index_weighs_dimension_scores(
    dimensions: dict[str, Dimension], staff: object
) -> None:
    survey = Survey.objects.create(title="Dimensions")
    speed = Question.objects.create(
        survey=survey,
        position=1,
        kind="csat",
        text="Speed?",
        dimension=dimensions["response-speed"],
    )
    outcome = Question.objects.create(
        survey=survey, position=2, kind="csat", text="Outcome?", dimension=dimensions["outcome"]
    )
    weights_set(effective_from=date(2020, 1, 1), weights=HEALTHCARE, user=None)
    response, _created = response_submit(
        survey=survey, raw_answers={str(speed.pk): 5, str(outcome.pk): 3}
    )

    metrics_rebuild()

    figure = selectors.metric_figures(response.quarter)["composite"]
    assert figure is not None
    # speed 100 (weight 15), outcome 50 (weight 10): (15*100 + 10*50) / 25 = 80
    assert figure.value == pytest.approx(80.0)


def test_dimension_scores_and_weights_are_read_from_the_api_as_the_page_shows_them(
    dimensions: dict[str, Dimension], manager_client: Client
) -> None:
    # given a response scoring speed 5 of 5 and outcome 3 of 5, under the healthcare weights
    survey = Survey.objects.create(title="Dimensions")
    speed, outcome = (
        Question.objects.create(
            survey=survey, position=position, kind="csat", text=code, dimension=dimensions[code]
        )
        for position, code in ((1, "response-speed"), (2, "outcome"))
    )
    weights_set(effective_from=date(2020, 1, 1), weights=HEALTHCARE, user=None)
    response, _created = response_submit(
        survey=survey, raw_answers={str(speed.pk): 5, str(outcome.pk): 3}
    )
    metrics_rebuild()

    # when the API is asked for the quarter, and for its year
    quarter = manager_client.get(f"/api/v1/metrics/dimensions/?period={response.quarter}")
    year = manager_client.get(f"/api/v1/metrics/dimensions/?period={response.quarter[:4]}")
    refused = manager_client.get("/api/v1/metrics/dimensions/?period=2025Q5")

    # then each dimension has its normalised score, n and weight; one without data is null
    rows = {row["code"]: row for row in quarter.json()["dimensions"]}
    assert quarter.status_code == 200
    assert (rows["response-speed"]["value"], rows["response-speed"]["n"]) == (100.0, 1)
    assert (rows["outcome"]["value"], rows["outcome"]["weight"]) == (50.0, 10.0)
    assert rows["outcome"]["is_low_sample"] is True
    assert rows["emotional-value"]["value"] is None
    assert rows["emotional-value"]["weight"] == 30.0
    assert year.json()["dimensions"] == quarter.json()["dimensions"]
    assert refused.status_code == 400
    assert "period" in refused.json()["error"]["fields"]
    # and the analysis page shows the same scores
    page = manager_client.get(f"/dashboard/analysis/?period={response.quarter}").content.decode()
    table = re.search(r'data-testid="dimensions-table">(.*?)</table>', page, re.S)
    assert table is not None
    shown = {
        name: re.sub(r"<[^>]+>", "", score)
        for name, score in re.findall(
            r'<tr><th scope="row">(.*?)</th><td class="num"[^>]*>(.*?)</td>', table.group(1)
        )
    }
    assert (shown["response-speed"], shown["outcome"]) == ("100.0", "50.0")


def test_a_bad_weight_is_named_by_its_dimension_beside_its_field_and_nothing_is_saved(
    admin_client_: Client, dimensions: dict[str, Dimension]
) -> None:
    dimensions["response-speed"].name = "Response speed"
    dimensions["response-speed"].save()
    dimensions["outcome"].name = "Outcome satisfaction"
    dimensions["outcome"].save()

    negative = admin_client_.post(
        "/settings/weights/", _form({**HEALTHCARE, "response-speed": "-15", "outcome": "40"})
    )
    typo = admin_client_.post("/settings/weights/", _form({**HEALTHCARE, "outcome": "1O"}))
    huge = admin_client_.post("/settings/weights/", _form({**HEALTHCARE, "outcome": "1e30"}))

    assert negative.status_code == typo.status_code == huge.status_code == 400
    assert (
        "The weight for Outcome satisfaction is a percentage: at most 100; it is 1e30."
        in huge.content.decode()
    )
    page = negative.content.decode()
    assert (
        '<p class="error" id="weight_response-speed_error">The weight for Response speed must '
        "not be negative; it is -15.</p>"
    ) in page
    assert 'id="weight_response-speed" value="-15" aria-invalid="true"' in page
    assert (
        "The weight for Outcome satisfaction must be a number such as 25 or 33.33."
        in typo.content.decode()
    )
    assert not WeightProfile.objects.exists()


def test_chinese_admin_reads_the_weight_total_error_in_chinese(
    admin_client_: Client, dimensions: dict[str, Dimension]
) -> None:
    admin_client_.cookies["django_language"] = "zh-hans"

    response = admin_client_.post("/settings/weights/", _form({"outcome": "0"}))

    page = response.content.decode()
    assert response.status_code == 400
    assert "权重之和必须为 100，当前为 0。" in page  # noqa: RUF001
    assert "Weights must sum to 100" not in page
    assert not WeightProfile.objects.exists()


def test_the_new_version_form_starts_from_the_weights_in_force_and_the_log_names_dimensions(
    admin_client_: Client, dimensions: dict[str, Dimension]
) -> None:
    dimensions["emotional-value"].name = "Emotional value"
    dimensions["emotional-value"].save()
    admin_client_.post("/settings/weights/", _form(HEALTHCARE))

    page = admin_client_.get("/settings/weights/").content.decode()

    assert 'id="weight_emotional-value" value="30"' in page
    assert 'id="weight_outcome" value="10"' in page
    assert "<td>Emotional value 30.00, outcome 10.00, process-experience 20.00" in page


def test_chinese_admin_reads_the_recompute_reason_in_chinese(
    admin_client_: Client, dimensions: dict[str, Dimension], nps_survey: Survey
) -> None:
    _respond_in_2025q1(nps_survey)
    admin_client_.post("/settings/weights/", _form(HEALTHCARE))  # the job is recorded in English
    admin_client_.cookies["django_language"] = "zh-hans"

    page = admin_client_.get("/settings/weights/").content.decode()

    assert "<tr><td>权重已变更</td>" in page
    assert "Weights changed" not in page
