"""The engine's figures equal an independent calculation from metrics.md (tests/metrics/oracle.py).

The deterministic dataset of tests/metrics/dataset.py (about 250 responses over 2024Q3 to
2025Q3, their cases, interactions, invitations and purchases) is built through the real
services and outbox. It takes seconds, so the module builds it once, inside a transaction
that the module rolls back at the end; every test starts from the same freshly built rows
and its own changes are rolled back after it (the `db` fixture's savepoint).

Figures are compared for every quarter and year of 2024-2025 and every slice member, as of
2025-08-20 12:00 Shanghai time: exactly for counts, flags and None, with pytest.approx for
floats (1e-5 absolute: the engine sums squares of normalised scores, which leaves about 1e-6
of float noise in a standard deviation that is 0).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import combinations
from typing import Any

import pytest
import time_machine
from django.db import transaction
from django.db.models import Model

from csat.models import OutboxEvent
from csat.outbox import outbox_process
from feedback.models import Case, ComplaintCategory
from feedback.services import case_log_complaint, case_record_first_response
from metrics import rollups, selectors
from metrics.models import (
    AnswerCell,
    AnswerSlice,
    CaseCell,
    CombinationRollup,
    DirtyPeriod,
    PeriodRollup,
    ReachCell,
    RespondentQuarter,
)
from metrics.periods import period_parse
from metrics.services import (
    metrics_apply_interaction,
    metrics_rebuild,
    metrics_recompute_dirty,
)
from surveys.models import Customer, Interaction, Question, Response, Survey
from surveys.services import response_submit
from tests.metrics import dataset
from tests.metrics.dataset import AS_OF, PERIODS, Dataset, local
from tests.metrics.oracle import Expected, Oracle

FIELDS = (
    "value",
    "n",
    "low",
    "high",
    "margin",
    "is_provisional",
    "is_low_sample",
    "change",
    "change_z",
    "change_p",
    "change_significant",
)


@pytest.fixture(scope="module")
def built(django_db_setup: None, django_db_blocker: Any) -> Iterator[Dataset]:
    """The dataset, built once for the module inside a transaction rolled back at its end."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            data = dataset.dataset_build()
        except BaseException:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            raise
    yield data
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        atomic.__exit__(None, None, None)


@pytest.fixture
def data(built: Dataset, db: None) -> Dataset:
    """The dataset; whatever the test changes is rolled back to the savepoint after it."""
    return built


# ---------------------------------------------------------------- comparing


def _same(actual: object, expected: object) -> bool:
    """Exact for None, flags, counts and labels; pytest.approx for floats."""
    if actual is None or expected is None:
        return actual is expected
    if isinstance(expected, bool | int | str):
        return type(actual) is type(expected) and actual == expected
    return actual == pytest.approx(expected, rel=1e-9, abs=1e-5)


def _compare_figure(where: str, actual: Any, expected: Expected) -> list[str]:
    problems = [
        f"{where}.{name}: engine {getattr(actual, name)!r}, oracle {getattr(expected, name)!r}"
        for name in FIELDS
        if not _same(getattr(actual, name), getattr(expected, name))
    ]
    for name, count in expected.details.items():
        if actual.details.get(name) != count:
            problems.append(f"{where}.{name}: engine {actual.details.get(name)}, oracle {count}")
    if actual.value is None and actual.is_low_sample:
        problems.append(f"{where}: no data, yet flagged low sample (n={actual.n})")
    return problems


def _filters(kind: str, value: str) -> dict[str, str]:
    return {} if kind == "all" else {kind: value}


