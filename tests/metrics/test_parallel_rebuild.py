"""The rebuild outside a transaction groups the answers on several connections at once; it
gives the rollups of the incremental path, and leaves the lock and no work table behind."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine
from django.db import connection

from metrics import answers
from metrics.models import AnswerCell, AnswerSlice, RespondentQuarter
from surveys.models import Response
from tests.metrics import dataset
from tests.metrics.test_engine_oracle import _rollups

ANSWER_ROLLUPS = ("cells", "slices", "respondents")


@pytest.mark.django_db(transaction=True)
def test_a_rebuild_on_several_connections_equals_the_incremental_rollups(
    postgres: None, settings: Any
) -> None:
    # given the oracle's dataset, applied response by response, then no answer rollup left
    # for one quarter and a counted response whose update has not run yet
    settings.METRICS_REBUILD_CONNECTIONS = 3
    dataset.dataset_build()
    incremental = {name: rows for name, rows in _rollups().items() if name in ANSWER_ROLLUPS}
    for model in (AnswerCell, AnswerSlice, RespondentQuarter):
        model.objects.filter(quarter="2025Q1").delete()
    Response.objects.filter(pk=Response.objects.filter(in_rollup=True).values("pk")[:1]).update(
        in_rollup=False
    )

    # when the answer rollups are rebuilt outside any transaction
    assert not connection.in_atomic_block
    with time_machine.travel(dataset.AS_OF, tick=False):
        answers.answers_rebuild(as_of=dataset.AS_OF)

    # then they equal the incremental ones, and the lock and the work table are gone
    rebuilt = {name: rows for name, rows in _rollups().items() if name in ANSWER_ROLLUPS}
    for name in ANSWER_ROLLUPS:
        assert rebuilt[name] == incremental[name], name
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [answers.FRESH_TABLE])
        assert cursor.fetchone() == (None,)
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s",
            [answers.ROLLUP_LOCK],
        )
        assert cursor.fetchone() == (0,)
