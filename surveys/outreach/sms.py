"""SMS backends, chosen by the SMS_BACKEND setting like Django's email backends.

A backend sends one message and returns the provider's message id. It raises
`SmsRetryableError` when trying again later may work (5xx, timeouts, connection errors) and
`SmsTerminalError` when it never will (the provider refused the message: 4xx).
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TextIO

import requests
from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class SmsMessage:
    to: str
    body: str
    # Our reference for the message (the invitation id); providers echo it in receipts.
    reference: str


class SmsError(Exception):
    """The message was not sent."""


class SmsRetryableError(SmsError):
    """Not sent this time; trying again later may work."""


class SmsTerminalError(SmsError):
    """Refused for good; trying again will not help."""


class BaseSmsBackend(ABC):
    # True when the provider reports delivery later (a receipt); otherwise handing the message
    # over counts as delivered.
    reports_delivery: ClassVar[bool] = False

    @abstractmethod
    def send(self, message: SmsMessage) -> str:
        """Send one message; return the provider's message id."""


class ConsoleSmsBackend(BaseSmsBackend):
    """Writes each message to standard output (development)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def send(self, message: SmsMessage) -> str:
        message_id = f"console-{uuid.uuid4().hex}"
        self.stream.write(f"SMS to {message.to} [{message_id}]\n{message.body}\n{'-' * 40}\n")
        self.stream.flush()
        return message_id


class FileSmsBackend(BaseSmsBackend):
    """Appends each message as one JSON line to SMS_FILE_PATH."""

    _lock = threading.Lock()

    def __init__(self, path: str | None = None) -> None:
        self.path = Path(path or settings.SMS_FILE_PATH)

    def send(self, message: SmsMessage) -> str:
        message_id = f"file-{uuid.uuid4().hex}"
        line = json.dumps(
            {
                "id": message_id,
                "to": message.to,
                "body": message.body,
                "reference": message.reference,
            },
            ensure_ascii=False,
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One write of one line with O_APPEND: lines from several processes never interleave.
        with self._lock:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(descriptor, (line + "\n").encode())
            finally:
                os.close(descriptor)
        return message_id


PLACEHOLDER = re.compile(r"\{(to|body|reference)\}")


def _fill(template: Any, values: dict[str, str]) -> Any:
    """Replace the placeholders inside every string of a parsed JSON template, in one pass:
    a placeholder inside a customer's text is not expanded."""
    if isinstance(template, str):
        return PLACEHOLDER.sub(lambda match: values[match.group(1)], template)
    if isinstance(template, list):
        return [_fill(item, values) for item in template]
    if isinstance(template, dict):
        return {key: _fill(item, values) for key, item in template.items()}
    return template


def _dig(document: Any, dotted: str) -> str:
    for part in dotted.split("."):
        if not isinstance(document, dict) or part not in document:
            return ""
        document = document[part]
    return "" if document is None or isinstance(document, dict | list) else str(document)


class HttpSmsBackend(BaseSmsBackend):
    """A generic HTTP provider: POSTs a JSON body built from SMS_HTTP_BODY_TEMPLATE to
    SMS_HTTP_URL with a bearer token; delivery is reported later by receipts."""

    reports_delivery = True

    def __init__(
        self,
        url: str | None = None,
        auth_token: str | None = None,
        body_template: str | None = None,
        timeout: float | None = None,
        message_id_field: str | None = None,
    ) -> None:
        self.url = url if url is not None else settings.SMS_HTTP_URL
        self.auth_token = auth_token if auth_token is not None else settings.SMS_HTTP_AUTH_TOKEN
        self.template = json.loads(body_template or settings.SMS_HTTP_BODY_TEMPLATE)
        self.timeout = timeout if timeout is not None else settings.SMS_HTTP_TIMEOUT_SECONDS
        self.message_id_field = message_id_field or settings.SMS_HTTP_MESSAGE_ID_FIELD
        if not self.url:
            raise SmsTerminalError("SMS_HTTP_URL is not set.")

    def send(self, message: SmsMessage) -> str:
        body = _fill(
            self.template, {"to": message.to, "body": message.body, "reference": message.reference}
        )
        headers = {"Authorization": f"Bearer {self.auth_token}"} if self.auth_token else {}
        try:
            reply = requests.post(self.url, json=body, headers=headers, timeout=self.timeout)
        except requests.Timeout:
            raise SmsRetryableError(
                f"The SMS provider did not answer in {self.timeout:g} s."
            ) from None
        except requests.RequestException as error:
            raise SmsRetryableError(f"Could not reach the SMS provider: {error}") from error
        status = reply.status_code
        detail = reply.text[:200].strip()
        # 408 and 429 are the provider asking us to come back later; other 4xx never succeed.
        if status >= 500 or status in (408, 429):
            raise SmsRetryableError(f"SMS provider error {status}: {detail}")
        if status >= 400:
            raise SmsTerminalError(f"SMS provider refused the message ({status}): {detail}")
        try:
            document = reply.json()
        except ValueError:
            document = {}
        return _dig(document, self.message_id_field)


def get_sms_backend() -> BaseSmsBackend:
    """The backend named by the SMS_BACKEND setting."""
    backend: type[BaseSmsBackend] = import_string(settings.SMS_BACKEND)
    return backend()
