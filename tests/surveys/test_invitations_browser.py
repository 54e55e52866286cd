"""In Chromium: staff send a survey by SMS and read the send page; a customer unsubscribes
from a phone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from accounts.models import Role
from accounts.services import user_create
from surveys.models import Customer, Invitation, SurveySend
from surveys.outreach import tasks
from surveys.services import survey_create_nps
from tests.browser.support import ARTIFACTS
from tests.surveys.outreach_fixtures import make_customer

PASSWORD = "browser-test-password"


@pytest.mark.django_db(transaction=True)
def test_staff_send_a_survey_by_sms_and_a_customer_unsubscribes_from_the_link(
    browser: Browser, live_server: Any, settings: Any, tmp_path: Path
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    settings.SITE_URL = str(live_server)
    settings.SMS_BACKEND = "surveys.outreach.sms.FileSmsBackend"
    settings.SMS_FILE_PATH = str(tmp_path / "sms.jsonl")
    user_create(username="sam.browser", password=PASSWORD, role=Role.STAFF)
    survey = survey_create_nps(title="Delivery follow-up", nps_question="Recommend us?")
    make_customer("C-1", phone="+8613800000001")
    make_customer("C-2", phone="")
    page = browser.new_page(locale="en-US")
    page.goto(f"{live_server}/accounts/login/")
    page.get_by_label("Username").fill("sam.browser")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    # staff send the survey by SMS to two pasted external ids
    page.goto(f"{live_server}/surveys/{survey.pk}/sends/new/")
    page.get_by_label("SMS").check()
    page.get_by_label("Or paste external ids").fill("C-1\nC-2")
    page.get_by_role("button", name="Send").click()
    send = SurveySend.objects.get()
    assert page.url == f"{live_server}/sends/{send.pk}/"
    assert page.get_by_test_id("count-scheduled").inner_text() == "1"
    assert page.get_by_test_id("count-suppressed").inner_text() == "1"

    # the dispatcher's task sends it; the page shows it delivered, the rate still unanswered
    tasks.invitation_send(Invitation.objects.get(customer__external_id="C-1").pk)
    page.reload()
    assert page.get_by_test_id("count-delivered").inner_text() == "1"
    assert page.get_by_test_id("response-rate").inner_text() == "0.0%"
    page.screenshot(path=str(ARTIFACTS / "send-page.png"), full_page=True)

    # the customer opens the unsubscribe link of the SMS on a phone and confirms
    (sms,) = [json.loads(line) for line in Path(settings.SMS_FILE_PATH).read_text().splitlines()]
    link = next(word for word in sms["body"].split() if "/u/" in word)
    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone.goto(link)
    phone.get_by_role("button", name="Unsubscribe").click()
    assert phone.get_by_test_id("unsubscribed").is_visible()
    phone.screenshot(path=str(ARTIFACTS / "unsubscribe-phone.png"))
    assert Customer.objects.get(external_id="C-1").unsubscribed_at is not None
