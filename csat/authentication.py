"""API authentication: DRF's token authentication, reading the user and the user's permissions
in one query."""

from __future__ import annotations

from functools import cache
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
    token_model = TokenAuthentication().get_model()
    user_columns = ", ".join(f"u.{quote(field.column)}" for field in user._meta.concrete_fields)
    user_permissions = user._meta.get_field("user_permissions").remote_field.through._meta
    user_groups = user._meta.get_field("groups").remote_field.through._meta
    group_permissions = Group._meta.get_field("permissions").remote_field.through._meta
    user_id = f"u.{quote(user._meta.pk.column)}"
    sql = (
        f"SELECT {user_columns}, ARRAY("
        f"SELECT DISTINCT ct.{quote('app_label')} || '.' || p.{quote('codename')} "
        f"FROM {quote(Permission._meta.db_table)} p "
        f"JOIN {quote(ContentType._meta.db_table)} ct ON ct.id = p.{quote('content_type_id')} "
        f"WHERE p.id IN ("
        f"SELECT up.{quote('permission_id')} FROM {quote(user_permissions.db_table)} up "
        f"WHERE up.{quote(user_permissions.get_field('user').column)} = {user_id} "
        f"UNION SELECT gp.{quote('permission_id')} FROM {quote(group_permissions.db_table)} gp "
        f"JOIN {quote(user_groups.db_table)} ug ON ug.{quote('group_id')} = gp.{quote('group_id')} "
        f"WHERE ug.{quote(user_groups.get_field('user').column)} = {user_id})) "
        f"FROM {quote(token_model._meta.db_table)} t "
        f"JOIN {quote(user._meta.db_table)} u ON {user_id} = t.{quote('user_id')} "
        f"WHERE t.{quote('key')} = $1"
    )
    return statement_name("csat_token", sql), sql


class TokenWithPermissionsAuthentication(TokenAuthentication):
    """Token authentication that reads the user's permissions in the same query (PostgreSQL),
    so the permission check that follows needs none: Django's ModelBackend answers from the
    user's `_perm_cache`. On the submission hot path that is two round trips fewer."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        if connection.vendor != "postgresql":
            return super().authenticate_credentials(key)
        with connection.cursor() as cursor:
            execute_prepared(cursor, *_token_query(), [key])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        user = get_user_model().from_db(connection.alias, _user_fields(), row[:-1])
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        if not user.is_superuser:  # a superuser has every permission: Django knows
            user._perm_cache = set(row[-1] or [])
        token = self.get_model()(key=key, user=user)
        token._state.adding = False
        return user, token
