"""The shared part of row schemas: targets, problems, and the row-checking machinery each
kind of import builds on (keys unique within the file, moments in the reporting time zone,
customers looked up once per chunk)."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from django.db import connection, models
from django.utils import timezone
from django.utils.translation import gettext as _

from csat.text import join_items
from metrics.periods import quarter_label, reporting_zone
from surveys.imports.files import Cell, cell_text
from surveys.imports.models import ImportJob
from surveys.models import Customer

KEY_MAX_LENGTH = 120
CUSTOMER_CACHE_MAX = 300_000  # customers remembered across chunks (about 60 MB at most)
YES = frozenset({"yes", "y", "true", "1", "是"})
NO = frozenset({"no", "n", "false", "0", "否"})
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


def keys_stored(
    model: type[models.Model], field: str, keys: Sequence[str], **equal_to: object
) -> set[str]:
    """The keys some row of the model already holds in `field` (a unique text column), among
    the rows whose other fields equal `equal_to`: one array parameter on PostgreSQL, batches of
    IN (...) elsewhere."""
    if not keys:
        return set()
    if connection.vendor == "postgresql":
        quote = connection.ops.quote_name
        column = quote(model._meta.get_field(field).column)
        table = quote(model._meta.db_table)
        conditions = "".join(
            f" AND {quote(model._meta.get_field(name).column)} = %s" for name in equal_to
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {column} FROM {table} WHERE {column} = ANY(%s){conditions}",
                [list(keys), *equal_to.values()],
            )
            return {row[0] for row in cursor.fetchall()}
    found: set[str] = set()
    for batch in batched(list(keys)):
        found.update(
            model._default_manager.filter(**{f"{field}__in": batch}, **equal_to).values_list(
                field, flat=True
            )
        )
    return found


def text_of(cell: Cell) -> str:
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
        text = text_of(cell)
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


def parse_yes_no(text: str) -> bool:
    value = text.lower()
    if value in YES:
        return True
    if value in NO:
        return False
    raise ValueError(_("Answer yes or no."))


class RowSchema(ABC):
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
            return [
                _("Map a column to each of: %(targets)s.")
                % {"targets": join_items(missing, english=", ")}
            ]
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
        key = text_of(self.cell(cells, self.key_target))
        if key and len(key) <= KEY_MAX_LENGTH:
            self.seen.setdefault(key, number)

    def parse_key(self, number: int, cells: Sequence[Cell], problems: list[tuple[str, str]]) -> str:
        return self.key_at(number, self.cell(cells, self.key_target), problems)

    def key_at(self, number: int, cell: Cell, problems: list[tuple[str, str]]) -> str:
        """The row's key: given, short enough, and not on an earlier row of the file."""
        key = cell.strip() if cell.__class__ is str else text_of(cell)  # type: ignore[union-attr]
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

    def prepare(self, rows: Sequence[tuple[int, list[Cell]]]) -> None:  # noqa: B027 (optional hook)
        """Look up, once per chunk, what the rows refer to (nothing, unless a kind needs it)."""

    @abstractmethod
    def parse_row(self, number: int, cells: Sequence[Cell]) -> Any:
        """The checked row; raises RowProblems naming each bad cell."""

    @abstractmethod
    def existing_keys(self, keys: Sequence[str]) -> set[str]:
        """Keys an earlier import already stored."""

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
        index = self.mapping[target]
        wanted = {text_of(cells[index] if index < len(cells) else None) for _number, cells in rows}
        missing = sorted(
            external_id for external_id in wanted if external_id and external_id not in cache
        )
        if missing and connection.vendor == "postgresql":
            # One array parameter instead of ten thousand placeholders for Django to build.
            table = connection.ops.quote_name(Customer._meta.db_table)
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT external_id, id, segment FROM {table} WHERE external_id = ANY(%s)",
                    [missing],
                )
                for external_id, pk, segment in cursor.fetchall():
                    cache[external_id] = (pk, segment)
            return cache
        for batch in batched(missing):
            for external_id, pk, segment in Customer.objects.filter(
                external_id__in=batch
            ).values_list("external_id", "pk", "segment"):
                cache[external_id] = (pk, segment)
        return cache
