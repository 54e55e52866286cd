"""Reads for imports: the jobs, what the mapping page offers, the first rows as they will be
imported, and the report of problems."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from surveys.imports.models import ImportJob, ImportRowError
from surveys.imports.schemas import Target, schema_for
from surveys.imports.schemas.contacts import CustomerSchema

PREVIEW_SAMPLES = 3


def import_job_list() -> QuerySet[ImportJob]:
    """Import jobs, newest first, with what their rows show."""
    return ImportJob.objects.select_related("survey", "created_by")


@dataclass
class MappingColumn:
    index: int
    header: str
    target: str
    samples: list[str]
    problems: list[str] = field(default_factory=list)


def import_mapping_columns(job: ImportJob) -> tuple[list[MappingColumn], list[Target]]:
    """Each column of the file with its current target and a few sample values, and the
    targets a column can be mapped to."""
    schema = schema_for(job)
    by_index = {int(index): target for target, index in job.mapping.items()}
    columns = [
        MappingColumn(
            index=index,
            header=header or _("column %(number)s") % {"number": index + 1},
            target=by_index.get(index, ""),
            samples=[
                cells[index]
                for _number, cells in job.preview[:PREVIEW_SAMPLES]
                if index < len(cells)
            ],
        )
        for index, header in enumerate(job.headers)
    ]
    return columns, schema.targets


@dataclass
class PreviewRow:
    row: int
    values: list[str]
    problems: list[str] = field(default_factory=list)
    # What the import will do with the row: "new" (stored), "skip" (imported before),
    # "update" (a known customer; `changes` names the columns written over) or "unchanged".
    outcome: str = "new"
    changes: list[str] = field(default_factory=list)


def import_job_preview(job: ImportJob) -> tuple[list[str], list[PreviewRow]]:
    """The first rows of the file as the import reads them: the mapped columns' values, and
    what the import will do with each row (store it, skip it as imported before, update a
    known customer or leave it unchanged) or its problems."""
    schema = schema_for(job)
    mapped = sorted(job.mapping.items(), key=lambda item: int(item[1]))
    labels = [(schema.target(name) or Target(name, name)).label for name, _index in mapped]
    rows = [(int(number), list(cells)) for number, cells in job.preview]
    result = schema.parse_chunk(rows)
    existing = schema.existing_keys([row.key for row in result.rows])
    problems: dict[int, list[str]] = {}
    for problem in result.problems:
        problems.setdefault(problem.row, []).append(
            _("column %(column)s: %(problem)s")
            % {"column": problem.column, "problem": problem.message}
        )
    changes = schema.changes(result.rows) if isinstance(schema, CustomerSchema) else {}
    keys = {row.row: row.key for row in result.rows}
    preview = []
    for number, cells in rows:
        key = keys.get(number)
        changed = changes.get(key) if key is not None else None
        if changed is not None:
            outcome = "update" if changed else "unchanged"
        else:
            outcome = "skip" if key in existing else "new"
        preview.append(
            PreviewRow(
                row=number,
                values=[
                    cells[int(index)] if int(index) < len(cells) else "" for _n, index in mapped
                ],
                problems=problems.get(number, []),
                outcome=outcome,
                changes=changed or [],
            )
        )
    return labels, preview


def import_row_errors(job: ImportJob) -> QuerySet[ImportRowError]:
    """Every problem of every row, in file order."""
    return ImportRowError.objects.filter(job=job).order_by("row", "pk")
