"""Store a complete response, its answers and its outbox event in one transaction: on
PostgreSQL, one statement (one round trip, one commit) instead of BEGIN, three INSERTs and
COMMIT; elsewhere, the ORM in a transaction.

The statement is built from the models' own field lists and each field's value preparation
(`pre_save`, `get_db_prep_save`), so a field added to Response, Answer or OutboxEvent is
written here too. Data-modifying CTEs run exactly once and the statement is atomic: the
response never exists without its answers and its outbox row. A unique violation (a taken
submission key) raises IntegrityError and stores nothing, as the ORM path does.

With `expected_version`, the response is inserted only while the survey's
`definition_version` is still that one (the API validated the answers against a cached copy
of the survey, surveys/definitions.py): otherwise nothing is stored and None is returned.

Each statement shape (number of answer rows, checked or not) is a server-side prepared
statement, prepared once per database connection (csat/prepared.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import connection, models, transaction

from csat import outbox
from csat.authentication import token_grants_sql
from csat.models import OutboxEvent
from csat.prepared import execute_prepared, statement_name
from surveys.models import Answer, Response, Survey


@dataclass(frozen=True)
class TokenGrant:
    """What the insert must find still true of the caller's token (RecentTokenAuthentication)."""

    key: str
    user_id: int
    app_label: str
    codename: str


@cache
def _fields(model: type[models.Model]) -> tuple[models.Field[Any, Any], ...]:
    return tuple(field for field in model._meta.concrete_fields if not field.primary_key)


# Field classes whose value preparation returns a value of exactly this type unchanged (their
# get_prep_value is int(value), str or bool(value); Field.pre_save reads the attribute):
# such a value is its own INSERT parameter. Exact classes only: a subclass may prepare
# differently. Anything else (enums, datetimes, JSON, IP addresses, decimals...) goes through
# the field as the ORM does.
_INTEGER_FIELDS = (
    models.IntegerField,
    models.BigIntegerField,
    models.SmallIntegerField,
    models.PositiveIntegerField,
    models.PositiveBigIntegerField,
    models.PositiveSmallIntegerField,
)
_AUTO_FIELDS = (models.AutoField, models.BigAutoField, models.SmallAutoField)
_PLAIN_TYPES: dict[type[models.Field[Any, Any]], type] = {
    **{field_class: int for field_class in _INTEGER_FIELDS},
    models.CharField: str,
    models.TextField: str,
    models.BooleanField: bool,
}


# Nullable classes whose preparation turns None into None (and nothing else is taken as is).
_NONE_ONLY = (models.DateTimeField, models.DateField, models.GenericIPAddressField)


def _plain_type(field: models.Field[Any, Any]) -> type | None:
    """The type whose values (and None) `field` stores as they are, or None."""
    if type(field) in _NONE_ONLY:
        # auto_now and auto_now_add replace the value in pre_save
        auto = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
        return None if auto else type(None)
    if type(field) is models.ForeignKey:
        target = type(field.target_field)
        return int if target in _AUTO_FIELDS or target in _INTEGER_FIELDS else None
    return _PLAIN_TYPES.get(type(field))


@cache
def _plan(
    model: type[models.Model], skip: str
) -> tuple[tuple[str, type | None, models.Field[Any, Any]], ...]:
    """(attname, plain type or None, field) of each `_fields` field but `skip`."""
    return tuple(
        (field.attname, _plain_type(field), field)
        for field in _fields(model)
        if field.attname != skip
    )


def _values(obj: models.Model, skip: str = "") -> list[Any]:
    """The INSERT parameters of a model instance, in `_fields` order, without `skip`: what
    `field.get_db_prep_save(field.pre_save(obj, add=True))` gives for each field, taken as is
    where that is the value itself (a plain int, str or bool, or None, of a field that stores
    it unchanged)."""
    data = obj.__dict__
    values = []
    for attname, plain, field in _plan(type(obj), skip):
        if plain is not None and attname in data:
            value = data[attname]
            if value is None or type(value) is plain:
                values.append(value)
                continue
        values.append(field.get_db_prep_save(field.pre_save(obj, add=True), connection=connection))
    return values


@cache
def _row_plan(
    model: type[models.Model], skip: str
) -> tuple[tuple[str, type | None, models.Field[Any, Any]], ...]:
    plan = _plan(model, skip)
    overridden = [
        field.name
        for _attname, _plain, field in plan
        if type(field).pre_save is not models.Field.pre_save
    ]
    if overridden:  # pre_save needs an instance (auto_now, files): use _values
        raise TypeError(f"{model.__name__} fields {overridden} need an instance")
    return plan


@cache
def _attnames(model: type[models.Model]) -> frozenset[str]:
    return frozenset(field.attname for field in model._meta.concrete_fields)


def row_values(model: type[models.Model], row: Mapping[str, Any], skip: str = "") -> list[Any]:
    """The INSERT parameters of `model(**row)` (`row` keyed by attname; a missing field takes
    its default, as Model.__init__ does) without building the instance: what `_values` gives
    for it. Only for models none of whose fields needs the instance to prepare its value."""
    plan = _row_plan(model, skip)
    if not row.keys() <= _attnames(model):
        raise TypeError(f"{model.__name__} has no field {sorted(row.keys() - _attnames(model))}")
    values = []
    for attname, plain, field in plan:
        value = row[attname] if attname in row else field.get_default()
        if plain is None or not (value is None or type(value) is plain):
            value = field.get_db_prep_save(value, connection=connection)
        values.append(value)
    return values


