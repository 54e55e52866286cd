"""The interactions API: stored with agent and team at the time, idempotent by external id,
recorded with its outbox event, and scheduling its touchpoint's survey invitation."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from accounts.models import Team, User
from csat.models import OutboxEvent
from surveys.models import Interaction, Invitation, Survey, Touchpoint, TouchpointRule
from surveys.outreach import tasks
from tests.surveys.outreach_fixtures import api_client, make_customer

NOW = datetime(2025, 3, 31, 23, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
URL = "/api/v1/interactions/"


@pytest.fixture
def after_sales(nps_survey: Survey) -> Touchpoint:
    touchpoint = Touchpoint.objects.create(code="after-sales-closed", name="After-sales closed")
    TouchpointRule.objects.create(
        touchpoint=touchpoint,
        survey=nps_survey,
        channel="sms",
        delay=timedelta(hours=2),
        reminder_after_days=2,
    )
    return touchpoint


@pytest.fixture
def frozen() -> Any:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def _body(**overrides: Any) -> dict[str, Any]:
    body = {
        "customer_external_id": "C-1",
        "touchpoint": "after-sales-closed",
        "agent": "sam.staff",
        "occurred_at": "2025-03-31T23:00:00+08:00",
        "description": "Ticket 4711 closed",
        "external_id": "ticket-4711",
    }
    return body | overrides


def test_interaction_is_stored_with_agent_team_and_quarter_and_schedules_the_rules_survey(
    staff: User, team: Team, after_sales: Touchpoint, nps_survey: Survey, frozen: Any
) -> None:
    make_customer("C-1", segment="high_value")

    response = api_client(staff).post(URL, _body(), format="json")

    interaction = Interaction.objects.get()
    invitation = Invitation.objects.get()
    assert response.status_code == 201
    assert response.json()["invitation"] == {
        "id": invitation.pk,
        "survey": nps_survey.public_id,
        "channel": "sms",
        "status": "scheduled",
        "suppression_reason": "",
        "due_at": "2025-04-01T01:00:00+08:00",
    }
    assert (interaction.agent, interaction.team, interaction.segment) == (staff, team, "high_value")
    assert interaction.quarter == "2025Q1"  # 23:00 on 31 March in Shanghai
    assert (invitation.agent, invitation.team, invitation.touchpoint) == (staff, team, after_sales)
    assert (invitation.interaction, invitation.reminder_after_days) == (interaction, 2)
    assert list(OutboxEvent.objects.values_list("kind", "object_id")) == [
        ("interaction.recorded", interaction.pk)
    ]


def test_agent_can_be_given_by_id_and_team_is_kept_when_the_agent_moves(
    staff: User, team: Team, after_sales: Touchpoint, frozen: Any
) -> None:
    make_customer("C-1")
    api_client(staff).post(URL, _body(agent=str(staff.pk)), format="json")

    staff.team = Team.objects.create(name="Sales")
    staff.save()

    assert Interaction.objects.get().team == team


def test_same_external_id_returns_the_first_interaction_and_another_body_is_refused(
    staff: User, after_sales: Touchpoint, frozen: Any
) -> None:
    make_customer("C-1")
    client = api_client(staff)

    first = client.post(URL, _body(), format="json")
    again = client.post(URL, _body(), format="json")
    different = client.post(URL, _body(description="Another ticket"), format="json")

    assert (first.status_code, again.status_code, different.status_code) == (201, 200, 422)
    assert again.json()["id"] == first.json()["id"]
    assert different.json()["error"] == {
        "message": "An interaction with this external id was already recorded with other details.",
        "fields": {"external_id": ["Already used for a different interaction."]},
    }
    assert Interaction.objects.count() == 1
    assert Invitation.objects.count() == 1


def test_unknown_references_are_named_and_nothing_is_stored(staff: User, db: None) -> None:
    make_customer("C-1")
    Touchpoint.objects.create(code="after-sales-closed", name="After-sales closed")
    client = api_client(staff)

    customer = client.post(URL, _body(customer_external_id="nobody"), format="json")
    touchpoint = client.post(URL, _body(touchpoint="nowhere"), format="json")
    agent = client.post(URL, _body(agent="ghost"), format="json")
    missing = client.post(URL, {"customer_external_id": "C-1"}, format="json")
    future = client.post(URL, _body(occurred_at="2999-01-01T00:00:00Z"), format="json")

    assert customer.json()["error"]["fields"] == {
        "customer_external_id": ["No customer has this external id."]
    }
    assert touchpoint.json()["error"]["fields"] == {"touchpoint": ["No touchpoint has this code."]}
    assert agent.json()["error"]["fields"] == {
        "agent": ["No staff member has this username or id."]
    }
    assert missing.status_code == 400
    assert sorted(missing.json()["error"]["fields"]) == ["occurred_at", "touchpoint"]
    assert future.json()["error"]["fields"] == {"occurred_at": ["This time is in the future."]}
    assert not Interaction.objects.exists()
    assert not OutboxEvent.objects.exists()


def test_scheduled_invitation_goes_out_after_the_delay_subject_to_the_fatigue_rule(
    staff: User, after_sales: Touchpoint, frozen: Any, settings: Any, tmp_path: Any
) -> None:
    settings.SMS_BACKEND = "surveys.outreach.sms.FileSmsBackend"
    settings.SMS_FILE_PATH = str(tmp_path / "sms.jsonl")
    make_customer("C-1")
    client = api_client(staff)
    client.post(URL, _body(external_id="t-1"), format="json")
    client.post(
        URL, _body(external_id="t-2", occurred_at="2025-03-31T23:10:00+08:00"), format="json"
    )
    first, second = Invitation.objects.order_by("pk")

    early = tasks.invitation_send(first.pk)
    frozen.move_to(NOW + timedelta(hours=2))
    outcomes = [tasks.invitation_send(first.pk), tasks.invitation_send(second.pk)]

    second.refresh_from_db()
    assert early == "skipped"
    assert outcomes == ["delivered", "suppressed"]
    assert second.suppression_reason == "fatigue"
    assert len((tmp_path / "sms.jsonl").read_text().splitlines()) == 1


def test_unsubscribed_customer_gets_no_invitation_but_the_interaction_still_counts(
    staff: User, after_sales: Touchpoint, frozen: Any
) -> None:
    from django.utils import timezone

    make_customer("C-1", unsubscribed_at=timezone.now())

    response = api_client(staff).post(URL, _body(), format="json")

    assert response.status_code == 201
    assert response.json()["invitation"]["status"] == "suppressed"
    assert response.json()["invitation"]["suppression_reason"] == "unsubscribed"
    assert Interaction.objects.count() == 1


def test_touchpoint_without_an_active_rule_stores_the_interaction_only(
    staff: User, after_sales: Touchpoint, frozen: Any
) -> None:
    TouchpointRule.objects.update(is_active=False)
    make_customer("C-1")

    response = api_client(staff).post(URL, _body(), format="json")

    assert response.status_code == 201
    assert response.json()["invitation"] is None
    assert not Invitation.objects.exists()


def test_caller_without_the_permission_is_refused(db: None, after_sales: Touchpoint) -> None:
    outsider = User.objects.create_user(username="olly", password="x-y-z-123456")
    make_customer("C-1")

    response = api_client(outsider).post(URL, _body(), format="json")

    assert response.status_code == 403
    assert not Interaction.objects.exists()
