"""Rollups: additive counts and sums the workers keep, so a read never scans responses.

Everything here is derived data: `metrics_rebuild` rebuilds it from the source rows and gets
the same numbers as the incremental path.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class SliceKind(models.TextChoices):
    ALL = "all", _("All")
    SURVEY = "survey", _("Survey")
    CHANNEL = "channel", _("Channel")
    TOUCHPOINT = "touchpoint", _("Touchpoint")
    SEGMENT = "segment", _("Segment")
    TEAM = "team", _("Team")
    AGENT = "agent", _("Agent")


class CellAttributes(models.Model):
    """The attributes every finest cell is keyed by (metrics.md, "Slices").

    Ids are plain integers with 0 for "none" and codes are "" for none, so that a unique key
    holds without NULLs and an upsert can add to a cell. Any combination of filters is a sum
    of cells: reading never goes back to the responses.
    """

    quarter = models.CharField(max_length=6)
    survey_id = models.IntegerField(default=0)
    channel = models.CharField(max_length=8, default="")
    touchpoint_id = models.IntegerField(default=0)
    segment = models.CharField(max_length=16, default="")
    team_id = models.IntegerField(default=0)
    agent_id = models.IntegerField(default=0)

    class Meta:
        abstract = True


CELL_FIELDS = ("quarter", "survey_id", "channel", "touchpoint_id", "segment", "team_id", "agent_id")


class AnswerComponents(models.Model):
    """How many counted answers gave one score to one question (or grid row), and, of those
    from identified customers, their repurchase state as of the last refresh: window still
    open, closed, closed with a purchase in it (metrics.md, "Repurchase rate by score").

    Every survey metric, dimension score, score distribution and repurchase table is a
    function of these counts and the question's kind, scale, role and dimension, applied when
    read (metrics/measures.py): a change of those is never baked into the rollups.
    """

    question_id = models.IntegerField()
    grid_row_id = models.IntegerField(default=0)
    score = models.SmallIntegerField()
    answers = models.BigIntegerField(default=0)
    repurchase_open = models.BigIntegerField(default=0)
    repurchase_closed = models.BigIntegerField(default=0)
    repurchase_bought = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class AnswerCell(CellAttributes, AnswerComponents):
    """The finest cell: quarter x survey x channel x touchpoint x segment x team x agent x
    question x grid row x score."""

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[*CELL_FIELDS, "question_id", "grid_row_id", "score"],
                name="answer_cell_key",
            )
        ]
        # A combination of filters reads the cells of its quarters that match: the key serves
        # the survey; these the agent (with the channel and the segment after it, so an
        # agent's cells of one channel and segment are found without reading the others),
        # the team, and the channel with the segment.
        indexes = [
            models.Index(
                fields=["quarter", "agent_id", "channel", "segment"], name="answer_cell_agent_idx"
            ),
            models.Index(fields=["quarter", "team_id"], name="answer_cell_team_idx"),
            models.Index(fields=["quarter", "channel", "segment"], name="answer_cell_channel_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.quarter} question {self.question_id} score {self.score}: {self.answers}"


class AnswerSlice(AnswerComponents):
    """A one-attribute projection of the cells (all, or one survey, channel, ...): the rows a
    dashboard reads."""

    quarter = models.CharField(max_length=6)
    slice_kind = models.CharField(max_length=16, choices=SliceKind.choices)
    slice_value = models.CharField(max_length=32, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "quarter",
                    "slice_kind",
                    "slice_value",
                    "question_id",
                    "grid_row_id",
                    "score",
                ],
                name="answer_slice_key",
            )
        ]
        indexes = [models.Index(fields=["slice_kind", "slice_value", "quarter"], name="slice_idx")]
        permissions = [("view_dashboard", "Can view the manager dashboard")]

    def __str__(self) -> str:
        return f"{self.quarter} {self.slice_kind}={self.slice_value} {self.question_id}"


class PeriodRollup(models.Model):
    """Figures that are not sums of cells or depend on the as-of moment (cases, coverage,
    response rate, repurchase), recomputed per period by the workers."""

    class Family(models.TextChoices):
        CASES = "cases", _("Cases")
        REACH = "reach", _("Response rate and coverage")
        REPURCHASE = "repurchase", _("Repurchase")
        CATEGORIES = "categories", _("Complaint categories")

    period = models.CharField(max_length=6, help_text="2025Q1 or 2025")
    family = models.CharField(max_length=16, choices=Family.choices)
    slice_kind = models.CharField(max_length=16, choices=SliceKind.choices)
    slice_value = models.CharField(max_length=32, default="")
    components = models.JSONField(default=dict)
    as_of = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["period", "family", "slice_kind", "slice_value"], name="period_rollup_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.period} {self.family} {self.slice_kind}={self.slice_value}"


class RespondentQuarter(models.Model):
    """Identified customers with a counted response in a quarter (coverage's numerator),
    kept with the answer rollups: `responses` counts them, so test/spam marking can take one
    away."""

    quarter = models.CharField(max_length=6)
    customer_id = models.IntegerField()
    responses = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["quarter", "customer_id"], name="respondent_key")
        ]
        indexes = [models.Index(fields=["customer_id", "quarter"], name="respondent_customer_idx")]

    def __str__(self) -> str:
        return f"{self.quarter} customer {self.customer_id}: {self.responses}"


class RollupClock(models.Model):
    """The moment a time-dependent rollup is computed as of: `repurchase` is the as-of moment
    of every answer's repurchase state (no row yet: no window has closed). Moved forward by
    the rebuild and by the periodic window closing, under the rollup lock."""

    name = models.CharField(max_length=32, unique=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} as of {self.at:%Y-%m-%d %H:%M}"


class CaseCell(CellAttributes):
    """Additive case components of the cases opened in a quarter, per cell (no survey: 0),
    as of `as_of`; recomputed per quarter because deadlines pass and windows close."""

    cases = models.BigIntegerField(default=0)
    complaints = models.BigIntegerField(default=0)
    complaints_resolved = models.BigIntegerField(default=0)
    complaints_nonrepeat = models.BigIntegerField(default=0)
    complaints_window_open = models.BigIntegerField(default=0)
    resolved = models.BigIntegerField(default=0)
    resolved_one_contact = models.BigIntegerField(default=0)
    fr_met = models.BigIntegerField(default=0)
    fr_decided = models.BigIntegerField(default=0)
    res_met = models.BigIntegerField(default=0)
    res_decided = models.BigIntegerField(default=0)
    linked_to_action = models.BigIntegerField(default=0)
    first_response_count = models.BigIntegerField(default=0)
    as_of = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=list(CELL_FIELDS), name="case_cell_key")]
        # As for the answer cells: an agent's cells of one channel and segment, found without
        # stepping through the touchpoints and teams that come first in the key.
        indexes = [
            models.Index(
                fields=["quarter", "agent_id", "channel", "segment"], name="case_cell_agent_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.quarter} cases: {self.cases}"


class ReachCell(CellAttributes):
    """Invitations delivered and answered (by send quarter) and interactions, per cell;
    interactions have no survey nor channel (0 and "")."""

    delivered = models.BigIntegerField(default=0)
    delivered_answered = models.BigIntegerField(default=0)
    interactions = models.BigIntegerField(default=0)
    as_of = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=list(CELL_FIELDS), name="reach_cell_key")]
        indexes = [
            models.Index(
                fields=["quarter", "agent_id", "channel", "segment"], name="reach_cell_agent_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.quarter} reach: {self.delivered}/{self.interactions}"


class CombinationRollup(models.Model):
    """Coverage, the median first-response time or the complaint categories (complaints and
    distinct customers per category) of one combination of filters for one period, as of
    the moment its family's cells were computed (metrics.md: distinct customers and medians
    are not sums of cells).

    Stored the first time a dashboard reads the combination (metrics/rollups.py), computed
    exactly as a read without it would; deleted whenever the period's family is recomputed
    (families._store_periods), and only served while `as_of` is the moment of the cells it
    was computed with, so it is never older than the family rollups themselves. The unique
    key lets concurrent first reads insert it once (ON CONFLICT DO NOTHING).
    """

    period = models.CharField(max_length=6, help_text="2025Q1 or 2025")
    family = models.CharField(max_length=16, choices=PeriodRollup.Family.choices)
    # The filters the figure depends on, sorted by kind: "agent=12&segment=vip".
    filters = models.CharField(max_length=255)
    as_of = models.DateTimeField()
    components = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["period", "family", "filters", "as_of"], name="combination_rollup_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.period} {self.family} {self.filters}"


class DirtyPeriod(models.Model):
    """A period whose PeriodRollups must be recomputed; claimed by a periodic task.

    A worker claims a row by stamping `claimed_at` and deletes it only once the recompute has
    committed (and only if the stamp is still its own): a worker killed in between leaves the
    row, which another worker claims again once the lease has run out. An event arriving
    while its period is claimed adds a new, unclaimed row (one unclaimed row per period and
    family), so that what it changed is recomputed after the running recompute."""

    period = models.CharField(max_length=6)
    family = models.CharField(max_length=16, choices=PeriodRollup.Family.choices)
    due_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["period", "family"],
                condition=models.Q(claimed_at__isnull=True),
                name="dirty_period_unclaimed_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.period} {self.family} due {self.due_at:%H:%M:%S}"


class FrozenQuarter(models.Model):
    """A closed quarter whose figures are a snapshot: no worker changes them unless an admin
    asks for a recompute."""

    quarter = models.CharField(max_length=6, unique=True)
    frozen_at = models.DateTimeField(auto_now_add=True)
    # Counted responses the retention purge deleted that the snapshot still includes (a
    # recompute with frozen quarters would drop them), and when the last were deleted.
    purged_responses = models.PositiveIntegerField(default=0)
    purged_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.quarter


class RecomputeJob(models.Model):
    """A full recompute asked for by an admin, a weight change or the nightly schedule."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    reason = models.CharField(max_length=200)
    quarters = models.JSONField(default=list, blank=True, help_text="empty: every open quarter")
    include_frozen = models.BooleanField(default=False)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    steps_done = models.PositiveIntegerField(default=0)
    steps_total = models.PositiveIntegerField(default=0)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.reason} ({self.status})"

    @property
    def progress_percent(self) -> int:
        if not self.steps_total:
            return 0
        return round(100 * self.steps_done / self.steps_total)


