"""Chunk writers: store one chunk of checked rows inside the caller's transaction.

Responses on PostgreSQL go through COPY into temporary staging tables and one statement that
inserts the responses (ON CONFLICT on the import key: a row imported before is skipped) and
their answers, so a chunk costs a few round trips whatever its size. Everywhere else (SQLite,
customers, purchases) the ORM's bulk writes do the same with a look-up of the existing keys.
Either way a row lands whole (response and all its answers) or not at all.

A big import's responses are stored with `in_rollup` set: the job rebuilds their quarters'
answer rollups once at the end (surveys/imports/handoff.py), and that rebuild counts the
responses whose flag is set. Storing the flag with the row spares the rebuild a second write
of every imported response (flipping a million flags rewrote each row and all its index
entries: about as long as importing them) and keeps them out of the pending-rollup index. A
small import's responses are applied one by one like a web response, so their flag starts
unset for that compare-and-swap.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, connection, models, transaction
from django.db.models import NOT_PROVIDED

from surveys.imports.models import ImportJob
from surveys.imports.schemas import CustomerRow, PurchaseRow, ResponseRow, batched
from surveys.models import Answer, Channel, Customer, Purchase, Response


@dataclass
class Written:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    first_id: int | None = None
    last_id: int | None = None
    quarters: list[str] = field(default_factory=list)


Writer = Callable[[ImportJob, Sequence[Any]], Written]


# ---------------------------------------------------------------- responses, PostgreSQL

STAGE_TABLES = """
CREATE TEMPORARY TABLE IF NOT EXISTS import_stage_response (
    row_no integer, import_key text, submitted_at timestamptz, quarter text,
    customer_id bigint, segment text, agent_id bigint, team_id bigint, touchpoint_id bigint
) ON COMMIT DROP;
CREATE TEMPORARY TABLE IF NOT EXISTS import_stage_answer (
    row_no integer, question_id bigint, grid_row_id bigint, choice_id bigint,
    number smallint, text text
) ON COMMIT DROP;
TRUNCATE import_stage_response, import_stage_answer;
"""
NULL = "\\N"


# COPY's text format: a backslash, tab, newline or carriage return in a value is escaped.
COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_id(value: int | None) -> str:
    """An id (or None) in COPY's text format: digits need no escaping."""
    return NULL if value is None else str(value)


def insert_plan(
    model: type[models.Model], explicit: dict[str, tuple[str, list[Any]]]
) -> tuple[str, str, list[Any]]:
    """Columns and SELECT expressions for INSERT ... SELECT into a model's table: the given
    expressions, now() for auto timestamps, and each other column's default. Built from the
    model, so a column added later gets its default instead of breaking the import."""
    columns, expressions, params = [], [], []
    for model_field in model._meta.concrete_fields:
        if model_field.primary_key or model_field.db_default is not NOT_PROVIDED:
            continue
        column = model_field.column
        if column in explicit:
            expression, values = explicit[column]
        elif getattr(model_field, "auto_now", False) or getattr(model_field, "auto_now_add", False):
            expression, values = "now()", []
        elif model_field.null and not model_field.has_default():
            expression, values = "NULL", []
        else:
            # The field's default: its own, or "" for a text field that allows blanks.
            default = model_field.get_default()
            if default is None:
                raise RuntimeError(
                    f"The import has no value for {model.__name__}.{model_field.name}."
                )
            expression, values = "%s", [model_field.get_db_prep_save(default, connection)]
        columns.append(connection.ops.quote_name(column))
        expressions.append(expression)
        params.extend(values)
    return ", ".join(columns), ", ".join(expressions), params


