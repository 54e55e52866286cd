"""API authentication: DRF's token authentication, reading the user and the user's permissions
in one query."""

from __future__ import annotations

from collections import OrderedDict
from functools import cache
from threading import Lock
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from csat.prepared import execute_prepared, statement_name


@cache
def _user_fields() -> list[str]:
    return [field.attname for field in get_user_model()._meta.concrete_fields]


@cache
def _token_query() -> tuple[str, str]:
    """(name, SQL): the token's user, its columns in `_user_fields` order, and the dotted
    names of its permissions (its own and its groups'), every name taken from the models'
    metadata.

    Written once instead of through the ORM: compiling the equivalent queryset (a subquery
    with a union of joins) cost more CPU than the rest of an API submission together. A
    prepared statement (csat/prepared.py): planning it cost PostgreSQL three times what
    running it does."""
    user = get_user_model()
    quote = connection.ops.quote_name
    user_columns = ", ".join(f"u.{quote(field.column)}" for field in user._meta.concrete_fields)
    sql = (
        f"SELECT {user_columns}, ARRAY("
        f"SELECT DISTINCT ct.{quote('app_label')} || '.' || p.{quote('codename')} "
        f"{_permissions_from('u')}) "
        f"FROM {_token_user_from()} WHERE t.{quote('key')} = $1"
    )
    return statement_name("csat_token", sql), sql


def _token_user_from() -> str:
    """FROM tokens t joined to their users u."""
    quote = connection.ops.quote_name
    user = get_user_model()
    token_model = TokenAuthentication().get_model()
    return (
        f"{quote(token_model._meta.db_table)} t JOIN {quote(user._meta.db_table)} u "
        f"ON u.{quote(user._meta.pk.column)} = t.{quote('user_id')}"
    )


def _permissions_from(user_alias: str) -> str:
    """FROM the permissions p (with their content types ct) that the user `user_alias` has,
    directly or through a group: what Django's ModelBackend reads."""
    quote = connection.ops.quote_name
    user = get_user_model()
    user_permissions = user._meta.get_field("user_permissions").remote_field.through._meta
    user_groups = user._meta.get_field("groups").remote_field.through._meta
    group_permissions = Group._meta.get_field("permissions").remote_field.through._meta
    user_id = f"{user_alias}.{quote(user._meta.pk.column)}"
    return (
        f"FROM {quote(Permission._meta.db_table)} p "
        f"JOIN {quote(ContentType._meta.db_table)} ct ON ct.id = p.{quote('content_type_id')} "
        f"WHERE p.id IN ("
        f"SELECT up.{quote('permission_id')} FROM {quote(user_permissions.db_table)} up "
        f"WHERE up.{quote(user_permissions.get_field('user').column)} = {user_id} "
        f"UNION SELECT gp.{quote('permission_id')} FROM {quote(group_permissions.db_table)} gp "
        f"JOIN {quote(user_groups.db_table)} ug ON ug.{quote('group_id')} = gp.{quote('group_id')} "
        f"WHERE ug.{quote(user_groups.get_field('user').column)} = {user_id})"
    )


def token_grants_sql(key: str, user_id: str, app_label: str, codename: str) -> str:
    """An SQL condition (parameters given as placeholders): the token `key` still belongs
    to the active user `user_id`, who has the permission app_label.codename (or is a
    superuser), as Django's has_perm would answer now."""
    quote = connection.ops.quote_name
    return (
        f"EXISTS (SELECT 1 FROM {_token_user_from()} WHERE t.{quote('key')} = {key} "
        f"AND u.{quote(get_user_model()._meta.pk.column)} = {user_id} "
        f"AND u.{quote('is_active')} AND (u.{quote('is_superuser')} OR EXISTS (SELECT 1 "
        f"{_permissions_from('u')} AND ct.{quote('app_label')} = {app_label} "
        f"AND p.{quote('codename')} = {codename})))"
    )


class TokenWithPermissionsAuthentication(TokenAuthentication):
    """Token authentication that reads the user's permissions in the same query (PostgreSQL),
    so the permission check that follows needs none: Django's ModelBackend answers from the
    user's `_perm_cache`. On the submission hot path that is two round trips fewer."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        if connection.vendor != "postgresql":
            return super().authenticate_credentials(key)
        _row, user, token = self._read(key)
        return user, token

    def _read(self, key: str) -> tuple[tuple[Any, ...], Any, Any]:
        """The token's row, user and token from the database (PostgreSQL, one prepared
        statement); 401 for an unknown token or an inactive user, as DRF answers."""
        with connection.cursor() as cursor:
            execute_prepared(cursor, *_token_query(), [key])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        user, token = self._from_row(key, row)
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return row, user, token

    def _from_row(self, key: str, row: tuple[Any, ...]) -> tuple[Any, Any]:
        user = get_user_model().from_db(connection.alias, _user_fields(), row[:-1])
        if not user.is_superuser:  # a superuser has every permission: Django knows
            user._perm_cache = set(row[-1] or [])
        token = self.get_model()(key=key, user=user)
        token._state.adding = False
        return user, token


# Recent callers per process: the user (with the permissions read with the token) and an
# unconfirmed token, built once from the token's row. They are read, never changed, by the
# one view that uses them, so requests can share them.
_recent: OrderedDict[str, tuple[Any, Any]] = OrderedDict()
_recent_lock = Lock()
RECENT_TOKENS = 1024


class RecentTokenAuthentication(TokenWithPermissionsAuthentication):
    """For the response API only (surveys/apis.py): a token seen recently by this process is
    taken without asking the database, and the token (`unconfirmed` set on it) is confirmed
    by the view's insert itself, which stores nothing unless, in the same statement, the
    token still belongs to that active user and the user still has the view's permission
    (`token_grants_sql`). The view confirms the token with the database before any refusal
    or when its insert stored nothing, so a revoked token, a deactivated user or a
    withdrawn permission is answered exactly as by TokenWithPermissionsAuthentication.

    That saves the API's hot path a round trip. No other view may use this class: only a
    view whose every effect is conditioned on the token the same way can."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        if connection.vendor != "postgresql":
            return super().authenticate_credentials(key)
        recent = self.recent(key)
        if recent is None:
            return self.confirm(key)
        return recent

    def recent(self, key: str) -> tuple[Any, Any] | None:
        """(user, token) of `key` if this process saw it recently, the token `unconfirmed`;
        None otherwise. Asks no database."""
        with _recent_lock:
            recent = _recent.get(key)
            if recent is not None:
                _recent.move_to_end(key)
        return recent

    def confirm(self, key: str) -> tuple[Any, Any]:
        """Authenticate `key` with the database (401 as usual) and remember it."""
        forget_token(key)
        row, user, token = self._read(key)
        recent_user, recent_token = self._from_row(key, row)
        recent_token.unconfirmed = True
        with _recent_lock:
            _recent[key] = (recent_user, recent_token)
            while len(_recent) > RECENT_TOKENS:
                _recent.popitem(last=False)
        return user, token


def forget_token(key: str) -> None:
    with _recent_lock:
        _recent.pop(key, None)