def _differences(
    oracle: Oracle, periods: list[str], combinations: list[dict[str, str]] | None = None
) -> list[str]:
    """Every difference between the engine and the oracle, one line each."""
    if combinations is None:
        combinations = [_filters(kind, value) for kind, value in oracle.slices()]
    problems: list[str] = []
    for period in periods:
        for filters in combinations:
            where = f"{period} {' '.join(f'{k}={v}' for k, v in filters.items()) or '*'}"
            expected = oracle.figures(period, filters)
            actual = selectors.metric_figures(period, filters)
            if set(actual) != set(expected):
                problems.append(f"{where}: metrics {sorted(actual)}, oracle {sorted(expected)}")
            for metric in sorted(set(actual) & set(expected)):
                problems += _compare_figure(f"{where} {metric}", actual[metric], expected[metric])
            problems += _dimension_differences(where, oracle, period, filters)
            problems += _repurchase_differences(where, oracle, period, filters)
            scores = selectors.score_distribution(period, filters)
            if scores != oracle.score_distribution(period, filters):
                problems.append(f"{where} scores: engine {scores}, oracle "
                                f"{oracle.score_distribution(period, filters)}")  # fmt: skip
            categories = selectors.complaint_categories(period, filters)
            if categories != oracle.complaint_categories(period, filters):
                problems.append(f"{where} categories: engine {categories}, oracle "
                                f"{oracle.complaint_categories(period, filters)}")  # fmt: skip
    return problems


def _dimension_differences(
    where: str, oracle: Oracle, period: str, filters: dict[str, str]
) -> list[str]:
    expected = oracle.dimension_figures(period, filters)
    # A dimension whose answers were all taken away again (spam) keeps an empty slice row on
    # the incremental path and shows as null: no data either way.
    actual = {
        code: figure
        for code, figure in selectors.dimension_figures(period, filters).items()
        if figure.n
    }
    if set(actual) != set(expected):
        return [f"{where}: dimensions {sorted(actual)}, oracle {sorted(expected)}"]
    return [
        f"{where} dimension {code}.{name}: engine {getattr(actual[code], name)!r}, "
        f"oracle {getattr(expected[code], name)!r}"
        for code in sorted(expected)
        for name in ("value", "n", "low", "high", "margin")
        if not _same(getattr(actual[code], name), getattr(expected[code], name))
    ]


def _repurchase_differences(
    where: str, oracle: Oracle, period: str, filters: dict[str, str]
) -> list[str]:
    expected = oracle.repurchase_table(period, filters)
    actual = selectors.repurchase_table(period, filters)
    if set(actual) != set(expected):
        return [f"{where}: repurchase tables {sorted(actual)}, oracle {sorted(expected)}"]
    return [
        f"{where} repurchase {table}: engine {engine_row}, oracle {oracle_row}"
        for table in sorted(expected)
        for engine_row, oracle_row in zip(actual[table], expected[table], strict=True)
        if any(not _same(engine_row[name], oracle_row[name]) for name in oracle_row)
    ]


def _without_composite_n(problems: list[str]) -> list[str]:
    return [
        problem
        for problem in problems
        if not any(
            mark in problem
            for mark in (" composite.n:", " composite.is_low_sample:", " composite: no data")
        )
    ]


def _report(problems: list[str]) -> str:
    return f"{len(problems)} differences:\n" + "\n".join(problems[:80])


def _rollups() -> dict[str, set[tuple[Any, ...]]]:
    """Every rollup row, without the empty cells an add-then-subtract leaves behind."""

    def rows(model: type[Model], exclude: tuple[str, ...] = ("id",)) -> set[tuple[Any, ...]]:
        names = [f.attname for f in model._meta.concrete_fields if f.attname not in exclude]
        counts = [
            f.attname
            for f in model._meta.concrete_fields
            if f.get_internal_type() == "BigIntegerField"
        ]
        return {
            row
            for row in model.objects.values_list(*names)
            if any(row[names.index(name)] for name in counts)
        }

    return {
        "cells": rows(AnswerCell),
        "slices": rows(AnswerSlice),
        "respondents": rows(RespondentQuarter),
        "case cells": rows(CaseCell, ("id", "as_of")),
        "reach cells": rows(ReachCell, ("id", "as_of")),
        "periods": {
            (period, family, kind, value, repr(sorted(components.items())))
            for period, family, kind, value, components in PeriodRollup.objects.values_list(
                "period", "family", "slice_kind", "slice_value", "components"
            )
        },
    }


ROLLUP_MODELS = (AnswerCell, AnswerSlice, RespondentQuarter, CaseCell,
                 ReachCell, PeriodRollup)  # fmt: skip
COMBINATION_PERIODS = ["2025Q1", "2025"]
RESPONSE_KINDS = ("survey", "channel", "touchpoint", "segment", "team", "agent")


