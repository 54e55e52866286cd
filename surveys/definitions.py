"""A survey's definition (the survey row, its questions, their choices and grid rows), cached
per process for the response API's hot path.

A cached definition is used without asking the database whether it is current: the insert
of the response checks it (surveys/ingest.py stores the response only while the survey's
`definition_version` is the cached one, a version that PostgreSQL triggers bump on any change
to the survey or its questions, choices and grid rows). A stale definition therefore stores
nothing; the caller reloads it and validates again. A refusal based on a cached definition
(closed survey, invalid answer) is confirmed the same way before it is sent: `is_current`.

Without the triggers (SQLite in development) nothing is cached: every call reads afresh.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock

from django.db import connection
from django.db.models import prefetch_related_objects

from surveys.models import Question, Survey

CHOICE_KINDS = frozenset({Question.Kind.SINGLE_CHOICE, Question.Kind.MULTIPLE_CHOICE})
# Surveys kept per process (least recently used dropped first).
CACHE_SIZE = 256


@dataclass(frozen=True)
class SurveyDefinition:
    """Read-only: shared by every request of the process that uses it."""

    survey: Survey
    # Ordered by position; choices and grid rows prefetched for the kinds that have them.
    questions: tuple[Question, ...]
    version: int
    # Whether it came from the cache (and must be confirmed by the insert).
    cached: bool


_cache: OrderedDict[str, SurveyDefinition] = OrderedDict()
_lock = Lock()


def _caches() -> bool:
    return connection.vendor == "postgresql"


def definition_load(public_id: str) -> SurveyDefinition | None:
    """Read the definition from the database (and cache it); None for an unknown survey."""
    survey = Survey.objects.filter(public_id=public_id).first()
    if survey is None:
        with _lock:
            _cache.pop(public_id, None)
        return None
    questions = list(survey.questions.order_by("position"))
    prefetch_related_objects([q for q in questions if q.kind in CHOICE_KINDS], "choices")
    prefetch_related_objects([q for q in questions if q.kind == Question.Kind.RATING_GRID], "rows")
    for question in questions:
        question.survey = survey  # no query when a question's survey is read
    definition = SurveyDefinition(
        survey=survey,
        questions=tuple(questions),
        version=survey.definition_version,
        cached=False,
    )
    if _caches():
        with _lock:
            _cache[public_id] = SurveyDefinition(
                survey=survey,
                questions=definition.questions,
                version=survey.definition_version,
                cached=True,
            )
            _cache.move_to_end(public_id)
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    return definition


def definition_get(public_id: str) -> SurveyDefinition | None:
    """The cached definition if there is one, else read it; None for an unknown survey."""
    if _caches():
        with _lock:
            definition = _cache.get(public_id)
            if definition is not None:
                _cache.move_to_end(public_id)
                return definition
    return definition_load(public_id)


def is_current(definition: SurveyDefinition) -> bool:
    """Whether the survey still has this definition (one small query; True when not cached)."""
    if not definition.cached:
        return True
    version = (
        Survey.objects.filter(pk=definition.survey.pk)
        .values_list("definition_version", flat=True)
        .first()
    )
    return version == definition.version


def definition_forget(public_id: str) -> None:
    with _lock:
        _cache.pop(public_id, None)


def definitions_clear() -> None:
    """Empty this process's cache (tests)."""
    with _lock:
        _cache.clear()
