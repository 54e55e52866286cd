"""The 10-million-response benchmark's generator keeps up with the schema, and what it
generates rolls up to the figures its naive pandas reference computes (a small run of each)."""

from __future__ import annotations

import argparse

import pytest

from bench import metrics as bench
from metrics import selectors, services
from metrics.periods import Quarter


@pytest.mark.django_db(transaction=True)
def test_generated_responses_roll_up_to_the_nps_pandas_computes(postgres: None) -> None:
    # given the benchmark's world generated at a small scale (every table it fills)
    generated = bench.generate(3000)
    assert generated["rows"]["surveys_response"] == 3000
    assert generated["rows"]["feedback_case"] > 0

    # when the rollups are rebuilt and the naive reference reads every answer row
    services.metrics_rebuild()
    naive = bench.phase_pandas(argparse.Namespace())

    # then each closed quarter's NPS is the same both ways
    current = Quarter.current().label
    closed = {label: value for label, value in naive["nps_by_quarter"].items() if label != current}
    assert len(closed) == 7
    for label, value in closed.items():
        figure = selectors.metric_figures(label)["nps"]
        assert figure is not None, label
        assert figure.value == pytest.approx(value, abs=1e-9), label