def _most_common(rows: list[tuple[Any, ...]], kinds: tuple[str, ...], size: int) -> list[dict]:
    """For every `size` kinds, the value tuple most often seen together (all present)."""
    found = []
    for chosen in combinations(range(len(kinds)), size):
        counter = Counter(
            tuple(str(row[i]) for i in chosen)
            for row in rows
            if all(row[i] not in (None, "") for i in chosen)
        )
        if counter:
            values = counter.most_common(1)[0][0]
            found.append({kinds[i]: value for i, value in zip(chosen, values, strict=True)})
    return found


def filter_combinations() -> list[dict[str, str]]:
    """Pairs of every two kinds as they occur on responses, cases and interactions, some
    triples, all six at once, and a combination that matches nothing."""
    responses = list(
        Response.objects.filter(status="complete").values_list(
            "survey_id", "channel", "touchpoint_id", "segment", "team_id", "agent_id"
        )
    )
    cases = list(Case.objects.values_list("channel", "touchpoint_id", "segment", "team_id",
                                          "agent_id"))  # fmt: skip
    interactions = list(Interaction.objects.values_list("touchpoint_id", "segment", "team_id",
                                                        "agent_id"))  # fmt: skip
    found = _most_common(responses, RESPONSE_KINDS, 2)
    found += _most_common(cases, RESPONSE_KINDS[1:], 2)
    found += _most_common(interactions, RESPONSE_KINDS[2:], 2)
    found += _most_common(responses, RESPONSE_KINDS, 3)[:6]
    found += _most_common(cases, RESPONSE_KINDS[1:], 3)[:3]
    found += _most_common(responses, RESPONSE_KINDS, 6)
    survey = responses[0][0]
    seen = {(row[0], row[1]) for row in responses}
    unused = next(c for c in ("import", "api", "embed", "qr") if (survey, c) not in seen)
    found.append({"survey": str(survey), "channel": unused})
    unique = []
    for filters in found:
        if filters not in unique:
            unique.append(filters)
    return unique


# ---------------------------------------------------------------- the engine equals the oracle


def test_incremental_figures_equal_the_oracle_for_every_period_and_slice(data: Dataset) -> None:
    oracle = Oracle(AS_OF)

    problems = _differences(oracle, PERIODS)

    assert not problems, _report(problems)
    follow_ups = set(
        Case.objects.filter(kind=Case.Kind.FOLLOW_UP).values_list("response_id", flat=True)
    )
    assert follow_ups == oracle.follow_up_response_ids()


def test_full_rebuild_from_scratch_equals_the_oracle_and_the_incremental_rollups(
    data: Dataset,
) -> None:
    incremental = _rollups()
    for model in ROLLUP_MODELS:
        model.objects.all().delete()

    with time_machine.travel(AS_OF, tick=False):
        metrics_rebuild(as_of=AS_OF)

    rebuilt = _rollups()
    for name, rows in incremental.items():
        assert rebuilt[name] == rows, name
    oracle = Oracle(AS_OF)
    # The rollups equal the incremental ones, which the first test compares with the oracle
    # slice by slice: here the whole dashboard and the combinations.
    problems = _differences(oracle, PERIODS, [{}])
    problems += _differences(oracle, COMBINATION_PERIODS, filter_combinations())
    assert not problems, _report(problems)


def test_every_combination_of_filters_equals_the_oracle(data: Dataset) -> None:
    combos = filter_combinations()
    assert len(combos) > 30
    assert any(len(filters) == 6 for filters in combos)

    problems = _differences(Oracle(AS_OF), COMBINATION_PERIODS, combos)

    assert not problems, _report(problems)


def test_running_every_outbox_event_a_second_time_changes_nothing(data: Dataset) -> None:
    before = _rollups()
    cases = sorted(Case.objects.values_list("pk", "response_id", "contact_count", "resolved_at"))
    events = list(OutboxEvent.objects.order_by("pk").values_list("pk", flat=True))

    with time_machine.travel(AS_OF, tick=False):
        again = [outbox_process(event_id) for event_id in events]
        # A redelivery after a worker died: the same events, unprocessed again.
        OutboxEvent.objects.update(processed_at=None)
        redelivered = dataset.process_pending()
    dataset.recompute_dirty(AS_OF)

    assert not any(again)
    assert redelivered == len(events)
    assert OutboxEvent.objects.count() == len(events)
    assert (
        sorted(Case.objects.values_list("pk", "response_id", "contact_count", "resolved_at"))
        == cases
    )
    assert _rollups() == before


