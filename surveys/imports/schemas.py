"""Row schemas: what a file's columns can be mapped to, and how a row of each kind is read.

Each parser is compiled once per pass from the mapping and checks a whole chunk of rows at a
time (one database look-up per chunk for its customers), so a million rows cost Python time,
not round trips. Messages match the respondent form's (surveys.services) where the rule is
the same.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from metrics.periods import quarter_label, reporting_zone
from surveys.imports.files import Cell, cell_text
from surveys.imports.models import ImportJob
from surveys.models import Customer, Purchase, Question, Response, Segment, Survey, Touchpoint
from surveys.services import TEXT_ANSWER_MAX_LENGTH

KEY_MAX_LENGTH = 120
CUSTOMER_CACHE_MAX = 300_000  # customers remembered across chunks (about 60 MB at most)
YES = frozenset({"yes", "y", "true", "1", "是"})
NO = frozenset({"no", "n", "false", "0", "否"})
# Header spellings that name a survey's (first) question of a kind outright.
KIND_ALIASES = {
    "nps": ("score", "nps score", "推荐分", "评分"),
    "csat": ("satisfaction", "csat score", "满意度"),
    "ces": ("effort", "ces score", "费力度"),
    "text": ("why", "reason", "comment", "原因", "评论", "意见"),
}
CHOICE_SEPARATORS = re.compile(r"\s*[;|]\s*")
LOOSE_MOMENT = re.compile(
    r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$"
)


@dataclass(frozen=True)
class Target:
    """Something a column can be mapped to."""

    name: str
    label: str
    is_required: bool = False
    # Lower-case header spellings that map to it by themselves.
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Problem:
    """One problem of one row, as the report lists it."""

    row: int
    column: str
    value: str
    message: str


class RowProblems(Exception):
    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__(problems)
        self.problems = problems  # (target name, message)


@dataclass
class ChunkResult:
    rows: list[Any] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    invalid: int = 0


def batched(values: Sequence[Any], size: int | None = None) -> Iterable[Sequence[Any]]:
    """Slices for IN (...) look-ups: a chunk at once on PostgreSQL, 900 values on SQLite
    (below its parameter limit)."""
    size = size or (10_000 if connection.vendor == "postgresql" else 900)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _text(cell: Cell) -> str:
    return cell.strip() if cell.__class__ is str else cell_text(cell).strip()  # type: ignore[union-attr]


class QuarterPlacer:
    """The reporting quarter of a moment (metrics.periods.quarter_label), remembered per UTC
    day: a day whose first and last instants fall in one quarter lies wholly inside it."""

    def __init__(self) -> None:
        self.days: dict[int, str] = {}

    def __call__(self, moment: datetime) -> str:
        day = int(moment.timestamp() // 86400)
        label = self.days.get(day)
        if label is None:
            start = datetime.fromtimestamp(day * 86400, UTC)
            first, last = quarter_label(start), quarter_label(start + timedelta(seconds=86399))
            label = self.days[day] = first if first == last else ""
        return label or quarter_label(moment)


def parse_moment(cell: Cell, zone: tzinfo) -> datetime:
    """A date and time; one without an offset is read in the reporting time zone."""
    if cell.__class__ is not str and isinstance(cell, datetime):
        moment = cell
    elif cell.__class__ is not str and isinstance(cell, date):
        moment = datetime.combine(cell, time())
    else:
        text = _text(cell)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            match = LOOSE_MOMENT.match(text)  # 2025/3/5 14:30, as spreadsheets write it
            if match is None:
                raise ValueError(_("Give a date and time such as 2025-03-31 23:30.")) from None
            try:
                parts = [int(part or 0) for part in match.groups()]
                moment = datetime(*parts, tzinfo=zone)  # type: ignore[misc]
            except ValueError:
                raise ValueError(_("Give a date and time such as 2025-03-31 23:30.")) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment


def _key(cell: Cell) -> str:
    key = _text(cell)
    if len(key) > KEY_MAX_LENGTH:
        raise ValueError(_("Keep the id under %(max)s characters.") % {"max": KEY_MAX_LENGTH + 1})
    return key


def _yes_no(text: str) -> bool:
    value = text.lower()
    if value in YES:
        return True
    if value in NO:
        return False
    raise ValueError(_("Answer yes or no."))


class RowSchema:
    """The targets of a kind of import and the parser of its rows."""

    kind: str
    key_target: str
    targets: list[Target]

    def __init__(self, job: ImportJob) -> None:
        self.job = job
        self.mapping: dict[str, int] = {name: int(index) for name, index in job.mapping.items()}
        self.headers: list[str] = list(job.headers)
        self.zone = reporting_zone()
        self.now = timezone.now()
        self.quarter_of = QuarterPlacer()
        # Short rows are padded to every mapped column.
        self.width = max(self.mapping.values(), default=-1) + 1
        # Key -> the first row that carried it: a later row with the same key is a duplicate.
        self.seen: dict[str, int] = {}
        self.customer_cache: dict[str, tuple[int, str]] = {}

    # -- mapping

    def target(self, name: str) -> Target | None:
        return next((target for target in self.targets if target.name == name), None)

    def column_name(self, target: str) -> str:
        index = self.mapping.get(target)
        if index is None:
            return ""
        header = self.headers[index] if index < len(self.headers) else ""
        return header or _("column %(number)s") % {"number": index + 1}

    def mapping_errors(self) -> list[str]:
        """What is wrong with the mapping as a whole (a required target left out)."""
        missing = [t.label for t in self.targets if t.is_required and t.name not in self.mapping]
        if missing:
            return [_("Map a column to each of: %(targets)s.") % {"targets": ", ".join(missing)}]
        return []

    def guess_mapping(self) -> dict[int, str]:
        """Column index -> target, for headers that name a target outright."""
        guessed: dict[int, str] = {}
        for index, header in enumerate(self.headers):
            spelled = header.strip().lower()
            for target in self.targets:
                names = {target.name, target.label.lower(), *target.aliases}
                if spelled and spelled in names and target.name not in guessed.values():
                    guessed[index] = target.name
                    break
        return guessed

    # -- rows

    def cell(self, cells: Sequence[Cell], target: str) -> Cell:
        index = self.mapping.get(target)
        if index is None or index >= len(cells):
            return None
        return cells[index]

    def remember(self, number: int, cells: Sequence[Cell]) -> None:
        """Note a row's key without checking the row (rows before a resumed checkpoint)."""
        key = _text(self.cell(cells, self.key_target))
        if key and len(key) <= KEY_MAX_LENGTH:
            self.seen.setdefault(key, number)

    def parse_key(self, number: int, cells: Sequence[Cell], problems: list[tuple[str, str]]) -> str:
        return self.key_at(number, self.cell(cells, self.key_target), problems)

    def key_at(self, number: int, cell: Cell, problems: list[tuple[str, str]]) -> str:
        """The row's key: given, short enough, and not on an earlier row of the file."""
        key = cell.strip() if cell.__class__ is str else _text(cell)  # type: ignore[union-attr]
        if not key:
            problems.append((self.key_target, self.key_missing_message()))
        elif len(key) > KEY_MAX_LENGTH:
            problems.append(
                (self.key_target, _("Keep the id under %(max)s characters.")
                 % {"max": KEY_MAX_LENGTH + 1})
            )  # fmt: skip
            key = ""
        else:
            first = self.seen.setdefault(key, number)
            if first != number:
                problems.append(
                    (self.key_target, _("This id is already on row %(row)s of the file.")
                     % {"row": first})
                )  # fmt: skip
        return key

    def key_missing_message(self) -> str:
        return _("Give the id.")

    def parse_chunk(self, rows: Sequence[tuple[int, list[Cell]]]) -> ChunkResult:
        """Check each row; valid ones come back parsed, every problem is listed."""
        self.prepare(rows)
        result = ChunkResult()
        width = self.width
        for number, cells in rows:
            if len(cells) < width:
                cells = [*cells, *([None] * (width - len(cells)))]
            try:
                result.rows.append(self.parse_row(number, cells))
            except RowProblems as failure:
                result.invalid += 1
                for target, message in failure.problems:
                    value = cell_text(self.cell(cells, target))[:200]
                    result.problems.append(
                        Problem(number, self.column_name(target), value, message)
                    )
        return result

    def prepare(self, rows: Sequence[tuple[int, list[Cell]]]) -> None:
        """Look up, once per chunk, what the rows refer to."""

    def parse_row(self, number: int, cells: Sequence[Cell]) -> Any:
        raise NotImplementedError

    def existing_keys(self, keys: Sequence[str]) -> set[str]:
        """Keys an earlier import already stored."""
        raise NotImplementedError

    # -- helpers

    def _moment(
        self, cells: Sequence[Cell], target: str, problems: list[tuple[str, str]]
    ) -> datetime | None:
        return self.moment_at(self.cell(cells, target), target, problems)

    def moment_at(
        self, cell: Cell, target: str, problems: list[tuple[str, str]]
    ) -> datetime | None:
        """A past moment; one without an offset is read in the reporting time zone."""
        if cell is None or (cell.__class__ is str and not cell.strip()):  # type: ignore[union-attr]
            problems.append((target, _("Give a date and time such as 2025-03-31 23:30.")))
            return None
        try:
            moment = parse_moment(cell, self.zone)
        except ValueError as error:
            problems.append((target, str(error)))
            return None
        if moment > self.now:
            problems.append((target, _("This time is in the future.")))
            return None
        return moment

    def _customers(
        self, rows: Sequence[tuple[int, list[Cell]]], target: str
    ) -> dict[str, tuple[int, str]]:
        """External id -> (customer id, segment) for the chunk's customers: looked up once
        per chunk for the ones not seen in earlier chunks."""
        if target not in self.mapping:
            return {}
        cache = self.customer_cache
        if len(cache) > CUSTOMER_CACHE_MAX:
            cache.clear()
        wanted = sorted({_text(self.cell(cells, target)) for _number, cells in rows} - {""})
        missing = [external_id for external_id in wanted if external_id not in cache]
        for batch in batched(missing):
            for external_id, pk, segment in Customer.objects.filter(
                external_id__in=batch
            ).values_list("external_id", "pk", "segment"):
                cache[external_id] = (pk, segment)
        return cache


