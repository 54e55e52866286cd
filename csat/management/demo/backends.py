"""Where the demo's invitations go while it loads: nowhere outside this process.

The demo customers' addresses are made up (example.com, +86138...); whatever EMAIL_BACKEND
and SMS_BACKEND are configured, loading the demo must not mail or text anyone. These backends
keep the messages in memory, and the mail one answers for a mailbox that does not exist the
way a mail server does (550), so the invitation fails through the product's own handling of
SMTP errors. The demo command sets them only for the time it loads (override_settings)."""

from __future__ import annotations

import smtplib
from collections.abc import Sequence
from typing import Any, ClassVar

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

from surveys.outreach.sms import BaseSmsBackend, SmsMessage

# A mailbox the demo's mail server does not know (one high-value customer's old address).
UNKNOWN_MAILBOXES = frozenset({"zhang.wei@old-mail.example.com"})


class DemoEmailBackend(BaseEmailBackend):
    """Keeps sent mail in `sent`; refuses UNKNOWN_MAILBOXES with 550 like Postfix."""

    sent: ClassVar[list[EmailMessage]] = []

    def send_messages(self, email_messages: Sequence[EmailMessage], *args: Any) -> int:
        for message in email_messages:
            refused = {
                address: (
                    550,
                    f"5.1.1 <{address}>: Recipient address rejected: "
                    "User unknown in virtual mailbox table".encode(),
                )
                for address in message.recipients()
                if address.lower() in UNKNOWN_MAILBOXES
            }
            if refused:
                raise smtplib.SMTPRecipientsRefused(refused)
            self.sent.append(message)
        return len(email_messages)


class DemoSmsBackend(BaseSmsBackend):
    """Keeps sent SMS in `sent`; handing a message over counts as delivered."""

    sent: ClassVar[list[SmsMessage]] = []

    def send(self, message: SmsMessage) -> str:
        self.sent.append(message)
        return f"demo-sms-{len(self.sent)}"