class WeightProfile(models.Model):
    """One version of the dimension weights, in force from `effective_from` (metrics.md)."""

    effective_from = models.DateField(_("effective from"), unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-effective_from"]
        verbose_name = _("weight profile")
        verbose_name_plural = _("weight profiles")

    def __str__(self) -> str:
        return f"weights from {self.effective_from}"


class Weight(models.Model):
    profile = models.ForeignKey(WeightProfile, on_delete=models.CASCADE, related_name="weights")
    dimension = models.ForeignKey(
        "surveys.Dimension", on_delete=models.PROTECT, related_name="weights"
    )
    percent = models.DecimalField(max_digits=5, decimal_places=2)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["profile", "dimension"], name="weight_unique"),
            models.CheckConstraint(condition=models.Q(percent__gte=0), name="weight_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.dimension_id}: {self.percent}"


class WeightChange(models.Model):
    """The audit trail of weight edits: who, when, before and after."""

    effective_from = models.DateField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)
    before = models.JSONField(default=dict)
    after = models.JSONField(default=dict)

    class Meta:
        ordering = ["-changed_at"]

    def __str__(self) -> str:
        return f"weights from {self.effective_from} changed {self.changed_at:%Y-%m-%d %H:%M}"


class PeriodWeights(models.Model):
    """The weights a period's composite index uses: the version in force on its last day,
    written by the recompute (so a frozen quarter keeps the weights it was computed with)."""

    period = models.CharField(max_length=6, unique=True)
    profile = models.ForeignKey(
        WeightProfile, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    weights = models.JSONField(default=dict, help_text="dimension code -> percent")

    def __str__(self) -> str:
        return self.period


# ---------------------------------------------------------------- targets (issue 5)


class Target(models.Model):
    """An admin's plan for one metric and year, optionally for one customer segment
    (metrics.md, "Targets"): baseline, annual target, stretch, benchmark and the quarterly
    step weights or typed quarter targets.

    Nothing derived is stored: quarter targets, gap, progress and status are computed when a
    page or the API reads them, from these fields and the rollups, so a change needs no
    recompute.
    """

    metric = models.CharField(_("metric"), max_length=32)
    year = models.PositiveSmallIntegerField(_("year"))
    segment = models.CharField(
        _("segment"),
        max_length=16,
        blank=True,
        default="",
        help_text=_("Empty: every customer."),
    )
    baseline = models.DecimalField(_("baseline"), max_digits=9, decimal_places=2)
    target = models.DecimalField(_("target"), max_digits=9, decimal_places=2)
    stretch = models.DecimalField(
        _("stretch target"), max_digits=9, decimal_places=2, null=True, blank=True
    )
    benchmark = models.DecimalField(
        _("industry benchmark"), max_digits=9, decimal_places=2, null=True, blank=True
    )
    # Step weights that spread the way from baseline to target over the quarters (the
    # brief's plan: 3, 5, 4, 6).
    weight_q1 = models.DecimalField(max_digits=6, decimal_places=2, default=3)
    weight_q2 = models.DecimalField(max_digits=6, decimal_places=2, default=5)
    weight_q3 = models.DecimalField(max_digits=6, decimal_places=2, default=4)
    weight_q4 = models.DecimalField(max_digits=6, decimal_places=2, default=6)
    # Typed quarter targets; None: derived from the step weights.
    target_q1 = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)
    target_q2 = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)
    target_q3 = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)
    target_q4 = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-year", "metric", "segment"]
        constraints = [
            models.UniqueConstraint(fields=["metric", "year", "segment"], name="target_unique"),
            models.CheckConstraint(
                condition=models.Q(weight_q1__gte=0)
                & models.Q(weight_q2__gte=0)
                & models.Q(weight_q3__gte=0)
                & models.Q(weight_q4__gte=0),
                name="target_weights_not_negative",
            ),
        ]
        verbose_name = _("target")
        verbose_name_plural = _("targets")

    def __str__(self) -> str:
        return (
            f"{self.metric} {self.year} {self.segment or 'all'}: {self.baseline} -> {self.target}"
        )

    @property
    def weights(self) -> list[float]:
        return [float(w) for w in (self.weight_q1, self.weight_q2, self.weight_q3, self.weight_q4)]

    @property
    def typed_targets(self) -> list[float | None]:
        return [
            float(value) if value is not None else None
            for value in (self.target_q1, self.target_q2, self.target_q3, self.target_q4)
        ]
