"""API idempotency: the same Idempotency-Key and body returns the first response; the same key
with a different body is refused (422) and stores nothing; keys are scoped by API client."""

from __future__ import annotations

from django.test import Client

from accounts.models import Role, User
from accounts.services import user_create
from csat.models import OutboxEvent
from surveys.models import Response, Survey
from tests.surveys.outreach_fixtures import api_client


def _url(survey: Survey) -> str:
    return f"/api/v1/surveys/{survey.public_id}/responses/"


def _nps(survey: Survey) -> str:
    return str(survey.questions.order_by("position").first().pk)  # type: ignore[union-attr]


def test_same_key_and_same_body_returns_the_first_response(staff: User, nps_survey: Survey) -> None:
    client = api_client(staff)
    nps = _nps(nps_survey)

    first = client.post(
        _url(nps_survey), {"answers": {nps: 9}}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    # the same body, differently formatted: keys in another order, other whitespace
    again = client.generic(
        "POST",
        _url(nps_survey),
        '{ "answers" : { "' + nps + '" : 9 } }',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k",
    )

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Response.objects.count() == 1
    assert OutboxEvent.objects.count() == 1


def test_same_key_with_a_different_body_is_refused_with_422_and_stores_nothing(
    staff: User, nps_survey: Survey
) -> None:
    client = api_client(staff)
    nps = _nps(nps_survey)
    client.post(_url(nps_survey), {"answers": {nps: 9}}, format="json", HTTP_IDEMPOTENCY_KEY="k")

    different = client.post(
        _url(nps_survey), {"answers": {nps: 3}}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )

    assert different.status_code == 422
    assert different.json() == {
        "error": {
            "message": "This Idempotency-Key was already used with a different request body. "
            "Send a new key for a new response.",
            "fields": {"Idempotency-Key": ["Already used with a different body."]},
        }
    }
    assert list(Response.objects.values_list("answers__number", flat=True)) == [9]
    assert OutboxEvent.objects.count() == 1


def test_keys_are_unique_per_api_client(staff: User, nps_survey: Survey) -> None:
    other = user_create(username="other.client", password="pw-123456-xyz", role=Role.STAFF)
    nps = _nps(nps_survey)

    mine = api_client(staff).post(
        _url(nps_survey), {"answers": {nps: 9}}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    theirs = api_client(other).post(
        _url(nps_survey), {"answers": {nps: 3}}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert Response.objects.count() == 2


def test_the_fingerprint_of_the_canonical_body_is_stored_with_the_response(
    staff: User, nps_survey: Survey
) -> None:
    import hashlib

    nps = _nps(nps_survey)

    api_client(staff).post(
        _url(nps_survey), {"answers": {nps: 9}}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )

    expected = hashlib.sha256(('{"answers":{"' + nps + '":9}}').encode()).hexdigest()
    assert Response.objects.get().submission_fingerprint == expected


def test_a_public_form_posting_an_api_key_cannot_take_an_api_clients_response(
    client: Client, staff: User, nps_survey: Survey
) -> None:
    # given a respondent's form post whose hidden retry key spells an API client's key
    nps = _nps(nps_survey)
    posted = client.post(
        f"/s/{nps_survey.public_id}/",
        {"submission_key": f"api:{staff.pk}:T-42", f"q{nps}": "2"},
    )
    assert posted.status_code == 302

    # when that API client sends its own response with the key T-42
    sent = api_client(staff).post(
        _url(nps_survey), {"answers": {nps: 9}}, format="json", HTTP_IDEMPOTENCY_KEY="T-42"
    )

    # then it is stored as a new response with its own answer, not answered with the form's
    assert sent.status_code == 201
    stored = Response.objects.get(pk=sent.json()["id"])
    assert (stored.channel, stored.answers.get().number) == ("api", 9)
    assert Response.objects.count() == 2
