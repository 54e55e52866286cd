"""QR codes for a survey: the link they carry (signed, so the channel and touchpoint recorded
for a scan cannot be forged casually) and the PNG and SVG images (segno, high error
correction so a scuffed poster still scans)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from urllib.parse import urlencode

import segno
from django.conf import settings
from django.core import signing
from django.urls import reverse

from surveys.models import Survey, Touchpoint

LOCATION_MAX_LENGTH = 120


@dataclass(frozen=True)
class QrSource:
    """Where a scan came from: the touchpoint and location printed with the code."""

    touchpoint: Touchpoint | None
    location: str


def _salt(survey: Survey) -> str:
    # Per survey: a code printed for one survey cannot lend its source to another.
    return f"surveys.qr:{survey.public_id}"


def qr_source_sign(survey: Survey, touchpoint: Touchpoint | None, location: str) -> str:
    """The signed `src` parameter of a QR code's link."""
    payload = {"t": touchpoint.pk if touchpoint else None, "l": location[:LOCATION_MAX_LENGTH]}
    return signing.dumps(payload, salt=_salt(survey), compress=True)


def qr_source_read(survey: Survey, value: str | None) -> QrSource | None:
    """The source a signed `src` parameter carries; None when absent, tampered with or
    malformed (the response is then an ordinary web response)."""
    if not value or len(value) > 500:
        return None
    try:
        payload = signing.loads(value, salt=_salt(survey))
    except (signing.BadSignature, ValueError):
        return None
    if not isinstance(payload, dict):
        return None
    touchpoint_id, location = payload.get("t"), payload.get("l", "")
    if not isinstance(location, str) or not (
        touchpoint_id is None or isinstance(touchpoint_id, int)
    ):
        return None
    touchpoint = Touchpoint.objects.filter(pk=touchpoint_id).first() if touchpoint_id else None
    return QrSource(touchpoint=touchpoint, location=location[:LOCATION_MAX_LENGTH])


def qr_link(survey: Survey, touchpoint: Touchpoint | None = None, location: str = "") -> str:
    """The public address a survey's QR code opens."""
    path = reverse("surveys:respond", args=[survey.public_id])
    query = urlencode({"src": qr_source_sign(survey, touchpoint, location)})
    return f"{settings.SITE_URL}{path}?{query}"


def qr_image(link: str, kind: str, title: str = "") -> bytes:
    """The QR code of `link` as PNG or SVG bytes, ready to print (quiet zone included)."""
    code = segno.make(link, error="h", micro=False)
    buffer = io.BytesIO()
    if kind == "svg":
        code.save(buffer, kind="svg", scale=8, border=4, title=title or None, svgclass=None)
    else:
        code.save(buffer, kind="png", scale=12, border=4)
    return buffer.getvalue()