class _Placeholders:
    """Numbers the statement's parameters: $1, $2, ... in the order they are taken."""

    def __init__(self) -> None:
        self.count = 0

    def take(self, n: int = 1) -> list[str]:
        self.count += n
        return [f"${i}" for i in range(self.count - n + 1, self.count + 1)]


@cache
def _statement(answer_count: int, checked: bool, granted: bool = False) -> tuple[str, str]:
    """(name, SQL with $n parameters) for a response with `answer_count` answer rows.

    Parameters: the response's columns, then (if `checked`) the survey id and the expected
    definition version, then (if `granted`) the token key, its user id, and the app label
    and codename of the permission it must grant, then each answer's columns but its
    response, then the event's columns but its object id."""
    quote = connection.ops.quote_name
    marks = _Placeholders()

    def columns(model: type[models.Model]) -> str:
        return ", ".join(quote(field.column) for field in _fields(model))

    def select_list(model: type[models.Model], linked: str) -> str:
        return ", ".join(
            "new_response.id" if field.attname == linked else marks.take()[0]
            for field in _fields(model)
        )

    response_table = quote(Response._meta.db_table)
    values = ", ".join(marks.take(len(_fields(Response))))
    if checked:
        survey_id, version = marks.take(2)
        condition = (
            f"{quote(Survey._meta.pk.column)} = {survey_id} "
            f"AND {quote('definition_version')} = {version}"
        )
        if granted:
            condition += " AND " + token_grants_sql(*marks.take(4))
        response_sql = (
            f"INSERT INTO {response_table} ({columns(Response)}) SELECT {values} "
            f"FROM {quote(Survey._meta.db_table)} WHERE {condition} RETURNING id"
        )
    else:
        response_sql = f"INSERT INTO {response_table} ({columns(Response)}) VALUES ({values}) "
        response_sql += "RETURNING id"
    parts = [f"new_response AS ({response_sql})"]
    for index in range(answer_count):
        parts.append(
            f"new_answer_{index} AS (INSERT INTO {quote(Answer._meta.db_table)} "
            f"({columns(Answer)}) SELECT {select_list(Answer, 'response_id')} FROM new_response)"
        )
    parts.append(
        f"new_event AS (INSERT INTO {quote(OutboxEvent._meta.db_table)} "
        f"({columns(OutboxEvent)}) SELECT {select_list(OutboxEvent, 'object_id')} "
        "FROM new_response RETURNING id)"
    )
    sql = (
        "WITH "
        + ", ".join(parts)
        + " SELECT (SELECT id FROM new_response), (SELECT id FROM new_event)"
    )
    shape = f"{answer_count}_{int(checked)}{'g' if granted else ''}"
    return statement_name(f"csat_ingest_{shape}", sql), sql


def _execute(
    cursor: Any, answer_count: int, checked: bool, params: list[Any], granted: bool = False
) -> Any:
    name, sql = _statement(answer_count, checked, granted)
    execute_prepared(cursor, name, sql, params)
    return cursor.fetchone()


def response_store(
    response: Response,
    answers: Sequence[Answer | Mapping[str, Any]],
    expected_version: int | None = None,
    grants: TokenGrant | None = None,
) -> Response | None:
    """Insert the response, its answers and its `response.submitted` outbox event; the event
    is published after commit. An answer is an Answer (whose `response` is set here) or the
    column values of one by attname, without its response (`row_values`).

    With `expected_version` (PostgreSQL): None, and nothing stored, when the survey's
    definition version is no longer that one; with `grants` as well, also when the token no
    longer belongs to that active user with that permission (csat/authentication.py)."""
    if connection.vendor != "postgresql":
        with transaction.atomic():
            response.save(force_insert=True)
            rows = [
                answer if isinstance(answer, Answer) else Answer(**answer) for answer in answers
            ]
            for row in rows:
                row.response = response
            Answer.objects.bulk_create(rows)
            outbox.outbox_record(OutboxEvent.Kind.RESPONSE_SUBMITTED, response.pk)
        return response
    checked = expected_version is not None
    granted = checked and grants is not None
    params = _values(response)
    if checked:
        params += [response.survey_id, expected_version]
    if granted and grants is not None:
        params += [grants.key, grants.user_id, grants.app_label, grants.codename]
    for answer in answers:
        if isinstance(answer, Answer):
            params += _values(answer, skip="response_id")
        else:
            params += row_values(Answer, answer, skip="response_id")
    # An instance: its created_at (auto_now_add) is set by the field's pre_save.
    params += _values(
        OutboxEvent(kind=OutboxEvent.Kind.RESPONSE_SUBMITTED, object_id=0), skip="object_id"
    )
    # In autocommit the statement is its own transaction; inside a caller's transaction a
    # savepoint keeps a unique violation from breaking it.
    savepoint = transaction.atomic() if connection.in_atomic_block else nullcontext()
    with savepoint, connection.cursor() as cursor:
        response_id, event_id = _execute(cursor, len(answers), checked, params, granted)
    if response_id is None:
        return None
    response.pk = response_id
    response._state.adding = False
    response._state.db = connection.alias
    for answer in answers:
        if isinstance(answer, Answer):
            answer.response = response
    transaction.on_commit(lambda: outbox.outbox_publish(event_id))
    return response
