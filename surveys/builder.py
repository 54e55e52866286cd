"""Writes of the survey builder: survey settings, questions of every kind, their order,
translations, dimensions. Every check names the field it refuses; nothing is half-saved.

Survey text is given per language ({"en": ..., "zh-hans": ...}); the survey's default
language is stored in the plain fields and the others in `translations`.

Once a question has answers, what those answers mean is fixed: its kind, scale, role and
dimension tags, and the choices and rows that were answered. Text can still change and
questions, choices and rows can be added.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils.text import slugify
from django.utils.translation import gettext as _

from accounts.models import User
from csat.errors import ApplicationError
from surveys import branding
from surveys.models import (
    Answer,
    Choice,
    Dimension,
    GridRow,
    Question,
    Survey,
    SurveyLogo,
    Touchpoint,
)

LANGUAGE_CODES: tuple[str, ...] = tuple(code for code, _name in settings.LANGUAGES)
Texts = Mapping[str, str]

# The scales a question of each scored kind may use (metrics.md: CSAT 1-5, 1-7 or 1-10).
ALLOWED_SCALES: dict[str, tuple[tuple[int, int], ...]] = {
    Question.Kind.NPS: ((0, 10),),
    Question.Kind.CSAT: ((1, 5), (1, 7), (1, 10)),
    Question.Kind.CES: ((1, 7),),
    Question.Kind.RATING_GRID: ((1, 5), (1, 7), (1, 10)),
}
# Kinds whose single score can trigger a conditional follow-up.
TRIGGER_KINDS = frozenset({Question.Kind.NPS, Question.Kind.CSAT, Question.Kind.CES})
# Kinds whose answers can carry a dimension tag on the question itself (a grid tags its rows).
DIMENSION_KINDS = frozenset({Question.Kind.NPS, Question.Kind.CSAT, Question.Kind.CES})
CHOICE_KINDS = frozenset({Question.Kind.SINGLE_CHOICE, Question.Kind.MULTIPLE_CHOICE})
MAX_CHOICES = 30
MAX_ROWS = 20
MAX_EMBED_ORIGINS = 10


class _Errors:
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


def _texts_clean(
    errors: _Errors,
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


def _split(
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


# ---------------------------------------------------------------- survey settings


def embed_origins_clean(errors: _Errors, raw: Sequence[str]) -> list[str]:
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
    errors = _Errors()
    default = values.default_language
    if default not in LANGUAGE_CODES:
        errors.add("default_language", _("Choose one of the listed languages."))
        default = settings.LANGUAGE_CODE
    cleaned = {
        "title": _texts_clean(
            errors,
            "title",
            values.title,
            default=default,
            max_length=200,
            required=True,
            label=_("title"),
        ),
        "introduction": _texts_clean(
            errors,
            "introduction",
            values.introduction,
            default=default,
            max_length=5000,
            required=False,
            label=_("introduction"),
        ),
        "thank_you_message": _texts_clean(
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
    plain, translations = _split(cleaned, default)
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
    plain, translations = _split(texts, default)
    for name, value in plain.items():
        setattr(obj, name, value)
    obj.translations = translations
    obj.save()


# ---------------------------------------------------------------- questions


@dataclass
class OptionSpec:
    """A choice or a grid row: its label per language, and (rows) a dimension name."""

    label: Texts
    dimension: str = ""


@dataclass
class QuestionSpec:
    """Everything the question form edits."""

    kind: str
    text: Texts
    help_text: Texts = field(default_factory=dict)
    is_required: bool = True
    scale: tuple[int, int] | None = None
    role: str = ""
    dimension: str = ""
    show_if_question: int | None = None
    show_if_min: int | None = None
    show_if_max: int | None = None
    options: Sequence[OptionSpec] = ()


def question_has_answers(question: Question) -> bool:
    return question.pk is not None and Answer.objects.filter(question=question).exists()


def _options_clean(
    errors: _Errors, spec: QuestionSpec, default: str, name: str, limit: int
) -> list[dict[str, Any]]:
    options = []
    for index, option in enumerate(spec.options, start=1):
        texts = {code: str(option.label.get(code, "") or "").strip() for code in LANGUAGE_CODES}
        if not any(texts.values()):
            continue
        if not texts[default]:
            errors.add(
                field_name(name, default),
                _("Line %(line)s has no label in the survey's default language.") % {"line": index},
            )
        for code, value in texts.items():
            if len(value) > 200:
                errors.add(
                    field_name(name, code),
                    _("Line %(line)s is longer than 200 characters.") % {"line": index},
                )
        options.append({"texts": texts, "dimension": option.dimension.strip()})
    if len(options) > limit:
        errors.add(field_name(name, default), _("List at most %(max)s.") % {"max": limit})
    return options


def _trigger_clean(
    errors: _Errors, survey: Survey, spec: QuestionSpec, position: int | None
) -> Question | None:
    if spec.show_if_question is None:
        if spec.show_if_min is not None or spec.show_if_max is not None:
            errors.add("show_if_question", _("Choose the question this one depends on."))
        return None
    trigger = Question.objects.filter(survey=survey, pk=spec.show_if_question).first()
    if trigger is None:
        errors.add("show_if_question", _("That question is not part of this survey."))
        return None
    if position is not None and trigger.position >= position:
        errors.add(
            "show_if_question", _("A follow-up can only depend on a question that comes before it.")
        )
        return None
    if trigger.kind not in TRIGGER_KINDS:
        errors.add(
            "show_if_question",
            _("A follow-up can only depend on an NPS, satisfaction or effort score."),
        )
        return None
    if spec.show_if_min is None and spec.show_if_max is None:
        errors.add("show_if_max", _("Give the lowest score, the highest score, or both."))
        return None
    low, high = trigger.scale or (0, 0)
    for name, value in (("show_if_min", spec.show_if_min), ("show_if_max", spec.show_if_max)):
        if value is not None and not low <= value <= high:
            errors.add(
                name,
                _("The score must be from %(low)s to %(high)s.") % {"low": low, "high": high},
            )
    if (
        spec.show_if_min is not None
        and spec.show_if_max is not None
        and spec.show_if_min > spec.show_if_max
    ):
        errors.add("show_if_max", _("The highest score must not be below the lowest."))
    return trigger


def _question_clean(
    survey: Survey, spec: QuestionSpec, question: Question | None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    errors = _Errors()
    default = survey.default_language
    kind = spec.kind
    if kind not in Question.Kind.values:
        errors.add("kind", _("Choose one of the listed kinds of question."))
        errors.raise_if_any(_("The question needs attention."))
    answered = question_has_answers(question) if question else False
    texts = {
        "text": _texts_clean(
            errors,
            "text",
            spec.text,
            default=default,
            max_length=500,
            required=True,
            label=_("question"),
        ),
        "help_text": _texts_clean(
            errors,
            "help_text",
            spec.help_text,
            default=default,
            max_length=500,
            required=False,
            label=_("help text"),
        ),
    }
    scale = spec.scale
    allowed = ALLOWED_SCALES.get(kind)
    if allowed:
        scale = scale or allowed[0]
        if scale not in allowed:
            errors.add(
                "scale",
                _("A %(kind)s question uses one of these scales: %(scales)s.")
                % {
                    "kind": Question.Kind(kind).label,
                    "scales": ", ".join(f"{low}-{high}" for low, high in allowed),
                },
            )
    elif scale is not None:
        errors.add("scale", _("This kind of question has no scale."))
        scale = None
    role = spec.role or ""
    if role not in Question.Role.values:
        errors.add("role", _("Choose one of the listed roles."))
    elif role and kind != Question.Kind.YES_NO:
        errors.add("role", _("Only a yes/no question can have a role."))
    if spec.dimension.strip() and kind not in DIMENSION_KINDS:
        errors.add(
            "dimension",
            _(
                "Only an NPS, satisfaction or effort score can carry a dimension; "
                "tag grid rows instead."
            ),
        )
    options: list[dict[str, Any]] = []
    if kind in CHOICE_KINDS:
        options = _options_clean(errors, spec, default, "choices", MAX_CHOICES)
        if len(options) < 2 and field_name("choices", default) not in errors.fields:
            errors.add(field_name("choices", default), _("Give at least two choices."))
    elif kind == Question.Kind.RATING_GRID:
        options = _options_clean(errors, spec, default, "rows", MAX_ROWS)
        if not options and field_name("rows", default) not in errors.fields:
            errors.add(field_name("rows", default), _("Give at least one row to rate."))
    elif any(any(option.label.values()) for option in spec.options):
        errors.add("kind", _("Only choice questions and rating grids have choices or rows."))
    position = question.position if question else None
    trigger = _trigger_clean(errors, survey, spec, position)
    if question is not None and question.follow_ups.exists() and kind not in TRIGGER_KINDS:
        errors.add("kind", _("Other questions depend on this one's score: keep it a score."))
    if answered and question is not None:
        _answered_clean(errors, question, kind, scale, role, spec.dimension, options)
    errors.raise_if_any(_("The question needs attention."))
    plain, translations = _split(texts, default)
    fields = {
        **plain,
        "translations": translations,
        "kind": kind,
        "is_required": spec.is_required,
        "scale_min": scale[0] if scale else None,
        "scale_max": scale[1] if scale else None,
        "role": role,
        "show_if_question": trigger,
        "show_if_min": spec.show_if_min if trigger else None,
        "show_if_max": spec.show_if_max if trigger else None,
    }
    return fields, options


def _dimension_name(dimension: Dimension | None) -> str:
    return dimension.name if dimension else ""


def _same_dimension(current: Dimension | None, wanted: str) -> bool:
    wanted = wanted.strip()
    if not wanted:
        return current is None
    return current is not None and wanted.lower() in (current.name.lower(), current.code)


def _answered_clean(
    errors: _Errors,
    question: Question,
    kind: str,
    scale: tuple[int, int] | None,
    role: str,
    dimension: str,
    options: Sequence[Mapping[str, Any]],
) -> None:
    """A question with answers keeps what its answers mean (metrics read them by it)."""
    reason = _("it already has answers, and they would change meaning")
    if kind != question.kind:
        errors.add("kind", _("The kind cannot change: %(reason)s.") % {"reason": reason})
    if scale != question.scale:
        errors.add("scale", _("The scale cannot change: %(reason)s.") % {"reason": reason})
    if role != question.role:
        errors.add("role", _("The role cannot change: %(reason)s.") % {"reason": reason})
    if not _same_dimension(question.dimension, dimension):
        errors.add("dimension", _("The dimension cannot change: %(reason)s.") % {"reason": reason})
    default = question.survey.default_language
    if kind in CHOICE_KINDS:
        answered = set(
            Answer.objects.filter(question=question, choice__isnull=False).values_list(
                "choice__position", flat=True
            )
        )
        kept = len(options)
        for position in sorted(answered):
            if position > kept:
                errors.add(
                    field_name("choices", default),
                    _("Choice %(line)s already has answers: it cannot be removed.")
                    % {"line": position},
                )
    if kind == Question.Kind.RATING_GRID:
        rows = list(question.rows.select_related("dimension"))
        answered_rows = set(
            Answer.objects.filter(question=question, grid_row__isnull=False).values_list(
                "grid_row_id", flat=True
            )
        )
        for row in rows:
            if row.pk not in answered_rows:
                continue
            if row.position > len(options):
                errors.add(
                    field_name("rows", default),
                    _("Row %(line)s already has answers: it cannot be removed.")
                    % {"line": row.position},
                )
            elif not _same_dimension(row.dimension, options[row.position - 1]["dimension"]):
                errors.add(
                    "row_dimensions",
                    _("Row %(line)s already has answers: its dimension cannot change.")
                    % {"line": row.position},
                )


def _save_options(question: Question, options: Sequence[Mapping[str, Any]], default: str) -> None:
    """Choices or rows, matched to the existing ones by position (line number)."""
    model: type[Choice] | type[GridRow] = (
        GridRow if question.kind == Question.Kind.RATING_GRID else Choice
    )
    existing = {item.position: item for item in model.objects.filter(question=question)}
    for position, option in enumerate(options, start=1):
        plain, translations = _split({"label": option["texts"]}, default)
        values: dict[str, Any] = {"label": plain["label"], "translations": translations}
        if model is GridRow:
            values["dimension"] = (
                dimension_get_or_create(option["dimension"]) if option["dimension"] else None
            )
        item = existing.pop(position, None)
        if item is None:
            model.objects.create(question=question, position=position, **values)
        else:
            for name, value in values.items():
                setattr(item, name, value)
            item.save()
    # Left over: lines that were removed (answered ones were refused above).
    model.objects.filter(pk__in=[item.pk for item in existing.values()]).delete()
    other: type[Choice] | type[GridRow] = Choice if model is GridRow else GridRow
    other.objects.filter(question=question).delete()


@transaction.atomic
def question_save(
    *, survey: Survey, spec: QuestionSpec, question: Question | None = None
) -> Question:
    """Add a question at the end of the survey, or change one; ApplicationError names each
    field it refuses."""
    if question is not None and question.survey_id != survey.pk:
        raise ApplicationError(_("This question belongs to another survey."), status_code=404)
    fields, options = _question_clean(survey, spec, question)
    dimension = (
        dimension_get_or_create(spec.dimension)
        if spec.dimension.strip() and fields["kind"] in DIMENSION_KINDS
        else None
    )
    if question is None:
        last = survey.questions.aggregate(last=Max("position"))["last"] or 0
        question = Question(survey=survey, position=last + 1)
    for name, value in fields.items():
        setattr(question, name, value)
    question.dimension = dimension
    question.save()
    _save_options(question, options, survey.default_language)
    return question


@transaction.atomic
def question_delete(*, question: Question) -> None:
    """Remove a question that has no answers (and no follow-ups depending on it)."""
    if question_has_answers(question):
        raise ApplicationError(
            _("This question already has answers: it cannot be deleted. Make it optional instead."),
            {"question": [_("Answered questions stay.")]},
        )
    if question.follow_ups.exists():
        raise ApplicationError(
            _("Other questions depend on this one: change or delete them first."),
            {"question": [_("Follow-ups depend on it.")]},
        )
    question.delete()


@transaction.atomic
def question_move(*, question: Question, direction: str) -> Question:
    """Swap a question with its neighbour above ("up") or below ("down")."""
    if direction not in ("up", "down"):
        raise ApplicationError(_("Move a question up or down."), {"direction": [_("Up or down.")]})
    siblings = Question.objects.select_for_update().filter(survey_id=question.survey_id)
    if direction == "up":
        neighbour = siblings.filter(position__lt=question.position).order_by("-position").first()
    else:
        neighbour = siblings.filter(position__gt=question.position).order_by("position").first()
    if neighbour is None:
        return question
    upper, lower = (neighbour, question) if direction == "up" else (question, neighbour)
    # After the swap `lower` comes first: it must not be a follow-up of `upper`.
    if lower.show_if_question_id == upper.pk:
        raise ApplicationError(
            _("A follow-up must stay after the question it depends on."),
            {"question": [_("Move the question it depends on first.")]},
        )
    first, second = question.position, neighbour.position
    top = siblings.aggregate(top=Max("position"))["top"] or 0
    # (survey, position) is unique: park one question out of the way during the swap.
    Question.objects.filter(pk=question.pk).update(position=top + 1)
    Question.objects.filter(pk=neighbour.pk).update(position=first)
    Question.objects.filter(pk=question.pk).update(position=second)
    question.refresh_from_db()
    return question
