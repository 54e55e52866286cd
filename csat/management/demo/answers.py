# ruff: noqa: RUF001 (Chinese text uses full-width punctuation)
"""Believable answers to any survey (at this quarter's level: NPS in the mid 50s, satisfaction
about 4.3 of 5), in the respondent's language, submitted through the respondent service."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from django.utils import timezone

from metrics.periods import quarter_label
from surveys.models import Dimension, Question, Response, Survey
from surveys.respond import survey_questions
from surveys.services import response_submit

# (English, Chinese) comments, by how the respondent scored.
PRAISE = [
    ("The engineer came the same day.", "工程师当天就上门了。"),
    ("Friendly and patient staff.", "客服热情又耐心。"),
    ("My problem was solved on the first call.", "第一次来电就解决了问题。"),
    ("Fast delivery, well packed.", "送货很快，包装完好。"),
    ("They remembered my last visit.", "他们还记得我上次来过。"),
]
MIXED = [
    ("Fine, but the wait in the store was long.", "还可以，但门店排队时间有点长。"),
    ("Good product, the invoice took a while.", "产品不错，发票开得有点慢。"),
    ("OK overall.", "总体还行。"),
]
COMPLAINTS = [
    ("After-sales response was slow: I waited three days.", "售后响应太慢，等了三天。"),
    ("Nobody called me back.", "没有人给我回电话。"),
    ("The service did not feel personal.", "服务不够个性化。"),
    ("I had to explain my problem twice.", "同一个问题我解释了两遍。"),
]
# Points added to a rating-grid row by its dimension's code: SERVQUAL's empathy and the service
# grid's emotional value are the weakest (the brief's "not personal enough").
DIMENSION_BIAS = {
    "tangibles": 0.3,
    "reliability": 0.1,
    "responsiveness": -0.1,
    "assurance": 0.2,
    "empathy": -0.45,
    "response-speed": 0.3,
    "technical-ability": 0.1,
    "emotional-value": -0.4,
    "process-experience": 0.0,
    "outcome": 0.2,
}


def daytime(at: datetime, earliest: datetime, latest: datetime) -> datetime:
    """`at` moved into local waking hours (8:00-22:00) when it falls at night, unless that
    would leave [earliest, latest]: customers answer by day."""
    local = timezone.localtime(at)
    if 8 <= local.hour < 22:
        return at
    moved = local.replace(hour=8 + local.hour % 14)
    return moved if earliest <= moved <= latest else at


def _clamp(value: float, low: int, high: int) -> int:
    return max(low, min(high, round(value)))


def _comment(rng: random.Random, pool: list[tuple[str, str]], language: str) -> str:
    english, chinese = rng.choice(pool)
    return chinese if language == "zh-hans" else english


def answers_for(
    questions: list[Question],
    rng: random.Random,
    language: str,
    mood: float = 0.0,
    bias: dict[int, float] | None = None,
) -> dict[str, Any]:
    """Raw answers (as the respondent form posts them) to every question, follow-ups only
    when they apply. `mood` shifts every score (-1 unhappy .. +1 delighted); `bias` adds
    points to grid rows by dimension id."""
    raw: dict[str, Any] = {}
    bias = bias or {}
    numbers: dict[int, int] = {}
    feeling = 0.5  # 0 unhappy, 1 delighted: picks the comments
    for question in questions:
        kind = question.kind
        low, high = question.scale or (0, 0)
        if question.show_if_question_id is not None:
            trigger = numbers.get(question.show_if_question_id)
            lowest = question.show_if_min if question.show_if_min is not None else low
            highest = question.show_if_max if question.show_if_max is not None else high
            if trigger is None or not lowest <= trigger <= highest:
                continue
        if kind == Question.Kind.NPS:
            roll = rng.random() - 0.15 * mood
            if roll < 0.08:
                number = rng.randint(2, 6)
            elif roll < 0.38:
                number = rng.choice([7, 8])
            else:
                number = rng.choice([9, 10, 10])
            numbers[question.pk], feeling = number, number / 10
            raw[str(question.pk)] = str(number)
        elif kind in (Question.Kind.CSAT, Question.Kind.CES):
            # About 86% of the way up the scale: 4.3 of 5, 6.1 of 7.
            mean = low + (high - low) * (0.83 + 0.1 * mood)
            number = _clamp(rng.gauss(mean, (high - low) * 0.22), low, high)
            numbers[question.pk] = number
            if kind == Question.Kind.CSAT or len(numbers) == 1:
                feeling = (number - low) / (high - low)
            raw[str(question.pk)] = str(number)
        elif kind == Question.Kind.YES_NO:
            raw[str(question.pk)] = "yes" if rng.random() < 0.86 + 0.05 * mood else "no"
        elif kind == Question.Kind.RATING_GRID:
            mean = low + (high - low) * (0.8 + 0.1 * mood)
            scores = {
                str(row.pk): _clamp(
                    rng.gauss(mean + bias.get(row.dimension_id or 0, 0.0), (high - low) * 0.2),
                    low,
                    high,
                )
                for row in question.rows.all()
            }
            raw[str(question.pk)] = {row: str(score) for row, score in scores.items()}
            if scores:
                feeling = (sum(scores.values()) / len(scores) - low) / (high - low)
        elif kind == Question.Kind.TEXT:
            if question.is_required or question.show_if_question_id is not None:
                pool = COMPLAINTS if feeling < 0.7 else MIXED
            elif rng.random() < 0.55:
                pool = PRAISE if feeling >= 0.8 else MIXED if feeling >= 0.6 else COMPLAINTS
            else:
                continue
            raw[str(question.pk)] = _comment(rng, pool, language)
    return raw


class Respondents:
    """Submits answers through `response_submit` and places each response at a moment of the
    last days: the service stamps the wall clock, and a whole demo answered in one second
    would not look like customers answering."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.questions: dict[int, list[Question]] = {}
        self.bias = {
            pk: DIMENSION_BIAS.get(code, 0.0)
            for pk, code in Dimension.objects.values_list("pk", "code")
        }

    def questions_of(self, survey: Survey) -> list[Question]:
        if survey.pk not in self.questions:
            self.questions[survey.pk] = survey_questions(survey)
        return self.questions[survey.pk]

    def answer(
        self, survey: Survey, at: datetime, *, language: str, mood: float = 0.0, **options: Any
    ) -> Response:
        """A complete response (or, with is_partial, a saved one) submitted at `at`."""
        raw = answers_for(self.questions_of(survey), self.rng, language, mood, self.bias)
        if options.get("is_partial"):
            # Saved after the first question: the customer means to finish later.
            first = next(iter(raw))
            raw = {first: raw[first]}
        response, _created = response_submit(
            survey=survey, raw_answers=raw, language=language, **options
        )
        if response.status == Response.Status.COMPLETE:
            # Before its outbox event runs: cases and figures see the moved time.
            Response.objects.filter(pk=response.pk).update(
                submitted_at=at, quarter=quarter_label(at)
            )
        return response
