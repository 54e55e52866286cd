"""Writes for metrics: keep the rollups in step with source rows, rebuild them, weights."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import connection, transaction
from django.db.models import DateTimeField, ExpressionWrapper, Max, Min, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from csat.errors import ApplicationError
from feedback.models import Case
from metrics import answers, families, formulas
from metrics.models import (
    DirtyPeriod,
    FrozenQuarter,
    PeriodRollup,
    PeriodWeights,
    RecomputeJob,
    Weight,
    WeightChange,
    WeightProfile,
)
from metrics.periods import Quarter, period_last_day, period_parse
from surveys.models import Dimension, Interaction, Invitation, Purchase, Response

Family = PeriodRollup.Family

# ---------------------------------------------------------------- incremental path


def metrics_mark_dirty(quarters: Iterable[str], family_names: Iterable[str]) -> None:
    """Ask for a recompute of these families for these quarters, batched a few seconds."""
    due = timezone.now() + timedelta(seconds=settings.METRICS_DIRTY_DELAY_SECONDS)
    # One statement; an existing unclaimed row keeps its earlier due time (ignore_conflicts),
    # so a busy quarter is not postponed indefinitely. A claimed row does not conflict: the
    # new one asks for a recompute after the one running.
    DirtyPeriod.objects.bulk_create(
        [
            DirtyPeriod(period=quarter, family=family, due_at=due)
            for quarter in sorted({q for q in quarters if q})
            for family in family_names
        ],
        ignore_conflicts=True,
    )


def metrics_apply_response(response_id: int) -> None:
    """A response was submitted or changed: update the answer rollups, and mark the reach
    figures of its quarter dirty (coverage and the response rate count respondents; a reply
    also counts toward its invitation's send quarter, which can be an earlier one). The
    repurchase state of its answers is in the answer rollups already. One round trip on
    PostgreSQL."""
    due = timezone.now() + timedelta(seconds=settings.METRICS_DIRTY_DELAY_SECONDS)
    answers.answers_apply_response(response_id, reach_due=due)


def metrics_apply_case(case_id: int) -> None:
    """A case was opened or changed: its quarter's case metrics change, and so do those of
    the same customer's earlier complaints in the category that it makes repeats."""
    case = Case.objects.filter(pk=case_id).first()
    if case is None:
        return
    quarters = [case.quarter]
    if case.kind == Case.Kind.COMPLAINT and case.customer_id:
        quarters += Case.objects.filter(
            kind=Case.Kind.COMPLAINT,
            customer_id=case.customer_id,
            category_id=case.category_id,
            resolved_at__gte=case.opened_at - families.repeat_window(),
            resolved_at__lt=case.opened_at,
        ).values_list("quarter", flat=True)
    metrics_mark_dirty(quarters, [Family.CASES])


def metrics_apply_interaction(interaction_id: int) -> None:
    quarter = (
        Interaction.objects.filter(pk=interaction_id).values_list("quarter", flat=True).first()
    )
    metrics_mark_dirty([quarter or ""], [Family.REACH])


def metrics_apply_invitation(invitation_id: int) -> None:
    quarter = Invitation.objects.filter(pk=invitation_id).values_list("quarter", flat=True).first()
    metrics_mark_dirty([quarter or ""], [Family.REACH])


def responses_link_purchases(
    *, customer_id: int | None = None, submitted_since: datetime | None = None
) -> int:
    """Recompute Response.next_purchase_at from the purchases (one customer's responses, or
    every response submitted since a moment, or all); returns the rows changed."""
    window = families.repurchase_window()
    first = (
        Purchase.objects.filter(
            customer=OuterRef("customer"),
            purchased_at__gt=OuterRef("submitted_at"),
            purchased_at__lte=ExpressionWrapper(
                OuterRef("submitted_at") + window, output_field=DateTimeField()
            ),
        )
        .order_by("purchased_at")
        .values("purchased_at")[:1]
    )
    responses = Response.objects.filter(customer__isnull=False, submitted_at__isnull=False)
    if customer_id is not None:
        responses = responses.filter(customer_id=customer_id)
    if submitted_since is not None:
        responses = responses.filter(submitted_at__gte=submitted_since)
    return responses.update(next_purchase_at=Subquery(first))


def metrics_apply_purchase(purchase_id: int) -> None:
    """A purchase can turn answers of the previous window into repurchases."""
    purchase = Purchase.objects.filter(pk=purchase_id).values("purchased_at", "customer_id").first()
    if purchase is None:
        return
    bought = purchase["purchased_at"]
    window = families.repurchase_window()
    # Only the customer's responses of the window before the purchase can change: the
    # purchase becomes their first one unless an earlier one is already recorded.
    changed = Response.objects.filter(
        Q(next_purchase_at__isnull=True) | Q(next_purchase_at__gt=bought),
        customer_id=purchase["customer_id"],
        submitted_at__lt=bought,
        submitted_at__gte=bought - window,
    )
    # An answer whose window is still open as of the repurchase clock is counted as open
    # whatever the customer bought; only those whose window has closed need a refresh.
    clock = answers.repurchase_clock()
    closed = (
        list(
            changed.filter(in_rollup=True, submitted_at__lte=clock - window)
            .values_list("quarter", flat=True)
            .distinct()
        )
        if clock is not None
        else []
    )
    changed.update(next_purchase_at=bought)
    metrics_mark_dirty(closed, [Family.REPURCHASE])


def _frozen_periods() -> set[str]:
    frozen = set(FrozenQuarter.objects.values_list("quarter", flat=True))
    years = {label[:4] for label in frozen}
    frozen |= {year for year in years if all(f"{year}Q{i}" in frozen for i in range(1, 5))}
    return frozen


def metrics_recompute_dirty(now: datetime | None = None) -> int:
    """Claim the dirty periods that are due and recompute them; returns how many ran.

    A claim is a lease (`claimed_at`): the rows are deleted only after their family's
    recompute has committed, so a worker killed in between loses nothing; once the lease has
    run out, the next run claims them again."""
    now = now or timezone.now()
    lease = timedelta(seconds=settings.METRICS_DIRTY_LEASE_SECONDS)
    with transaction.atomic():
        # Rows another claimer holds are skipped; rows claimed by a worker that died come back
        # once their lease ran out.
        rows = list(
            DirtyPeriod.objects.select_for_update(skip_locked=True)
            .filter(due_at__lte=now)
            .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - lease))
            .order_by("due_at")[:50]
        )
        stamp = timezone.now()
        DirtyPeriod.objects.filter(pk__in=[row.pk for row in rows]).update(claimed_at=stamp)
    claimed: dict[str, list[DirtyPeriod]] = {}
    for row in rows:
        claimed.setdefault(row.family, []).append(row)
    # One recompute per family for the quarters claimed (and their years), all as of one
    # moment: the other quarters of those years keep their rows and the combination figures
    # stored for them; they had no event since their own recompute (an event marks its
    # quarter), and what time alone changes in them the hourly refresh marks.
    skip = _frozen_periods() if claimed else set()
    for family, marks in claimed.items():
        families.family_store(
            family, sorted({row.period for row in marks}), timezone.now(), skip=skip
        )
        # Done: release the claim, unless it ran out and another worker holds it now.
        DirtyPeriod.objects.filter(pk__in=[row.pk for row in marks], claimed_at=stamp).delete()
    return len(rows)


