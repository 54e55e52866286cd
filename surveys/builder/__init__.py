"""Writes of the survey builder: survey settings, questions of every kind, their order,
translations, dimensions. Every check names the field it refuses; nothing is half-saved.

Survey text is given per language ({"en": ..., "zh-hans": ...}); the survey's default
language is stored in the plain fields and the others in `translations`.

Once a question has answers, what those answers mean is fixed: its kind, scale, role and
dimension tags, and the choices and rows that were answered. Text can still change and
questions, choices and rows can be added.
"""

from surveys.builder.questions import (
    ALLOWED_SCALES,
    CHOICE_KINDS,
    DIMENSION_KINDS,
    TRIGGER_KINDS,
    OptionSpec,
    QuestionSpec,
    question_delete,
    question_has_answers,
    question_move,
    question_save,
)
from surveys.builder.survey_settings import (
    SurveySettings,
    embed_origins_clean,
    survey_create,
    survey_update,
)
from surveys.builder.texts import LANGUAGE_CODES, dimension_get_or_create, field_name, texts_of

__all__ = [
    "ALLOWED_SCALES",
    "CHOICE_KINDS",
    "DIMENSION_KINDS",
    "LANGUAGE_CODES",
    "TRIGGER_KINDS",
    "OptionSpec",
    "QuestionSpec",
    "SurveySettings",
    "dimension_get_or_create",
    "embed_origins_clean",
    "field_name",
    "question_delete",
    "question_has_answers",
    "question_move",
    "question_save",
    "survey_create",
    "survey_update",
    "texts_of",
]
