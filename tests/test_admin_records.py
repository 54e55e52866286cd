"""The Django admin shows the records the metrics count but never changes them: the app's
pages and API do, with the events that keep the metrics right."""

from __future__ import annotations

import pytest
from django.test import Client

from surveys.models import Channel, Customer, Interaction, Invitation, Response, Survey
from surveys.services import response_submit


@pytest.fixture
def response(nps_survey: Survey) -> Response:
    nps = nps_survey.questions.get(kind="nps")
    stored, _created = response_submit(survey=nps_survey, raw_answers={str(nps.pk): 2})
    return stored


@pytest.mark.parametrize(
    "model", ["surveys/response", "surveys/interaction", "surveys/purchase", "feedback/case"]
)
def test_records_are_listed_but_cannot_be_added_from_the_admin(
    admin_client_: Client, response: Response, model: str
) -> None:
    assert admin_client_.get(f"/admin/{model}/").status_code == 200
    assert admin_client_.get(f"/admin/{model}/add/").status_code == 403


def test_a_response_is_read_only_in_the_admin(admin_client_: Client, response: Response) -> None:
    # given a detractor's response (it opened a follow-up case)
    url = f"/admin/surveys/response/{response.pk}/change/"

    # when an admin opens it, then tries to mark it as spam and to delete it there
    page = admin_client_.get(url)
    changed = admin_client_.post(url, {"is_spam": "on", "channel": response.channel})
    deleted = admin_client_.post(f"/admin/surveys/response/{response.pk}/delete/", {"post": "yes"})

    # then the page shows it without a save button, and nothing changed
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert (changed.status_code, deleted.status_code) == (403, 403)
    response.refresh_from_db()
    assert response.is_spam is False
    assert Response.objects.filter(pk=response.pk).exists()


def test_an_interaction_cannot_be_added_without_its_quarter_from_the_admin(
    admin_client_: Client, db: None
) -> None:
    added = admin_client_.post("/admin/surveys/interaction/add/", {"occurred_at_0": "2025-05-01"})

    assert added.status_code == 403
    assert not Interaction.objects.exists()


@pytest.mark.parametrize("anonymous", [True, False])
def test_an_anonymous_response_does_not_show_the_personal_link_it_came_through(
    admin_client_: Client, nps_survey: Survey, anonymous: bool
) -> None:
    # given a response through a personal link naming the customer
    Survey.objects.filter(pk=nps_survey.pk).update(is_anonymous=anonymous)
    invitation = Invitation.objects.create(
        survey=nps_survey,
        customer=Customer.objects.create(external_id="C-7", name="Li Wei"),
        channel=Channel.EMAIL,
        status=Invitation.Status.SENT,
    )
    nps = nps_survey.questions.get(kind="nps")
    stored, _created = response_submit(
        survey=Survey.objects.get(pk=nps_survey.pk),
        raw_answers={str(nps.pk): 3},
        invitation=invitation,
    )

    # when an admin opens it
    page = admin_client_.get(f"/admin/surveys/response/{stored.pk}/change/").content.decode()

    # then only an identified survey's response shows the link (and with it, the customer)
    assert ("field-invitation" in page) is not anonymous