def metrics_refresh_open_periods(now: datetime | None = None) -> None:
    """As time passes, deadlines expire and windows close: close the repurchase windows that
    closed since the last time, and mark every quarter whose cases or reach can still change
    (not frozen, within a repurchase window of now) dirty."""
    now = now or timezone.now()
    answers.answers_close_windows(now)
    quarter = Quarter.containing(now - families.repurchase_window() - timedelta(days=92))
    frozen = _frozen_periods()
    labels = []
    while quarter.start <= now:
        if quarter.label not in frozen:
            labels.append(quarter.label)
        quarter = quarter.next()
    metrics_mark_dirty(labels, [Family.CASES, Family.REACH])


# ---------------------------------------------------------------- full recompute


def _event_quarters() -> list[str]:
    """Every quarter from the first recorded event to the current one."""
    firsts = [
        Response.objects.exclude(quarter="").aggregate(first=Min("quarter"), last=Max("quarter")),
        Case.objects.exclude(quarter="").aggregate(first=Min("quarter"), last=Max("quarter")),
        Interaction.objects.exclude(quarter="").aggregate(
            first=Min("quarter"), last=Max("quarter")
        ),
        Invitation.objects.exclude(quarter="").aggregate(first=Min("quarter"), last=Max("quarter")),
    ]
    labels = [row[key] for row in firsts for key in ("first", "last") if row[key]]
    if not labels:
        return []
    quarter, last = (
        Quarter.parse(min(labels)),
        max(Quarter.parse(max(labels)), Quarter.current(), key=lambda q: (q.year, q.quarter)),
    )
    result = []
    while (quarter.year, quarter.quarter) <= (last.year, last.quarter):
        result.append(quarter.label)
        quarter = quarter.next()
    return result


