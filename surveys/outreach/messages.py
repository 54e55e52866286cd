"""What an invitation says: the email (subject, text, html) and the SMS, in the customer's
language, with the personal link and the unsubscribe link."""

from __future__ import annotations

from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from surveys.models import Invitation
from surveys.respond import text_in


def invitation_link(invitation: Invitation) -> str:
    """The personal link that opens the survey for this invitation."""
    return settings.SITE_URL + reverse("surveys:invite_respond", args=[invitation.token])


def unsubscribe_link(invitation: Invitation) -> str:
    """The link that stops every invitation to this customer, on every channel."""
    return settings.SITE_URL + reverse("outreach:unsubscribe", args=[invitation.token])


def _language(invitation: Invitation) -> str:
    return invitation.customer.language or settings.LANGUAGE_CODE


def _context(invitation: Invitation, is_reminder: bool) -> dict[str, object]:
    survey = invitation.survey
    return {
        "invitation": invitation,
        "customer": invitation.customer,
        # The survey's title in the customer's language; its default title when untranslated.
        "survey_title": text_in(survey, "title", _language(invitation), survey.default_language),
        "link": invitation_link(invitation),
        "unsubscribe_link": unsubscribe_link(invitation),
        "is_reminder": is_reminder,
        "expires_at": invitation.expires_at,
    }


def invitation_email(
    invitation: Invitation, *, is_reminder: bool = False
) -> EmailMultiAlternatives:
    """The invitation (or reminder) email, rendered in the customer's language."""
    context = _context(invitation, is_reminder)
    with translation.override(_language(invitation)):
        subject = render_to_string("surveys/email/invitation_subject.txt", context)
        text = render_to_string("surveys/email/invitation_body.txt", context)
        html = render_to_string("surveys/email/invitation_body.html", context)
    message = EmailMultiAlternatives(
        # A header is one line: customer text with a line break must not add headers.
        subject=" ".join(subject.split()),
        body=text,
        to=[invitation.customer.email],
        headers={
            "Message-ID": make_msgid(domain="csat"),
            # RFC 8058: mail clients offer a one-click unsubscribe button.
            "List-Unsubscribe": f"<{context['unsubscribe_link']}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    message.attach_alternative(html, "text/html")
    return message


def invitation_sms(invitation: Invitation, *, is_reminder: bool = False) -> str:
    """The invitation (or reminder) SMS text, in the customer's language."""
    context = _context(invitation, is_reminder)
    with translation.override(_language(invitation)):
        text = render_to_string("surveys/sms/invitation.txt", context)
    return "\n".join(line.strip() for line in text.strip().splitlines() if line.strip())
