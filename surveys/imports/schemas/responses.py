"""Rows of survey responses: the response id (the key), the submission time, customer,
agent, touchpoint, and one column per question (per row of a rating grid), checked with the
respondent form's rules (surveys.services.answers_validate) and its messages."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import NamedTuple

from django.utils.translation import gettext as _

from accounts.models import User
from csat.text import join_items
from surveys.imports.files import Cell
from surveys.imports.models import ImportJob
from surveys.imports.schemas.base import (
    RowProblems,
    RowSchema,
    Target,
    keys_stored,
    parse_yes_no,
    text_of,
)
from surveys.models import Question, Response, Survey, Touchpoint
from surveys.services import TEXT_ANSWER_MAX_LENGTH

# Header spellings that name a survey's (first) question of a kind outright.
KIND_ALIASES = {
    "nps": ("score", "nps score", "推荐分", "评分"),
    "csat": ("satisfaction", "csat score", "满意度"),
    "ces": ("effort", "ces score", "费力度"),
    "text": ("why", "reason", "comment", "原因", "评论", "意见"),
}
CHOICE_SEPARATORS = re.compile(r"\s*[;|]\s*")


class ResponseRow(NamedTuple):
    """A checked row (a named tuple: a million of them are built, at a third of the cost of a
    frozen dataclass)."""

    row: int
    key: str
    submitted_at: datetime
    quarter: str
    customer_id: int | None
    segment: str
    agent_id: int | None
    team_id: int | None
    touchpoint_id: int | None
    # (question id, grid row id, choice id, number, text)
    answers: tuple[tuple[int, int | None, int | None, int | None, str], ...]


AnswerTuple = tuple[int, int | None, int | None, int | None, str]
CellParser = Callable[[str], list[AnswerTuple]]


class ResponseSchema(RowSchema):
    kind = ImportJob.Kind.RESPONSES
    key_target = "key"

    def __init__(self, job: ImportJob) -> None:
        super().__init__(job)
        survey = job.survey
        assert survey is not None
        self.survey: Survey = survey
        self.questions = list(
            survey.questions.prefetch_related("choices", "rows").order_by("position")
        )
        self.targets = [
            Target(
                "key",
                _("Response id"),
                is_required=True,
                aliases=("id", "response id", "response_id", "responseid", "答卷编号", "编号"),
            ),
            Target(
                "submitted_at",
                _("Submitted at"),
                is_required=True,
                aliases=("submitted", "submitted at", "time", "date", "提交时间", "时间"),
            ),
        ]
        if not survey.is_anonymous:
            self.targets.append(
                Target(
                    "customer",
                    _("Customer external id"),
                    aliases=("customer", "customer id", "customer_id", "客户编号", "客户"),
                )
            )
        self.targets += [
            Target("agent", _("Agent (user name)"), aliases=("agent", "staff", "客服")),
            Target("touchpoint", _("Touchpoint (code)"), aliases=("touchpoint", "触点")),
        ]
        for question in self.questions:
            number = question.position
            if question.kind == Question.Kind.RATING_GRID:
                for row in question.rows.all():
                    self.targets.append(
                        Target(
                            f"q{question.pk}r{row.pk}",
                            f"Q{number}. {question.text}: {row.label}",
                            is_required=question.is_required,
                            aliases=(row.label.lower(),),
                        )
                    )
            else:
                self.targets.append(
                    Target(
                        f"q{question.pk}",
                        f"Q{number}. {question.text}",
                        is_required=question.is_required,
                        aliases=(
                            f"q{number}",
                            question.text.lower(),
                            question.kind,
                            *KIND_ALIASES.get(question.kind, ()),
                        ),
                    )
                )
        self.agents: dict[str, tuple[int, int | None]] = {}
        self.touchpoints: dict[str, int] = {}
        self.customers: dict[str, tuple[int, str]] = {}
        self.parsers = self._compile()
        # Precomputed for the per-row loop, which runs a million times.
        self.answer_columns = [
            (name, self.mapping[name], int(name[1:].split("r")[0]), parser, "r" in name[1:])
            for name, parser in self.parsers.items()
        ]
        self.question_specs = [
            (q.pk, q.is_required, q.show_if_question_id, q.show_if_min, q.show_if_max)
            for q in self.questions
        ]
        self.has_conditions = any(q.show_if_question_id for q in self.questions)
        self.key_index = self.mapping.get("key")
        self.time_index = self.mapping.get("submitted_at")
        self.customer_index = None if survey.is_anonymous else self.mapping.get("customer")
        self.agent_index = self.mapping.get("agent")
        self.touchpoint_index = self.mapping.get("touchpoint")
        self.needs_answer = _("This question needs an answer.")
        self.rate_every_row = _("Rate every row.")

    def mapping_errors(self) -> list[str]:
        errors = super().mapping_errors()
        answered = [name for name in self.mapping if name.startswith("q")]
        if not answered:
            errors.append(_("Map at least one column to a question of the survey."))
        return errors

    def key_missing_message(self) -> str:
        return _("Give the response id.")

    def _compile(self) -> dict[str, CellParser]:
        """One parser per mapped question column: text in, answer rows out."""
        parsers: dict[str, CellParser] = {}
        for question in self.questions:
            kind = question.kind
            if kind == Question.Kind.RATING_GRID:
                low, high = question.scale or (1, 5)
                for row in question.rows.all():
                    parsers[f"q{question.pk}r{row.pk}"] = _score_parser(
                        question.pk, low, high, grid_row=row.pk
                    )
            elif kind in (Question.Kind.NPS, Question.Kind.CSAT, Question.Kind.CES):
                low, high = question.scale or (0, 10)
                parsers[f"q{question.pk}"] = _score_parser(question.pk, low, high)
            elif kind == Question.Kind.YES_NO:
                parsers[f"q{question.pk}"] = _yes_no_parser(question.pk)
            elif kind == Question.Kind.TEXT:
                parsers[f"q{question.pk}"] = _text_parser(question.pk)
            elif kind in (Question.Kind.SINGLE_CHOICE, Question.Kind.MULTIPLE_CHOICE):
                parsers[f"q{question.pk}"] = _choice_parser(
                    question.pk,
                    {choice.label.strip().lower(): choice.pk for choice in question.choices.all()},
                    [choice.label for choice in question.choices.all()],
                    is_multiple=kind == Question.Kind.MULTIPLE_CHOICE,
                )
        return {name: parser for name, parser in parsers.items() if name in self.mapping}

    def prepare(self, rows: Sequence[tuple[int, list[Cell]]]) -> None:
        if not self.agents and "agent" in self.mapping:
            self.agents = {
                username: (pk, team_id)
                for username, pk, team_id in User.objects.values_list("username", "pk", "team_id")
            }
        if not self.touchpoints and "touchpoint" in self.mapping:
            for pk, code, name in Touchpoint.objects.values_list("pk", "code", "name"):
                self.touchpoints[name.strip().lower()] = pk
                self.touchpoints[code.lower()] = pk
        self.customers = self._customers(rows, "customer") if not self.survey.is_anonymous else {}

    def parse_row(self, number: int, cells: Sequence[Cell]) -> ResponseRow:
        problems: list[tuple[str, str]] = []
        key = self.key_at(number, cells[self.key_index], problems)  # type: ignore[index]
        submitted_at = self.moment_at(
            cells[self.time_index],  # type: ignore[index]
            "submitted_at",
            problems,
        )
        customer_id, segment = None, ""
        if self.customer_index is not None:
            external_id = text_of(cells[self.customer_index])
            if external_id:
                found = self.customers.get(external_id)
                if found is None:
                    problems.append(
                        ("customer", _("No customer has the external id %(value)s.")
                         % {"value": external_id})
                    )  # fmt: skip
                else:
                    customer_id, segment = found
        agent_id = team_id = None
        if self.agent_index is not None:
            username = text_of(cells[self.agent_index])
            if username:
                agent = self.agents.get(username)
                if agent is None:
                    problems.append(
                        ("agent", _("No staff member has the user name %(value)s.")
                         % {"value": username})
                    )  # fmt: skip
                else:
                    agent_id, team_id = agent
        touchpoint_id = self.survey.touchpoint_id
        if self.touchpoint_index is not None:
            code = text_of(cells[self.touchpoint_index])
            if code:
                found_touchpoint = self.touchpoints.get(code.lower())
                if found_touchpoint is None:
                    problems.append(
                        ("touchpoint", _("No touchpoint has the code %(value)s.")
                         % {"value": code})
                    )  # fmt: skip
                else:
                    touchpoint_id = found_touchpoint
        answers = self._answers(cells, problems)
        if problems or submitted_at is None:
            raise RowProblems(problems)
        return ResponseRow(
            row=number,
            key=key,
            submitted_at=submitted_at,
            quarter=self.quarter_of(submitted_at),
            customer_id=customer_id,
            segment=segment,
            agent_id=agent_id,
            team_id=team_id,
            touchpoint_id=touchpoint_id,
            answers=answers,
        )

    def _answers(
        self, cells: Sequence[Cell], problems: list[tuple[str, str]]
    ) -> tuple[AnswerTuple, ...]:
        """Every mapped answer of the row, with the survey's required and conditional rules
        (those of surveys.services.answers_validate)."""
        parsed: dict[int, list[AnswerTuple]] = {}
        failed: set[int] = set()
        blank_rows: dict[int, str] = {}  # question -> its first blank grid row's column
        for name, index, question_id, parser, is_grid_row in self.answer_columns:
            cell = cells[index]
            text = cell.strip() if cell.__class__ is str else text_of(cell)  # type: ignore[union-attr]
            if not text:
                if is_grid_row:
                    blank_rows.setdefault(question_id, name)
                continue
            try:
                answer = parser(text)
            except ValueError as error:
                problems.append((name, str(error)))
                failed.add(question_id)
                continue
            earlier = parsed.get(question_id)
            if earlier is None:
                parsed[question_id] = answer
            else:
                earlier.extend(answer)
        numbers: dict[int, int | None] = {}
        if self.has_conditions:
            numbers = {
                question_id: rows[0][3]
                for question_id, rows in parsed.items()
                if len(rows) == 1 and rows[0][1] is None
            }
        answers: list[AnswerTuple] = []
        for question_id, is_required, show_if, low, high in self.question_specs:
            if show_if is not None:
                # A conditional follow-up counts only when its trigger's score is in range.
                trigger = numbers.get(show_if)
                if trigger is None or not (
                    (trigger if low is None else low)
                    <= trigger
                    <= (trigger if high is None else high)
                ):
                    continue
            if question_id in failed:
                continue
            rows = parsed.get(question_id)
            if rows is not None:
                if is_required and question_id in blank_rows:
                    problems.append((blank_rows[question_id], self.rate_every_row))
                    continue
                answers.extend(rows)
            elif is_required:
                problems.append((blank_rows.get(question_id, f"q{question_id}"), self.needs_answer))
        return tuple(answers)

    def existing_keys(self, keys: Sequence[str]) -> set[str]:
        # A test response gives its key up to the row (writers.py): not "imported before".
        return keys_stored(Response, "import_key", keys, is_test=False)


def _score_parser(question_id: int, low: int, high: int, grid_row: int | None = None) -> CellParser:
    valid = {str(number): number for number in range(low, high + 1)}
    message = _("Choose a whole number from %(low)s to %(high)s.") % {"low": low, "high": high}

    def parse(text: str) -> list[AnswerTuple]:
        number = valid.get(text)
        if number is None:
            raise ValueError(message)
        return [(question_id, grid_row, None, number, "")]

    return parse


def _yes_no_parser(question_id: int) -> CellParser:
    def parse(text: str) -> list[AnswerTuple]:
        return [(question_id, None, None, 1 if parse_yes_no(text) else 0, "")]

    return parse


def _text_parser(question_id: int) -> CellParser:
    too_long = _("Keep it under %(max)s characters.") % {"max": TEXT_ANSWER_MAX_LENGTH}

    def parse(text: str) -> list[AnswerTuple]:
        # Stored as written: a cell such as "=HYPERLINK(...)" stays text, never a formula.
        if len(text) > TEXT_ANSWER_MAX_LENGTH:
            raise ValueError(too_long)
        return [(question_id, None, None, None, text)]

    return parse


def _choice_parser(
    question_id: int, choices: dict[str, int], labels: list[str], is_multiple: bool
) -> CellParser:
    message = _("Choose one of: %(choices)s.") % {"choices": join_items(labels)}

    def parse(text: str) -> list[AnswerTuple]:
        parts = CHOICE_SEPARATORS.split(text) if is_multiple else [text]
        chosen = [choices.get(part.strip().lower()) for part in parts if part.strip()]
        if not chosen or any(choice is None for choice in chosen):
            raise ValueError(message)
        return [(question_id, None, choice, None, "") for choice in dict.fromkeys(chosen)]

    return parse
