"""Store a complete response, its answers and its outbox event in one transaction: on
PostgreSQL, one statement (one round trip, one commit) instead of BEGIN, three INSERTs and
COMMIT; elsewhere, the ORM in a transaction.

The statement is built from the models' own field lists and each field's value preparation
(`pre_save`, `get_db_prep_save`), so a field added to Response, Answer or OutboxEvent is
written here too. Data-modifying CTEs run exactly once and the statement is atomic: the
response never exists without its answers and its outbox row. A unique violation (a taken
submission key) raises IntegrityError and stores nothing, as the ORM path does.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any

from django.db import connection, models, transaction

from csat import outbox
from csat.models import OutboxEvent
from surveys.models import Answer, Response

# A value written as SQL instead of a parameter (the id of the row the statement inserts).
RESPONSE_ID = "(SELECT id FROM new_response)"


def _columns_and_values(
    obj: models.Model, overrides: dict[str, str]
) -> tuple[list[str], str, list[Any]]:
    """The INSERT columns of a model instance, its VALUES tuple and the tuple's parameters."""
    columns, placeholders, params = [], [], []
    for field in obj._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.attname in overrides:
            placeholders.append(overrides[field.attname])
            continue
        value = field.pre_save(obj, add=True)
        placeholders.append("%s")
        params.append(field.get_db_prep_save(value, connection=connection))
    return columns, "(" + ", ".join(placeholders) + ")", params


def _insert(
    table: str, objs: Sequence[models.Model], overrides: dict[str, str]
) -> tuple[str, list[Any]]:
    rows = [_columns_and_values(obj, overrides) for obj in objs]
    columns = rows[0][0]
    sql = f"INSERT INTO {connection.ops.quote_name(table)} ({', '.join(columns)}) VALUES "
    sql += ", ".join(row[1] for row in rows)
    return sql, [param for row in rows for param in row[2]]


def response_store(response: Response, answers: Sequence[Answer]) -> Response:
    """Insert the response, its answers (whose `response` is set here) and its
    `response.submitted` outbox event; the event's task is sent after commit."""
    if connection.vendor != "postgresql":
        with transaction.atomic():
            response.save(force_insert=True)
            for answer in answers:
                answer.response = response
            Answer.objects.bulk_create(answers)
            outbox.outbox_record(OutboxEvent.Kind.RESPONSE_SUBMITTED, response.pk)
        return response
    event = OutboxEvent(kind=OutboxEvent.Kind.RESPONSE_SUBMITTED, object_id=0)
    response_sql, response_params = _insert(Response._meta.db_table, [response], {})
    parts = [f"new_response AS ({response_sql} RETURNING id)"]
    params = list(response_params)
    if answers:
        answer_sql, answer_params = _insert(
            Answer._meta.db_table, answers, {"response_id": RESPONSE_ID}
        )
        parts.append(f"new_answers AS ({answer_sql})")
        params += answer_params
    event_sql, event_params = _insert(
        OutboxEvent._meta.db_table, [event], {"object_id": RESPONSE_ID}
    )
    parts.append(f"new_event AS ({event_sql} RETURNING id)")
    params += event_params
    sql = (
        "WITH "
        + ", ".join(parts)
        + " SELECT (SELECT id FROM new_response), (SELECT id FROM new_event)"
    )
    # In autocommit the statement is its own transaction; inside a caller's transaction a
    # savepoint keeps a unique violation from breaking it.
    savepoint = transaction.atomic() if connection.in_atomic_block else nullcontext()
    with savepoint, connection.cursor() as cursor:
        cursor.execute(sql, params)
        response_id, event_id = cursor.fetchone()
    response.pk = response_id
    response._state.adding = False
    response._state.db = connection.alias
    for answer in answers:
        answer.response = response
    transaction.on_commit(lambda: outbox.outbox_dispatch(event_id))
    return response
