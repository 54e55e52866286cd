"""The full recompute outside a transaction runs on several connections at once (the answers
by id range, the case and reach families side by side); it gives the rollups of the
incremental path, and leaves the lock and no work table behind."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine
from django.db import connection

from metrics import answers
from metrics.models import AnswerCell, AnswerSlice, PeriodRollup, RespondentQuarter
from metrics.services import metrics_rebuild
from surveys.models import Response
from tests.metrics import dataset
from tests.metrics.test_engine_oracle import _rollups


@pytest.mark.django_db(transaction=True)
def test_a_recompute_on_several_connections_equals_the_incremental_rollups(
    postgres: None, settings: Any
) -> None:
    # given the oracle's dataset, applied event by event, then no rollup left for one
    # quarter and a counted response whose update has not run yet
    settings.METRICS_REBUILD_CONNECTIONS = 3
    dataset.dataset_build()
    incremental = _rollups()
    for model in (AnswerCell, AnswerSlice, RespondentQuarter):
        model.objects.filter(quarter="2025Q1").delete()
    PeriodRollup.objects.filter(period__in=["2025Q1", "2025"]).delete()
    Response.objects.filter(pk=Response.objects.filter(in_rollup=True).values("pk")[:1]).update(
        in_rollup=False
    )

    # when every rollup is recomputed outside any transaction
    assert not connection.in_atomic_block
    with time_machine.travel(dataset.AS_OF, tick=False):
        metrics_rebuild(as_of=dataset.AS_OF)

    # then they equal the incremental ones, and the lock and the work tables are gone
    rebuilt = _rollups()
    for name, rows in incremental.items():
        assert rebuilt[name] == rows, name
    with connection.cursor() as cursor:
        for table in (answers.FRESH_TABLE, answers.FRESH_RESPONDENTS_TABLE):
            cursor.execute("SELECT to_regclass(%s)", [table])
            assert cursor.fetchone() == (None,)
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s",
            [answers.ROLLUP_LOCK],
        )
        assert cursor.fetchone() == (0,)
