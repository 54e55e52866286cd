"""A manager turns a complaint into an improvement action in Chromium: from the case page to
the new action's form and back, where the case now lists the action it feeds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Browser

from accounts.models import Role
from accounts.services import user_create
from feedback.models import ComplaintCategory, ImprovementAction, RootCause
from feedback.services import case_log_complaint
from tests.browser.support import ARTIFACTS

PASSWORD = "browser-test-password"


@pytest.mark.django_db(transaction=True)
def test_a_manager_creates_an_action_from_a_complaint_and_sees_the_case_feed_it(
    browser: Browser, live_server: Any
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    manager = user_create(username="mia.manager", password=PASSWORD, role=Role.MANAGER)
    category = ComplaintCategory.objects.create(name="Late delivery", root_cause=RootCause.PROCESS)
    case = case_log_complaint(
        category=category, channel="phone", summary="Parcel a week late", agent=manager
    )
    page = browser.new_page(locale="en-US", viewport={"width": 1280, "height": 900})
    page.goto(f"{live_server}/accounts/login/")
    page.get_by_label("Username").fill("mia.manager")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()

    # from the case page, to a new action fed by the case
    page.goto(f"{live_server}/cases/{case.pk}/")
    page.get_by_role("link", name="New improvement action fed by this case").click()
    page.wait_for_load_state()
    assert page.get_by_text(f"Case #{case.pk} will feed this action.").is_visible()
    page.get_by_label("Title").fill("Carrier cut-off at 3 pm")
    page.get_by_label("Lead department").fill("Logistics")
    deadline = timezone.localdate() + timedelta(days=45)
    page.get_by_label("Deadline").fill(deadline.isoformat())
    page.screenshot(path=str(ARTIFACTS / "action-new.png"), full_page=True)
    page.get_by_role("button", name="Create the action").click()
    page.wait_for_load_state()

    # back on the case, which lists the action and offers to unlink it
    assert page.url.endswith(f"/cases/{case.pk}/")
    listed = page.get_by_test_id("case-actions")
    assert "Carrier cut-off at 3 pm · Logistics" in listed.inner_text()
    page.screenshot(path=str(ARTIFACTS / "case-with-action.png"), full_page=True)
    action = ImprovementAction.objects.get()
    assert (action.owner, action.deadline) == (manager, deadline)
    page.get_by_role("button", name="Unlink “Carrier cut-off at 3 pm”").click()
    page.wait_for_load_state()
    assert page.get_by_text("The case no longer feeds this improvement action.").is_visible()
    assert not action.cases.exists()
