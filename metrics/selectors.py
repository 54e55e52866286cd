"""Reads for metrics: rollup rows only, never the responses behind them."""

from __future__ import annotations

from dataclasses import dataclass

from metrics import formulas
from metrics.models import MetricValue, SliceKind


@dataclass(frozen=True)
class Figure:
    """A metric as the dashboard and the API show it; `value` None means "no data"."""

    metric: str
    period: str
    slice_kind: str
    slice_value: str
    n: int
    value: float | None
    margin: float | None

    @property
    def has_data(self) -> bool:
        return self.n > 0 and self.value is not None

    @property
    def is_low_sample(self) -> bool:
        return formulas.is_low_sample(self.n)


def metric_figure(
    *, metric: str, period: str, slice_kind: str = SliceKind.ALL, slice_value: str = ""
) -> Figure:
    """One figure from the rollups; a slice never computed reads as n = 0, no data."""
    row = MetricValue.objects.filter(
        metric=metric, period=period, slice_kind=slice_kind, slice_value=slice_value
    ).first()
    if row is None:
        return Figure(metric, period, slice_kind, slice_value, 0, None, None)
    return Figure(metric, period, slice_kind, slice_value, row.n, row.value, row.margin)


def metric_figures(*, metric: str, period: str, slice_kind: str) -> list[Figure]:
    """Every computed member of one slice kind for a period."""
    rows = MetricValue.objects.filter(metric=metric, period=period, slice_kind=slice_kind).order_by(
        "slice_value"
    )
    return [
        Figure(metric, period, slice_kind, row.slice_value, row.n, row.value, row.margin)
        for row in rows
    ]
