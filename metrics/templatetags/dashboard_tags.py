"""Template helpers of the dashboard pages: chart values and fractions as percentages."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.formats import number_format

register = template.Library()


@register.filter
def chart_value(value: float | None) -> str:
    """An unrounded value for a chart's data attribute ("" for no data)."""
    if value is None:
        return ""
    return repr(float(value))


@register.filter
def fraction_percent(value: float | None) -> str:
    """A fraction (progress toward the annual target) as a whole percentage: 0.5 -> 50%."""
    if value is None:
        return ""
    return number_format(round(100 * value) + 0, decimal_pos=0) + "%"


@register.filter
def lookup(mapping: dict[str, Any], key: str) -> Any:
    """mapping[key] in a template (None when missing)."""
    return mapping.get(key) if mapping else None