# ---------------------------------------------------------------- responses


@dataclass(frozen=True)
class ResponseRow:
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
            external_id = _text(cells[self.customer_index])
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
            username = _text(cells[self.agent_index])
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
            code = _text(cells[self.touchpoint_index])
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
            text = cell.strip() if cell.__class__ is str else _text(cell)  # type: ignore[union-attr]
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
        found: set[str] = set()
        for batch in batched(list(keys)):
            found.update(
                Response.objects.filter(import_key__in=batch).values_list("import_key", flat=True)
            )
        return found


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
        return [(question_id, None, None, 1 if _yes_no(text) else 0, "")]

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
    message = _("Choose one of: %(choices)s.") % {"choices": "; ".join(labels)}

    def parse(text: str) -> list[AnswerTuple]:
        parts = CHOICE_SEPARATORS.split(text) if is_multiple else [text]
        chosen = [choices.get(part.strip().lower()) for part in parts if part.strip()]
        if not chosen or any(choice is None for choice in chosen):
            raise ValueError(message)
        return [(question_id, None, choice, None, "") for choice in dict.fromkeys(chosen)]

    return parse


# ---------------------------------------------------------------- customers


@dataclass(frozen=True)
class CustomerRow:
    row: int
    key: str
    values: dict[str, Any]


