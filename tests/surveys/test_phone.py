"""Phone callbacks: staff type the customer's answers; the agent and team are recorded."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Team, User
from surveys.models import Response, Survey
from tests.surveys.builders import customer, full_answers, multi_kind_survey


@pytest.fixture
def survey(staff: User) -> Survey:
    return multi_kind_survey(staff)


def test_staff_enter_a_callback_and_the_response_carries_phone_agent_and_team(
    staff_client: Client, survey: Survey, staff: User, team: Team
) -> None:
    called = customer("C-42")
    page = staff_client.get(f"/surveys/phone/?survey={survey.pk}&customer=C-42")

    response = staff_client.post(
        "/surveys/phone/",
        {
            "survey": survey.pk,
            "customer": "C-42",
            "submission_key": "call-1",
            **full_answers(survey),
        },
    )

    assert page.status_code == 200
    assert "Calling Li Lei (C-42)." in page.content.decode()
    assert response.status_code == 302
    stored = Response.objects.get()
    assert (stored.channel, stored.customer, stored.agent, stored.team) == (
        "phone",
        called,
        staff,
        team,
    )


def test_unknown_customer_is_named_as_the_problem(staff_client: Client, survey: Survey) -> None:
    page = staff_client.get(f"/surveys/phone/?survey={survey.pk}&customer=NOPE")

    assert page.status_code == 400
    assert "No customer has this external id." in page.content.decode()


def test_missing_answers_are_shown_and_nothing_is_stored(
    staff_client: Client, survey: Survey
) -> None:
    customer("C-42")

    page = staff_client.post("/surveys/phone/", {"survey": survey.pk, "customer": "C-42"})

    assert page.status_code == 400
    assert page.content.decode().count("This question needs an answer.") == 6
    assert not Response.objects.exists()


def test_people_without_a_login_cannot_enter_answers(client: Client, survey: Survey) -> None:
    response = client.post("/surveys/phone/", {"survey": survey.pk, "customer": "C-42"})

    assert response.status_code == 302
    assert not Response.objects.exists()


def test_the_link_from_a_survey_page_preselects_it_without_errors(
    staff_client: Client, survey: Survey
) -> None:
    page = staff_client.get(f"/surveys/phone/?survey={survey.pk}")

    html = page.content.decode()
    assert page.status_code == 200
    assert f'<option value="{survey.pk}" selected>' in html
    assert 'class="error"' not in html


def test_chinese_staff_pick_the_survey_by_its_chinese_title(
    staff_client: Client, survey: Survey
) -> None:
    survey.translations = {**survey.translations, "zh-hans": {"title": "售后电话回访"}}
    survey.save()
    staff_client.cookies["django_language"] = "zh-hans"

    page = staff_client.get("/surveys/phone/").content.decode()

    assert f'<option value="{survey.pk}">售后电话回访</option>' in page
