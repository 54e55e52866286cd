"""Customers answer a survey from its public link."""

from __future__ import annotations

import re

import time_machine
from django.test import Client

from accounts.models import User
from csat.models import OutboxEvent
from surveys.models import Answer, Channel, Customer, Invitation, Response, Survey
from surveys.services import survey_create_nps


def _form(client: Client, survey: Survey) -> tuple[str, dict[str, str]]:
    page = client.get(f"/s/{survey.public_id}/")
    key = re.search(r'name="submission_key" value="([^"]+)"', page.content.decode())
    assert key is not None
    questions = list(survey.questions.order_by("position"))
    return key.group(1), {"nps": f"q{questions[0].pk}", "why": f"q{questions[1].pk}"}


def test_customer_answers_and_sees_thank_you(client: Client, nps_survey: Survey) -> None:
    key, names = _form(client, nps_survey)

    response = client.post(
        f"/s/{nps_survey.public_id}/",
        {"submission_key": key, names["nps"]: "9", names["why"]: "Fast fix"},
        follow=True,
    )

    assert response.status_code == 200
    assert "Thank you!" in response.content.decode()
    stored = Response.objects.get()
    assert (stored.channel, stored.status, stored.customer) == (Channel.WEB, "complete", None)
    assert list(Answer.objects.order_by("question__position").values_list("number", "text")) == [
        (9, ""),
        (None, "Fast fix"),
    ]
    assert OutboxEvent.objects.filter(kind="response.submitted", object_id=stored.pk).count() == 1


def test_submitting_the_same_form_twice_stores_one_response(
    client: Client, nps_survey: Survey
) -> None:
    key, names = _form(client, nps_survey)
    data = {"submission_key": key, names["nps"]: "10"}

    first = client.post(f"/s/{nps_survey.public_id}/", data)
    second = client.post(f"/s/{nps_survey.public_id}/", data)

    assert first.status_code == second.status_code == 302
    assert Response.objects.count() == 1
    assert Answer.objects.count() == 1
    assert OutboxEvent.objects.count() == 1


def test_two_separate_visits_store_two_responses(client: Client, nps_survey: Survey) -> None:
    for score in ("3", "8"):
        key, names = _form(client, nps_survey)
        client.post(f"/s/{nps_survey.public_id}/", {"submission_key": key, names["nps"]: score})

    assert sorted(Answer.objects.values_list("number", flat=True)) == [3, 8]


def test_score_outside_0_to_10_is_refused_and_nothing_stored(
    client: Client, nps_survey: Survey
) -> None:
    key, names = _form(client, nps_survey)

    response = client.post(
        f"/s/{nps_survey.public_id}/", {"submission_key": key, names["nps"]: "11"}
    )

    assert response.status_code == 400
    assert "Choose a whole number from 0 to 10." in response.content.decode()
    assert not Response.objects.exists()
    assert not OutboxEvent.objects.exists()


def test_missing_required_score_is_refused_and_the_text_is_kept_on_the_page(
    client: Client, nps_survey: Survey
) -> None:
    key, names = _form(client, nps_survey)

    response = client.post(
        f"/s/{nps_survey.public_id}/", {"submission_key": key, names["why"]: "Kept text"}
    )

    page = response.content.decode()
    assert response.status_code == 400
    assert "This question needs an answer." in page
    assert "Kept text" in page
    assert not Response.objects.exists()


def test_unknown_survey_link_says_so(client: Client, db: None) -> None:
    response = client.get("/s/no-such-survey/")

    assert response.status_code == 404
    assert "This survey link is not valid." in response.content.decode()


def test_closed_survey_takes_no_answers(client: Client, nps_survey: Survey) -> None:
    key, names = _form(client, nps_survey)
    nps_survey.status = Survey.Status.CLOSED
    nps_survey.save()

    page = client.get(f"/s/{nps_survey.public_id}/")
    post = client.post(f"/s/{nps_survey.public_id}/", {"submission_key": key, names["nps"]: "9"})

    assert page.status_code == post.status_code == 410
    assert "This survey is closed" in post.content.decode()
    assert not Response.objects.exists()


def test_staff_closes_a_survey_from_its_page(staff_client: Client, nps_survey: Survey) -> None:
    response = staff_client.post(f"/surveys/{nps_survey.pk}/status/", {"status": "closed"})

    nps_survey.refresh_from_db()
    assert response.status_code == 302
    assert nps_survey.status == Survey.Status.CLOSED