def test_marking_a_counted_response_spam_removes_it_from_every_figure_and_unmarking_restores_it(
    data: Dataset,
) -> None:
    # A promoter of 2025Q1 answering an invitation of that quarter, served in it, who bought
    # ten days later. Differences the engine already has with the oracle (reported by the
    # first test) are held aside: marking and unmarking must not add or remove any. The
    # composite index's n, which moves with every answer, has a test of its own.
    showcase = Response.objects.get(pk=data.responses["showcase"])
    assert (showcase.quarter, showcase.is_counted, showcase.invitation_id) == (
        "2025Q1",
        True,
        data.invitations["showcase"],
    )
    answered = Counter(kind for (kind,) in showcase.answers.values_list("question__kind"))
    periods = ["2025Q1", "2025"]
    # Every filter the showcase response falls in, alone and all together: the figures it
    # can move.
    own = {
        kind: str(value)
        for kind, value in zip(
            RESPONSE_KINDS,
            Response.objects.filter(pk=showcase.pk).values_list(
                "survey_id", "channel", "touchpoint_id", "segment", "team_id", "agent_id"
            )[0],
            strict=True,
        )
        if value not in (None, "")
    }
    touched = [{}, *({kind: value} for kind, value in own.items()), own]
    known = _without_composite_n(_differences(Oracle(AS_OF), periods, touched))
    before_rollups = _rollups()
    before = selectors.metric_figures("2025Q1")
    bought_before = selectors.repurchase_table("2025Q1", {"survey": str(showcase.survey_id)})

    with time_machine.travel(AS_OF, tick=False):
        dataset.set_flag(data, "showcase", "is_spam", True)
    dataset.recompute_dirty(AS_OF)

    spam = selectors.metric_figures("2025Q1")
    assert (spam["nps"].n, spam["csat"].n, spam["fcr"].n) == (
        before["nps"].n - answered["nps"],
        before["csat"].n - answered["csat"],
        before["fcr"].n - answered["yes_no"],
    )
    for metric in ("response_rate", "coverage"):
        assert spam[metric].details["successes"] == before[metric].details["successes"] - 1
    bought = selectors.repurchase_table("2025Q1", {"survey": str(showcase.survey_id)})
    assert sum(row["repurchased"] for row in bought["nps 0-10"]) == (
        sum(row["repurchased"] for row in bought_before["nps 0-10"]) - 1
    )
    assert _without_composite_n(_differences(Oracle(AS_OF), periods, touched)) == known

    with time_machine.travel(AS_OF, tick=False):
        dataset.set_flag(data, "showcase", "is_spam", False)
    dataset.recompute_dirty(AS_OF)

    assert _rollups() == before_rollups
    assert _without_composite_n(_differences(Oracle(AS_OF), periods, touched)) == known


def test_responses_at_2330_on_march_31_and_0010_on_april_1_shanghai_land_in_q1_and_q2(
    data: Dataset,
) -> None:
    late_march = Response.objects.get(pk=data.responses["boundary_q1"])
    early_april = Response.objects.get(pk=data.responses["boundary_q2"])
    survey = str(data.surveys["boundary"])

    q1 = selectors.metric_figures("2025Q1", {"survey": survey})["nps"]
    q2 = selectors.metric_figures("2025Q2", {"survey": survey})["nps"]

    assert (late_march.submitted_at.isoformat(), late_march.quarter) == (
        "2025-03-31T15:30:00+00:00",
        "2025Q1",
    )
    assert (early_april.submitted_at.isoformat(), early_april.quarter) == (
        "2025-03-31T16:10:00+00:00",
        "2025Q2",
    )
    assert (q1.n, q1.value) == (1, 100.0)
    assert (q2.n, q2.value) == (1, -100.0)
    assert Case.objects.get(response=early_april).quarter == "2025Q2"
    oracle = Oracle(AS_OF)
    assert oracle.figures("2025Q1", {"survey": survey})["nps"].value == 100.0
    assert oracle.figures("2025Q2", {"survey": survey})["nps"].value == -100.0


