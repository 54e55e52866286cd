"""Personal links (/i/<token>/): one response per invitation, save and resume, expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from accounts.models import Team, User
from csat.models import OutboxEvent
from surveys.marking import response_mark
from surveys.models import Channel, Invitation, Response, Survey
from surveys.services import response_submit
from tests.surveys.builders import customer, full_answers, multi_kind_survey, questions_by_kind


@pytest.fixture
def survey(db: None) -> Survey:
    return multi_kind_survey()


@pytest.fixture
def invitation(survey: Survey) -> Invitation:
    return Invitation.objects.create(
        survey=survey,
        customer=customer("C-7", language="en"),
        channel=Channel.EMAIL,
        status=Invitation.Status.SENT,
        expires_at=timezone.now() + timedelta(days=14),
    )


def test_unknown_token_is_a_404_page(client: Client, db: None) -> None:
    response = client.get("/i/not-a-real-token/")

    assert response.status_code == 404
    assert "This personal survey link is not valid." in response.content.decode()


def test_expired_invitation_is_a_410_page_and_stores_nothing(
    client: Client, invitation: Invitation
) -> None:
    with time_machine.travel(timezone.now() + timedelta(days=15)):
        page = client.get(f"/i/{invitation.token}/", HTTP_ACCEPT_LANGUAGE="en")
        post = client.post(f"/i/{invitation.token}/", full_answers(invitation.survey))

    assert page.status_code == post.status_code == 410
    assert "This invitation has expired and no longer takes answers." in page.content.decode()
    assert not Response.objects.exists()


def test_customer_answers_through_the_link_with_channel_customer_agent_and_language(
    client: Client, invitation: Invitation, staff: User, team: Team
) -> None:
    invitation.customer.language = "zh-hans"
    invitation.customer.save()
    invitation.agent = staff
    invitation.save()
    page = client.get(f"/i/{invitation.token}/", HTTP_ACCEPT_LANGUAGE="en")
    post = client.post(f"/i/{invitation.token}/", full_answers(invitation.survey, nps=9))

    assert '<html lang="zh-hans">' in page.content.decode()  # the customer's language first
    assert post.status_code == 302
    assert post["Location"] == f"/i/{invitation.token}/"
    stored = Response.objects.get()
    assert (stored.channel, stored.status, stored.invitation, stored.customer) == (
        "email",
        "complete",
        invitation,
        invitation.customer,
    )
    assert (stored.agent, stored.team, stored.language, stored.segment) == (
        staff,
        team,
        "zh-hans",
        "normal",
    )
    assert OutboxEvent.objects.filter(kind="response.submitted", object_id=stored.pk).count() == 1


def test_a_used_link_says_thank_you_and_stores_nothing_more(
    client: Client, invitation: Invitation
) -> None:
    client.post(f"/i/{invitation.token}/", full_answers(invitation.survey, nps=9))

    again = client.post(f"/i/{invitation.token}/", full_answers(invitation.survey, nps=2))
    page = client.get(f"/i/{invitation.token}/", HTTP_ACCEPT_LANGUAGE="en")

    assert again.status_code == page.status_code == 200
    assert "You have already answered this survey with this link" in page.content.decode()
    assert Response.objects.count() == 1
    assert Response.objects.get().answers.get(question__kind="nps").number == 9
    assert OutboxEvent.objects.count() == 1


def test_a_staff_test_answer_on_the_link_does_not_block_the_customers_own(
    client: Client, invitation: Invitation, staff: User
) -> None:
    # given a staff member who tried the personal link and marked that answer as a test
    client.post(f"/i/{invitation.token}/", full_answers(invitation.survey, nps=10))
    tried = Response.objects.get()
    response_mark(response=tried, is_test=True, by=staff)

    # when the customer opens the link and answers
    page = client.get(f"/i/{invitation.token}/", HTTP_ACCEPT_LANGUAGE="en")
    answered = client.post(f"/i/{invitation.token}/", full_answers(invitation.survey, nps=3))

    # then they get the form, and their answers are the invitation's response; the test one stays
    assert page.status_code == 200
    assert "You have already answered this survey" not in page.content.decode()
    assert answered.status_code == 302
    own = Response.objects.get(invitation=invitation)
    assert (own.is_test, own.answers.get(question__kind="nps").number) == (False, 3)
    tried.refresh_from_db()
    assert (tried.is_test, tried.invitation_id) == (True, None)


def test_partial_save_counts_nothing_and_resume_prefills_then_completes_in_place(
    client: Client, invitation: Invitation
) -> None:
    survey = invitation.survey
    questions = questions_by_kind(survey)
    nps = f"q{questions['nps'].pk}"
    csat = f"q{questions['csat'].pk}"

    saved = client.post(f"/i/{invitation.token}/", {nps: "5", csat: "2", "action": "save"})
    partial = Response.objects.get()
    resumed = client.get(f"/i/{invitation.token}/").content.decode()
    done = client.post(f"/i/{invitation.token}/", full_answers(survey, nps=5))

    assert saved.status_code == 200
    assert "Your answers are saved" in saved.content.decode()
    assert (partial.status, partial.submitted_at, partial.quarter) == ("partial", None, "")
    assert f'name="{nps}" value="5" checked' in resumed
    assert f'name="{csat}" value="2" checked' in resumed
    assert done.status_code == 302
    completed = Response.objects.get()
    assert completed.pk == partial.pk
    assert completed.status == "complete"
    assert completed.submitted_at is not None
    assert completed.answers.get(question=questions["csat"]).number == 4
    assert OutboxEvent.objects.filter(object_id=completed.pk).count() == 1


def test_partial_save_checks_the_answers_it_keeps(client: Client, invitation: Invitation) -> None:
    nps = f"q{questions_by_kind(invitation.survey)['nps'].pk}"

    page = client.post(f"/i/{invitation.token}/", {nps: "12", "action": "save"})

    assert page.status_code == 400
    assert not Response.objects.exists()


def test_saving_again_replaces_the_partial_answers(client: Client, invitation: Invitation) -> None:
    nps = f"q{questions_by_kind(invitation.survey)['nps'].pk}"

    client.post(f"/i/{invitation.token}/", {nps: "5", "action": "save"})
    client.post(f"/i/{invitation.token}/", {nps: "8", "action": "save"})

    stored = Response.objects.get()
    assert list(stored.answers.values_list("number", flat=True)) == [8]
    assert not OutboxEvent.objects.exists()


def test_a_complete_response_is_never_reopened_by_a_late_partial_save(
    invitation: Invitation,
) -> None:
    survey = invitation.survey
    raw = {str(q.pk): "" for q in survey.questions.all()}
    first, created = response_submit(
        survey=survey, raw_answers=_service_answers(survey), invitation=invitation
    )

    again, created_again = response_submit(
        survey=survey, raw_answers=raw, invitation=invitation, is_partial=True
    )

    assert created
    assert (again.pk, again.status, created_again) == (first.pk, "complete", False)


def test_anonymous_survey_does_not_identify_the_invited_customer(
    client: Client, invitation: Invitation
) -> None:
    Survey.objects.filter(pk=invitation.survey_id).update(is_anonymous=True)

    client.post(f"/i/{invitation.token}/", full_answers(invitation.survey, nps=9))

    assert Response.objects.values_list("customer", "segment", "invitation").get() == (
        None,
        "",
        invitation.pk,
    )


def test_public_link_cannot_save_a_partial_response(survey: Survey) -> None:
    from csat.errors import ApplicationError

    with pytest.raises(ApplicationError) as error:
        response_submit(survey=survey, raw_answers={}, is_partial=True)

    assert error.value.message == "Only a personal link can save answers to finish later."


def _service_answers(survey: Survey) -> dict[str, object]:
    questions = questions_by_kind(survey)
    rows = list(questions["rating_grid"].rows.all())
    choice = questions["single_choice"].choices.first()
    assert choice is not None
    return {
        str(questions["nps"].pk): 10,
        str(questions["csat"].pk): 5,
        str(questions["ces"].pk): 7,
        str(questions["yes_no"].pk): "yes",
        str(questions["rating_grid"].pk): {str(row.pk): 4 for row in rows},
        str(questions["single_choice"].pk): choice.pk,
    }


def test_a_caller_can_name_another_channel_for_an_invitation(invitation: Invitation) -> None:
    survey = invitation.survey

    response, created = response_submit(
        survey=survey,
        raw_answers=_service_answers(survey),
        invitation=invitation,
        channel=Channel.API,
    )

    assert (created, response.channel, response.invitation) == (True, "api", invitation)


def test_chinese_customer_on_an_english_browser_reads_the_errors_in_chinese(
    client: Client, invitation: Invitation
) -> None:
    # given a customer invited in Chinese who opens the link in an English browser
    invitation.customer.language = "zh-hans"
    invitation.customer.save()

    # when they send the form with no answer
    refused = client.post(
        f"/i/{invitation.token}/", {"action": "submit"}, HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9"
    )

    # then the page, its summary and each question's error are all in Chinese
    page = refused.content.decode()
    assert refused.status_code == 400
    assert refused["Content-Language"] == "zh-hans"
    assert "部分回答需要修改，请检查。" in page  # noqa: RUF001
    assert "此问题为必答题。" in page
    assert "This question needs an answer." not in page
    assert "Some answers need attention." not in page
    assert not Response.objects.exists()


def test_english_customer_on_a_chinese_browser_reads_the_errors_in_english(
    client: Client, invitation: Invitation
) -> None:
    refused = client.post(
        f"/i/{invitation.token}/", {"action": "submit"}, HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9"
    )

    page = refused.content.decode()
    assert refused["Content-Language"] == "en"
    assert "This question needs an answer." in page
    assert "此问题为必答题。" not in page


def test_the_saved_page_offers_to_continue_now_on_the_same_personal_link(
    client: Client, invitation: Invitation
) -> None:
    nps = f"q{questions_by_kind(invitation.survey)['nps'].pk}"

    saved = client.post(f"/i/{invitation.token}/", {nps: "5", "action": "save"})

    link = f'<a href="/i/{invitation.token}/" data-testid="continue-now">Continue now</a>'
    assert link in saved.content.decode()


def test_a_chinese_customer_is_offered_to_continue_in_chinese(
    client: Client, invitation: Invitation
) -> None:
    invitation.customer.language = "zh-hans"
    invitation.customer.save()
    nps = f"q{questions_by_kind(invitation.survey)['nps'].pk}"

    saved = client.post(f"/i/{invitation.token}/", {nps: "5", "action": "save"})

    assert ">现在继续作答</a>" in saved.content.decode()
