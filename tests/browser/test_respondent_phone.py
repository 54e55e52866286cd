"""A customer answers a survey on a phone-sized screen in Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

from surveys.models import Response, Survey
from tests.browser.support import ARTIFACTS

PHONE = {"width": 390, "height": 844}


@pytest.mark.django_db(transaction=True)
def test_customer_answers_on_a_phone_and_sees_thank_you(
    browser: Browser, live_server: object, nps_survey: Survey
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport=PHONE, is_mobile=True, locale="en-US")
    page.goto(f"{live_server}/s/{nps_survey.public_id}/")

    # the whole 0-10 scale fits the phone's width: no sideways scrolling
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.get_by_role("radio", name="9", exact=True).check()
    page.get_by_label("Why?").fill("The engineer came the same day.")
    page.screenshot(path=str(ARTIFACTS / "respondent-phone.png"), full_page=True)
    page.get_by_role("button", name="Send my answers").click()

    assert page.get_by_role("heading", name="Thank you!").is_visible()
    page.screenshot(path=str(ARTIFACTS / "respondent-phone-thanks.png"))
    response = Response.objects.get()
    assert response.channel == "web"
    assert sorted(response.answers.values_list("number", flat=True), key=str) == [9, None]


@pytest.mark.django_db(transaction=True)
def test_missing_score_is_reported_next_to_the_question_without_javascript(
    browser: Browser, live_server: object, nps_survey: Survey
) -> None:
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server}/s/{nps_survey.public_id}/")

    page.get_by_role("button", name="Send my answers").click()

    assert page.get_by_text("This question needs an answer.").is_visible()
    assert not Response.objects.exists()
    context.close()


@pytest.mark.django_db(transaction=True)
def test_respondent_page_follows_a_chinese_browser(
    browser: Browser, live_server: object, nps_survey: Survey
) -> None:
    page = browser.new_page(viewport=PHONE, locale="zh-CN")
    page.goto(f"{live_server}/s/{nps_survey.public_id}/")

    assert page.get_by_role("button", name="提交答卷").is_visible()
    assert page.locator("html").get_attribute("lang") == "zh-hans"
