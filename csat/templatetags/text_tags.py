# ruff: noqa: RUF002 (the Chinese separators are the point)
"""Template filters for lists in user-visible text (csat.text)."""

from __future__ import annotations

from collections.abc import Iterable

from django import template

from csat import text

register = template.Library()


@register.filter
def join_items(items: Iterable[object]) -> str:
    """`{{ choices|join_items }}`: "a; b" in English, "a、b" in Chinese (escaped later)."""
    return text.join_items(items)


@register.filter
def join_clauses(items: Iterable[object]) -> str:
    """`{{ problems|join_clauses }}`: "a; b" in English, "a；b" in Chinese (escaped later)."""
    return text.join_clauses(items)
