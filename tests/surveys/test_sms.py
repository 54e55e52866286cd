"""SMS invitations: the backend interface (console, file, generic HTTP provider against a local
stub server), retryable and terminal errors, and the provider's delivery receipts."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from csat.models import OutboxEvent
from surveys.models import Invitation, Response, Survey
from surveys.outreach import invitations, sms, tasks
from tests.surveys.outreach_fixtures import (
    SmsStub,
    make_customer,
    sms_stub_fixture,  # noqa: F401 (the sms_stub fixture)
)

Status = Invitation.Status
SECRET = "receipt-secret-123"


def _invite(survey: Survey, external_id: str = "C-1") -> Invitation:
    send = invitations.send_create(survey=survey, channel="sms", external_ids=[external_id])
    return send.invitations.get()


@pytest.fixture
def receipts(settings: Any) -> APIClient:
    settings.SMS_WEBHOOK_SECRET = SECRET
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {SECRET}")
    return client


def test_console_backend_writes_the_message() -> None:
    stream = io.StringIO()

    message_id = sms.ConsoleSmsBackend(stream).send(sms.SmsMessage("+8613800000001", "Hi", "7"))

    assert message_id.startswith("console-")
    assert "SMS to +8613800000001" in stream.getvalue()
    assert "Hi" in stream.getvalue()


def test_file_backend_sends_the_invitation_once_when_the_task_runs_twice(
    nps_survey: Survey, settings: Any, tmp_path: Path
) -> None:
    settings.SMS_BACKEND = "surveys.outreach.sms.FileSmsBackend"
    settings.SMS_FILE_PATH = str(tmp_path / "sms.jsonl")
    settings.SITE_URL = "https://csat.example.com"
    make_customer("C-1", phone="+86 138-0000-0001")
    invitation = _invite(nps_survey)

    outcomes = [tasks.invitation_send(invitation.pk), tasks.invitation_send(invitation.pk)]

    lines = [json.loads(line) for line in Path(settings.SMS_FILE_PATH).read_text().splitlines()]
    invitation.refresh_from_db()
    assert outcomes == ["delivered", "skipped"]
    assert len(lines) == 1
    assert lines[0]["to"] == "+86 138-0000-0001"
    assert f"https://csat.example.com/i/{invitation.token}/" in lines[0]["body"]
    assert f"https://csat.example.com/u/{invitation.token}/" in lines[0]["body"]
    assert invitation.status == Status.DELIVERED  # no receipts from a file: handed over = delivered
    assert invitation.provider_message_id == lines[0]["id"]


def test_http_backend_posts_the_body_template_with_the_token_and_waits_for_a_receipt(
    nps_survey: Survey, sms_stub: SmsStub, settings: Any
) -> None:
    settings.SITE_URL = "https://csat.example.com"
    make_customer("C-1", phone="+8613800000001")
    invitation = _invite(nps_survey)

    outcomes = [tasks.invitation_send(invitation.pk), tasks.invitation_send(invitation.pk)]

    invitation.refresh_from_db()
    (request,) = sms_stub.received
    assert outcomes == ["sent", "skipped"]
    assert request["authorization"] == "Bearer stub-provider-token"
    assert request["content_type"] == "application/json"
    assert request["json"]["to"] == "+8613800000001"
    assert request["json"]["client_ref"] == str(invitation.pk)
    assert f"https://csat.example.com/i/{invitation.token}/" in request["json"]["message"]["text"]
    assert (invitation.status, invitation.provider_message_id) == (Status.SENT, "prov-1")
    assert invitation.delivered_at is None


def test_customer_text_cannot_break_the_json_body(sms_stub: SmsStub) -> None:
    backend = sms.HttpSmsBackend()

    backend.send(sms.SmsMessage(to='+86"}, "to": "+1', body='say "hi" \\ {to}', reference="1"))

    (request,) = sms_stub.received
    assert request["json"]["to"] == '+86"}, "to": "+1'
    assert request["json"]["message"]["text"] == 'say "hi" \\ {to}'


def test_provider_5xx_is_retried_with_backoff_and_then_sent(
    nps_survey: Survey, sms_stub: SmsStub
) -> None:
    sms_stub.replies.append((503, {"error": "overloaded"}, 0.0))
    make_customer("C-1")
    invitation = _invite(nps_survey)
    start = timezone.now()

    with time_machine.travel(start, tick=False) as traveller:
        first = tasks.invitation_send(invitation.pk)
        invitation.refresh_from_db()
        retry_at = invitation.due_at
        traveller.move_to(retry_at)
        second = tasks.invitation_send(invitation.pk)

    invitation.refresh_from_db()
    assert (first, second) == ("retry", "sent")
    assert retry_at == start + timedelta(seconds=60)
    assert invitation.attempts == 2
    assert len(sms_stub.received) == 2


def test_provider_timeout_is_retried(nps_survey: Survey, sms_stub: SmsStub) -> None:
    sms_stub.replies.append((200, {"id": "late"}, 0.6))  # longer than the 0.3 s timeout
    make_customer("C-1")
    invitation = _invite(nps_survey)

    outcome = tasks.invitation_send(invitation.pk)

    invitation.refresh_from_db()
    assert outcome == "retry"
    assert invitation.status == Status.SCHEDULED
    assert invitation.error == "The SMS provider did not answer in 0.3 s."


def test_provider_4xx_marks_the_invitation_failed_with_the_error(
    nps_survey: Survey, sms_stub: SmsStub
) -> None:
    sms_stub.replies.append((400, {"error": "invalid number"}, 0.0))
    customer = make_customer("C-1")
    invitation = _invite(nps_survey)

    outcomes = [tasks.invitation_send(invitation.pk), tasks.invitation_send(invitation.pk)]

    invitation.refresh_from_db()
    customer.refresh_from_db()
    assert outcomes == ["failed", "skipped"]
    assert invitation.status == Status.FAILED
    assert invitation.error == 'SMS provider refused the message (400): {"error": "invalid number"}'
    assert len(sms_stub.received) == 1
    assert customer.last_invited_at is None


def test_delivery_receipt_marks_the_invitation_delivered_once(
    nps_survey: Survey, sms_stub: SmsStub, receipts: APIClient
) -> None:
    make_customer("C-1")
    invitation = _invite(nps_survey)
    tasks.invitation_send(invitation.pk)

    first = receipts.post(
        "/api/v1/sms/receipts/", {"message_id": "prov-1", "status": "delivered"}, format="json"
    )
    again = receipts.post(
        "/api/v1/sms/receipts/", {"message_id": "prov-1", "status": "delivered"}, format="json"
    )

    invitation.refresh_from_db()
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json()["status"] == "delivered"
    assert invitation.status == Status.DELIVERED
    assert invitation.delivered_at is not None
    # one event for the send, one for the delivery; the repeated receipt records none
    assert OutboxEvent.objects.filter(kind=OutboxEvent.Kind.INVITATION_CHANGED).count() == 2


def test_failure_receipt_marks_the_invitation_failed_with_the_providers_error(
    nps_survey: Survey, sms_stub: SmsStub, receipts: APIClient
) -> None:
    make_customer("C-1")
    invitation = _invite(nps_survey)
    tasks.invitation_send(invitation.pk)

    response = receipts.post(
        "/api/v1/sms/receipts/",
        {"reference": str(invitation.pk), "status": "failed", "error": "handset unreachable"},
        format="json",
    )

    invitation.refresh_from_db()
    assert response.status_code == 200
    assert (invitation.status, invitation.error) == (Status.FAILED, "handset unreachable")


def test_receipt_without_the_shared_secret_is_refused_and_changes_nothing(
    nps_survey: Survey, sms_stub: SmsStub, receipts: APIClient
) -> None:
    make_customer("C-1")
    invitation = _invite(nps_survey)
    tasks.invitation_send(invitation.pk)
    body = {"message_id": "prov-1", "status": "delivered"}

    anonymous = APIClient().post("/api/v1/sms/receipts/", body, format="json")
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="Bearer guess")
    guessed = wrong.post("/api/v1/sms/receipts/", body, format="json")

    invitation.refresh_from_db()
    assert (anonymous.status_code, guessed.status_code) == (401, 401)
    assert guessed.json()["error"]["message"] == "Wrong or missing webhook secret."
    assert invitation.status == Status.SENT


def test_receipt_is_validated_and_unknown_messages_are_404(receipts: APIClient, db: None) -> None:
    bad = receipts.post("/api/v1/sms/receipts/", {"status": "read"}, format="json")
    unknown = receipts.post(
        "/api/v1/sms/receipts/", {"message_id": "nope", "status": "delivered"}, format="json"
    )

    assert bad.status_code == 400
    assert bad.json()["error"]["fields"] == {
        "status": ['"read" is not a valid choice.'],
    }
    assert unknown.status_code == 404
    assert unknown.json()["error"]["fields"] == {
        "message_id": ["No SMS invitation was sent with this id."]
    }


def test_receipts_are_refused_until_a_secret_is_configured(db: None) -> None:
    response = APIClient().post(
        "/api/v1/sms/receipts/", {"message_id": "x", "status": "delivered"}, format="json"
    )

    assert response.status_code == 503


def test_customer_answers_through_the_link_the_provider_was_given(
    nps_survey: Survey, sms_stub: SmsStub, settings: Any, client: Client
) -> None:
    # given an SMS invitation handed to the provider (the local stub) by the send task
    settings.SITE_URL = "https://csat.example.com"
    make_customer("C-1", phone="+8613800000001")
    invitation = _invite(nps_survey)
    assert tasks.invitation_send(invitation.pk) == "sent"
    (request,) = sms_stub.received
    link = re.search(
        r"https://csat\.example\.com(/i/[A-Za-z0-9_\-]+/)", request["json"]["message"]["text"]
    )
    assert link, request["json"]["message"]["text"]

    # when the customer opens that link and answers
    page = client.get(link.group(1))
    field = re.search(r'type="radio" name="(q\d+)"', page.content.decode())
    assert page.status_code == 200
    assert field
    answered = client.post(link.group(1), {field.group(1): "4", "action": "submit"}, follow=True)

    # then the response is stored once, on the SMS channel, for that invitation and customer
    assert answered.status_code == 200
    response = Response.objects.get()
    assert (response.channel, response.invitation_id) == ("sms", invitation.pk)
    assert Response.objects.filter(customer__external_id="C-1").count() == 1
    assert response.answers.get().number == 4
