"""Concurrent first reads of a combination of filters store its coverage and median once.

Coverage and the median first-response time of a combination are computed by the first read
and stored (metrics.models.CombinationRollup). Several dashboards opened at once all miss
the stored row, compute the same figures and insert them: the unique key and ON CONFLICT DO
NOTHING keep one row and no read fails. Real threads, each with its own connection, on
committed rows (transaction=True).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection

from accounts.models import User
from csat.models import OutboxEvent
from csat.outbox import outbox_process
from feedback.models import ComplaintCategory, RootCause
from feedback.services import case_log_complaint, case_record_first_response
from metrics import selectors
from metrics.models import CombinationRollup
from metrics.services import metrics_rebuild
from surveys.models import Customer, Interaction, Survey
from surveys.services import response_submit

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAY = datetime(2025, 5, 10, 10, tzinfo=SHANGHAI)
AS_OF = datetime(2025, 6, 20, 12, tzinfo=SHANGHAI)
READERS = 6


def _process() -> None:
    while pending := list(
        OutboxEvent.objects.filter(processed_at__isnull=True).values_list("pk", flat=True)
    ):
        for event_id in pending:
            outbox_process(event_id)


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_reads_of_a_combination_store_its_figures_once(
    staff: User, nps_survey: Survey
) -> None:
    category = ComplaintCategory.objects.create(name="Late", root_cause=RootCause.PROCESS)
    customers = [
        Customer.objects.create(external_id=f"c{index}", segment="normal") for index in range(3)
    ]
    with time_machine.travel(MAY + timedelta(days=1), tick=False):
        for index, (customer, hours) in enumerate(zip(customers, (2, 4, 9), strict=True)):
            opened = MAY + timedelta(hours=index)
            interaction = Interaction.objects.create(
                customer=customer,
                agent=staff,
                team_id=staff.team_id,
                segment="normal",
                occurred_at=opened,
                quarter="2025Q2",
            )
            complaint = case_log_complaint(
                category=category,
                channel="phone",
                summary="Waited too long.",
                interaction=interaction,
                opened_at=opened,
            )
            case_record_first_response(case=complaint, at=opened + timedelta(hours=hours))
        nps = nps_survey.questions.get(kind="nps")
        response_submit(
            survey=nps_survey, raw_answers={str(nps.pk): 9}, agent=staff, customer=customers[0]
        )
        _process()
    with time_machine.travel(AS_OF, tick=False):
        metrics_rebuild(as_of=AS_OF)
    combo = {"segment": "normal", "agent": str(staff.pk)}
    barrier = threading.Barrier(READERS)
    results: list[tuple[object, ...]] = []
    errors: list[BaseException] = []

    def read() -> None:
        try:
            barrier.wait()
            figures = selectors.metric_figures("2025Q2", combo)
            results.append(
                tuple(
                    (figures[name].value, figures[name].n)
                    for name in ("coverage", "first_response_time")
                )
            )
        except BaseException as error:  # reported below, with the thread's result
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=read) for _reader in range(READERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    # One of three customers with an interaction responded; first responses after 2, 4 and
    # 9 hours: median 4.
    assert results == [((100 / 3, 3), (4.0, 3))] * READERS
    assert sorted(CombinationRollup.objects.values_list("period", "family", "filters")) == [
        ("2025Q2", "cases", f"agent={staff.pk}&segment=normal"),
        ("2025Q2", "reach", f"agent={staff.pk}&segment=normal"),
    ]