def metrics_request_recompute(
    *,
    reason: str,
    quarters: Sequence[str] = (),
    include_frozen: bool = False,
    user: User | None = None,
) -> RecomputeJob:
    """Record a full recompute job; the worker picks it up after commit."""
    from metrics import tasks

    job = RecomputeJob.objects.create(
        reason=reason, quarters=list(quarters), include_frozen=include_frozen, requested_by=user
    )
    transaction.on_commit(lambda: tasks.metrics_run_recompute.delay(job.pk))
    return job


NIGHTLY_REASON = "nightly"


def metrics_run_recompute(job_id: int) -> bool:
    """Run a recompute job; progress is kept on the job. A finished job is not run again,
    but a running one is: it is redelivered only when its worker died (acks late), and the
    rebuild is idempotent."""
    claimed = RecomputeJob.objects.filter(
        pk=job_id, status__in=[RecomputeJob.Status.QUEUED, RecomputeJob.Status.RUNNING]
    ).update(status=RecomputeJob.Status.RUNNING, started_at=timezone.now())
    if not claimed:
        return False
    job = RecomputeJob.objects.get(pk=job_id)
    try:
        metrics_rebuild(job.quarters or None, include_frozen=job.include_frozen, job=job)
    except Exception as error:
        RecomputeJob.objects.filter(pk=job_id).update(
            status=RecomputeJob.Status.FAILED, error=repr(error)[:2000], finished_at=timezone.now()
        )
        raise
    RecomputeJob.objects.filter(pk=job_id).update(
        status=RecomputeJob.Status.DONE, finished_at=timezone.now()
    )
    if job.reason == NIGHTLY_REASON:
        # After the night's full recompute, not before it: a quarter that settles tonight is
        # frozen with tonight's numbers (a frozen quarter is skipped by the recompute).
        metrics_freeze_closed()
    return True


def metrics_rebuild(
    quarters: Sequence[str] | None = None,
    *,
    include_frozen: bool = False,
    job: RecomputeJob | None = None,
    as_of: datetime | None = None,
) -> None:
    """Recompute every rollup of the given quarters (None: all) from the source rows."""
    as_of = as_of or timezone.now()
    scope = list(quarters) if quarters is not None else _event_quarters()
    # The answer rebuild also sets the repurchase state of every answer as of `as_of`.
    stored = [Family.CASES, Family.REACH]
    if job is not None:
        RecomputeJob.objects.filter(pk=job.pk).update(steps_total=1 + len(stored))
    answers.answers_rebuild(quarters, include_frozen=include_frozen, as_of=as_of)
    if job is not None:
        RecomputeJob.objects.filter(pk=job.pk).update(steps_done=1)
    skip = set() if include_frozen else _frozen_periods()
    # Whole years: the quarters of them with no event get their (empty) rows too.
    years = families.full_years(scope)
    if scope and connection.vendor == "postgresql" and not connection.in_atomic_block:
        # The families are independent of each other: each is stored by a connection of its
        # own, side by side (most of their time is a single-process query).
        with ThreadPoolExecutor(max_workers=len(stored)) as pool:
            running = [
                pool.submit(
                    answers.on_own_connection, families.family_store, family, years, as_of, skip
                )
                for family in stored
            ]
            for step, finished in enumerate(as_completed(running), start=2):
                finished.result()
                if job is not None:
                    RecomputeJob.objects.filter(pk=job.pk).update(steps_done=step)
    else:
        for step, family in enumerate(stored, start=2):
            if scope:
                families.family_store(family, years, as_of, skip=skip)
            if job is not None:
                RecomputeJob.objects.filter(pk=job.pk).update(steps_done=step)
    weights_store_for_periods(scope, skip=skip)
    DirtyPeriod.objects.filter(period__in=scope, due_at__lte=as_of).delete()


def weights_store_for_periods(quarters: Sequence[str], skip: Iterable[str] = ()) -> None:
    """Record, for each quarter and its year, the weights in force on the period's last day."""
    skipped = set(skip)
    periods = sorted({*quarters, *(label[:4] for label in quarters)} - skipped)
    for label in periods:
        profile = weights_profile_in_force(period_last_day(period_parse(label)))
        PeriodWeights.objects.update_or_create(
            period=label,
            defaults={"profile": profile, "weights": weights_as_dict(profile)},
        )


