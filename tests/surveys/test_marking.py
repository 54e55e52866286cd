"""Test and spam marks: from the response list and by API, permission-checked and scoped to
the staff member's team; the outbox event takes the response out of the metrics and back."""

from __future__ import annotations

from django.test import Client

from accounts.models import Role, Team, User
from accounts.services import user_create
from csat.models import OutboxEvent
from csat.outbox import outbox_process
from metrics import selectors
from metrics.periods import Quarter
from surveys.models import Response, Survey
from surveys.services import response_submit, survey_create_nps
from tests.surveys.outreach_fixtures import api_client


def _answer(survey: Survey, score: int) -> Response:
    question = survey.questions.order_by("position").first()
    assert question is not None
    response, _created = response_submit(survey=survey, raw_answers={str(question.pk): score})
    return response


def _process_all() -> None:
    for event_id in OutboxEvent.objects.filter(processed_at__isnull=True).values_list(
        "pk", flat=True
    ):
        outbox_process(event_id)


def _nps_n() -> int:
    figure = selectors.period_figure(Quarter.current().label, "nps")
    return figure.n if figure else 0


def test_marking_as_spam_takes_the_response_out_of_the_metrics_and_unmarking_puts_it_back(
    staff: User, nps_survey: Survey
) -> None:
    response = _answer(nps_survey, 10)
    _answer(nps_survey, 9)
    _process_all()
    client = api_client(staff)
    url = f"/api/v1/responses/{response.pk}/mark/"

    marked = client.post(url, {"is_spam": True}, format="json")
    again = client.post(url, {"is_spam": True}, format="json")
    _process_all()
    n_marked = _nps_n()
    cleared = client.post(url, {"is_spam": False}, format="json")
    _process_all()

    assert marked.status_code == 200
    assert marked.json() == {
        "id": response.pk,
        "is_test": False,
        "is_spam": True,
        "is_counted": False,
    }
    assert again.status_code == 200
    assert cleared.json()["is_counted"] is True
    assert (n_marked, _nps_n()) == (1, 2)
    # marking twice records one event: one for the mark, one for clearing it
    assert OutboxEvent.objects.filter(kind=OutboxEvent.Kind.RESPONSE_CHANGED).count() == 2


def test_staff_mark_a_response_as_test_from_the_response_list(
    staff_client: Client, nps_survey: Survey
) -> None:
    response = _answer(nps_survey, 4)

    listing = staff_client.get(f"/surveys/{nps_survey.pk}/responses/")
    marked = staff_client.post(f"/responses/{response.pk}/mark/", {"is_test": "1"})

    response.refresh_from_db()
    assert listing.status_code == 200
    assert "Mark as test" in listing.content.decode()
    assert marked.status_code == 302
    assert marked["Location"] == f"/surveys/{nps_survey.pk}/responses/"
    assert response.is_test is True
    assert OutboxEvent.objects.filter(
        kind=OutboxEvent.Kind.RESPONSE_CHANGED, object_id=response.pk
    ).exists()


def test_staff_of_another_team_can_neither_see_nor_mark_the_response(
    nps_survey: Survey, db: None
) -> None:
    response = _answer(nps_survey, 4)
    stranger = user_create(
        username="other.team",
        password="pw-123456-xyz",
        role=Role.STAFF,
        team=Team.objects.create(name="Sales"),
    )
    client = Client()
    client.force_login(stranger)

    listing = client.get(f"/surveys/{nps_survey.pk}/responses/")
    page = client.post(f"/responses/{response.pk}/mark/", {"is_spam": "1"})
    api = api_client(stranger).post(
        f"/api/v1/responses/{response.pk}/mark/", {"is_spam": True}, format="json"
    )

    response.refresh_from_db()
    assert f'id="response-{response.pk}"' not in listing.content.decode()
    assert (page.status_code, api.status_code) == (404, 404)
    assert response.is_spam is False


def test_manager_marks_any_teams_response(manager: User, db: None) -> None:
    survey = survey_create_nps(title="Teamless", nps_question="Recommend us?")
    response = _answer(survey, 7)

    marked = api_client(manager).post(
        f"/api/v1/responses/{response.pk}/mark/", {"is_test": True}, format="json"
    )

    assert marked.status_code == 200


def test_mark_without_a_field_is_refused(staff: User, nps_survey: Survey) -> None:
    response = _answer(nps_survey, 7)

    refused = api_client(staff).post(f"/api/v1/responses/{response.pk}/mark/", {}, format="json")

    assert refused.status_code == 400
    assert refused.json()["error"]["fields"] == {"is_test": ["Give is_test, is_spam, or both."]}


def test_user_without_the_role_cannot_mark(nps_survey: Survey, db: None) -> None:
    response = _answer(nps_survey, 7)
    outsider = User.objects.create_user(username="olly", password="x-y-z-123456")

    refused = api_client(outsider).post(
        f"/api/v1/responses/{response.pk}/mark/", {"is_spam": True}, format="json"
    )

    assert refused.status_code == 403
