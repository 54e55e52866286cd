"""Server-side prepared statements for the few statements on the API's hot path.

PostgreSQL parses and plans a statement on every execution unless it is prepared; for the
token lookup (a join with a union of permission joins) planning costs several times the
execution. `execute_prepared` PREPAREs a statement once per database connection (Django
reconnects: a new connection prepares again; a prepared statement survives rollbacks) and
EXECUTEs it. PREPARED_STATEMENTS = false runs the plain statement instead, for a connection
pooler in transaction mode, which does not keep a session's prepared statements.
"""

from __future__ import annotations

import hashlib
import re
import weakref
from collections.abc import Sequence
from typing import Any

from django.conf import settings

# The names prepared on each (raw) database connection.
_prepared: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
_DOLLAR = re.compile(r"\$\d+")


def statement_name(prefix: str, sql: str) -> str:
    """A name for `sql` that changes when the statement does (a new deploy)."""
    return f"{prefix}_{hashlib.sha1(sql.encode()).hexdigest()[:12]}"


def execute_prepared(cursor: Any, name: str, sql: str, params: Sequence[Any]) -> None:
    """Run `sql` (parameters written $1, $2, ... in the order of `params`) on a Django
    cursor, as the prepared statement `name`."""
    if not settings.PREPARED_STATEMENTS:
        plain = _DOLLAR.sub(lambda match: f"%({int(match.group()[1:]) - 1})s", sql)
        cursor.execute(plain, {str(index): value for index, value in enumerate(params)})
        return
    raw = cursor.cursor.connection
    names = _prepared.setdefault(raw, set())
    if name not in names:
        cursor.execute(f"PREPARE {name} AS {sql}")
        names.add(name)
    cursor.execute(f"EXECUTE {name} ({', '.join(['%s'] * len(params))})", params)
