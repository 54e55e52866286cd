"""The response API's common call (a JSON body of plain answers, a token this process saw
recently) is answered without DRF's request and response machinery (ResponseCreateApi.
_fast_post): the answer must be the one DRF's path gives, byte for byte and header for header,
and every other call, and every refusal, must get DRF's path and its usual answer."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from csat.authentication import forget_token
from csat.models import OutboxEvent
from surveys.models import Answer, Response, Survey
from surveys.services import survey_set_status
from tests.surveys.outreach_fixtures import api_client


def _url(survey: Survey) -> str:
    return f"/api/v1/surveys/{survey.public_id}/responses/"


def _ids(survey: Survey) -> tuple[str, str]:
    nps, why = survey.questions.order_by("position")
    return str(nps.pk), str(why.pk)


def _fast(answer: Any) -> bool:
    # DRF's path returns its Response (with .data); the fast path a plain HttpResponse
    return not hasattr(answer, "data")


def _headers(answer: Any) -> dict[str, str]:
    return dict(answer.headers.items())


def test_the_fast_answer_is_drfs_byte_for_byte_and_header_for_header(
    staff: User, nps_survey: Survey, postgres: None
) -> None:
    client = api_client(staff)
    nps, why = _ids(nps_survey)
    body = {"answers": {nps: 9, why: "Très bien\u2028谢谢"}}

    # the first call confirms the token with the database: DRF's path
    first = client.post(_url(nps_survey), body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    # the same call again (a retry): the fast path, answering with the first response
    retry = client.post(_url(nps_survey), body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    # and once more through DRF's path (an Accept header it negotiates)
    negotiated = client.post(
        _url(nps_survey),
        body,
        format="json",
        HTTP_IDEMPOTENCY_KEY="k1",
        HTTP_ACCEPT="application/json, */*",
    )
    fresh = client.post(_url(nps_survey), body, format="json", HTTP_IDEMPOTENCY_KEY="k2")

    assert (_fast(first), _fast(retry), _fast(negotiated), _fast(fresh)) == (
        False,
        True,
        False,
        True,
    )
    assert (first.status_code, retry.status_code, negotiated.status_code) == (201, 200, 200)
    assert retry.content == first.content == negotiated.content
    assert _headers(retry) == _headers(negotiated)
    assert _headers(fresh) == _headers(first)
    assert retry["Content-Type"] == "application/json"
    assert retry["Allow"] == "POST, OPTIONS"
    assert "Accept" in retry["Vary"]
    stored = Response.objects.get(pk=fresh.json()["id"])
    assert fresh.status_code == 201
    output = fresh.json()
    assert datetime.fromisoformat(output.pop("submitted_at")) == stored.submitted_at
    assert output == {
        "id": stored.pk,
        "survey": nps_survey.public_id,
        "channel": "api",
        "status": "complete",
    }
    assert list(
        Answer.objects.filter(response=stored)
        .order_by("question__position")
        .values_list("number", "text")
    ) == [(9, ""), (None, "Très bien\u2028谢谢")]
    assert Response.objects.count() == 2  # the retries stored nothing
    assert OutboxEvent.objects.filter(object_id=stored.pk).count() == 1


@pytest.mark.parametrize(
    "body",
    [
        '{"answers": {NPS: 11}}',  # out of range
        '{"answers": {NPS: NaN}}',
        '{"answers": {NPS: 9}',
        '{"answers": {NPS: null}}',
        '{"answers": [9]}',
        '{"answers": {NPS: 9}, "customer_external_id": "nobody"}',
        '{"answers": {"999999": 9, NPS: 9}}',
        '["answers"]',
    ],
)
def test_other_bodies_get_drfs_own_answer_and_store_nothing(
    staff: User, nps_survey: Survey, postgres: None, body: str
) -> None:
    from rest_framework.authtoken.models import Token

    client = api_client(staff)
    nps, _why = _ids(nps_survey)
    body = body.replace("NPS", f'"{nps}"')
    key = Token.objects.get(user=staff).key

    forget_token(key)  # a token this process has not seen: DRF's path from the start
    unseen = client.generic("POST", _url(nps_survey), body, "application/json")
    assert client.post(_url(nps_survey), {"answers": {nps: 9}}, format="json").status_code == 201
    recent = client.generic("POST", _url(nps_survey), body, "application/json")

    assert 400 <= unseen.status_code < 500
    assert (recent.status_code, recent.json()) == (unseen.status_code, unseen.json())
    assert set(recent.json()["error"]) == {"message", "fields"}
    assert not _fast(recent)
    assert Response.objects.count() == 1


def test_a_refusal_on_the_fast_path_is_drfs_refusal(
    staff: User, nps_survey: Survey, postgres: None
) -> None:
    client = api_client(staff)
    nps, why = _ids(nps_survey)
    assert client.post(_url(nps_survey), {"answers": {nps: 9}}, format="json").status_code == 201
    # a body the fast path takes, refused by the answers' validation
    required = client.post(_url(nps_survey), {"answers": {why: "no score"}}, format="json")
    long_key = client.post(
        _url(nps_survey), {"answers": {nps: 9}}, format="json", HTTP_IDEMPOTENCY_KEY="k" * 65
    )
    survey_set_status(survey=Survey.objects.get(pk=nps_survey.pk), status_value="closed")
    closed = client.post(_url(nps_survey), {"answers": {nps: 9}}, format="json")
    missing = client.post("/api/v1/surveys/nope/responses/", {"answers": {nps: 9}}, format="json")

    assert required.status_code in (400, 422)
    assert required.json()["error"]["fields"] == {
        f"answers.{nps}": ["This question needs an answer."]
    }
    assert (closed.status_code, missing.status_code, long_key.status_code) == (410, 404, 400)
    assert long_key.json()["error"]["fields"] == {"Idempotency-Key": ["Use at most 64 characters."]}
    assert all(not _fast(answer) for answer in (required, closed, missing, long_key))
    assert Response.objects.count() == 1


def test_a_key_used_with_another_body_is_refused_with_422_on_the_fast_path(
    staff: User, nps_survey: Survey, postgres: None
) -> None:
    client = api_client(staff)
    nps, _why = _ids(nps_survey)
    first = client.post(
        _url(nps_survey), {"answers": {nps: 9}}, format="json", HTTP_IDEMPOTENCY_KEY="same"
    )
    other = client.post(
        _url(nps_survey), {"answers": {nps: 3}}, format="json", HTTP_IDEMPOTENCY_KEY="same"
    )

    assert (first.status_code, other.status_code) == (201, 422)
    assert other.json()["error"]["fields"] == {
        "Idempotency-Key": ["Already used with a different body."]
    }
    assert list(Answer.objects.values_list("number", flat=True)) == [9]


def test_only_a_recent_token_in_the_token_scheme_takes_the_fast_path(
    staff: User, nps_survey: Survey, postgres: None
) -> None:
    from rest_framework.authtoken.models import Token

    nps, _why = _ids(nps_survey)
    key = Token.objects.get_or_create(user=staff)[0].key
    body = json.dumps({"answers": {nps: 9}})
    assert api_client(staff).post(_url(nps_survey), json.loads(body), format="json").status_code
    answers = {}
    for name, header in {
        "bearer": f"Bearer {key}",
        "no space": f"Token{key}",
        "other key": "Token " + "0" * 40,
        "unit separator": f"Token\x1f{key}",
    }.items():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=header)
        answers[name] = client.generic("POST", _url(nps_survey), body, "application/json")

    assert {name: answer.status_code for name, answer in answers.items()} == {
        "bearer": 401,
        "no space": 401,
        "other key": 401,
        "unit separator": 401,
    }
    assert all(not _fast(answer) for answer in answers.values())
    assert Response.objects.count() == 1


def test_an_oversized_body_on_a_recent_token_is_413(
    staff: User, nps_survey: Survey, postgres: None, settings: Any
) -> None:
    client = api_client(staff)
    nps, _why = _ids(nps_survey)
    assert client.post(_url(nps_survey), {"answers": {nps: 9}}, format="json").status_code == 201
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    answer = client.generic(
        "POST",
        _url(nps_survey),
        json.dumps({"answers": {nps: 9, "x": "a" * 2000}}),
        content_type="application/json",
    )

    assert answer.status_code == 413
    assert answer.json()["error"]["fields"]["body"][0].startswith("The request body is too large")
    assert Response.objects.count() == 1


@pytest.fixture
def persistent_checked_connection() -> Any:
    """Connections as in production: kept between requests, health-checked when reused."""
    from django.db import connection

    saved = {key: connection.settings_dict[key] for key in ("CONN_MAX_AGE", "CONN_HEALTH_CHECKS")}
    connection.settings_dict.update(CONN_MAX_AGE=60, CONN_HEALTH_CHECKS=True)
    connection.close()
    yield connection
    connection.settings_dict.update(saved)
    connection.close()


@pytest.mark.django_db(transaction=True)
def test_the_fast_path_checks_a_reused_connection_without_a_round_trip_and_survives_its_loss(
    staff: User, nps_survey: Survey, postgres: None, persistent_checked_connection: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    import psycopg2

    from tests.conftest import database_url

    connection = persistent_checked_connection
    client = api_client(staff)
    nps, why = _ids(nps_survey)
    body = {"answers": {nps: 9, why: "ok"}}
    checks: list[bool] = []
    real_is_usable = connection.is_usable

    def counted_is_usable() -> bool:
        checks.append(usable := real_is_usable())
        return usable

    def post() -> Any:
        # What request_started does in production (Django's test client leaves it out).
        connection.close_if_unusable_or_obsolete()
        return client.post(_url(nps_survey), body, format="json")

    monkeypatch.setattr(connection, "is_usable", counted_is_usable)
    assert post().status_code == 201
    checks.clear()

    # when the next call reuses the connection: no SELECT 1 before its insert
    second = post()
    assert (second.status_code, _fast(second), checks) == (201, True, [])

    # and when the server has closed the connection in between
    backend = connection.connection.info.backend_pid
    killer = psycopg2.connect(database_url())
    killer.autocommit = True
    cursor = killer.cursor()
    cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [backend])  # waits for its exit
    assert cursor.fetchone() == (True,)
    killer.close()
    third = post()

    # then Django's check sees it, reconnects, and the response is stored
    assert third.status_code == 201
    assert checks == [False]
    assert connection.connection.info.backend_pid != backend
    assert Response.objects.filter(survey=nps_survey).count() == 3
