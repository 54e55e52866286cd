"""A customer on a phone, keyboard only: a refused form puts them on the list of questions to
fix, and each link there leads to its question."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

from surveys.models import Response, Survey
from tests.browser.support import ARTIFACTS

PHONE = {"width": 390, "height": 844}


@pytest.mark.django_db(transaction=True)
def test_keyboard_customer_lands_on_the_questions_to_fix_and_reaches_each_by_its_link(
    browser: Browser, live_server: object, nps_survey: Survey
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    nps = nps_survey.questions.get(kind="nps")
    page = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True, locale="en-US")
    page.goto(f"{live_server}/s/{nps_survey.public_id}/")

    # when they tab to the send button and press Enter with no score chosen
    while page.evaluate("document.activeElement.textContent") != "Send my answers":
        page.keyboard.press("Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.screenshot(path=str(ARTIFACTS / "respondent-keyboard-refused.png"), full_page=True)

    # then focus is on the summary, which names the question to fix
    assert page.evaluate("document.activeElement.id") == "error-summary"
    summary = page.locator("#error-summary")
    assert summary.get_by_role("link").all_inner_texts() == [nps.text]

    # and Tab, Enter on that link, Tab again puts them on the question's first score
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    focused = page.evaluate("[document.activeElement.name, document.activeElement.value]")
    assert focused == [f"q{nps.pk}", "0"]
    # where the arrow keys choose a score and Enter on the button sends it
    for _step in range(9):
        page.keyboard.press("ArrowRight")
    while page.evaluate("document.activeElement.textContent") != "Send my answers":
        page.keyboard.press("Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("heading", name="Thank you!").is_visible()
    assert list(Response.objects.get().answers.values_list("number", flat=True)) == [9]
