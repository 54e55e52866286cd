"""Staff forms in Chromium as a person sees them: radios beside their labels, date fields and
snippets drawn like the other fields, phone-sized analysis tables inside their cards."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from accounts.models import Role
from accounts.services import user_create
from surveys.services import survey_create_nps
from tests.browser.support import ARTIFACTS

PASSWORD = "browser-test-password"


def _log_in(page: Page, live_server: Any, username: str) -> None:
    page.goto(f"{live_server}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def _beside_its_label(page: Page, radio_selector: str, label_text: str) -> None:
    radio = page.locator(radio_selector).bounding_box()
    label = page.get_by_text(label_text, exact=True).first.bounding_box()
    assert radio is not None
    assert label is not None
    assert radio["width"] < 30, f"the radio for {label_text!r} is {radio['width']}px wide"
    radio_middle = radio["y"] + radio["height"] / 2
    assert label["y"] <= radio_middle <= label["y"] + label["height"], label_text
    assert radio["x"] <= label["x"], f"the radio for {label_text!r} is not left of its label"


@pytest.mark.django_db(transaction=True)
def test_staff_see_each_radio_beside_its_label_and_date_fields_like_the_others(
    browser: Browser, live_server: Any
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    user_create(username="sam.forms", password=PASSWORD, role=Role.STAFF)
    survey = survey_create_nps(title="Delivery follow-up", nps_question="Recommend us?")
    page = browser.new_page(locale="en-US", viewport={"width": 1280, "height": 900})
    _log_in(page, live_server, "sam.forms")

    # the template choice of a new survey
    page.goto(f"{live_server}/surveys/new/")
    page.screenshot(path=str(ARTIFACTS / "survey-new.png"), full_page=True)
    _beside_its_label(page, "input[type=radio][value='']", "A blank survey")
    _beside_its_label(page, "input[type=radio][value='servqual']", "SERVQUAL")

    # the channel of a send, and its date-time field drawn like the number fields
    page.goto(f"{live_server}/surveys/{survey.pk}/sends/new/")
    page.screenshot(path=str(ARTIFACTS / "send-new.png"), full_page=True)
    _beside_its_label(page, "input[type=radio][value='email']", "Email")
    _beside_its_label(page, "input[type=radio][value='sms']", "SMS")
    when = page.locator("input[type=datetime-local]").bounding_box()
    days = page.locator("input[name=expires_after_days]").bounding_box()
    assert when is not None
    assert days is not None
    assert abs(when["height"] - days["height"]) <= 2

    # the embed snippets fill the card's width, under their labels
    page.goto(f"{live_server}/surveys/{survey.pk}/embed/")
    snippet = page.locator("#snippet-iframe").bounding_box()
    label = page.locator("label[for=snippet-iframe]").bounding_box()
    assert snippet is not None
    assert label is not None
    assert snippet["width"] > 900
    assert snippet["y"] >= label["y"] + label["height"] - 1


@pytest.mark.django_db(transaction=True)
def test_staff_choose_the_channel_of_a_complaint_themselves(
    browser: Browser, live_server: Any
) -> None:
    from feedback.models import Case, ComplaintCategory, RootCause

    user_create(username="sam.complaints", password=PASSWORD, role=Role.STAFF)
    category = ComplaintCategory.objects.create(name="Slow repair", root_cause=RootCause.PROCESS)
    page = browser.new_page(locale="en-US", viewport={"width": 1280, "height": 900})
    _log_in(page, live_server, "sam.complaints")

    # the form opens with no channel chosen: the menu asks for one
    page.goto(f"{live_server}/cases/complaint/")
    channel = page.get_by_label("Channel")
    assert channel.input_value() == ""
    assert channel.locator("option:checked").inner_text() == (
        "Choose the channel the complaint came in on"
    )
    # submitting without choosing one is refused beside the field
    page.get_by_label("Category").select_option(str(category.pk))
    page.get_by_label("What happened").fill("The repair took three weeks.")
    page.get_by_role("button", name="Log complaint").click()
    page.wait_for_load_state()
    assert page.get_by_text("Choose the channel the complaint came in on.").is_visible()
    assert not Case.objects.exists()
    # with the phone chosen the complaint is logged on the phone
    page.get_by_label("Channel").select_option("phone")
    page.get_by_role("button", name="Log complaint").click()
    page.wait_for_load_state()
    assert Case.objects.get().channel == "phone"
    page.close()


@pytest.mark.django_db(transaction=True)
def test_staff_resolve_a_case_saying_what_was_done_and_categorise_it(
    browser: Browser, live_server: Any
) -> None:
    from accounts.models import Team
    from feedback.models import ComplaintCategory, RootCause
    from feedback.services import case_log_complaint

    team = Team.objects.create(name="After-sales")
    staff = user_create(username="sam.cases", password=PASSWORD, role=Role.STAFF, team=team)
    slow = ComplaintCategory.objects.create(name="Slow repair", root_cause=RootCause.PROCESS)
    ComplaintCategory.objects.create(name="Rude staff", root_cause=RootCause.PEOPLE)
    case = case_log_complaint(category=slow, channel="phone", summary="Late", agent=staff)
    page = browser.new_page(locale="en-US", viewport={"width": 1280, "height": 900})
    _log_in(page, live_server, "sam.cases")
    page.goto(f"{live_server}/cases/{case.pk}/")

    # Resolve with nothing written: refused beside the field
    page.get_by_role("button", name="Resolve").click()
    page.wait_for_load_state()
    assert page.get_by_text("Describe what was done for the customer.").is_visible()
    # written, the case is resolved and the page says what was done
    page.get_by_label("What was done for the customer").fill("Replaced the pump; called back.")
    page.get_by_role("button", name="Resolve").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("case-resolution").inner_text() == "Replaced the pump; called back."
    assert page.locator(".badge.resolved").inner_text() == "Resolved"
    # the category is changed from the same page
    page.get_by_label("Category of the complaint taxonomy").select_option(
        label="Rude staff (People)"
    )
    page.get_by_role("button", name="Save category").click()
    page.wait_for_load_state()
    assert page.get_by_text("Category saved.").is_visible()
    case.refresh_from_db()
    assert case.category is not None
    assert case.category.name == "Rude staff"
    page.screenshot(path=str(ARTIFACTS / "case-resolved.png"), full_page=True)
    page.close()