def _insert_sql(survey_id: int, in_rollup: bool) -> tuple[str, list[Any]]:
    response_columns, response_select, response_params = insert_plan(
        Response,
        {
            "survey_id": ("%s", [survey_id]),
            "in_rollup": ("%s", [in_rollup]),
            "channel": ("%s", [Channel.IMPORT.value]),
            "status": ("%s", [Response.Status.COMPLETE.value]),
            "customer_id": ("s.customer_id", []),
            "agent_id": ("s.agent_id", []),
            "team_id": ("s.team_id", []),
            "touchpoint_id": ("s.touchpoint_id", []),
            "segment": ("s.segment", []),
            "quarter": ("s.quarter", []),
            "submitted_at": ("s.submitted_at", []),
            "import_key": ("s.import_key", []),
        },
    )
    answer_columns, answer_select, answer_params = insert_plan(
        Answer,
        {
            "response_id": ("i.id", []),
            "question_id": ("a.question_id", []),
            "grid_row_id": ("a.grid_row_id", []),
            "choice_id": ("a.choice_id", []),
            "number": ("a.number", []),
            "text": ("a.text", []),
        },
    )
    response_table = connection.ops.quote_name(Response._meta.db_table)
    answer_table = connection.ops.quote_name(Answer._meta.db_table)
    # The conflict target names the partial unique index's predicate as Django writes it.
    sql = f"""
        WITH inserted AS (
            INSERT INTO {response_table} ({response_columns})
            SELECT {response_select} FROM import_stage_response s ORDER BY s.row_no
            ON CONFLICT (import_key) WHERE NOT (import_key = '') DO NOTHING
            RETURNING id, import_key, quarter
        ), answered AS (
            INSERT INTO {answer_table} ({answer_columns})
            SELECT {answer_select}
            FROM inserted i
            JOIN import_stage_response s ON s.import_key = i.import_key
            JOIN import_stage_answer a ON a.row_no = s.row_no
            ORDER BY i.id, a.question_id
        )
        SELECT count(*), min(id), max(id), array_agg(DISTINCT quarter) FROM inserted
    """
    return sql, [*response_params, *answer_params]


# A test response gives up its key to a later import of the row (metrics.md: "a partial or
# test response never blocks a later complete one").
RELEASE_TEST_KEYS_SQL = """
    UPDATE surveys_response r SET import_key = ''
    FROM import_stage_response s
    WHERE r.import_key = s.import_key AND NOT (r.import_key = '') AND r.is_test
"""


def write_responses_copy(job: ImportJob, rows: Sequence[ResponseRow]) -> Written:
    """PostgreSQL: COPY the chunk into staging tables, then one INSERT ... SELECT."""
    assert job.survey_id is not None
    responses, answers = io.StringIO(), io.StringIO()
    # A million rows pass through here: locals and one f-string per line.
    write_response, write_answer, ident, escape = (
        responses.write,
        answers.write,
        _copy_id,
        COPY_ESCAPES,
    )
    for row in rows:
        number = row.row
        write_response(
            f"{number}\t{row.key.translate(escape)}\t{row.submitted_at.isoformat()}\t"
            f"{row.quarter}\t{ident(row.customer_id)}\t{row.segment}\t{ident(row.agent_id)}\t"
            f"{ident(row.team_id)}\t{ident(row.touchpoint_id)}\n"
        )
        for question_id, grid_row_id, choice_id, score, text in row.answers:
            write_answer(
                f"{number}\t{question_id}\t{ident(grid_row_id)}\t{ident(choice_id)}\t"
                f"{ident(score)}\t{text.translate(escape)}\n"
            )
    responses.seek(0)
    answers.seek(0)
    sql, params = _insert_sql(job.survey_id, in_rollup=job.rebuilds_rollups)
    written = Written()
    quarters: set[str] = set()
    with connection.cursor() as cursor:
        # The staging tables have no statistics, so the planner's estimates are far too high
        # and it would JIT-compile the statement, which costs more than running it.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(STAGE_TABLES)
        cursor.copy_expert("COPY import_stage_response FROM STDIN", responses)
        cursor.copy_expert("COPY import_stage_answer FROM STDIN", answers)
        for _attempt in range(2):
            cursor.execute(sql, params)
            count, first_id, last_id, inserted_quarters = cursor.fetchone()
            written.created += count
            if count:
                written.first_id = min(first_id, written.first_id or first_id)
                written.last_id = max(last_id, written.last_id or last_id)
                quarters.update(inserted_quarters)
            if written.created == len(rows):
                break
            cursor.execute(RELEASE_TEST_KEYS_SQL)
            if not cursor.rowcount:
                break
    written.skipped = len(rows) - written.created
    written.quarters = sorted(quarters)
    return written


# ---------------------------------------------------------------- responses, any database