SEGMENT_SPELLINGS = {
    "high_value": Segment.HIGH_VALUE,
    "high-value": Segment.HIGH_VALUE,
    "high value": Segment.HIGH_VALUE,
    "高价值": Segment.HIGH_VALUE,
    "高价值客户": Segment.HIGH_VALUE,
    "normal": Segment.NORMAL,
    "普通": Segment.NORMAL,
    "普通客户": Segment.NORMAL,
    "churn_risk": Segment.CHURN_RISK,
    "churn-risk": Segment.CHURN_RISK,
    "churn risk": Segment.CHURN_RISK,
    "流失风险": Segment.CHURN_RISK,
    "流失风险客户": Segment.CHURN_RISK,
}
LANGUAGE_SPELLINGS = {
    "en": "en",
    "english": "en",
    "英文": "en",
    "zh-hans": "zh-hans",
    "zh_hans": "zh-hans",
    "zh": "zh-hans",
    "zh-cn": "zh-hans",
    "zh_cn": "zh-hans",
    "chinese": "zh-hans",
    "中文": "zh-hans",
    "简体中文": "zh-hans",
}


class CustomerSchema(RowSchema):
    kind = ImportJob.Kind.CUSTOMERS
    key_target = "external_id"

    def __init__(self, job: ImportJob) -> None:
        super().__init__(job)
        self.targets = [
            Target(
                "external_id",
                _("External id"),
                is_required=True,
                aliases=("id", "external id", "customer id", "customer_id", "客户编号"),
            ),
            Target("name", _("Name"), aliases=("name", "姓名", "客户名称")),
            Target("segment", _("Segment"), aliases=("segment", "客户分层", "分层")),
            Target("email", _("Email"), aliases=("email", "e-mail", "邮箱")),
            Target("phone", _("Phone"), aliases=("phone", "mobile", "手机", "电话")),
            Target("language", _("Language"), aliases=("language", "lang", "语言")),
            Target("consent", _("Consents to contact"), aliases=("consent", "同意联系")),
        ]
        self.languages = {code for code, _name in settings.LANGUAGES}

    def key_missing_message(self) -> str:
        return _("Give the customer's external id.")

    def parse_row(self, number: int, cells: Sequence[Cell]) -> CustomerRow:
        problems: list[tuple[str, str]] = []
        key = self.parse_key(number, cells, problems)
        values: dict[str, Any] = {}
        if "name" in self.mapping:
            name = _text(self.cell(cells, "name"))
            if len(name) > 200:
                problems.append(("name", _("Keep it under %(max)s characters.") % {"max": 201}))
            values["name"] = name
        if "segment" in self.mapping:
            spelled = _text(self.cell(cells, "segment"))
            segment = SEGMENT_SPELLINGS.get(spelled.lower()) if spelled else Segment.NORMAL
            if segment is None:
                problems.append(
                    ("segment", _("Choose one of: %(choices)s.")
                     % {"choices": "; ".join(Segment.values)})
                )  # fmt: skip
            values["segment"] = segment
        if "email" in self.mapping:
            email = _text(self.cell(cells, "email"))
            if email:
                try:
                    validate_email(email)
                except ValidationError:
                    problems.append(("email", _("Give a valid email address.")))
            values["email"] = email
        if "phone" in self.mapping:
            phone = _text(self.cell(cells, "phone"))
            if len(phone) > 32:
                problems.append(("phone", _("Keep it under %(max)s characters.") % {"max": 33}))
            values["phone"] = phone
        if "language" in self.mapping:
            spelled = _text(self.cell(cells, "language"))
            language = LANGUAGE_SPELLINGS.get(spelled.lower()) if spelled else None
            if spelled and language not in self.languages:
                problems.append(
                    ("language", _("Choose one of: %(choices)s.")
                     % {"choices": "; ".join(sorted(self.languages))})
                )  # fmt: skip
            values["language"] = language or settings.LANGUAGE_CODE
        if "consent" in self.mapping:
            spelled = _text(self.cell(cells, "consent"))
            try:
                values["consents_to_contact"] = _yes_no(spelled) if spelled else True
            except ValueError as error:
                problems.append(("consent", str(error)))
        if problems:
            raise RowProblems(problems)
        return CustomerRow(row=number, key=key, values=values)

    def existing_keys(self, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for batch in batched(list(keys)):
            found.update(
                Customer.objects.filter(external_id__in=batch).values_list("external_id", flat=True)
            )
        return found


# ---------------------------------------------------------------- purchases


@dataclass(frozen=True)
class PurchaseRow:
    row: int
    key: str
    customer_id: int
    purchased_at: datetime
    amount: Decimal | None


AMOUNT_LIMIT = Decimal("9999999999.99")  # Purchase.amount: 12 digits, 2 after the point


class PurchaseSchema(RowSchema):
    kind = ImportJob.Kind.PURCHASES
    key_target = "external_id"

    def __init__(self, job: ImportJob) -> None:
        super().__init__(job)
        self.targets = [
            Target(
                "external_id",
                _("Purchase external id"),
                is_required=True,
                aliases=("id", "external id", "order id", "order", "订单号"),
            ),
            Target(
                "customer",
                _("Customer external id"),
                is_required=True,
                aliases=("customer", "customer id", "customer_id", "客户编号"),
            ),
            Target(
                "purchased_at",
                _("Purchased at"),
                is_required=True,
                aliases=("purchased at", "purchased_at", "date", "time", "购买时间"),
            ),
            Target("amount", _("Amount"), aliases=("amount", "金额")),
        ]
        self.customers: dict[str, Any] = {}

    def key_missing_message(self) -> str:
        return _("Give the purchase's external id.")

    def prepare(self, rows: Sequence[tuple[int, list[Cell]]]) -> None:
        self.customers = self._customers(rows, "customer")

    def parse_row(self, number: int, cells: Sequence[Cell]) -> PurchaseRow:
        problems: list[tuple[str, str]] = []
        key = self.parse_key(number, cells, problems)
        external_id = _text(self.cell(cells, "customer"))
        customer = self.customers.get(external_id)
        if not external_id:
            problems.append(("customer", _("Give the customer's external id.")))
        elif customer is None:
            problems.append(
                ("customer", _("No customer has the external id %(value)s.")
                 % {"value": external_id})
            )  # fmt: skip
        purchased_at = self._moment(cells, "purchased_at", problems)
        amount = None
        if "amount" in self.mapping:
            text = _text(self.cell(cells, "amount")).replace(",", "")
            if text:
                try:
                    amount = Decimal(text)
                except InvalidOperation:
                    amount = None
                if (
                    amount is None
                    or not amount.is_finite()
                    or amount < 0
                    or amount > AMOUNT_LIMIT
                    or amount != amount.quantize(Decimal("0.01"))
                ):
                    problems.append(
                        ("amount", _("Give an amount such as 129.90 (at most two decimals)."))
                    )
                    amount = None
        if problems or purchased_at is None or customer is None:
            raise RowProblems(problems)
        return PurchaseRow(
            row=number, key=key, customer_id=customer[0], purchased_at=purchased_at, amount=amount
        )

    def existing_keys(self, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for batch in batched(list(keys)):
            found.update(
                Purchase.objects.filter(external_id__in=batch).values_list("external_id", flat=True)
            )
        return found


SCHEMAS: dict[str, type[RowSchema]] = {
    ImportJob.Kind.RESPONSES: ResponseSchema,
    ImportJob.Kind.CUSTOMERS: CustomerSchema,
    ImportJob.Kind.PURCHASES: PurchaseSchema,
}


def schema_for(job: ImportJob) -> RowSchema:
    return SCHEMAS[job.kind](job)
