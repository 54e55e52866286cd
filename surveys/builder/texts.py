"""Survey text per language and per-field error collection, shared by the builder."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from django.conf import settings
from django.utils.text import slugify
from django.utils.translation import gettext as _

from csat.errors import ApplicationError
from surveys.models import (
    Choice,
    Dimension,
    GridRow,
    Question,
    Survey,
)

LANGUAGE_CODES: tuple[str, ...] = tuple(code for code, _name in settings.LANGUAGES)
Texts = Mapping[str, str]


class FieldErrors:
    """Collects problems per field; raises them all at once."""

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, name: str, problem: str) -> None:
        self.fields.setdefault(name, []).append(problem)

    def raise_if_any(self, message: str) -> None:
        if self.fields:
            raise ApplicationError(message, self.fields)


def field_name(name: str, language: str) -> str:
    """The form field of one language's text: title_en, title_zh_hans."""
    return f"{name}_{language.replace('-', '_')}"


def texts_clean(
    errors: FieldErrors,
    name: str,
    texts: Texts,
    *,
    default: str,
    max_length: int,
    required: bool,
    label: str,
) -> dict[str, str]:
    cleaned = {code: str(texts.get(code, "") or "").strip() for code in LANGUAGE_CODES}
    for code, value in cleaned.items():
        if len(value) > max_length:
            errors.add(
                field_name(name, code),
                _("Keep it under %(max)s characters.") % {"max": max_length},
            )
    if required and not cleaned[default]:
        errors.add(
            field_name(name, default),
            _("Write the %(what)s in the survey's default language.") % {"what": label},
        )
    return cleaned


def texts_split(
    cleaned: Mapping[str, dict[str, str]], default: str
) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """(plain field values, translations) from {field: {language: text}}."""
    plain = {name: texts[default] for name, texts in cleaned.items()}
    translations: dict[str, dict[str, str]] = {}
    for name, texts in cleaned.items():
        for code, value in texts.items():
            if code != default and value:
                translations.setdefault(code, {})[name] = value
    return plain, translations


def texts_of(obj: Survey | Question | Choice | GridRow, name: str, default: str) -> dict[str, str]:
    """One field's text in every language (the inverse of what the builder stores)."""
    texts = {code: "" for code in LANGUAGE_CODES}
    texts[default] = str(getattr(obj, name) or "")
    for code, values in (obj.translations or {}).items():
        if code in texts and code != default:
            texts[code] = str(values.get(name, ""))
    return texts


# ---------------------------------------------------------------- dimensions


def dimension_get_or_create(label: str) -> Dimension:
    """The dimension called `label` (by name or code), created when new."""
    label = label.strip()[:120]
    code = slugify(label)[:64]
    found = (
        Dimension.objects.filter(name__iexact=label).first()
        or (Dimension.objects.filter(code=code).first() if code else None)
        or Dimension.objects.filter(code=label).first()
    )
    if found:
        return found
    if not code:  # a name without Latin letters (e.g. Chinese) gets a stable code of its own
        code = "dim-" + hashlib.sha256(label.encode()).hexdigest()[:10]
    dimension, _created = Dimension.objects.get_or_create(code=code, defaults={"name": label})
    return dimension
