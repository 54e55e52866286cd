from __future__ import annotations

from django import template
from django.utils.formats import number_format

register = template.Library()


@register.filter
def metric(value: float | None) -> str:
    """A stored (unrounded) figure shown with one decimal, as metrics.md asks."""
    if value is None:
        return ""
    return number_format(round(value, 1) + 0.0, decimal_pos=1)


@register.filter
def signed(value: float | None) -> str:
    """A change with its sign, one decimal: +3.2, -1.0."""
    if value is None:
        return ""
    rounded = round(value, 1) + 0.0  # adding 0.0 turns -0.0 into 0.0
    return ("+" if rounded > 0 else "") + number_format(rounded, decimal_pos=1)