def test_a_metric_with_no_denominator_is_null_and_not_flagged_low_sample(data: Dataset) -> None:
    delivery = str(data.surveys["delivery"])

    empty_quarter = selectors.metric_figures("2024Q1")
    no_fcr_nor_ces = selectors.metric_figures("2025Q2", {"survey": delivery})

    assert len(empty_quarter) == 17
    for figure in empty_quarter.values():
        assert (figure.value, figure.n, figure.is_low_sample) == (None, 0, False), figure
        assert (figure.low, figure.high, figure.margin, figure.change) == (None,) * 4, figure
    for metric in ("fcr", "ces", "ces_easy"):
        figure = no_fcr_nor_ces[metric]
        assert (figure.value, figure.n, figure.is_low_sample) == (None, 0, False), figure
    assert no_fcr_nor_ces["nps"].n > 0


# ---------------------------------------------------------------- bugs found by the oracle


def test_a_composite_index_without_a_weighted_dimension_is_null_and_not_flagged(
    data: Dataset,
) -> None:
    # The facility survey tags "process" (weight 0 from 2025-05-01) and "ambience" (never
    # listed): in 2025Q2 no dimension with data has weight, so the index is null.
    facility = str(data.surveys["facility"])

    composite = selectors.metric_figures("2025Q2", {"survey": facility})["composite"]
    earlier = selectors.metric_figures("2024Q4", {"survey": facility})["composite"]

    # In 2024Q4 "process" weighs 20 and "ambience" is ignored: only process answers count.
    process_answers = Oracle(AS_OF).figures("2024Q4", {"survey": facility})["composite"].n
    assert (composite.value, composite.is_low_sample, earlier.n) == (None, False, process_answers)


def test_a_complaint_about_an_interaction_keeps_the_team_the_agent_had_at_that_interaction(
    data: Dataset,
) -> None:
    complaint = Case.objects.get(pk=data.cases["after_team_move"])
    interaction = Interaction.objects.get(pk=complaint.interaction_id)

    assert interaction.occurred_at == local(2024, 12, 30, 10)
    assert complaint.agent_id == interaction.agent_id
    assert complaint.team_id == interaction.team_id


def test_marking_a_reply_spam_updates_the_response_rate_of_its_invitations_send_year(
    data: Dataset,
) -> None:
    reply = Response.objects.get(pk=data.responses["cross_year_reply"])
    assert (reply.quarter, reply.invitation.quarter) == ("2025Q1", "2024Q4")

    with time_machine.travel(AS_OF, tick=False):
        dataset.set_flag(data, "cross_year_reply", "is_spam", True)
    dataset.recompute_dirty(AS_OF)

    oracle = Oracle(AS_OF)
    for period in ("2024Q4", "2024"):
        figure = selectors.metric_figures(period)["response_rate"]
        expected = oracle.figures(period)["response_rate"]
        assert (figure.value, figure.n) == (pytest.approx(expected.value), expected.n), period


def test_a_repeat_complaint_logged_late_updates_last_years_non_repeat_rate(
    data: Dataset,
) -> None:
    # Customer c14's "Rude staff" complaint was resolved on 2024-12-20 10:00; the repeat,
    # opened on 2025-01-05, is logged (backdated) at the as-of moment.
    customer = Customer.objects.get(pk=data.customers["c14"])
    category = ComplaintCategory.objects.get(pk=data.categories[1])
    before = selectors.metric_figures("2024Q4")["nonrepeat_resolution"]

    with time_machine.travel(AS_OF, tick=False):
        case_log_complaint(
            category=category,
            channel="phone",
            summary="Rude again.",
            customer=customer,
            opened_at=local(2025, 1, 5, 10),
        )
        dataset.process_pending()
    dataset.recompute_dirty(AS_OF)

    oracle = Oracle(AS_OF)
    for period in ("2024Q4", "2024"):
        figure = selectors.metric_figures(period)["nonrepeat_resolution"]
        expected = oracle.figures(period)["nonrepeat_resolution"]
        assert (figure.value, figure.n) == (pytest.approx(expected.value), expected.n), period
    assert oracle.figures("2024Q4")["nonrepeat_resolution"].value < before.value


