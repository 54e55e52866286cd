"""The quarter's NPS: computed by the outbox handler from counted responses, on the dashboard."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from csat.models import OutboxEvent
from csat.outbox import outbox_process
from metrics import selectors
from metrics.models import AnswerCell, AnswerSlice
from metrics.periods import Quarter
from metrics.services import metrics_apply_response, metrics_rebuild
from surveys.models import Response, Survey
from surveys.services import response_submit

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _submit(survey: Survey, score: int, at: datetime | None = None) -> Response:
    nps = survey.questions.get(kind="nps")
    if at is None:
        response, _created = response_submit(survey=survey, raw_answers={str(nps.pk): score})
    else:
        with time_machine.travel(at, tick=False):
            response, _created = response_submit(survey=survey, raw_answers={str(nps.pk): score})
    return response


def _process_all() -> None:
    for event_id in OutboxEvent.objects.values_list("pk", flat=True):
        outbox_process(event_id)


def _all_nps(period: str) -> selectors.Figure:
    figure = selectors.metric_figures(period)["nps"]
    assert figure is not None
    return figure


def test_quarter_nps_follows_promoters_minus_detractors(nps_survey: Survey) -> None:
    at = datetime(2025, 5, 10, 12, tzinfo=SHANGHAI)
    for score in [10, 9, 9, 8, 7, 6, 0, 10, 9, 3]:
        _submit(nps_survey, score, at)

    _process_all()

    figure = _all_nps("2025Q2")
    # 5 promoters, 3 detractors, n = 10: NPS = 100 * (0.5 - 0.3) = 20
    assert figure.n == 10
    assert figure.value == pytest.approx(20.0)
    # 1.96 * 100 * sqrt((0.5 + 0.3 - 0.2 ** 2) / 10)
    assert figure.margin == pytest.approx(1.96 * 100 * (0.76 / 10) ** 0.5)


def test_reporting_time_zone_places_late_march_in_q1_and_early_april_in_q2(
    nps_survey: Survey, settings: object
) -> None:
    _submit(nps_survey, 10, datetime(2025, 3, 31, 23, 30, tzinfo=SHANGHAI))
    _submit(nps_survey, 0, datetime(2025, 4, 1, 0, 10, tzinfo=SHANGHAI))

    _process_all()

    assert (_all_nps("2025Q1").n, _all_nps("2025Q1").value) == (1, 100.0)
    assert (_all_nps("2025Q2").n, _all_nps("2025Q2").value) == (1, -100.0)


def test_test_and_spam_responses_do_not_count(nps_survey: Survey) -> None:
    at = datetime(2025, 5, 10, tzinfo=SHANGHAI)
    counted = _submit(nps_survey, 10, at)
    test = _submit(nps_survey, 0, at)
    spam = _submit(nps_survey, 0, at)
    Response.objects.filter(pk=test.pk).update(is_test=True)
    Response.objects.filter(pk=spam.pk).update(is_spam=True)

    _process_all()

    assert (_all_nps("2025Q2").n, _all_nps("2025Q2").value) == (1, 100.0)
    assert counted.is_counted


def test_processing_an_event_twice_leaves_the_same_rollup(nps_survey: Survey) -> None:
    _submit(nps_survey, 9, datetime(2025, 5, 10, tzinfo=SHANGHAI))
    event = OutboxEvent.objects.get()

    first = outbox_process(event.pk)
    second = outbox_process(event.pk)
    metrics_apply_response(event.object_id)

    assert (first, second) == (True, False)
    assert AnswerSlice.objects.filter(quarter="2025Q2", slice_kind="all").count() == 1
    assert (_all_nps("2025Q2").n, _all_nps("2025Q2").value) == (1, 100.0)
    assert OutboxEvent.objects.get().attempts == 1


def test_full_recompute_equals_incremental_updates(nps_survey: Survey) -> None:
    for index, score in enumerate([10, 2, 8, 9, 6, 10, 10, 5]):
        _submit(nps_survey, score, datetime(2025, 1 + index, 15, tzinfo=SHANGHAI))
    _process_all()
    columns = ("quarter", "survey_id", "channel", "question_id", "score", "answers")
    incremental = sorted(AnswerCell.objects.filter(answers__gt=0).values_list(*columns))

    AnswerCell.objects.all().delete()
    AnswerSlice.objects.all().delete()
    metrics_rebuild()

    assert sorted(AnswerCell.objects.values_list(*columns)) == incremental


def test_dashboard_shows_no_data_never_zero_for_an_empty_quarter(manager_client: Client) -> None:
    page = manager_client.get("/dashboard/?period=2025Q1").content.decode()

    assert 'data-testid="nps-value">No data<' in page
    assert 'data-testid="nps-value">0' not in page


def test_dashboard_shows_nps_with_n_and_margin(manager_client: Client, nps_survey: Survey) -> None:
    for score in [10, 9, 6]:
        _submit(nps_survey, score, datetime(2025, 8, 1, tzinfo=SHANGHAI))
    _process_all()

    page = manager_client.get("/dashboard/?period=2025Q3").content.decode()

    # 2 promoters, 1 detractor of 3: NPS 33.3; margin 1.96*100*sqrt((1 - 1/9)/3) = 106.7
    assert 'data-testid="nps-value">33.3<' in page
    assert 'data-testid="nps-n">n = 3<' in page
    assert 'data-testid="nps-margin">± 106.7<' in page
    assert "Low sample: fewer than 30 answers." in page


def test_dashboard_rejects_a_malformed_quarter_with_a_message(manager_client: Client) -> None:
    response = manager_client.get("/dashboard/?period=2025Q5")

    assert response.status_code == 400
    assert "is not a quarter such as 2025Q1" in response.content.decode()


def test_metrics_api_returns_the_dashboard_figure(
    manager_client: Client, nps_survey: Survey
) -> None:
    for score in [10, 9, 6]:
        _submit(nps_survey, score, datetime(2025, 8, 1, tzinfo=SHANGHAI))
    _process_all()

    response = manager_client.get("/api/v1/metrics/nps/?period=2025Q3")
    by_survey = manager_client.get(
        f"/api/v1/metrics/nps/?period=2025Q3&survey={nps_survey.pk}&channel=web"
    )
    empty = manager_client.get("/api/v1/metrics/nps/?period=2024Q3")

    assert response.json()["n"] == 3
    assert response.json()["value"] == pytest.approx(100 / 3)
    assert response.json()["is_low_sample"] is True
    assert by_survey.json()["n"] == 3
    assert empty.json()["n"] == 0
    assert empty.json()["value"] is None
    assert empty.json()["is_low_sample"] is False


def test_metrics_api_names_bad_parameters(manager_client: Client) -> None:
    unknown = manager_client.get("/api/v1/metrics/xyz/")
    response = manager_client.get(
        "/api/v1/metrics/nps/?period=2025-1&slice_kind=planet&survey=999999&channel=fax"
    )

    assert unknown.status_code == 404
    assert unknown.json()["error"]["fields"]["metric"][0].startswith("Choose one of: nps, csat")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "The metric query is not valid."
    assert response.json()["error"]["fields"] == {
        "period": ["Give a quarter such as 2025Q1 or a year such as 2025."],
        "slice_kind": [
            "Unknown parameter; use period and the filters survey, channel, touchpoint, "
            "segment, team, agent."
        ],
        "survey": ["No survey has the id 999999."],
        "channel": [
            "Unknown channel fax; use one of: web, email, sms, qr, phone, embed, api, import."
        ],
    }


def test_quarter_boundaries_are_local_midnight() -> None:
    quarter = Quarter.parse("2025Q4")

    assert quarter.start == datetime(2025, 10, 1, tzinfo=SHANGHAI)
    assert quarter.end == datetime(2026, 1, 1, tzinfo=SHANGHAI)
    assert quarter.previous().label == "2025Q3"
    assert Quarter.parse("2025Q1").previous().label == "2024Q4"
