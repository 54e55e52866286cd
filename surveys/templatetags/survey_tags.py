from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import template

register = template.Library()


@register.filter
def get_item(mapping: Mapping[str, Any] | None, key: str) -> Any:
    """Look a key up in a dict from a template: {{ errors|get_item:key }}."""
    if not mapping:
        return None
    return mapping.get(key)
