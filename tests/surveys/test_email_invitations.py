"""Email invitations through Django's SMTP backend to a local SMTP sink, and end to end with
a live Celery worker: the email arrives, the customer answers through the personal link."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import requests
from django.utils import timezone

from surveys.models import Invitation, Response, Survey
from surveys.outreach import invitations, tasks
from surveys.services import survey_create_nps
from tests import live
from tests.conftest import database_url
from tests.surveys.outreach_fixtures import (
    SmtpSink,
    html_part,
    make_customer,
    smtp_sink_fixture,  # noqa: F401 (the smtp_sink fixture)
    text_part,
)

LINK = re.compile(r"http://testserver/i/([A-Za-z0-9_\-]+)/")


def _invite(survey: Survey, external_id: str = "C-1", **kwargs: Any) -> Invitation:
    send = invitations.send_create(survey=survey, channel="email", external_ids=[external_id])
    return send.invitations.get()


@pytest.fixture
def site(settings: Any) -> None:
    settings.SITE_URL = "http://testserver"


def test_invitation_email_reaches_the_smtp_sink_with_a_personal_link_and_unsubscribe(
    nps_survey: Survey, smtp_sink: SmtpSink, site: None
) -> None:
    make_customer("C-1", name="Li Lei", email="li.lei@example.com")
    invitation = _invite(nps_survey)

    outcome = tasks.invitation_send(invitation.pk)

    (message,) = smtp_sink.messages
    text = text_part(message)
    assert outcome == "delivered"
    assert message["To"] == "li.lei@example.com"
    assert message["Subject"] == "Your opinion, please: After-sales visit"
    assert "Dear Li Lei," in text
    assert f"http://testserver/i/{invitation.token}/" in text
    assert f"http://testserver/u/{invitation.token}/" in text
    assert f'href="http://testserver/i/{invitation.token}/"' in html_part(message)
    assert message["List-Unsubscribe"].strip() == f"<http://testserver/u/{invitation.token}/>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # 256 bits from the CSPRNG, URL-safe base64: 43 characters
    assert len(LINK.search(text).group(1)) == 43  # type: ignore[union-attr]


def test_email_is_in_the_customers_language(
    nps_survey: Survey, smtp_sink: SmtpSink, site: None
) -> None:
    nps_survey.translations = {"zh-hans": {"title": "售后回访"}}
    nps_survey.save()
    make_customer("C-1", name="李雷", language="zh-hans")

    tasks.invitation_send(_invite(nps_survey).pk)

    (message,) = smtp_sink.messages
    assert "售后回访" in message["Subject"]
    assert "李雷" in text_part(message)
    # the email's sign-off thanks in advance (its own context: not the thank-you page's)
    assert "谢谢您的支持\uff01" in text_part(message)
    assert "感谢您的参与" not in text_part(message)
    assert '<html lang="zh-hans">' in html_part(message)


def test_customer_text_is_escaped_in_the_html_email(
    nps_survey: Survey, smtp_sink: SmtpSink, site: None
) -> None:
    make_customer("C-1", name='<script>alert("x")</script>\nBcc: victim@example.com')

    tasks.invitation_send(_invite(nps_survey).pk)

    (message,) = smtp_sink.messages
    html = html_part(message)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert message["Bcc"] is None


def test_recipient_refused_by_the_mail_server_is_failed_with_its_error(
    nps_survey: Survey, smtp_sink: SmtpSink
) -> None:
    smtp_sink.rcpt_reply = "550 5.1.1 No such user here"
    customer = make_customer("C-1")
    invitation = _invite(nps_survey)

    outcome = tasks.invitation_send(invitation.pk)

    invitation.refresh_from_db()
    customer.refresh_from_db()
    assert outcome == "failed"
    assert invitation.status == Invitation.Status.FAILED
    assert invitation.error == "The mail server refused the recipient: 550 5.1.1 No such user here"
    assert customer.last_invited_at is None


def test_recipient_deferred_by_the_mail_server_is_retried_later(
    nps_survey: Survey, smtp_sink: SmtpSink
) -> None:
    smtp_sink.rcpt_reply = "451 4.3.0 Mailbox busy, try later"
    make_customer("C-1")
    invitation = _invite(nps_survey)

    outcome = tasks.invitation_send(invitation.pk)

    invitation.refresh_from_db()
    assert outcome == "retry"
    assert invitation.status == Invitation.Status.SCHEDULED
    assert invitation.attempts == 1
    assert invitation.due_at is not None
    assert invitation.due_at > timezone.now()
    assert smtp_sink.messages == []


@pytest.mark.django_db(transaction=True)
def test_live_worker_emails_the_invitation_once_and_the_answer_lands_on_the_email_channel(
    postgres: None,
    redis_url: str,
    live_server: Any,
    worker_queue: str,
    smtp_sink: SmtpSink,
    tmp_path: Path,
    settings: Any,
) -> None:
    # given a survey sent by email to one customer, a worker on Redis and the test database
    # that mails through the SMTP sink, and links that point at the live server
    base_url = str(live_server)
    settings.SITE_URL = base_url
    survey = survey_create_nps(title="Live email", nps_question="Recommend us?")
    make_customer("C-1", email="live@example.com")
    send = invitations.send_create(survey=survey, channel="email", external_ids=["C-1"])
    env = live.base_env() | {
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_url,
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_sink.port),
        "SITE_URL": base_url,
    }

    with live.celery_worker(env, tmp_path / "worker.log", queue=worker_queue):
        # when beat's dispatcher runs twice
        tasks.invitations_dispatch_due()
        tasks.invitations_dispatch_due()
        live.wait_for(
            lambda: Invitation.objects.filter(send=send, status="delivered").exists(),
            timeout=60,
            what="the worker to deliver the invitation",
        )

        # then one email arrives, and the customer answers through its personal link
        assert len(smtp_sink.messages) == 1
        link = re.search(rf"{re.escape(base_url)}/i/[^/\s]+/", text_part(smtp_sink.messages[0]))
        assert link, text_part(smtp_sink.messages[0])
        respondent = requests.Session()
        page = respondent.get(link.group(0), timeout=10)
        field = re.search(r'type="radio" name="(q\d+)"', page.text)
        assert page.status_code == 200, page.text[:500]
        assert field, page.text[:500]
        answered = respondent.post(
            link.group(0),
            data={
                "csrfmiddlewaretoken": respondent.cookies["csrftoken"],
                field.group(1): "9",
                "action": "submit",
            },
            headers={"Referer": link.group(0)},
            timeout=10,
        )
        assert answered.status_code == 200, answered.text[:500]
        live.wait_for(
            lambda: Response.objects.filter(in_rollup=True).exists(),
            timeout=60,
            what="the worker to count the response",
        )

    response = Response.objects.get()
    invitation = Invitation.objects.get(send=send)
    assert (response.channel, response.invitation_id) == ("email", invitation.pk)
    assert len(smtp_sink.messages) == 1
