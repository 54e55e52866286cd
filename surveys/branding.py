"""Per-survey branding: a brand colour (checked for readable contrast) served as a tiny
stylesheet, and a logo image kept in the database and served from our own origin."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from surveys.models import Survey, SurveyLogo

COLOR_PATTERN = re.compile(r"^#[0-9a-fA-F]{6}$")
DARK_INK = "#1d2433"
LIGHT_INK = "#ffffff"
# WCAG 2.1 AA for normal text: the brand colour carries the submit button's label.
MIN_CONTRAST = 4.5
LOGO_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}
LOGO_MAX_SIDE = 2000


def _luminance(color: str) -> float:
    channels = []
    for index in (1, 3, 5):
        value = int(color[index : index + 2], 16) / 255
        channels.append(value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4)
    red, green, blue = channels
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(first: str, second: str) -> float:
    """The WCAG contrast ratio of two #rrggbb colours (1 to 21)."""
    light, dark = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def ink_for(color: str) -> str:
    """The text colour (white or dark) that reads best on `color`."""
    return LIGHT_INK if contrast(color, LIGHT_INK) >= contrast(color, DARK_INK) else DARK_INK


def brand_color_clean(value: str) -> str:
    """A brand colour as #rrggbb (lower case), or "" for none; ValueError names the problem."""
    value = value.strip()
    if not value:
        return ""
    if not COLOR_PATTERN.match(value):
        raise ValueError(_("Write the colour as # and six hexadecimal digits, e.g. #1f5fbf."))
    value = value.lower()
    if contrast(value, ink_for(value)) < MIN_CONTRAST:
        raise ValueError(
            _("Text on %(color)s would be hard to read (contrast %(ratio).1f:1, needs 4.5:1).")
            % {"color": value, "ratio": contrast(value, ink_for(value))}
        )
    return value


def brand_css(survey: Survey) -> str:
    """The survey's stylesheet: its colours as custom properties that respond.css uses."""
    color = survey.brand_color if COLOR_PATTERN.match(survey.brand_color or "") else ""
    if not color:
        return "/* no brand colour */\n"
    return f":root {{ --brand: {color}; --brand-ink: {ink_for(color)}; }}\n"


@dataclass(frozen=True)
class Brand:
    css_url: str
    logo_url: str
    logo_width: int
    logo_height: int


def brand_for(survey: Survey) -> Brand | None:
    """What a respondent page links to for the survey's branding; None when unbranded."""
    logo = SurveyLogo.objects.filter(survey=survey).only("width", "height", "updated_at").first()
    if not survey.brand_color and logo is None:
        return None
    stamp = int(survey.updated_at.timestamp()) if survey.updated_at else 0
    css_url = (
        f"{reverse('surveys:brand_css', args=[survey.public_id])}?v={stamp}"
        if survey.brand_color
        else ""
    )
    if logo is None:
        return Brand(css_url, "", 0, 0)
    # Shown at most 48 px high, keeping its proportions (width/height attributes, no style).
    height = min(48, logo.height)
    width = max(1, round(logo.width * height / logo.height))
    logo_url = (
        f"{reverse('surveys:logo', args=[survey.public_id])}?v={int(logo.updated_at.timestamp())}"
    )
    return Brand(css_url, logo_url, width, height)


def logo_clean(data: bytes) -> tuple[str, int, int]:
    """Check an uploaded logo: (content type, width, height); ValueError names the problem."""
    limit = settings.SURVEY_LOGO_MAX_BYTES
    if len(data) > limit:
        raise ValueError(
            _("The logo is too large: %(size)s KB, at most %(max)s KB.")
            % {"size": len(data) // 1000, "max": limit // 1000}
        )
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
        with Image.open(io.BytesIO(data)) as image:
            kind, (width, height) = image.format or "", image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ValueError(_("The logo must be a PNG, JPEG, WebP or GIF image.")) from None
    if kind not in LOGO_FORMATS:
        raise ValueError(_("The logo must be a PNG, JPEG, WebP or GIF image."))
    if not (0 < width <= LOGO_MAX_SIDE and 0 < height <= LOGO_MAX_SIDE):
        raise ValueError(
            _("The logo must be at most %(max)s pixels on each side.") % {"max": LOGO_MAX_SIDE}
        )
    return LOGO_FORMATS[kind], width, height
