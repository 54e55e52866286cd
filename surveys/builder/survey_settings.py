"""Survey settings: text in each language, privacy, branding, embedding sites."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from surveys import branding
from surveys.builder.texts import (
    LANGUAGE_CODES,
    FieldErrors,
    Texts,
    texts_clean,
    texts_of,
    texts_split,
)
from surveys.models import (
    Choice,
    GridRow,
    Question,
    Survey,
    SurveyLogo,
    Touchpoint,
)

MAX_EMBED_ORIGINS = 10


# ---------------------------------------------------------------- survey settings


def embed_origins_clean(errors: FieldErrors, raw: Sequence[str]) -> list[str]:
    origins: list[str] = []
    for line_number, value in enumerate(raw, start=1):
        value = value.strip().rstrip("/")
        if not value:
            continue
        parts = urlsplit(value)
        valid = (
            parts.scheme == "https"
            and parts.hostname
            and not (parts.path or parts.query or parts.fragment or parts.username)
            and all(char.isalnum() or char in ".-:[]" for char in parts.netloc)
        )
        try:
            valid = valid and (parts.port is None or 0 < parts.port < 65536)
        except ValueError:
            valid = False
        if not valid:
            errors.add(
                "embed_origins",
                _(
                    'Line %(line)s: "%(value)s" is not an https origin like https://shop.example.com.'
                )
                % {"line": line_number, "value": value[:80]},
            )
            continue
        origin = f"https://{parts.netloc.lower()}"
        if origin not in origins:
            origins.append(origin)
    if len(origins) > MAX_EMBED_ORIGINS:
        errors.add("embed_origins", _("List at most %(max)s sites.") % {"max": MAX_EMBED_ORIGINS})
    return origins


@dataclass
class SurveySettings:
    """Everything the survey settings form edits."""

    title: Texts
    introduction: Texts = field(default_factory=dict)
    thank_you_message: Texts = field(default_factory=dict)
    default_language: str = settings.LANGUAGE_CODE
    touchpoint: Touchpoint | None = None
    is_anonymous: bool = False
    stores_client_details: bool = False
    retention_days: int | None = None
    brand_color: str = ""
    embed_origins: Sequence[str] = ()
    logo: bytes | None = None
    remove_logo: bool = False


def _settings_clean(values: SurveySettings) -> tuple[dict[str, Any], tuple[str, int, int] | None]:
    errors = FieldErrors()
    default = values.default_language
    if default not in LANGUAGE_CODES:
        errors.add("default_language", _("Choose one of the listed languages."))
        default = settings.LANGUAGE_CODE
    cleaned = {
        "title": texts_clean(
            errors,
            "title",
            values.title,
            default=default,
            max_length=200,
            required=True,
            label=_("title"),
        ),
        "introduction": texts_clean(
            errors,
            "introduction",
            values.introduction,
            default=default,
            max_length=5000,
            required=False,
            label=_("introduction"),
        ),
        "thank_you_message": texts_clean(
            errors,
            "thank_you_message",
            values.thank_you_message,
            default=default,
            max_length=5000,
            required=False,
            label=_("thank-you message"),
        ),
    }
    if values.retention_days is not None and not 1 <= values.retention_days <= 3650:
        errors.add("retention_days", _("Keep responses from 1 to 3650 days, or leave it empty."))
    try:
        color = branding.brand_color_clean(values.brand_color)
    except ValueError as error:
        errors.add("brand_color", str(error))
        color = ""
    origins = embed_origins_clean(errors, values.embed_origins)
    logo = None
    if values.logo is not None:
        try:
            logo = branding.logo_clean(values.logo)
        except ValueError as error:
            errors.add("logo", str(error))
    errors.raise_if_any(_("The survey settings need attention."))
    plain, translations = texts_split(cleaned, default)
    return {
        **plain,
        "translations": translations,
        "default_language": default,
        "touchpoint": values.touchpoint,
        "is_anonymous": values.is_anonymous,
        "stores_client_details": values.stores_client_details,
        "retention_days": values.retention_days,
        "brand_color": color,
        "embed_origins": origins,
    }, logo


def _store_logo(survey: Survey, values: SurveySettings, logo: tuple[str, int, int] | None) -> None:
    if logo is not None and values.logo is not None:
        content_type, width, height = logo
        SurveyLogo.objects.update_or_create(
            survey=survey,
            defaults={
                "content_type": content_type,
                "data": values.logo,
                "width": width,
                "height": height,
            },
        )
    elif values.remove_logo:
        SurveyLogo.objects.filter(survey=survey).delete()


@transaction.atomic
def survey_create(*, values: SurveySettings, created_by: User | None = None) -> Survey:
    """Create a survey in draft: staff add questions, preview, then open it."""
    fields, logo = _settings_clean(values)
    survey = Survey.objects.create(
        **fields,
        status=Survey.Status.DRAFT,
        team=created_by.team if created_by else None,
        created_by=created_by,
    )
    _store_logo(survey, values, logo)
    return survey


@transaction.atomic
def survey_update(*, survey: Survey, values: SurveySettings) -> Survey:
    """Change a survey's text, privacy, branding and embedding sites."""
    fields, logo = _settings_clean(values)
    previous = survey.default_language
    for name, value in fields.items():
        setattr(survey, name, value)
    survey.save()
    _store_logo(survey, values, logo)
    if previous != survey.default_language:
        # The plain fields hold the default language: move question text over with it.
        for question in survey.questions.prefetch_related("choices", "rows"):
            _resplit(question, ("text", "help_text"), previous, survey.default_language)
            for item in [*question.choices.all(), *question.rows.all()]:
                _resplit(item, ("label",), previous, survey.default_language)
    return survey


def _resplit(
    obj: Question | Choice | GridRow, names: Sequence[str], previous: str, default: str
) -> None:
    """Store `obj`'s text with `default` in the plain fields instead of `previous`."""
    texts = {name: texts_of(obj, name, previous) for name in names}
    for values in texts.values():
        # A string with no text in the new default language keeps the old one as fallback.
        values[default] = values[default] or values[previous]
    plain, translations = texts_split(texts, default)
    for name, value in plain.items():
        setattr(obj, name, value)
    obj.translations = translations
    obj.save()