def test_a_mean_change_between_two_constant_quarters_has_no_test(data: Dataset) -> None:
    # Two 7s on a 1-7 scale in 2025Q1, two 6s in 2025Q2: both sample deviations are 0, so
    # (m2 - m1) / sqrt(s1^2/n1 + s2^2/n2) has no value and the change is not significant.
    survey = Survey.objects.create(title="Constant")
    question = Question.objects.create(
        survey=survey, position=1, kind="csat", text="Rate us", scale_min=1, scale_max=7
    )
    for moment, score in [
        (local(2025, 2, 3, 10), 7),
        (local(2025, 2, 4, 10), 7),
        (local(2025, 5, 3, 10), 6),
        (local(2025, 5, 4, 10), 6),
    ]:
        with time_machine.travel(moment, tick=False):
            response_submit(survey=survey, raw_answers={str(question.pk): score})
            dataset.process_pending()

    figure = selectors.metric_figures("2025Q2", {"survey": str(survey.pk)})["satisfaction"]
    expected = Oracle(AS_OF).figures("2025Q2", {"survey": str(survey.pk)})["satisfaction"]

    assert (expected.value, expected.margin, expected.change_z) == (
        pytest.approx(100 * 5 / 6),
        0.0,
        None,
    )
    assert figure.value == pytest.approx(expected.value)
    assert (figure.change_z, figure.change_significant) == (None, False)


@pytest.mark.parametrize("earlier", ["partial", "test"])
def test_a_partial_or_test_response_never_blocks_a_later_complete_one_with_its_key(
    data: Dataset, earlier: str
) -> None:
    survey = Survey.objects.get(pk=data.surveys["boundary"])
    nps = survey.questions.get()
    moment = datetime(2025, 8, 19, 10, tzinfo=dataset.SHANGHAI)
    with time_machine.travel(moment, tick=False):
        if earlier == "partial":
            Response.objects.create(
                survey=survey, channel="web", status="partial", submission_key="form-1"
            )
        else:
            first, _created = response_submit(
                survey=survey, raw_answers={str(nps.pk): 3}, submission_key="form-1"
            )
            Response.objects.filter(pk=first.pk).update(is_test=True)

        response, created = response_submit(
            survey=survey, raw_answers={str(nps.pk): 9}, submission_key="form-1"
        )

    assert (created, response.status, response.is_test) == (True, "complete", False)


# ---------------------------------------------------------------- stored combinations


def _figures_exactly(period: str, filters: dict[str, str]) -> dict[str, tuple[Any, ...]]:
    return {
        name: (*(getattr(figure, field) for field in FIELDS), figure.details)
        for name, figure in selectors.metric_figures(period, filters).items()
    }


def _categories_exactly(period: str, filters: dict[str, str]) -> list[tuple[Any, ...]]:
    return [
        (row["category_id"], row["complaints"], row["customers"])
        for row in selectors.complaint_categories(period, filters)
    ]


def _parsed(key: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in key.split("&")) if key else {}


def _stored_equal_computed() -> list[str]:
    """Every stored combination row against computing it now as of the same moment."""
    problems = []
    for row in CombinationRollup.objects.all():
        computed = rollups.combination_compute(
            row.family, row.period, [period_parse(row.period)], _parsed(row.filters), row.as_of
        )
        if row.components != computed:
            problems.append(f"{row}: stored {row.components}, computed {computed}")
    return problems