def write_responses_orm(job: ImportJob, rows: Sequence[ResponseRow]) -> Written:
    """Any database: look up the keys already imported, then bulk-create the rest."""
    existing: dict[str, bool] = {}
    for batch in batched([row.key for row in rows]):
        existing.update(
            Response.objects.filter(import_key__in=batch).values_list("import_key", "is_test")
        )
    released = [key for key, is_test in existing.items() if is_test]
    for batch in batched(released):
        Response.objects.filter(import_key__in=batch, is_test=True).update(import_key="")
    fresh = [row for row in rows if existing.get(row.key, True)]
    responses = Response.objects.bulk_create(
        [
            Response(
                survey_id=job.survey_id,
                channel=Channel.IMPORT,
                status=Response.Status.COMPLETE,
                customer_id=row.customer_id,
                agent_id=row.agent_id,
                team_id=row.team_id,
                touchpoint_id=row.touchpoint_id,
                segment=row.segment,
                quarter=row.quarter,
                submitted_at=row.submitted_at,
                import_key=row.key,
                in_rollup=job.rebuilds_rollups,
            )
            for row in fresh
        ],
        batch_size=500,
    )
    Answer.objects.bulk_create(
        [
            Answer(
                response_id=response.pk,
                question_id=question_id,
                grid_row_id=grid_row_id,
                choice_id=choice_id,
                number=number,
                text=text,
            )
            for response, row in zip(responses, fresh, strict=True)
            for question_id, grid_row_id, choice_id, number, text in row.answers
        ],
        batch_size=1000,
    )
    ids = [response.pk for response in responses]
    return Written(
        created=len(fresh),
        skipped=len(rows) - len(fresh),
        first_id=min(ids) if ids else None,
        last_id=max(ids) if ids else None,
        quarters=sorted({row.quarter for row in fresh}),
    )


# ---------------------------------------------------------------- customers and purchases


def write_customers(job: ImportJob, rows: Sequence[CustomerRow]) -> Written:
    """New customers are created; existing ones get the mapped columns, when they differ."""
    existing: dict[str, Customer] = {}
    for batch in batched([row.key for row in rows]):
        existing.update(
            (customer.external_id, customer)
            for customer in Customer.objects.filter(external_id__in=batch)
        )
    created, changed, fields = [], [], set()
    for row in rows:
        customer = existing.get(row.key)
        if customer is None:
            created.append(Customer(external_id=row.key, **row.values))
            continue
        differing = {name for name, value in row.values.items() if getattr(customer, name) != value}
        if differing:
            for name in differing:
                setattr(customer, name, row.values[name])
            changed.append(customer)
            fields |= differing
    Customer.objects.bulk_create(created, batch_size=500)
    if changed:
        Customer.objects.bulk_update(changed, sorted(fields), batch_size=500)
    return Written(
        created=len(created), updated=len(changed), skipped=len(rows) - len(created) - len(changed)
    )


def write_purchases(job: ImportJob, rows: Sequence[PurchaseRow]) -> Written:
    """Purchases are facts: one whose external id is already stored is skipped."""
    existing: set[str] = set()
    for batch in batched([row.key for row in rows]):
        existing.update(
            Purchase.objects.filter(external_id__in=batch).values_list("external_id", flat=True)
        )
    fresh = [row for row in rows if row.key not in existing]
    purchases = Purchase.objects.bulk_create(
        [
            Purchase(
                customer_id=row.customer_id,
                purchased_at=row.purchased_at,
                amount=row.amount,
                external_id=row.key,
            )
            for row in fresh
        ],
        batch_size=500,
    )
    ids = [purchase.pk for purchase in purchases]
    return Written(
        created=len(fresh),
        skipped=len(rows) - len(fresh),
        first_id=min(ids) if ids else None,
        last_id=max(ids) if ids else None,
    )


def writer_for(job: ImportJob, use_copy: bool | None = None) -> Writer:
    """The chunk writer of a job's kind (COPY for responses on PostgreSQL unless told not)."""
    if job.kind == ImportJob.Kind.CUSTOMERS:
        return write_customers
    if job.kind == ImportJob.Kind.PURCHASES:
        return write_purchases
    if use_copy is None:
        use_copy = connection.vendor == "postgresql"
    return write_responses_copy if use_copy else write_responses_orm


def write_chunk(writer: Writer, job: ImportJob, rows: Sequence[Any]) -> Written:
    """Write a chunk; when another import stored one of its keys at the same moment (a unique
    violation), look the keys up again and write it once more."""
    try:
        with transaction.atomic():
            return writer(job, rows)
    except IntegrityError:
        with transaction.atomic():
            return writer(job, rows)
