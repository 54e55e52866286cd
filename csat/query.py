"""Parameters of a page's query string (list filters): an unknown value is refused, never
quietly dropped, so that a mistyped link cannot show a list that looks filtered but is not."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.utils.translation import gettext as _

from csat.errors import ApplicationError
from csat.text import join_items


def query_choice(params: Mapping[str, str], name: str, allowed: Sequence[str], default: str) -> str:
    """The value of `name` (`default`, which may be "" for no filter, when absent
    or empty); ApplicationError naming the
    parameter, the value and the allowed ones when it is not one of `allowed`."""
    value = str(params.get(name) or "").strip() or default
    if value != default and value not in allowed:
        raise ApplicationError(
            _("The address has a parameter that is not valid."),
            {name: [query_problem(name, value, allowed)]},
        )
    return value


def query_problem(name: str, value: str, allowed: Sequence[str]) -> str:
    """The message for an unknown value of a query parameter, naming the parameter."""
    return _("%(name)s: “%(value)s” is not one of %(choices)s.") % {
        "name": name,
        "value": value[:40],
        "choices": join_items(allowed, english=", "),
    }
