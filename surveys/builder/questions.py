"""Questions of every kind: validation, answered questions that keep their meaning, order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from csat.errors import ApplicationError
from csat.text import join_items
from surveys.builder.texts import (
    LANGUAGE_CODES,
    FieldErrors,
    Texts,
    dimension_get_or_create,
    field_name,
    texts_clean,
    texts_split,
)
from surveys.models import (
    Answer,
    Choice,
    Dimension,
    GridRow,
    Question,
    Survey,
)

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
    errors: FieldErrors, spec: QuestionSpec, default: str, name: str, limit: int
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
    errors: FieldErrors, survey: Survey, spec: QuestionSpec, position: int | None
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
    errors = FieldErrors()
    default = survey.default_language
    kind = spec.kind
    if kind not in Question.Kind.values:
        errors.add("kind", _("Choose one of the listed kinds of question."))
        errors.raise_if_any(_("The question needs attention."))
    answered = question_has_answers(question) if question else False
    texts = {
        "text": texts_clean(
            errors,
            "text",
            spec.text,
            default=default,
            max_length=500,
            required=True,
            label=_("question"),
        ),
        "help_text": texts_clean(
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
                    "scales": join_items((f"{low}-{high}" for low, high in allowed), english=", "),
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
    plain, translations = texts_split(texts, default)
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
    errors: FieldErrors,
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
        plain, translations = texts_split({"label": option["texts"]}, default)
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
