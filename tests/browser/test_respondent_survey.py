"""A customer answers a survey with every kind of question on a phone-sized screen in
Chromium, with and without JavaScript, and resumes a saved personal link."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from accounts.models import User
from surveys.models import Channel, Invitation, Response, Survey
from tests.browser.support import ARTIFACTS
from tests.browser.test_respondent_phone import PHONE
from tests.surveys.builders import customer, multi_kind_survey


def _group(page: Page, text: str) -> object:
    return page.get_by_role("group", name=re.compile("^" + re.escape(text)))


def _answer_everything_but_nps(page: Page) -> None:
    _group(page, "How satisfied are you?").get_by_role("radio", name="4 of 5 stars").check()
    _group(page, "How easy was it?").get_by_role("radio", name="6", exact=True).check()
    _group(page, "Solved on first contact?").get_by_role("radio", name="Yes").check()
    grid = _group(page, "Rate our staff")
    grid.get_by_role("group", name="Speed").get_by_role("radio", name="5", exact=True).check()
    grid.get_by_role("group", name="Kindness").get_by_role("radio", name="3", exact=True).check()
    page.get_by_role("radio", name="Chat").check()


@pytest.mark.django_db(transaction=True)
def test_customer_answers_every_kind_on_a_phone_and_the_follow_up_appears(
    browser: Browser,
    live_server: object,
    staff: User,
) -> None:
    survey = multi_kind_survey(staff)
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport=PHONE, is_mobile=True, locale="en-US")
    page.goto(f"{live_server}/s/{survey.public_id}/")
    follow_up = page.get_by_label("What could we do better?")

    expect(follow_up).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    _group(page, "Would you recommend us?").get_by_role("radio", name="4", exact=True).check()
    expect(follow_up).to_be_visible()
    follow_up.fill("Call me back sooner.")
    _answer_everything_but_nps(page)
    page.screenshot(path=str(ARTIFACTS / "respondent-multi-kind.png"), full_page=True)
    page.get_by_role("button", name="Send my answers").click()

    expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()
    stored = Response.objects.get()
    assert (stored.channel, stored.status) == (Channel.WEB, "complete")
    assert stored.answers.filter(text="Call me back sooner.").count() == 1
    assert stored.answers.filter(question__kind="csat").get().number == 4


@pytest.mark.django_db(transaction=True)
def test_the_whole_survey_works_without_javascript(
    browser: Browser,
    live_server: object,
    staff: User,
) -> None:
    survey = multi_kind_survey(staff)
    context = browser.new_context(viewport=PHONE, java_script_enabled=False, locale="en-US")
    page = context.new_page()
    page.goto(f"{live_server}/s/{survey.public_id}/")

    # Every question is on the page, the follow-up saying when it applies.
    expect(page.get_by_text("Answer only if you chose 6 or less for")).to_be_visible()
    _group(page, "Would you recommend us?").get_by_role("radio", name="9", exact=True).check()
    _answer_everything_but_nps(page)
    page.keyboard.press("Tab")  # the keyboard reaches the controls
    page.screenshot(path=str(ARTIFACTS / "respondent-no-javascript.png"), full_page=True)
    page.get_by_role("button", name="Send my answers").click()

    expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()
    assert Response.objects.get().answers.get(question__kind="nps").number == 9
    context.close()


@pytest.mark.django_db(transaction=True)
def test_personal_link_saves_a_partial_answer_and_resumes_it(
    browser: Browser,
    live_server: object,
    staff: User,
) -> None:
    survey: Survey = multi_kind_survey(staff)
    invitation = Invitation.objects.create(
        survey=survey,
        customer=customer("C-9"),
        channel=Channel.SMS,
        expires_at=timezone.now() + timedelta(days=7),
    )
    page = browser.new_page(viewport=PHONE, is_mobile=True, locale="en-US")
    page.goto(f"{live_server}/i/{invitation.token}/")

    _group(page, "Would you recommend us?").get_by_role("radio", name="10", exact=True).check()
    page.get_by_role("button", name="Save and finish later").click()
    expect(page.get_by_role("heading", name="Your answers are saved")).to_be_visible()
    assert Response.objects.get().status == "partial"
    page.goto(f"{live_server}/i/{invitation.token}/")
    expect(
        page.get_by_text("Welcome back: your saved answers are filled in below.")
    ).to_be_visible()
    nps = _group(page, "Would you recommend us?").get_by_role("radio", name="10", exact=True)
    expect(nps).to_be_checked()
    _answer_everything_but_nps(page)
    page.screenshot(path=str(ARTIFACTS / "respondent-personal-link-resumed.png"), full_page=True)
    page.get_by_role("button", name="Send my answers").click()

    expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()
    stored = Response.objects.get()
    assert (stored.status, stored.channel, stored.customer) == (
        "complete",
        "sms",
        invitation.customer,
    )