def test_a_combinations_coverage_and_median_are_stored_once_and_read_back_unchanged(
    data: Dataset,
) -> None:
    combos = [filters for filters in filter_combinations() if len(filters) >= 2]
    assert CombinationRollup.objects.count() == 0
    first = {
        (p, str(f)): (_figures_exactly(p, f), _categories_exactly(p, f))
        for p in COMBINATION_PERIODS
        for f in combos
    }
    stored = CombinationRollup.objects.count()

    # Read again: every coverage, median and complaint category now comes from the stored
    # rows, with the same numbers to the last bit, and equal to the oracle; reading adds no
    # row.
    again = {
        (p, str(f)): (_figures_exactly(p, f), _categories_exactly(p, f))
        for p in COMBINATION_PERIODS
        for f in combos
    }
    problems = _differences(Oracle(AS_OF), COMBINATION_PERIODS, combos)

    assert again == first
    assert not problems, _report(problems)
    assert CombinationRollup.objects.count() == stored
    # Coverage and the median for the periods read and the quarters before them (the
    # change); complaint categories for the periods read.
    assert {(row.family, row.period) for row in CombinationRollup.objects.all()} == {
        *(
            (family, period)
            for family in ("cases", "reach")
            for period in ("2025Q1", "2024Q4", "2025", "2024")
        ),
        ("categories", "2025Q1"),
        ("categories", "2025"),
    }
    # The key holds only the filters a family depends on: no survey, and no channel for
    # coverage (interactions have neither).
    keys = set(CombinationRollup.objects.values_list("family", "filters"))
    assert not any("survey=" in key for _family, key in keys)
    assert not any("channel=" in key for family, key in keys if family == "reach")
    assert not _stored_equal_computed()


def test_new_interactions_and_cases_of_a_period_replace_its_stored_combination_figures(
    data: Dataset,
) -> None:
    # An agent and segment with interactions and responded cases in 2025Q1.
    responded = Case.objects.filter(quarter="2025Q1", first_response_at__isnull=False)
    served = Interaction.objects.filter(
        quarter="2025Q1", agent__isnull=False, touchpoint__isnull=False
    ).exclude(segment="")
    sample = next(
        interaction
        for interaction in served.order_by("pk")
        if responded.filter(agent=interaction.agent_id, segment=interaction.segment).exists()
    )
    combo = {"segment": sample.segment, "agent": str(sample.agent_id)}
    before = selectors.metric_figures("2025Q1", combo)
    year_before = selectors.metric_figures("2025", combo)
    assert CombinationRollup.objects.filter(period__in=["2025Q1", "2025"]).count() == 4
    # A customer of the segment with no interaction with this agent in 2025 yet.
    seen = served.filter(agent_id=sample.agent_id).values("customer_id")
    newcomer = (
        Customer.objects.filter(segment=sample.segment).exclude(pk__in=seen).order_by("pk").first()
    )
    assert newcomer is not None
    opened = local(2025, 2, 10, 9)

    with time_machine.travel(AS_OF, tick=False):
        interaction = Interaction.objects.create(
            customer=newcomer,
            touchpoint=sample.touchpoint,
            agent=sample.agent,
            team=sample.team,
            segment=newcomer.segment,
            occurred_at=opened,
            quarter="2025Q1",
        )
        metrics_apply_interaction(interaction.pk)
        complaint = case_log_complaint(
            category=ComplaintCategory.objects.get(pk=data.categories[0]),
            channel="phone",
            summary="Nobody called back.",
            interaction=interaction,
            opened_at=opened,
        )
        case_record_first_response(case=complaint, at=opened + timedelta(hours=1000))
        dataset.process_pending()
    dataset.recompute_dirty(AS_OF)

    # The recompute of 2025Q1's families deleted what was stored for 2025Q1 and 2025.
    assert not CombinationRollup.objects.filter(period__in=["2025Q1", "2025"]).exists()
    assert set(CombinationRollup.objects.values_list("period", flat=True)) == {"2024Q4", "2024"}
    after = selectors.metric_figures("2025Q1", combo)
    year_after = selectors.metric_figures("2025", combo)
    assert (after["coverage"].n, year_after["coverage"].n) == (
        before["coverage"].n + 1,
        year_before["coverage"].n + 1,
    )
    assert after["first_response_time"].n == before["first_response_time"].n + 1
    assert after["first_response_time"].value != before["first_response_time"].value
    problems = _differences(Oracle(AS_OF), COMBINATION_PERIODS, [combo])
    assert not problems, _report(problems)
    # Coverage, median and (read by the comparison) complaint categories, for both periods.
    assert CombinationRollup.objects.filter(period__in=["2025Q1", "2025"]).count() == 6
    assert not _stored_equal_computed()