def metrics_freeze_closed(now: datetime | None = None) -> list[str]:
    """Freeze quarters that closed long enough ago that no window can change them."""
    now = now or timezone.now()
    settle = families.repurchase_window() + timedelta(days=1)
    frozen = set(FrozenQuarter.objects.values_list("quarter", flat=True))
    labels = [
        label
        for label in _event_quarters()
        if label not in frozen and Quarter.parse(label).end + settle <= now
    ]
    FrozenQuarter.objects.bulk_create(
        [FrozenQuarter(quarter=label) for label in labels], ignore_conflicts=True
    )
    return labels


def _link_recent_purchases(now: datetime) -> None:
    """Re-derive the purchase links of the responses whose repurchase window is still open."""
    responses_link_purchases(submitted_since=now - families.repurchase_window() - timedelta(days=1))


def metrics_nightly(now: datetime | None = None) -> None:
    """Nightly, in one call: re-derive recent purchase links, rebuild every open quarter from
    source, then freeze the settled ones."""
    now = now or timezone.now()
    _link_recent_purchases(now)
    metrics_rebuild(as_of=now)
    metrics_freeze_closed(now)


def metrics_nightly_request() -> RecomputeJob:
    """Nightly, as beat runs it: re-derive recent purchase links, then a full recompute job,
    which freezes the settled quarters when it is done (metrics_run_recompute)."""
    _link_recent_purchases(timezone.now())
    return metrics_request_recompute(reason=NIGHTLY_REASON)


# ---------------------------------------------------------------- weights


def _parse_weights(raw: Mapping[str, object]) -> dict[str, Decimal]:
    parsed: dict[str, Decimal] = {}
    errors: dict[str, list[str]] = {}
    for code, value in raw.items():
        try:
            parsed[code] = Decimal(str(value).strip())
        except InvalidOperation:
            errors[code] = [_("Give a number such as 25 or 33.33.")]
        else:
            if not parsed[code].is_finite():
                errors[code] = [_("Give a number such as 25 or 33.33.")]
    if errors:
        raise ApplicationError(_("Some weights are not numbers."), errors)
    return parsed


def weights_profile_in_force(day: date) -> WeightProfile | None:
    """The profile version in force on a day: the latest effective on or before it."""
    return WeightProfile.objects.filter(effective_from__lte=day).order_by("-effective_from").first()


def weights_as_dict(profile: WeightProfile | None) -> dict[str, str]:
    if profile is None:
        return {}
    return {
        weight.dimension.code: f"{weight.percent:.2f}"
        for weight in profile.weights.select_related("dimension").order_by("dimension__code")
    }


@transaction.atomic
def weights_set(
    *, effective_from: date, weights: Mapping[str, object], user: User | None
) -> WeightProfile:
    """Save the weight version effective from a date; record the change; recompute."""
    parsed = _parse_weights(weights)
    known = {dimension.code: dimension for dimension in Dimension.objects.filter(code__in=parsed)}
    unknown = sorted(set(parsed) - set(known))
    if unknown:
        raise ApplicationError(
            _("Unknown dimensions: %(codes)s.") % {"codes": ", ".join(unknown)},
            {code: [_("No dimension has this code.")] for code in unknown},
        )
    problem = formulas.weights_total_error(parsed)
    if problem:
        raise ApplicationError(problem, {"weights": [problem]})
    # Before: the weights in force from that date until now (a version starting on it, or
    # else the latest earlier one).
    before = weights_as_dict(weights_profile_in_force(effective_from))
    profile, _created = WeightProfile.objects.get_or_create(
        effective_from=effective_from, defaults={"created_by": user}
    )
    profile.weights.all().delete()
    Weight.objects.bulk_create(
        Weight(profile=profile, dimension=known[code], percent=percent)
        for code, percent in parsed.items()
    )
    after = weights_as_dict(profile)
    WeightChange.objects.create(
        effective_from=effective_from, changed_by=user, before=before, after=after
    )
    # A quarter uses the version in force on its last day: the change affects the quarters
    # ending on or after it and before the next version. Frozen quarters keep their weights.
    later = WeightProfile.objects.filter(effective_from__gt=effective_from).order_by(
        "effective_from"
    )
    end = later.first()
    affected = [
        label
        for label in _event_quarters()
        if effective_from <= period_last_day(Quarter.parse(label))
        and (end is None or period_last_day(Quarter.parse(label)) < end.effective_from)
    ]
    if affected:
        # An empty list would mean every quarter to the job: a version for quarters without
        # data yet (a future date) has nothing to recompute.
        metrics_request_recompute(reason=_("Weights changed"), quarters=affected, user=user)
    return profile
