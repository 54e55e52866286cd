"""The API channel: token authentication, idempotent retries, errors naming the field."""

from __future__ import annotations

from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import User
from surveys.models import Customer, Response, Survey


def _api(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def _ids(survey: Survey) -> tuple[str, str]:
    nps, why = survey.questions.order_by("position")
    return str(nps.pk), str(why.pk)


def test_api_client_submits_a_response_with_a_token(staff: User, nps_survey: Survey) -> None:
    nps, why = _ids(nps_survey)

    response = _api(staff).post(
        f"/api/v1/surveys/{nps_survey.public_id}/responses/",
        {"answers": {nps: 10, why: "Great"}},
        format="json",
    )

    stored = Response.objects.get()
    assert response.status_code == 201
    assert response.json()["id"] == stored.pk
    assert response.json()["channel"] == "api"


def test_same_idempotency_key_returns_the_first_response(staff: User, nps_survey: Survey) -> None:
    nps, _why = _ids(nps_survey)
    client = _api(staff)
    url = f"/api/v1/surveys/{nps_survey.public_id}/responses/"

    first = client.post(url, {"answers": {nps: 4}}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post(url, {"answers": {nps: 4}}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert Response.objects.count() == 1


def test_score_out_of_range_gives_422_naming_the_answer_and_stores_nothing(
    staff: User, nps_survey: Survey
) -> None:
    nps, _why = _ids(nps_survey)

    response = _api(staff).post(
        f"/api/v1/surveys/{nps_survey.public_id}/responses/",
        {"answers": {nps: 11}},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "message": "Some answers need attention.",
            "fields": {f"answers.{nps}": ["Choose a whole number from 0 to 10."]},
        }
    }
    assert not Response.objects.exists()


def test_missing_answers_field_is_named(staff: User, nps_survey: Survey) -> None:
    response = _api(staff).post(
        f"/api/v1/surveys/{nps_survey.public_id}/responses/", {}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"answers": ["This field is required."]}


def test_missing_required_answer_is_named(staff: User, nps_survey: Survey) -> None:
    nps, why = _ids(nps_survey)

    response = _api(staff).post(
        f"/api/v1/surveys/{nps_survey.public_id}/responses/",
        {"answers": {why: "no score"}},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        f"answers.{nps}": ["This question needs an answer."]
    }


def test_unknown_customer_is_refused(staff: User, nps_survey: Survey) -> None:
    nps, _why = _ids(nps_survey)

    response = _api(staff).post(
        f"/api/v1/surveys/{nps_survey.public_id}/responses/",
        {"answers": {nps: 9}, "customer_external_id": "nobody"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "customer_external_id": ["No customer has this external id."]
    }


def test_known_customer_is_linked(staff: User, nps_survey: Survey) -> None:
    nps, _why = _ids(nps_survey)
    customer = Customer.objects.create(external_id="C-1", segment="high_value")

    _api(staff).post(
        f"/api/v1/surveys/{nps_survey.public_id}/responses/",
        {"answers": {nps: 9}, "customer_external_id": "C-1"},
        format="json",
    )

    assert Response.objects.get().customer == customer


def test_unknown_survey_is_404_and_closed_survey_is_410(staff: User, nps_survey: Survey) -> None:
    nps, _why = _ids(nps_survey)
    client = _api(staff)
    nps_survey.status = Survey.Status.CLOSED
    nps_survey.save()

    unknown = client.post("/api/v1/surveys/nope/responses/", {"answers": {}}, format="json")
    closed = client.post(
        f"/api/v1/surveys/{nps_survey.public_id}/responses/",
        {"answers": {nps: 9}},
        format="json",
    )

    assert unknown.status_code == 404
    assert closed.status_code == 410
    assert closed.json()["error"]["message"] == "This survey is closed and no longer takes answers."


def test_request_without_credentials_is_401(nps_survey: Survey) -> None:
    response = APIClient().post(
        f"/api/v1/surveys/{nps_survey.public_id}/responses/", {"answers": {}}, format="json"
    )

    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Authentication credentials were not provided."


def test_session_authenticated_staff_lists_surveys(staff: User, nps_survey: Survey) -> None:
    client = APIClient()
    client.force_login(staff)

    response = client.get("/api/v1/surveys/")

    assert response.status_code == 200
    assert response.json()[0]["public_id"] == nps_survey.public_id
    assert [q["kind"] for q in response.json()[0]["questions"]] == ["nps", "text"]


def test_openapi_schema_describes_the_endpoints(staff: User) -> None:
    client = APIClient()
    client.force_login(staff)

    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    docs = client.get("/api/v1/docs/")

    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/surveys/{public_id}/responses/" in paths
    assert "/api/v1/metrics/{metric}/" in paths
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()
