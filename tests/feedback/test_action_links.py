"""Managers link a case to the improvement action it feeds, from the case page (or the
admin); the quarter's problem conversion rate follows."""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from accounts.models import User
from csat.outbox import outbox_drain
from feedback.models import Case, ComplaintCategory, ImprovementAction, RootCause
from feedback.services import case_log_complaint
from metrics import selectors
from metrics.models import DirtyPeriod
from metrics.services import metrics_recompute_dirty

SHANGHAI = ZoneInfo("Asia/Shanghai")
OPENED = datetime(2025, 5, 6, 10, tzinfo=SHANGHAI)


@pytest.fixture
def case(staff: User) -> Case:
    category = ComplaintCategory.objects.create(name="Late", root_cause=RootCause.PROCESS)
    with time_machine.travel(OPENED + timedelta(hours=1), tick=False):
        complaint = case_log_complaint(
            category=category, channel="phone", summary="Waited 3 days", agent=staff
        )
    outbox_drain()
    metrics_recompute_dirty(timezone.now() + timedelta(minutes=1))
    assert not DirtyPeriod.objects.exists()
    return complaint


@pytest.fixture
def action(manager: User) -> ImprovementAction:
    return ImprovementAction.objects.create(
        title="Same-day callback",
        owner=manager,
        lead_department="After-sales",
        deadline=timezone.localdate() + timedelta(days=30),
    )


def _conversion(quarter: str = "2025Q2") -> float | None:
    """The quarter's problem conversion rate once the periodic recompute has run."""
    metrics_recompute_dirty(timezone.now() + timedelta(minutes=1))
    figure = selectors.metric_figures(quarter)["problem_conversion"]
    assert figure is not None
    return figure.value


def test_a_manager_links_a_case_to_an_action_and_the_conversion_rate_follows(
    manager_client: Client, case: Case, action: ImprovementAction
) -> None:
    # given a complaint that feeds no action yet: the case page offers the actions
    page = html.unescape(manager_client.get(f"/cases/{case.pk}/").content.decode())
    assert f'<option value="{action.pk}">Same-day callback · ' in page
    assert _conversion() == 0.0

    # when the manager links it to the callback action
    response = manager_client.post(
        f"/cases/{case.pk}/link-action/", {"action": str(action.pk)}, follow=True
    )

    # then the case page lists the action, and the quarter's conversion rate counts the case
    page = html.unescape(response.content.decode())
    assert response.status_code == 200
    assert "The case now feeds this improvement action." in page
    assert "Same-day callback · After-sales" in page
    assert list(action.cases.all()) == [case]
    outbox_drain()
    assert _conversion() == 100.0

    # and when they unlink it, it feeds nothing again
    response = manager_client.post(
        f"/cases/{case.pk}/unlink-action/", {"action": str(action.pk)}, follow=True
    )
    assert "The case no longer feeds this improvement action." in response.content.decode()
    assert not action.cases.exists()
    outbox_drain()
    assert _conversion() == 0.0


@pytest.mark.parametrize("value", ["", "999999", "abc"])
def test_linking_to_no_or_an_unknown_action_is_refused_beside_the_field(
    manager_client: Client, case: Case, action: ImprovementAction, value: str
) -> None:
    response = manager_client.post(f"/cases/{case.pk}/link-action/", {"action": value})

    page = html.unescape(response.content.decode())
    assert response.status_code == 400
    assert 'id="id_action_error">Choose one of the improvement actions.</p>' in page
    assert not action.cases.exists()


def test_staff_without_the_actions_permission_can_neither_link_nor_see_the_form(
    staff_client: Client, case: Case, action: ImprovementAction
) -> None:
    page = staff_client.get(f"/cases/{case.pk}/").content.decode()
    response = staff_client.post(f"/cases/{case.pk}/link-action/", {"action": str(action.pk)})

    assert 'name="action"' not in page
    assert response.status_code == 403
    assert not action.cases.exists()


def test_an_admin_linking_cases_in_the_admin_recomputes_their_quarter(
    admin_client_: Client, case: Case, action: ImprovementAction
) -> None:
    response = admin_client_.post(
        f"/admin/feedback/improvementaction/{action.pk}/change/",
        {
            "title": action.title,
            "description": "",
            "owner": str(action.owner_id),
            "lead_department": action.lead_department,
            "supporting_departments": "",
            "deadline": action.deadline.isoformat(),
            "status": "planned",
            "cases": [str(case.pk)],
        },
    )

    assert response.status_code == 302
    outbox_drain()
    assert set(DirtyPeriod.objects.values_list("period", "family")) == {("2025Q2", "cases")}
    assert _conversion() == 100.0


def _new_action(**changes: str) -> dict[str, str]:
    return {
        "title": "Callback within four hours",
        "description": "Complaints about slow after-sales replies.",
        "owner": "",
        "lead_department": "After-sales",
        "supporting_departments": "Logistics, IT",
        "deadline": (timezone.localdate() + timedelta(days=60)).isoformat(),
        **changes,
    }


def test_a_manager_starts_an_action_from_a_case_and_the_case_feeds_it(
    manager_client: Client, manager: User, case: Case
) -> None:
    # given the case page, which offers a new action fed by the case
    page = manager_client.get(f"/cases/{case.pk}/").content.decode()
    assert f'href="/actions/new/?case={case.pk}"' in page
    form = manager_client.get(f"/actions/new/?case={case.pk}").content.decode()
    assert f"Case #{case.pk} will feed this action." in form

    # when the manager fills it in
    response = manager_client.post(
        f"/actions/new/?case={case.pk}", _new_action(owner=str(manager.pk)), follow=True
    )

    # then the action exists with what was typed, the case feeds it, and the rate follows
    action = ImprovementAction.objects.get()
    assert (action.title, action.owner, action.lead_department) == (
        "Callback within four hours",
        manager,
        "After-sales",
    )
    assert action.supporting_departments == "Logistics, IT"
    assert list(action.cases.all()) == [case]
    assert response.redirect_chain[-1][0] == f"/cases/{case.pk}/"
    assert "Improvement action “Callback within four hours” created." in response.content.decode()
    outbox_drain()
    assert _conversion() == 100.0


def test_a_new_action_without_a_title_or_with_a_past_deadline_is_refused_naming_the_fields(
    manager_client: Client, manager: User
) -> None:
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    response = manager_client.post(
        "/actions/new/", _new_action(title="", owner=str(manager.pk), deadline=yesterday)
    )

    page = html.unescape(response.content.decode())
    assert response.status_code == 400
    assert "This field is required." in page.split('for="id_title"')[1].split("</div>")[0]
    assert "The deadline cannot be in the past." in page
    assert not ImprovementAction.objects.exists()


def test_an_action_started_from_an_unknown_case_is_refused(
    manager_client: Client, manager: User
) -> None:
    response = manager_client.post("/actions/new/?case=999999", _new_action(owner=str(manager.pk)))

    assert response.status_code == 400
    assert response.content.decode() == "case: no case 999999 that you can see."
    assert not ImprovementAction.objects.exists()


def test_staff_cannot_create_actions(staff_client: Client, staff: User) -> None:
    page = staff_client.get("/actions/new/")
    response = staff_client.post("/actions/new/", _new_action(owner=str(staff.pk)))

    assert (page.status_code, response.status_code) == (403, 403)
    assert not ImprovementAction.objects.exists()