def test_ip_and_browser_are_not_stored_by_default(client: Client, nps_survey: Survey) -> None:
    key, names = _form(client, nps_survey)

    client.post(
        f"/s/{nps_survey.public_id}/",
        {"submission_key": key, names["nps"]: "7"},
        HTTP_USER_AGENT="Phone/1.0",
    )

    assert Response.objects.values_list("ip_address", "user_agent").get() == (None, "")


def test_ip_and_browser_are_stored_when_the_survey_asks_for_them(
    client: Client, nps_survey: Survey
) -> None:
    # given a survey whose privacy switch stores client details, and a personal invitation
    nps_survey.stores_client_details = True
    nps_survey.save()
    invitation = Invitation.objects.create(
        survey=nps_survey,
        customer=Customer.objects.create(external_id="C-1"),
        channel=Channel.EMAIL,
        status=Invitation.Status.SENT,
    )
    key, names = _form(client, nps_survey)

    # when one answer comes from the public link and one from the personal link
    client.post(
        f"/s/{nps_survey.public_id}/",
        {"submission_key": key, names["nps"]: "7"},
        HTTP_USER_AGENT="Phone/1.0",
        REMOTE_ADDR="203.0.113.7",
    )
    client.post(
        f"/i/{invitation.token}/",
        {names["nps"]: "9", "action": "submit"},
        HTTP_USER_AGENT="Tablet/2.0",
        REMOTE_ADDR="198.51.100.9",
    )

    # then both keep their address and browser
    assert sorted(Response.objects.values_list("channel", "ip_address", "user_agent")) == [
        (Channel.EMAIL, "198.51.100.9", "Tablet/2.0"),
        (Channel.WEB, "203.0.113.7", "Phone/1.0"),
    ]


def test_customer_text_is_escaped_on_the_staff_page(
    client: Client, staff_client: Client, nps_survey: Survey
) -> None:
    key, names = _form(client, nps_survey)
    client.post(
        f"/s/{nps_survey.public_id}/",
        {"submission_key": key, names["nps"]: "2", names["why"]: "<script>alert(1)</script>"},
    )

    page = staff_client.get(f"/surveys/{nps_survey.pk}/").content.decode()

    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_staff_survey_list_shows_the_newest_survey_first(staff_client: Client, staff: User) -> None:
    # given three surveys created in January, March and February (stored in another order)
    for title, day in [
        ("Middle", "2025-02-10"),
        ("Newest", "2025-03-10"),
        ("Oldest", "2025-01-10"),
    ]:
        with time_machine.travel(f"{day} 10:00 +08:00", tick=False):
            survey_create_nps(title=title, nps_question="Q?", why_question="Why?", created_by=staff)
    # when staff open the survey list
    page = staff_client.get("/surveys/").content.decode()
    # then the newest comes first
    titles = re.findall(r'<a href="/surveys/\d+/">([^<]+)</a>', page)
    assert titles == ["Newest", "Middle", "Oldest"]


def test_chinese_thank_you_page_has_its_own_wording(client: Client, nps_survey: Survey) -> None:
    # "Thank you!" on the page after answering and in the invitation email are translated
    # apart (message contexts): the page thanks for taking part
    key, names = _form(client, nps_survey)
    response = client.post(
        f"/s/{nps_survey.public_id}/",
        {"submission_key": key, names["nps"]: "9"},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9",
    )
    assert "<h1>感谢您的参与\uff01</h1>" in response.content.decode()


def test_chinese_staff_and_managers_read_survey_titles_in_chinese_where_there_is_one(
    staff_client: Client, manager_client: Client, nps_survey: Survey
) -> None:
    # given an English survey with a Chinese title, and one without
    nps_survey.translations = {"zh-hans": {"title": "售后回访"}}
    nps_survey.save()
    untranslated = survey_create_nps(title="Store visit", nps_question="Recommend us?")
    for client in (staff_client, manager_client):
        client.cookies["django_language"] = "zh-hans"

    # when they read the survey list, the survey's page and the dashboard's survey filter
    listing = staff_client.get("/surveys/").content.decode()
    detail = staff_client.get(f"/surveys/{nps_survey.pk}/").content.decode()
    dashboard = manager_client.get("/dashboard/").content.decode()

    # then the Chinese title is shown, and the English one where there is no Chinese
    assert f'<a href="/surveys/{nps_survey.pk}/">售后回访</a>' in listing
    assert f'<a href="/surveys/{untranslated.pk}/">Store visit</a>' in listing
    assert "<h1>售后回访</h1>" in detail
    assert f'<option value="{nps_survey.pk}">售后回访</option>' in dashboard
    assert "After-sales visit" not in listing + detail + dashboard
