# ruff: noqa: RUF001 (Chinese text uses full-width punctuation)
"""One survey from each built-in template, in English and Chinese, made and configured through
the builder's services (a brand colour and logo, embedding sites, a retention period), opened,
and answered on the channels a newcomer should see: QR codes at store counters (touchpoint and
location), the embedded widget on the help centre, phone callbacks typed by agents, the public
link."""

from __future__ import annotations

import dataclasses
import io
import random
from datetime import datetime, timedelta
from typing import Any

from PIL import Image, ImageDraw

from accounts.models import User
from csat.management.demo.answers import Respondents, daytime
from surveys.builder import SurveySettings, survey_update, texts_of
from surveys.models import Channel, Customer, Survey, Touchpoint
from surveys.qr import qr_source_read, qr_source_sign
from surveys.services import survey_set_status
from surveys.templates_library import survey_create_from_template

BRAND_COLOR = "#0b5cab"
THANKS = {
    "en": "Thank you! Your answers help us improve.",
    "zh-hans": "感谢您的反馈！您的意见帮助我们改进。",
}
# (template, default language, title in English and Chinese, touchpoint code)
SURVEYS = [
    ("relationship_nps", "en", ("How are we doing?", "您对我们的整体评价"), ""),
    (
        "transactional_csat",
        "zh-hans",
        ("Your visit to our store", "您对本次门店服务满意吗？"),
        "product-delivery",
    ),
    (
        "ces",
        "en",
        ("Help centre: how easy was it?", "帮助中心：办理是否省心？"),
        "first-consultation",
    ),
    (
        "first_contact_resolution",
        "en",
        ("After-sales call-back", "售后电话回访"),
        "after-sales-support",
    ),
    ("servqual", "en", ("Our service quality", "服务质量评价"), ""),
    (
        "service_dimensions",
        "en",
        ("Rate our after-sales service", "请为我们的售后服务打分"),
        "after-sales-support",
    ),
]
# Store counters with a QR code printed on the receipt (the location printed under the code).
STORES = [
    "Shanghai · Nanjing Road store",
    "Beijing · Sanlitun store",
    "Shenzhen · Futian store",
]
EMBED_ORIGINS = ["https://www.example.com", "https://help.example.com"]
RETENTION_DAYS = 365


def logo_png(color: str = BRAND_COLOR) -> bytes:
    """A small logo: a smiling face in the brand colour (PNG, 96 x 96)."""
    image = Image.new("RGBA", (96, 96), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((4, 4, 92, 92), fill=color)
    draw.ellipse((30, 32, 40, 42), fill="white")
    draw.ellipse((56, 32, 66, 42), fill="white")
    draw.arc((26, 34, 70, 74), start=20, end=160, fill="white", width=6)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def survey_settings(survey: Survey, **changes: Any) -> SurveySettings:
    """The survey's current settings as the builder's form holds them, with `changes`."""
    default = survey.default_language
    current = SurveySettings(
        title=texts_of(survey, "title", default),
        introduction=texts_of(survey, "introduction", default),
        thank_you_message=texts_of(survey, "thank_you_message", default),
        default_language=default,
        touchpoint=survey.touchpoint,
        is_anonymous=survey.is_anonymous,
        stores_client_details=survey.stores_client_details,
        retention_days=survey.retention_days,
        brand_color=survey.brand_color,
        embed_origins=list(survey.embed_origins),
    )
    return dataclasses.replace(current, **changes)


class Showcase:
    """The template surveys and their answers on the web, QR, embed and phone channels."""

    def __init__(self, rng: random.Random, now: datetime, author: User) -> None:
        self.rng = rng
        self.now = now
        self.author = author
        self.surveys: dict[str, Survey] = {}

    def build(self) -> dict[str, Survey]:
        """Create, configure and open one survey per template; returns them by template key."""
        touchpoints = {touchpoint.code: touchpoint for touchpoint in Touchpoint.objects.all()}
        for key, language, (english, chinese), touchpoint in SURVEYS:
            survey = survey_create_from_template(
                key=key, created_by=self.author, default_language=language
            )
            changes: dict[str, Any] = {
                "title": {"en": english, "zh-hans": chinese},
                "thank_you_message": THANKS,
                "touchpoint": touchpoints.get(touchpoint),
            }
            if key == "relationship_nps":
                changes.update(brand_color=BRAND_COLOR, logo=logo_png())
            if key == "ces":
                changes.update(embed_origins=EMBED_ORIGINS, retention_days=RETENTION_DAYS)
            survey_update(survey=survey, values=survey_settings(survey, **changes))
            self.surveys[key] = survey_set_status(survey=survey, status_value=Survey.Status.OPEN)
        return self.surveys

    def moment(self, days: float = 10, after: datetime | None = None) -> datetime:
        """A moment of the last `days` days (after `after`, when given)."""
        start = max(after or self.now - timedelta(days=days), self.now - timedelta(days=days))
        return daytime(start + (self.now - start) * self.rng.random(), start, self.now)

    def language(self, chinese_share: float = 0.6) -> str:
        return "zh-hans" if self.rng.random() < chinese_share else "en"

    def answer_on_channels(
        self, respondents: Respondents, customers: list[Customer], agents: list[User]
    ) -> None:
        """Answers on the public link, QR codes, the embedded widget and phone callbacks."""
        surveys = self.surveys
        for _index in range(9):
            respondents.answer(
                surveys["relationship_nps"],
                self.moment(),
                language=self.language(0.4),
                channel=Channel.WEB,
            )
        for _index in range(10):
            respondents.answer(
                surveys["servqual"], self.moment(), language=self.language(), channel=Channel.WEB
            )
        # A scan carries the signed source printed with the code: read back as the view does.
        store_survey = surveys["transactional_csat"]
        for index in range(21):
            source = qr_source_read(
                store_survey,
                qr_source_sign(store_survey, store_survey.touchpoint, STORES[index % 3]),
            )
            assert source is not None
            respondents.answer(
                store_survey,
                self.moment(),
                language=self.language(0.75),
                channel=Channel.QR,
                touchpoint=source.touchpoint,
                source_label=source.location,
            )
        for _index in range(14):
            respondents.answer(
                surveys["ces"], self.moment(), language=self.language(0.5), channel=Channel.EMBED
            )
        for _index in range(12):
            customer = self.rng.choice(customers)
            respondents.answer(
                surveys["first_contact_resolution"],
                self.moment(),
                language=customer.language,
                channel=Channel.PHONE,
                customer=customer,
                agent=self.rng.choice(agents),
            )