def test_a_stored_combination_figure_of_an_earlier_moment_is_never_served(data: Dataset) -> None:
    # What a read racing a recompute can leave: a row computed from the cells the recompute
    # replaced. It is keyed by their moment, so it is not read as the current figure.
    case = Case.objects.filter(quarter="2025Q1", agent__isnull=False).exclude(segment="").first()
    assert case is not None
    combo = {"segment": case.segment, "agent": str(case.agent_id)}
    expected = _figures_exactly("2025Q1", combo)
    CombinationRollup.objects.all().delete()
    for family in ("cases", "reach"):
        CombinationRollup.objects.create(
            period="2025Q1",
            family=family,
            filters=rollups.combination_key(family, combo),
            as_of=AS_OF - timedelta(hours=1),
            components={
                "customers": 999,
                "customers_covered": 1,
                "first_response_hours_median": 0.5,
                "first_response_count": 999,
            },
        )

    assert _figures_exactly("2025Q1", combo) == expected
    assert CombinationRollup.objects.filter(period="2025Q1").count() == 4


def test_an_event_recomputes_its_quarter_and_year_and_the_other_quarters_keep_their_figures(
    data: Dataset,
) -> None:
    # An agent and segment with cases in 2025Q1 and 2025Q2, read for both quarters and the
    # year: coverage and the median are stored for each.
    cases = Case.objects.filter(agent__isnull=False).exclude(segment="")
    sample = next(
        case
        for case in cases.filter(quarter="2025Q1").order_by("pk")
        if cases.filter(quarter="2025Q2", agent=case.agent_id, segment=case.segment).exists()
    )
    combo = {"segment": sample.segment, "agent": str(sample.agent_id)}
    periods = ["2025Q1", "2025Q2", "2025"]
    before = {period: selectors.metric_figures(period, combo) for period in periods}
    categories = {period: _categories_exactly(period, combo) for period in periods}
    q1_rows = CombinationRollup.objects.filter(period="2025Q1").order_by("family")
    kept = list(q1_rows.values_list("pk", "family", "components"))
    assert [family for _pk, family, _components in kept] == ["cases", "categories", "reach"]
    # A new customer of the segment: the complaint makes no earlier one a repeat, so only
    # its own quarter is marked.
    newcomer = Customer.objects.create(external_id="newcomer-q2", segment=sample.segment)
    opened = local(2025, 5, 12, 9)

    with time_machine.travel(AS_OF, tick=False):
        complaint = case_log_complaint(
            category=ComplaintCategory.objects.get(pk=data.categories[0]),
            channel="phone",
            summary="Still waiting.",
            customer=newcomer,
            agent=sample.agent,
            opened_at=opened,
        )
        case_record_first_response(case=complaint, at=opened + timedelta(hours=30))
        dataset.process_pending()
        assert set(DirtyPeriod.objects.values_list("period", "family")) == {("2025Q2", "cases")}
        ran = metrics_recompute_dirty(now=AS_OF + timedelta(minutes=1))

    assert ran == 1
    # 2025Q1 had no event: its stored coverage and median are still served (a first read
    # of the combination in 2025Q1 is not paid again); 2025Q2's and the year's case figures
    # were computed again.
    assert list(q1_rows.values_list("pk", "family", "components")) == kept
    assert not CombinationRollup.objects.filter(
        period__in=["2025Q2", "2025"], family__in=["cases", "categories"]
    ).exists()
    after = {period: selectors.metric_figures(period, combo) for period in periods}
    for period in ("2025Q2", "2025"):
        assert after[period]["first_response_time"].n == (
            before[period]["first_response_time"].n + 1
        )
    assert after["2025Q1"] == before["2025Q1"]
    assert _categories_exactly("2025Q1", combo) == categories["2025Q1"]
    for period in ("2025Q2", "2025"):
        # The new complaint is one more in its category.
        expected = {pk: complaints for pk, complaints, _customers in categories[period]}
        expected[data.categories[0]] = expected.get(data.categories[0], 0) + 1
        counts = _categories_exactly(period, combo)
        assert {pk: complaints for pk, complaints, _customers in counts} == expected
    problems = _differences(Oracle(AS_OF), periods, [{}, combo])
    assert not problems, _report(problems)
    assert not _stored_equal_computed()
    # The incremental path equals a full recompute as of the same moment.
    incremental = _rollups()
    with time_machine.travel(AS_OF, tick=False):
        metrics_rebuild(as_of=AS_OF)
    assert _rollups() == incremental
