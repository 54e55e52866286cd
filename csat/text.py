# ruff: noqa: RUF001, RUF002 (the Chinese separators are the point)
"""Lists in user-visible text, joined the way the active language writes them.

English separates both kinds with "; " (an item, such as a choice's label, may hold a comma).
Chinese enumerates parallel items with the enumeration comma "、" and separates whole
statements (problems, reasons) with the full-width semicolon "；", neither followed by a space.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import get_language


def _is_chinese() -> bool:
    return (get_language() or "").lower().startswith("zh")


def join_items(items: Iterable[object], english: str = "; ") -> str:
    """Parallel items of an enumeration (choices, codes, names): "a; b" / "a、b". Lists of
    codes, whose items hold no comma, may keep ", " in English (`english`)."""
    return ("、" if _is_chinese() else english).join(str(item) for item in items)


def join_clauses(items: Iterable[object]) -> str:
    """Whole statements (the problems of a row, reasons): "a; b" / "a；b". In Chinese a
    statement's own full stop gives way to the semicolon ("甲。" and "乙。" make "甲；乙。")."""
    texts = [str(item) for item in items]
    if not _is_chinese():
        return "; ".join(texts)
    return "；".join([text.removesuffix("。") for text in texts[:-1]] + texts[-1:])
