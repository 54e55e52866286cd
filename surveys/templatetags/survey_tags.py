from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import template

from surveys.models import Survey
from surveys.respond import survey_title_for

register = template.Library()


@register.filter
def get_item(mapping: Mapping[str, Any] | None, key: str) -> Any:
    """Look a key up in a dict from a template: {{ errors|get_item:key }}."""
    if not mapping:
        return None
    return mapping.get(key)


@register.filter
def title_here(survey: Survey) -> str:
    """{{ survey|title_here }}: the title a staff reader understands (their interface language)."""
    return survey_title_for(survey)
