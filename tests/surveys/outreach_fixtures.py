"""The outside world of outreach, replaced by local servers: an SMTP sink (aiosmtpd) and an
SMS provider stub (an HTTP server); plus small helpers the outreach tests share."""

from __future__ import annotations

import email
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import User
from surveys.models import Customer, Response
from tests import live


class SmtpSink:
    """An SMTP server that keeps what it receives; it can be told to refuse."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.rcpt_reply = ""  # e.g. "550 5.1.1 No such user" or "451 4.3.0 Try later"
        self.port = 0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        self.messages.append(message)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


# Test modules import these fixtures by their function names (`smtp_sink_fixture`); tests
# ask for them by the fixture names (`smtp_sink`).
@pytest.fixture(name="smtp_sink")
def smtp_sink_fixture(settings: Any) -> Iterator[SmtpSink]:
    """A local SMTP server on a free port, with Django's SMTP backend pointed at it."""
    sink = SmtpSink()
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command
    controller = Controller(sink, hostname="127.0.0.1", port=live.free_port())
    controller.start()
    sink.port = controller.port
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_TIMEOUT = 5
    yield sink
    controller.stop()


def text_part(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def html_part(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("html",))
    assert body is not None
    return str(body.get_content())


@dataclass
class SmsStub:
    """What the stub provider received, and the replies it will give (status, body, delay)."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    replies: deque[tuple[int, dict[str, Any], float]] = field(default_factory=deque)


@pytest.fixture(name="sms_stub")
def sms_stub_fixture(settings: Any) -> Iterator[SmsStub]:
    """A local HTTP server playing the SMS provider, with the HTTP backend pointed at it."""
    stub = SmsStub()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            stub.received.append(
                {
                    "path": self.path,
                    "authorization": self.headers.get("Authorization", ""),
                    "content_type": self.headers.get("Content-Type", ""),
                    "json": json.loads(self.rfile.read(length) or b"null"),
                }
            )
            status, body, delay = (
                stub.replies.popleft()
                if stub.replies
                else (200, {"id": f"prov-{len(stub.received)}"}, 0.0)
            )
            if delay:
                time.sleep(delay)  # the provider hangs: the backend's timeout must fire
            payload = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the client gave up (timeout) and closed the connection

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stub.url = f"http://127.0.0.1:{server.server_address[1]}/v1/messages"
    settings.SMS_BACKEND = "surveys.outreach.sms.HttpSmsBackend"
    settings.SMS_HTTP_URL = stub.url
    settings.SMS_HTTP_AUTH_TOKEN = "stub-provider-token"
    settings.SMS_HTTP_TIMEOUT_SECONDS = 0.3
    settings.SMS_HTTP_BODY_TEMPLATE = (
        '{"to": "{to}", "message": {"text": "{body}"}, "client_ref": "{reference}"}'
    )
    settings.SMS_HTTP_MESSAGE_ID_FIELD = "id"
    yield stub
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def api_client(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def make_customer(external_id: str = "C-1", **fields: Any) -> Customer:
    defaults: dict[str, Any] = {
        "name": "Li Lei",
        "email": f"{external_id.lower()}@example.com",
        "phone": "+8613800000001",
        "language": "en",
    }
    return Customer.objects.create(external_id=external_id, **(defaults | fields))


def answer_for(invitation_id: int, survey_id: int, score: int) -> Response:
    """A complete response carrying the invitation's token (the respondent's path is tested
    with the personal-link page; here we only need the row)."""
    from surveys.models import Invitation, Question
    from surveys.services import response_submit

    invitation = Invitation.objects.get(pk=invitation_id)
    question = Question.objects.filter(survey_id=survey_id).order_by("position").first()
    assert question is not None
    response, _created = response_submit(
        survey=invitation.survey, raw_answers={str(question.pk): score}, invitation=invitation
    )
    assert response.submitted_at is not None
    assert response.submitted_at <= timezone.now()
    return response
