"""The response API's hot path: the survey's definition cached per process and checked inside
the insert (an edit is seen by the very next submission), and committed events published by a
background thread of the web process, with the relay as the safety net."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role, User
from accounts.services import user_create
from csat import outbox, tasks
from csat.models import OutboxEvent
from surveys.builder.questions import OptionSpec, QuestionSpec, question_save
from surveys.models import Choice, GridRow, Question, Response, Survey
from surveys.services import survey_create_nps, survey_set_status
from tests import live
from tests.conftest import database_url
from tests.surveys.outreach_fixtures import api_client


def _url(survey: Survey) -> str:
    return f"/api/v1/surveys/{survey.public_id}/responses/"


def _ids(survey: Survey) -> tuple[str, str]:
    nps, why = survey.questions.order_by("position")
    return str(nps.pk), str(why.pk)


def _version(survey: Survey) -> int:
    return Survey.objects.values_list("definition_version", flat=True).get(pk=survey.pk)


def test_every_edit_of_a_survey_or_its_questions_bumps_its_definition_version(
    nps_survey: Survey, postgres: None
) -> None:
    other = survey_create_nps(title="Other", nps_question="Other?")
    versions = [_version(nps_survey)]
    nps = nps_survey.questions.get(kind="nps")

    Question.objects.filter(pk=nps.pk).update(is_required=False)  # a queryset update
    versions.append(_version(nps_survey))
    choice_question = question_save(
        survey=nps_survey,
        spec=QuestionSpec(
            kind="single_choice",
            text={"en": "Where?"},
            options=[OptionSpec(label={"en": "Shop"}), OptionSpec(label={"en": "Online"})],
        ),
    )
    versions.append(_version(nps_survey))
    Choice.objects.filter(question=choice_question, position=2).delete()
    versions.append(_version(nps_survey))
    grid = Question.objects.create(survey=nps_survey, position=9, kind="rating_grid", text="Rate")
    versions.append(_version(nps_survey))
    GridRow.objects.create(question=grid, position=1, label="Speed")
    versions.append(_version(nps_survey))
    nps_survey.title = "Renamed"
    nps_survey.save()
    versions.append(_version(nps_survey))
    other_before = _version(other)
    grid.delete()
    versions.append(_version(nps_survey))

    assert versions == sorted(set(versions)), versions  # every step a new, higher version
    assert _version(other) == other_before  # another survey's cache stays valid


def test_a_question_made_required_after_caching_is_required_at_once(
    staff: User, nps_survey: Survey, postgres: None
) -> None:
    client = api_client(staff)
    nps, why = _ids(nps_survey)
    first = client.post(_url(nps_survey), {"answers": {nps: 9}}, format="json")  # cached

    Question.objects.filter(pk=why).update(is_required=True)
    refused = client.post(_url(nps_survey), {"answers": {nps: 9}}, format="json")

    assert first.status_code == 201
    assert refused.status_code == 400
    assert refused.json() == {
        "error": {
            "message": "Some answers need attention.",
            "fields": {f"answers.{why}": ["This question needs an answer."]},
        }
    }
    assert Response.objects.count() == 1


def test_a_question_added_after_caching_takes_answers_at_once(
    staff: User, nps_survey: Survey, postgres: None
) -> None:
    client = api_client(staff)
    nps, _why = _ids(nps_survey)
    client.post(_url(nps_survey), {"answers": {nps: 9}}, format="json")  # cached
    where = question_save(
        survey=nps_survey,
        spec=QuestionSpec(
            kind="single_choice",
            text={"en": "Where did you buy?"},
            options=[OptionSpec(label={"en": "Shop"}), OptionSpec(label={"en": "Online"})],
        ),
    )
    online = where.choices.get(position=2)

    created = client.post(
        _url(nps_survey), {"answers": {nps: 7, str(where.pk): online.pk}}, format="json"
    )

    assert created.status_code == 201
    stored = Response.objects.get(pk=created.json()["id"])
    assert list(stored.answers.order_by("question__position").values_list("number", "choice")) == [
        (7, None),
        (None, online.pk),
    ]


def test_a_choice_removed_after_caching_is_refused_at_once(
    staff: User, nps_survey: Survey, postgres: None
) -> None:
    client = api_client(staff)
    nps, _why = _ids(nps_survey)
    where = question_save(
        survey=nps_survey,
        spec=QuestionSpec(
            kind="single_choice",
            text={"en": "Where did you buy?"},
            is_required=False,
            options=[OptionSpec(label={"en": "Shop"}), OptionSpec(label={"en": "Online"})],
        ),
    )
    online = where.choices.get(position=2)
    client.post(_url(nps_survey), {"answers": {nps: 9}}, format="json")  # cached

    Choice.objects.filter(pk=online.pk).delete()
    refused = client.post(
        _url(nps_survey), {"answers": {nps: 7, str(where.pk): online.pk}}, format="json"
    )

    assert refused.status_code == 400
    assert refused.json()["error"]["fields"] == {
        f"answers.{where.pk}": ["Choose one of the listed options."]
    }
    assert Response.objects.count() == 1


def test_a_survey_closed_after_caching_refuses_at_once_and_reopened_takes_answers(
    staff: User, nps_survey: Survey, postgres: None
) -> None:
    client = api_client(staff)
    nps, _why = _ids(nps_survey)
    client.post(_url(nps_survey), {"answers": {nps: 9}}, format="json")  # cached

    survey_set_status(survey=nps_survey, status_value="closed")
    closed = client.post(_url(nps_survey), {"answers": {nps: 9}}, format="json")
    survey_set_status(survey=nps_survey, status_value="open")
    reopened = client.post(_url(nps_survey), {"answers": {nps: 9}}, format="json")

    assert closed.status_code == 410
    assert closed.json()["error"]["message"] == (
        "This survey is closed and no longer takes answers."
    )
    assert reopened.status_code == 201
    assert Response.objects.count() == 2


def test_a_current_cached_definition_costs_no_query_of_its_own(
    staff: User, nps_survey: Survey, postgres: None
) -> None:
    client = api_client(staff)
    nps, why = _ids(nps_survey)
    client.post(_url(nps_survey), {"answers": {nps: 9}}, format="json")  # cached

    with CaptureQueriesContext(connection) as queries:
        created = client.post(_url(nps_survey), {"answers": {nps: 8, why: "ok"}}, format="json")
    with CaptureQueriesContext(connection) as refused_queries:
        refused = client.post(_url(nps_survey), {"answers": {nps: 11}}, format="json")

    tables = " ".join(q["sql"] for q in queries.captured_queries)
    assert created.status_code == 201
    assert "surveys_question" not in tables
    assert refused.status_code == 400
    # a refusal is confirmed against the survey's current version first (one small query)
    refused_sql = [q["sql"] for q in refused_queries.captured_queries]
    assert any('"definition_version"' in sql for sql in refused_sql), refused_sql


def test_a_broker_outage_during_the_background_publish_loses_nothing(
    staff: User,
    nps_survey: Survey,
    postgres: None,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.OUTBOX_PUBLISH_IN_BACKGROUND = True
    settings.OUTBOX_PUBLISH_LINGER_SECONDS = 0.0
    attempts: list[object] = []

    def broker_down(*args: object) -> None:
        attempts.append(args)
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.outbox_process, "delay", broker_down)
    monkeypatch.setattr(tasks.outbox_process_many, "delay", broker_down)
    nps, _why = _ids(nps_survey)

    with django_capture_on_commit_callbacks(execute=True):
        created = api_client(staff).post(_url(nps_survey), {"answers": {nps: 3}}, format="json")
    assert outbox._publisher.wait_idle(timeout=10)

    assert created.status_code == 201
    assert len(attempts) == 1  # the publisher tried, the broker refused
    event = OutboxEvent.objects.get(object_id=created.json()["id"])
    assert (event.dispatched_at, event.processed_at) == (None, None)

    # the broker is back; later, the periodic relay finds the event and sends it
    sent: list[int] = []
    monkeypatch.setattr(tasks.outbox_process, "delay", sent.append)
    OutboxEvent.objects.filter(pk=event.pk).update(created_at=timezone.now() - timedelta(hours=1))
    assert outbox.outbox_relay() == 1
    assert sent == [event.pk]
    assert outbox.outbox_process(event.pk) is True
    event.refresh_from_db()
    assert event.processed_at is not None


def test_the_publisher_sends_events_that_arrive_together_as_one_message(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.OUTBOX_PUBLISH_IN_BACKGROUND = True
    settings.OUTBOX_PUBLISH_LINGER_SECONDS = 0.3
    messages: list[list[int]] = []
    monkeypatch.setattr(tasks.outbox_process_many, "delay", messages.append)

    for event_id in (101, 102, 103):
        outbox.outbox_publish(event_id)
    assert outbox._publisher.wait_idle(timeout=10)

    assert messages == [[101, 102, 103]]


def test_processing_a_batch_runs_every_event_even_when_one_fails(
    nps_survey: Survey, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = [
        OutboxEvent.objects.create(kind=OutboxEvent.Kind.RESPONSE_CHANGED, object_id=n)
        for n in (1, 2, 3)
    ]
    seen: list[int] = []

    def handler(object_id: int) -> None:
        seen.append(object_id)
        if object_id == 2:
            raise RuntimeError("metrics store unavailable")

    monkeypatch.setitem(outbox.HANDLERS, OutboxEvent.Kind.RESPONSE_CHANGED, ["h"])
    monkeypatch.setattr(outbox, "import_string", lambda path: handler)

    with pytest.raises(RuntimeError, match="metrics store unavailable"):
        outbox.outbox_process_many([event.pk for event in events])

    assert seen == [1, 2, 3]
    processed = dict(OutboxEvent.objects.values_list("object_id", "processed_at"))
    assert processed[1] is not None
    assert processed[3] is not None
    assert processed[2] is None  # left for the relay, its error recorded
    assert "metrics store unavailable" in OutboxEvent.objects.get(object_id=2).last_error


@pytest.mark.django_db(transaction=True)
def test_api_submissions_are_processed_by_a_live_worker(
    postgres: None, redis_url: str, live_server: object, worker_queue: str, tmp_path: Path
) -> None:
    import requests
    from rest_framework.authtoken.models import Token

    user = user_create(username="live.api", password="live-api-password", role=Role.STAFF)
    token = Token.objects.create(user=user).key
    survey = survey_create_nps(title="Live API", nps_question="Recommend us?")
    nps = str(survey.questions.get().pk)
    env = live.base_env() | {"DATABASE_URL": database_url(), "REDIS_URL": redis_url}

    with live.celery_worker(env, tmp_path / "worker.log", queue=worker_queue):
        statuses = [
            requests.post(
                f"{live_server}{_url(survey)}",
                json={"answers": {nps: score}},
                headers={"Authorization": f"Token {token}", "Idempotency-Key": f"k-{score}"},
                timeout=10,
            ).status_code
            for score in (10, 9, 2)
        ]
        live.wait_for(
            lambda: OutboxEvent.objects.filter(processed_at__isnull=False).count() == 3,
            timeout=60,
            what="the worker to process the three responses' events",
        )

    assert statuses == [201, 201, 201]
    assert set(Response.objects.values_list("channel", flat=True)) == {"api"}
    # the detractor's follow-up case was opened by the worker
    from feedback.models import Case

    assert Case.objects.count() == 1


def test_without_prepared_statements_the_api_stores_the_same_rows(
    staff: User, nps_survey: Survey, postgres: None, settings: Any
) -> None:
    settings.PREPARED_STATEMENTS = False  # behind a pooler in transaction mode
    client = api_client(staff)
    nps, why = _ids(nps_survey)

    with CaptureQueriesContext(connection) as queries:
        created = client.post(
            _url(nps_survey), {"answers": {nps: 6, why: "50% slower"}}, format="json"
        )

    assert created.status_code == 201
    stored = Response.objects.get(pk=created.json()["id"])
    assert stored.channel == "api"
    assert list(stored.answers.order_by("question__position").values_list("number", "text")) == [
        (6, ""),
        (None, "50% slower"),
    ]
    assert not [q for q in queries.captured_queries if q["sql"].startswith(("PREPARE", "EXECUTE"))]


def test_the_response_format_follows_the_accept_header_as_before(
    staff: User, nps_survey: Survey
) -> None:
    client = api_client(staff)
    nps, _why = _ids(nps_survey)

    def post(accept: str, query: str = "") -> str:
        answer = client.post(
            _url(nps_survey) + query, {"answers": {nps: 9}}, format="json", HTTP_ACCEPT=accept
        )
        assert answer.status_code == 201
        return str(answer["Content-Type"])

    assert post("*/*") == "application/json"
    assert post("application/json") == "application/json"
    assert post("text/html").startswith("text/html")  # DRF's browsable API, as before
    assert post("*/*", "?format=api").startswith("text/html")


# ---------------------------------------------------------------- recently seen tokens


def test_a_token_deleted_after_use_is_refused_at_once_and_stores_nothing(
    staff: User, nps_survey: Survey, postgres: None
) -> None:
    from rest_framework.authtoken.models import Token

    client = api_client(staff)
    nps, _why = _ids(nps_survey)
    first = client.post(_url(nps_survey), {"answers": {nps: 9}}, format="json")

    Token.objects.filter(user=staff).delete()
    again = client.post(_url(nps_survey), {"answers": {nps: 9}}, format="json")
    invalid = client.post(_url(nps_survey), {"answers": {nps: 99}}, format="json")

    assert first.status_code == 201
    assert (again.status_code, again.json()["error"]["message"]) == (401, "Invalid token.")
    assert again["WWW-Authenticate"] == "Token"
    assert invalid.status_code == 401  # not a validation error: the token comes first
    assert Response.objects.count() == 1


def test_a_permission_withdrawn_after_use_is_refused_at_once(
    staff: User, nps_survey: Survey, postgres: None
) -> None:
    client = api_client(staff)
    nps, _why = _ids(nps_survey)
    first = client.post(_url(nps_survey), {"answers": {nps: 9}}, format="json")

    staff.groups.clear()  # the role that granted surveys.add_response is gone
    again = client.post(_url(nps_survey), {"answers": {nps: 9}}, format="json")

    assert first.status_code == 201
    assert again.status_code == 403
    assert again.json()["error"]["message"] == "Your role does not allow this."
    assert Response.objects.count() == 1


def test_a_permission_granted_after_a_refusal_is_used_at_once(
    nps_survey: Survey, postgres: None
) -> None:
    from django.contrib.auth.models import Permission

    clerk = User.objects.create_user(username="clerk", password="pw-123456-xyz")
    client = api_client(clerk)
    nps, _why = _ids(nps_survey)
    refused = client.post(_url(nps_survey), {"answers": {nps: 9}}, format="json")

    clerk.user_permissions.add(Permission.objects.get(codename="add_response"))
    allowed = client.post(_url(nps_survey), {"answers": {nps: 9}}, format="json")

    assert (refused.status_code, allowed.status_code) == (403, 201)
    assert Response.objects.get().channel == "api"


def test_a_user_deactivated_after_use_is_refused_and_the_key_is_not_replayed(
    staff: User, nps_survey: Survey, postgres: None
) -> None:
    client = api_client(staff)
    nps, _why = _ids(nps_survey)
    first = client.post(
        _url(nps_survey), {"answers": {nps: 9}}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )

    User.objects.filter(pk=staff.pk).update(is_active=False)
    replay = client.post(
        _url(nps_survey), {"answers": {nps: 9}}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    fresh = client.post(_url(nps_survey), {"answers": {nps: 5}}, format="json")

    assert first.status_code == 201
    assert replay.status_code == 401
    assert replay.json()["error"]["message"] == "User inactive or deleted."
    assert fresh.status_code == 401
    assert Response.objects.count() == 1


def test_an_unexpected_error_after_storing_is_not_retried_so_nothing_is_stored_twice(
    staff: User, nps_survey: Survey, postgres: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from surveys import apis

    client = api_client(staff)
    nps, _why = _ids(nps_survey)
    assert client.post(_url(nps_survey), {"answers": {nps: 9}}, format="json").status_code == 201
    submit = apis.services.response_submit

    def submit_then_fail(**kwargs: Any) -> Any:
        submit(**kwargs)
        raise RuntimeError("after the insert")

    monkeypatch.setattr(apis.services, "response_submit", submit_then_fail)

    # when a call on the recently seen token stores its response, then fails
    with pytest.raises(RuntimeError, match="after the insert"):
        client.post(_url(nps_survey), {"answers": {nps: 7}}, format="json")

    # then the view did not try again: one response of 7, not two
    assert list(Response.objects.order_by("pk").values_list("answers__number", flat=True)) == [
        9,
        7,
    ]
