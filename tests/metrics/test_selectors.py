"""The read contract the dashboards are built on: filters, trends, slice lists, score
distribution and complaint categories, in selectors and in the API."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from accounts.models import User
from csat.errors import ApplicationError
from csat.models import OutboxEvent
from csat.outbox import outbox_process
from feedback.models import ComplaintCategory, RootCause
from feedback.services import case_log_complaint
from metrics import selectors, services
from metrics.models import AnswerCell, DirtyPeriod, RollupClock
from surveys.models import Customer, Purchase, Question, Response, Survey
from surveys.services import response_submit

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAY = datetime(2025, 5, 10, 10, tzinfo=SHANGHAI)


def _process() -> None:
    while pending := list(
        OutboxEvent.objects.filter(processed_at__isnull=True).values_list("pk", flat=True)
    ):
        for event_id in pending:
            outbox_process(event_id)


def _submit(
    survey: Survey,
    score: int,
    *,
    at: datetime = MAY,
    channel: str = "web",
    agent: User | None = None,
    customer: Customer | None = None,
) -> Response:
    nps = survey.questions.get(kind="nps")
    with time_machine.travel(at, tick=False):
        response, _created = response_submit(
            survey=survey,
            raw_answers={str(nps.pk): score},
            channel=channel,
            agent=agent,
            customer=customer,
        )
        _process()
    return response


@pytest.fixture
def agent(staff: User) -> User:
    return staff


# ---------------------------------------------------------------- filters


def test_filters_validate_drops_empty_values_and_normalises_ids(
    nps_survey: Survey, agent: User
) -> None:
    cleaned = selectors.filters_validate(
        {"survey": f" {nps_survey.pk} ", "channel": "email", "team": "", "agent": str(agent.pk)}
    )

    assert cleaned == {"survey": str(nps_survey.pk), "channel": "email", "agent": str(agent.pk)}


def test_filters_validate_names_every_bad_field(db: None) -> None:
    with pytest.raises(ApplicationError) as raised:
        selectors.filters_validate(
            {"planet": "mars", "survey": "12x", "segment": "vip", "team": "999999"}
        )

    assert raised.value.message == "The filters are not valid."
    assert raised.value.fields == {
        "planet": [
            "Unknown filter; use one of: survey, channel, touchpoint, segment, team, agent."
        ],
        "survey": ["No survey has the id 12x."],
        "segment": ["Unknown segment vip; use one of: high_value, normal, churn_risk."],
        "team": ["No team has the id 999999."],
    }


def test_a_combination_of_filters_counts_only_the_responses_matching_all_of_them(
    nps_survey: Survey, agent: User
) -> None:
    _submit(nps_survey, 10, channel="email", agent=agent)
    _submit(nps_survey, 0, channel="email")
    _submit(nps_survey, 9, channel="web", agent=agent)

    both = selectors.metric_figures("2025Q2", {"channel": "email", "agent": str(agent.pk)})
    email = selectors.metric_figures("2025Q2", {"channel": "email"})
    nobody = selectors.metric_figures("2025Q2", {"channel": "sms", "agent": str(agent.pk)})

    assert (both["nps"].n, both["nps"].value) == (1, 100.0)
    assert (email["nps"].n, email["nps"].value) == (2, 0.0)
    assert (nobody["nps"].n, nobody["nps"].value) == (0, None)


def test_a_metric_whose_records_lack_a_filtered_attribute_is_absent(
    nps_survey: Survey,
) -> None:
    _submit(nps_survey, 3)

    by_survey = selectors.metric_figures("2025Q2", {"survey": str(nps_survey.pk)})
    by_channel = selectors.metric_figures("2025Q2", {"channel": "web", "segment": "normal"})
    by_segment = selectors.metric_figures("2025Q2", {"segment": "normal"})

    assert {"complaint_resolution", "coverage", "complaint_rate"} & set(by_survey) == set()
    assert {"response_rate", "nps"} <= set(by_survey)
    assert {"coverage", "complaint_rate"} & set(by_channel) == set()
    assert "complaint_resolution" in by_channel
    assert {"coverage", "complaint_rate", "complaint_resolution"} <= set(by_segment)
    assert selectors.period_figure("2025Q2", "coverage", {"survey": str(nps_survey.pk)}) is None


# ---------------------------------------------------------------- trend, slices, scores


def test_trend_reads_each_period_as_period_figure_does(nps_survey: Survey) -> None:
    _submit(nps_survey, 10, at=datetime(2025, 2, 1, 10, tzinfo=SHANGHAI))
    _submit(nps_survey, 2, at=MAY)
    _submit(nps_survey, 9, at=MAY)
    labels = ["2024Q4", "2025Q1", "2025Q2", "2025"]

    trend = selectors.metric_trend("nps", labels)
    absent = selectors.metric_trend("coverage", labels, {"channel": "web"})

    assert [(figure.n, figure.value) for figure in trend if figure] == [
        (0, None),
        (1, 100.0),
        (2, 0.0),
        (3, pytest.approx(100 / 3)),
    ]
    assert trend == [selectors.period_figure(label, "nps") for label in labels]
    assert absent == [None] * 4


def test_slice_figures_lists_members_with_data_within_the_other_filters(
    nps_survey: Survey, agent: User
) -> None:
    _submit(nps_survey, 10, channel="email", agent=agent)
    _submit(nps_survey, 0, channel="sms", agent=agent)
    _submit(nps_survey, 7, channel="sms")

    channels = selectors.slice_figures("2025Q2", "channel", "nps")
    for_agent = selectors.slice_figures(
        "2025Q2", "channel", "nps", {"agent": str(agent.pk), "channel": "email"}
    )
    none_for_cases = selectors.slice_figures("2025Q2", "survey", "complaint_resolution")

    assert [(value, label, figure.n) for value, label, figure in channels] == [
        ("email", "Email", 1),
        ("sms", "SMS", 2),
    ]
    assert [(value, figure.value) for value, _label, figure in for_agent] == [
        ("email", 100.0),
        ("sms", -100.0),
    ]
    assert none_for_cases == []


def test_score_distribution_lists_every_point_of_the_scale(nps_survey: Survey) -> None:
    for score in (10, 10, 7, 0):
        _submit(nps_survey, score)

    distribution = selectors.score_distribution("2025Q2")

    assert distribution == {
        "nps 0-10": [
            {"score": point, "count": {0: 1, 7: 1, 10: 2}.get(point, 0)} for point in range(11)
        ]
    }
    assert selectors.score_distribution("2025Q1") == {}


def test_complaint_categories_rank_categories_with_their_distinct_customers(
    db: None, staff: User
) -> None:
    late = ComplaintCategory.objects.create(name="Late delivery", root_cause=RootCause.PROCESS)
    rude = ComplaintCategory.objects.create(name="Rude staff", root_cause=RootCause.PEOPLE)
    ann, bob = (Customer.objects.create(external_id=name) for name in ("ann", "bob"))
    with time_machine.travel(MAY, tick=False):
        for category, customer, channel in [
            (late, ann, "phone"),
            (late, ann, "phone"),
            (late, bob, "email"),
            (late, None, "phone"),
            (rude, bob, "phone"),
        ]:
            case_log_complaint(
                category=category,
                channel=channel,
                summary="Not good.",
                customer=customer,
                agent=staff,
            )
        _process()
    with time_machine.travel(MAY + timedelta(minutes=1), tick=False):
        services.metrics_recompute_dirty()

    everything = selectors.complaint_categories("2025Q2")
    by_phone_and_agent = selectors.complaint_categories(
        "2025Q2", {"channel": "phone", "agent": str(staff.pk)}
    )

    assert everything == [
        {"category_id": late.pk, "name": "Late delivery", "root_cause": "process",
         "complaints": 4, "customers": 2},
        {"category_id": rude.pk, "name": "Rude staff", "root_cause": "people",
         "complaints": 1, "customers": 1},
    ]  # fmt: skip
    assert [(row["name"], row["complaints"], row["customers"]) for row in by_phone_and_agent] == [
        ("Late delivery", 3, 1),
        ("Rude staff", 1, 1),
    ]
    assert selectors.complaint_categories("2025Q2", {"survey": "1"}) == []


# ---------------------------------------------------------------- repurchase windows


def test_windows_close_as_time_passes_and_closing_twice_moves_nothing(
    nps_survey: Survey,
) -> None:
    customer = Customer.objects.create(external_id="c1")
    _submit(nps_survey, 10, customer=customer)
    Purchase.objects.create(customer=customer, purchased_at=MAY + timedelta(days=20))
    services.responses_link_purchases(customer_id=customer.pk)
    before = selectors.repurchase_table("2025Q2")["nps 0-10"][-1]

    later = MAY + timedelta(days=91)
    first = services.answers.answers_close_windows(later)
    columns = ("score", "answers", "repurchase_open", "repurchase_closed", "repurchase_bought")
    cells = sorted(AnswerCell.objects.values_list(*columns))
    second = services.answers.answers_close_windows(later)

    after = selectors.repurchase_table("2025Q2")["nps 0-10"][-1]
    assert (before["n"], before["window_open"]) == (0, 1)
    assert (first, second) == (True, False)
    assert (after["n"], after["repurchased"], after["rate"], after["window_open"]) == (
        1,
        1,
        100.0,
        0,
    )
    assert cells == [(10, 1, 0, 1, 1)]
    assert RollupClock.objects.get().at == later


def test_a_purchase_recorded_after_the_window_closed_counts_once_refreshed(
    nps_survey: Survey,
) -> None:
    customer = Customer.objects.create(external_id="c2")
    _submit(nps_survey, 3, customer=customer)
    later = MAY + timedelta(days=100)
    services.answers.answers_close_windows(later)
    assert selectors.repurchase_table("2025Q2")["nps 0-10"][1]["repurchased"] == 0

    with time_machine.travel(later, tick=False):
        purchase = Purchase.objects.create(customer=customer, purchased_at=MAY + timedelta(days=30))
        services.metrics_apply_purchase(purchase.pk)
    dirty = set(DirtyPeriod.objects.values_list("period", "family"))
    with time_machine.travel(later + timedelta(minutes=1), tick=False):
        ran = services.metrics_recompute_dirty()
        again = services.metrics_recompute_dirty()

    band = selectors.repurchase_table("2025Q2")["nps 0-10"][1]
    assert ("2025Q2", "repurchase") in dirty
    assert (ran, again) == (len(dirty), 0)
    assert (band["band"], band["n"], band["repurchased"], band["rate"]) == ("3-4", 1, 1, 100.0)


# ---------------------------------------------------------------- API


def test_metrics_api_takes_the_filters_as_query_parameters(
    manager_client: Client, nps_survey: Survey, agent: User
) -> None:
    _submit(nps_survey, 10, channel="email", agent=agent)
    _submit(nps_survey, 0, channel="email")

    response = manager_client.get(
        f"/api/v1/metrics/?period=2025Q2&channel=email&agent={agent.pk}&team="
    )
    body = response.json()
    metrics = {figure["metric"]: figure for figure in body["metrics"]}

    assert response.status_code == 200
    assert body["filters"] == {"channel": "email", "agent": str(agent.pk)}
    assert (metrics["nps"]["n"], metrics["nps"]["value"]) == (1, 100.0)
    assert "complaint_rate" not in metrics
    assert "complaint_resolution" in metrics


def test_metric_api_refuses_a_metric_that_does_not_exist_within_the_filters(
    manager_client: Client, nps_survey: Survey
) -> None:
    response = manager_client.get(f"/api/v1/metrics/coverage/?survey={nps_survey.pk}")

    assert response.status_code == 400
    assert response.json()["error"] == {
        "message": "This metric does not exist within these filters.",
        "fields": {"survey": ["coverage has no survey."]},
    }


def test_score_and_category_endpoints_answer_with_the_selectors_figures(
    manager_client: Client, nps_survey: Survey
) -> None:
    _submit(nps_survey, 9)

    scores = manager_client.get(f"/api/v1/metrics/scores/?period=2025Q2&survey={nps_survey.pk}")
    categories = manager_client.get("/api/v1/metrics/complaint-categories/?period=2025Q2")
    bad = manager_client.get("/api/v1/metrics/scores/?period=2025Q2&agent=abc")

    assert scores.status_code == 200
    assert scores.json()["tables"]["nps 0-10"][9] == {"score": 9, "count": 1}
    assert categories.json() == {"period": "2025Q2", "categories": []}
    assert bad.status_code == 400
    assert bad.json()["error"]["fields"] == {"agent": ["No agent has the id abc."]}


def test_openapi_schema_describes_the_filters_and_the_new_endpoints(
    manager_client: Client,
) -> None:
    schema = manager_client.get("/api/v1/schema/?format=json").json()

    scores = schema["paths"]["/api/v1/metrics/scores/"]["get"]
    names = {parameter["name"] for parameter in scores["parameters"]}
    assert {"period", "survey", "channel", "touchpoint", "segment", "team", "agent"} <= names
    assert "/api/v1/metrics/complaint-categories/" in schema["paths"]


def test_question_kinds_feed_their_tables_by_scale(db: None) -> None:
    survey = Survey.objects.create(title="Stars")
    stars = Question.objects.create(
        survey=survey, position=1, kind="csat", text="Rate us", scale_min=1, scale_max=7
    )
    with time_machine.travel(MAY, tick=False):
        response_submit(survey=survey, raw_answers={str(stars.pk): 6})
        _process()

    distribution = selectors.score_distribution("2025Q2")
    figures = selectors.metric_figures("2025Q2")

    assert list(distribution) == ["csat 1-7"]
    assert [point["count"] for point in distribution["csat 1-7"]] == [0, 0, 0, 0, 0, 1, 0]
    assert (figures["csat"].value, figures["satisfaction"].value) == (100.0, pytest.approx(500 / 6))
