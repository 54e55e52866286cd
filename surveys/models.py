from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def new_public_id() -> str:
    """An unguessable id for a survey's public link (96 bits)."""
    return secrets.token_urlsafe(12)


class Channel(models.TextChoices):
    WEB = "web", _("Web link")
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    QR = "qr", _("QR code")
    PHONE = "phone", _("Phone callback")
    EMBED = "embed", _("Embedded widget")
    API = "api", _("API")
    IMPORT = "import", _("Import")


class Segment(models.TextChoices):
    HIGH_VALUE = "high_value", _("High-value")
    NORMAL = "normal", _("Normal")
    CHURN_RISK = "churn_risk", _("Churn risk")


class Touchpoint(models.Model):
    """A moment of the customer journey (first consultation, delivery, after-sales support)."""

    code = models.SlugField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=120)
    position = models.PositiveSmallIntegerField(_("journey order"), default=0)

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("touchpoint")
        verbose_name_plural = _("touchpoints")

    def __str__(self) -> str:
        return self.name


class Dimension(models.Model):
    """A quality dimension that scored answers are tagged with (response speed, empathy...)."""

    code = models.SlugField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=120)

    class Meta:
        ordering = ["name"]
        verbose_name = _("dimension")
        verbose_name_plural = _("dimensions")

    def __str__(self) -> str:
        return self.name


class Customer(models.Model):
    """Someone who answers surveys; never signs in."""

    external_id = models.CharField(_("external id"), max_length=120, unique=True)
    name = models.CharField(_("name"), max_length=200, blank=True)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    segment = models.CharField(
        _("segment"), max_length=16, choices=Segment.choices, default=Segment.NORMAL
    )
    language = models.CharField(
        _("language"), max_length=16, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )
    consents_to_contact = models.BooleanField(_("consents to contact"), default=True)
    unsubscribed_at = models.DateTimeField(_("unsubscribed at"), null=True, blank=True)
    # When the customer was last sent an invitation on any channel: the fatigue rule's slot,
    # taken by compare-and-swap so two invitations racing for one customer send only one.
    last_invited_at = models.DateTimeField(_("last invited at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["external_id"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")

    def __str__(self) -> str:
        return self.name or self.external_id


class Survey(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    title = models.CharField(_("title"), max_length=200)
    introduction = models.TextField(_("introduction"), blank=True)
    thank_you_message = models.TextField(_("thank-you message"), blank=True)
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.OPEN
    )
    touchpoint = models.ForeignKey(
        Touchpoint,
        verbose_name=_("touchpoint"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="surveys",
    )
    team = models.ForeignKey(
        "accounts.Team",
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="surveys",
    )
    is_anonymous = models.BooleanField(
        _("anonymous"), default=False, help_text=_("Never link responses to a customer.")
    )
    stores_client_details = models.BooleanField(
        _("store IP address and browser"),
        default=False,
        help_text=_("Off by default: keep the respondent's IP address and user agent."),
    )
    retention_days = models.PositiveIntegerField(
        _("retention (days)"),
        null=True,
        blank=True,
        help_text=_("Delete responses older than this; empty keeps them."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Survey text: the plain fields hold the default language, `translations` the others,
    # as {"zh-hans": {"title": ..., "introduction": ..., "thank_you_message": ...}}
    # (validated by surveys.builder; read through surveys.respond.text_in).
    default_language = models.CharField(
        _("default language"),
        max_length=16,
        choices=settings.LANGUAGES,
        default=settings.LANGUAGE_CODE,
    )
    translations = models.JSONField(_("translations"), default=dict, blank=True)
    # Branding: a colour the respondent pages are drawn with (served as /s/<id>/brand.css,
    # so the pages keep a strict CSP without inline styles) and an uploaded logo.
    brand_color = models.CharField(_("brand colour"), max_length=7, blank=True)
    # Origins (https://host[:port]) allowed to frame the embedded survey.
    embed_origins = models.JSONField(_("embedding sites"), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Bumped by PostgreSQL triggers (migration 0009) on every change to the survey row or to
    # its questions, choices and grid rows, whatever writes them (builder, admin, a queryset
    # update): the API's per-process cache of the survey's definition checks it inside the
    # insert of each response (surveys/definitions.py), so an edit is seen at once.
    definition_version = models.BigIntegerField(default=1, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("survey")
        verbose_name_plural = _("surveys")

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN


class SurveyLogo(models.Model):
    """A survey's logo, kept in the database and served from our own origin (no media
    volume to share between web containers, and the page's CSP stays img-src 'self')."""

    survey = models.OneToOneField(Survey, on_delete=models.CASCADE, related_name="logo")
    content_type = models.CharField(max_length=32)
    data = models.BinaryField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"logo of {self.survey}"


class Question(models.Model):
    class Kind(models.TextChoices):
        NPS = "nps", _("Net Promoter Score (0-10)")
        CSAT = "csat", _("Satisfaction (stars)")
        CES = "ces", _("Customer effort (1-7)")
        YES_NO = "yes_no", _("Yes / no")
        SINGLE_CHOICE = "single_choice", _("Single choice")
        MULTIPLE_CHOICE = "multiple_choice", _("Multiple choice")
        RATING_GRID = "rating_grid", _("Rating grid")
        TEXT = "text", _("Free text")

    class Role(models.TextChoices):
        NONE = "", _("None")
        FCR = "fcr", _("First-contact resolution")

    # The scale each scored kind uses unless the question sets its own (csat allows 1-7, 1-10).
    DEFAULT_SCALES: dict[str, tuple[int, int]] = {
        Kind.NPS: (0, 10),
        Kind.CSAT: (1, 5),
        Kind.CES: (1, 7),
        Kind.RATING_GRID: (1, 5),
    }
    SCORED_KINDS = frozenset({Kind.NPS, Kind.CSAT, Kind.CES, Kind.RATING_GRID})

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveSmallIntegerField(_("position"))
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    text = models.CharField(_("question"), max_length=500)
    help_text = models.CharField(_("help text"), max_length=500, blank=True)
    is_required = models.BooleanField(_("required"), default=True)
    scale_min = models.SmallIntegerField(_("lowest score"), null=True, blank=True)
    scale_max = models.SmallIntegerField(_("highest score"), null=True, blank=True)
    role = models.CharField(
        _("role"), max_length=16, choices=Role.choices, default=Role.NONE, blank=True
    )
    dimension = models.ForeignKey(
        Dimension,
        verbose_name=_("dimension"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="questions",
    )
    # Conditional follow-up: shown (and required) only when the answer to `show_if_question`
    # lies within [show_if_min, show_if_max], e.g. "What could we do better?" when NPS <= 6.
    show_if_question = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="follow_ups"
    )
    show_if_min = models.SmallIntegerField(null=True, blank=True)
    show_if_max = models.SmallIntegerField(null=True, blank=True)
    # {"zh-hans": {"text": ..., "help_text": ...}}: the languages other than the survey's default.
    translations = models.JSONField(_("translations"), default=dict, blank=True)

    class Meta:
        ordering = ["survey", "position"]
        constraints = [
            models.UniqueConstraint(fields=["survey", "position"], name="question_position_unique")
        ]
        verbose_name = _("question")
        verbose_name_plural = _("questions")

    def __str__(self) -> str:
        return self.text

    @property
    def scale(self) -> tuple[int, int] | None:
        """(lowest, highest) score for scored kinds, else None."""
        default = self.DEFAULT_SCALES.get(self.kind)
        if default is None:
            return None
        return (
            self.scale_min if self.scale_min is not None else default[0],
            self.scale_max if self.scale_max is not None else default[1],
        )

    @property
    def scale_points(self) -> list[int]:
        scale = self.scale
        return list(range(scale[0], scale[1] + 1)) if scale else []

    @property
    def show_if_caption(self) -> str:
        """When a follow-up is shown, as the builder says it: "shown when question 1 is 6 or
        less", "... is between 3 and 5", "... is 9 or more", "... is 6"; "" for none."""
        from django.utils.translation import gettext

        trigger = self.show_if_question
        if trigger is None:
            return ""
        low, high = self.show_if_min, self.show_if_max
        lowest, highest = trigger.scale or (None, None)
        # A bound at the end of the trigger's scale says nothing: "0 to 6" is "6 or less".
        low = None if low == lowest else low
        high = None if high == highest else high
        values = {"position": trigger.position, "low": low, "high": high}
        if low is None and high is None:
            return gettext("shown when question %(position)s is answered") % values
        if low is None:
            return gettext("shown when question %(position)s is %(high)s or less") % values
        if high is None:
            return gettext("shown when question %(position)s is %(low)s or more") % values
        if low == high:
            return gettext("shown when question %(position)s is %(low)s") % values
        return gettext("shown when question %(position)s is between %(low)s and %(high)s") % values


class Choice(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="choices")
    position = models.PositiveSmallIntegerField()
    label = models.CharField(_("label"), max_length=200)
    # {"zh-hans": {"label": ...}}
    translations = models.JSONField(_("translations"), default=dict, blank=True)

    class Meta:
        ordering = ["question", "position"]

    def __str__(self) -> str:
        return self.label


class GridRow(models.Model):
    """A row of a rating grid; its dimension tag feeds the dimension scores."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="rows")
    position = models.PositiveSmallIntegerField()
    label = models.CharField(_("label"), max_length=200)
    dimension = models.ForeignKey(
        Dimension, null=True, blank=True, on_delete=models.PROTECT, related_name="grid_rows"
    )
    translations = models.JSONField(_("translations"), default=dict, blank=True)

    class Meta:
        ordering = ["question", "position"]

    def __str__(self) -> str:
        return self.label


class Response(models.Model):
    class Status(models.TextChoices):
        PARTIAL = "partial", _("Partial")
        COMPLETE = "complete", _("Complete")

    # Foreign keys without an index of their own are covered by one in Meta.indexes or
    # Meta.constraints (see migration 0008 for which query uses which index).
    survey = models.ForeignKey(
        Survey, on_delete=models.PROTECT, related_name="responses", db_index=False
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.COMPLETE
    )
    customer = models.ForeignKey(
        Customer,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="responses",
        db_index=False,
    )
    # The staff member who served the customer, and their team at that time (metrics.md).
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="served_responses",
        db_index=False,
    )
    team = models.ForeignKey(
        "accounts.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    touchpoint = models.ForeignKey(
        Touchpoint,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="responses",
        db_index=False,
    )
    # The one-time key of the form that was submitted, or an API idempotency key: a second
    # submission with the same key returns the first response instead of storing another.
    submission_key = models.CharField(max_length=80, blank=True, default="")
    # SHA-256 of the canonical API body sent with an Idempotency-Key: the same key with a
    # different body is refused instead of returning the first response.
    submission_fingerprint = models.CharField(max_length=64, blank=True, default="")
    invitation = models.ForeignKey(
        "Invitation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="responses",
        db_index=False,
    )
    # An imported row's response id: unique across all imports, so importing the same file
    # twice stores each row once (metrics.md, "Which responses count").
    import_key = models.CharField(max_length=120, blank=True, default="")
    # Kept on the record at submission (metrics.md: slices use the attribute at event time):
    # the customer's segment then, and the reporting quarter of `submitted_at`.
    segment = models.CharField(max_length=16, choices=Segment.choices, blank=True)
    quarter = models.CharField(max_length=6, blank=True)
    # Whether the answer rollups include this response; flipped only by compare-and-swap, so
    # applying the same response twice adds it once (metrics/rollups.py).
    in_rollup = models.BooleanField(default=False)
    # The customer's first purchase strictly after submission and within the repurchase
    # window (metrics.md, "Repurchase rate by score"), kept up to date by each purchase.
    next_purchase_at = models.DateTimeField(null=True, blank=True)
    language = models.CharField(max_length=16, blank=True)
    # Where a QR-code respondent came from (the location printed under the code).
    source_label = models.CharField(_("source"), max_length=120, blank=True)
    is_test = models.BooleanField(_("test"), default=False)
    is_spam = models.BooleanField(_("spam"), default=False)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)

    class Meta:
        ordering = ["-submitted_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["survey", "submission_key"],
                name="response_submission_key_unique",
                condition=~models.Q(submission_key=""),
            ),
            models.UniqueConstraint(
                fields=["invitation"],
                name="response_one_per_invitation",
                condition=models.Q(invitation__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["import_key"],
                name="response_import_key_unique",
                condition=~models.Q(import_key=""),
            ),
            models.CheckConstraint(
                condition=models.Q(status="partial") | models.Q(submitted_at__isnull=False),
                name="response_complete_has_submitted_at",
            ),
        ]
        indexes = [
            # A survey's responses newest first (response list, survey page), its expired ones
            # (retention purge), and the survey foreign key's checks.
            models.Index(fields=["survey", "submitted_at"], name="response_survey_submitted_idx"),
            # A customer's responses around a purchase (repurchase), and the customer key's
            # SET NULL when a customer is deleted.
            models.Index(fields=["customer", "submitted_at"], name="response_customer_idx"),
            models.Index(fields=["quarter"], name="response_quarter_idx"),
            # Responses the answer rollups have not caught up with yet (metrics/answers.py):
            # small in steady state, so a full rebuild finds them without a scan.
            models.Index(
                fields=["quarter"],
                name="response_rollup_pending_idx",
                condition=models.Q(
                    in_rollup=False, status="complete", is_test=False, is_spam=False
                ),
            ),
            models.Index(
                fields=["quarter"],
                name="response_rollup_stale_idx",
                condition=models.Q(in_rollup=True)
                & (~models.Q(status="complete") | models.Q(is_test=True) | models.Q(is_spam=True)),
            ),
            # The optional keys: a staff member's (or team's, touchpoint's) responses, and the
            # SET NULL when one is deleted; rows without one stay out of the index.
            models.Index(
                fields=["agent"],
                name="response_agent_idx",
                condition=models.Q(agent__isnull=False),
            ),
            models.Index(
                fields=["team"],
                name="response_team_idx",
                condition=models.Q(team__isnull=False),
            ),
            models.Index(
                fields=["touchpoint"],
                name="response_touchpoint_idx",
                condition=models.Q(touchpoint__isnull=False),
            ),
        ]
        verbose_name = _("response")
        verbose_name_plural = _("responses")
        permissions = [("view_all_responses", "Can see and mark every team's responses")]

    def __str__(self) -> str:
        return f"{self.survey} #{self.pk}"

    @property
    def is_counted(self) -> bool:
        """Counts toward metrics: submitted, and neither test nor spam (metrics.md)."""
        return self.status == self.Status.COMPLETE and not (self.is_test or self.is_spam)

    @classmethod
    def counted_q(cls, prefix: str = "") -> models.Q:
        """The same rule as `is_counted`, as a filter (prefix e.g. "response__")."""
        return models.Q(
            **{
                f"{prefix}status": cls.Status.COMPLETE,
                f"{prefix}is_test": False,
                f"{prefix}is_spam": False,
            }
        )


class Answer(models.Model):
    """One answer: a score (`number`), a choice, a grid row's score, or text."""

    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="answers")
    # Covered by answer_question_number_idx (question first).
    question = models.ForeignKey(
        Question, on_delete=models.PROTECT, related_name="answers", db_index=False
    )
    # Mostly empty: indexed only where set (answer_grid_row_idx, answer_choice_idx).
    grid_row = models.ForeignKey(
        GridRow,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="answers",
        db_index=False,
    )
    choice = models.ForeignKey(
        Choice,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="answers",
        db_index=False,
    )
    number = models.SmallIntegerField(null=True, blank=True)
    text = models.TextField(blank=True)

    class Meta:
        ordering = ["response", "question__position"]
        indexes = [
            models.Index(fields=["question", "number"], name="answer_question_number_idx"),
            models.Index(
                fields=["grid_row"],
                name="answer_grid_row_idx",
                condition=models.Q(grid_row__isnull=False),
            ),
            models.Index(
                fields=["choice"],
                name="answer_choice_idx",
                condition=models.Q(choice__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.question_id}: {self.number if self.number is not None else self.text}"


def new_invitation_token() -> str:
    """A one-time personal token: 256 bits from the OS's CSPRNG."""
    return secrets.token_urlsafe(32)


class Interaction(models.Model):
    """A touchpoint event (e.g. "after-sales ticket closed"): the denominator of coverage and
    of the complaint rate, and what schedules a survey invitation."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="interactions")
    touchpoint = models.ForeignKey(
        Touchpoint, null=True, blank=True, on_delete=models.PROTECT, related_name="interactions"
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="interactions",
    )
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    segment = models.CharField(max_length=16, choices=Segment.choices, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"))
    quarter = models.CharField(max_length=6, blank=True, db_index=True)
    description = models.CharField(_("description"), max_length=200, blank=True)
    external_id = models.CharField(max_length=120, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"],
                name="interaction_external_id_unique",
                condition=~models.Q(external_id=""),
            )
        ]
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")

    def __str__(self) -> str:
        return f"{self.customer} @ {self.touchpoint} {self.occurred_at:%Y-%m-%d}"


class InvitationChannel(models.TextChoices):
    """The channels a personal invitation can go out on."""

    EMAIL = Channel.EMAIL.value, Channel.EMAIL.label
    SMS = Channel.SMS.value, Channel.SMS.label


class SurveySend(models.Model):
    """A batch: staff sent one survey to a customer list or a segment on one channel."""

    class Audience(models.TextChoices):
        CUSTOMERS = "customers", _("Chosen customers")
        SEGMENT = "segment", _("A customer segment")

    survey = models.ForeignKey(
        Survey, verbose_name=_("survey"), on_delete=models.PROTECT, related_name="sends"
    )
    channel = models.CharField(_("channel"), max_length=8, choices=InvitationChannel.choices)
    audience = models.CharField(_("audience"), max_length=12, choices=Audience.choices)
    segment = models.CharField(_("segment"), max_length=16, choices=Segment.choices, blank=True)
    scheduled_for = models.DateTimeField(_("send at"))
    reminder_after_days = models.PositiveSmallIntegerField(
        _("reminder after (days)"), null=True, blank=True
    )
    expires_after_days = models.PositiveSmallIntegerField(_("expires after (days)"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("send")
        verbose_name_plural = _("sends")

    def __str__(self) -> str:
        return f"{self.survey} ({self.get_channel_display()}, {self.created_at:%Y-%m-%d})"


class TouchpointRule(models.Model):
    """Which survey an interaction at a touchpoint triggers, on which channel, and how long
    after the interaction the invitation goes out (admin-configured)."""

    touchpoint = models.OneToOneField(
        Touchpoint, verbose_name=_("touchpoint"), on_delete=models.CASCADE, related_name="rule"
    )
    survey = models.ForeignKey(
        Survey, verbose_name=_("survey"), on_delete=models.PROTECT, related_name="rules"
    )
    channel = models.CharField(_("channel"), max_length=8, choices=InvitationChannel.choices)
    delay = models.DurationField(
        _("delay"), help_text=_("How long after the interaction to send, e.g. 02:00:00.")
    )
    reminder_after_days = models.PositiveSmallIntegerField(
        _("reminder after (days)"), null=True, blank=True
    )
    expires_after_days = models.PositiveSmallIntegerField(
        _("expires after (days)"), null=True, blank=True, help_text=_("Empty: the default.")
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["touchpoint"]
        verbose_name = _("touchpoint rule")
        verbose_name_plural = _("touchpoint rules")

    def __str__(self) -> str:
        return f"{self.touchpoint} -> {self.survey}"


class Invitation(models.Model):
    """A personal invitation to answer a survey, carrying a one-time unguessable token."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        # Claimed by one worker, which is handing it to the mail server or SMS provider.
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")
        SUPPRESSED = "suppressed", _("Suppressed")

    class SuppressionReason(models.TextChoices):
        NONE = "", _("None")
        UNSUBSCRIBED = "unsubscribed", _("The customer unsubscribed")
        NO_CONSENT = "no_consent", _("The customer does not consent to contact")
        NO_ADDRESS = "no_address", _("No email address or phone number for this channel")
        FATIGUE = "fatigue", _("Invited recently (fatigue rule)")
        SURVEY_CLOSED = "survey_closed", _("The survey is closed")
        EXPIRED = "expired", _("Too late: it would have expired")

    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="invitations")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="invitations")
    send = models.ForeignKey(
        SurveySend, null=True, blank=True, on_delete=models.CASCADE, related_name="invitations"
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    token = models.CharField(max_length=64, unique=True, default=new_invitation_token)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SCHEDULED)
    suppression_reason = models.CharField(
        max_length=16, choices=SuppressionReason.choices, blank=True, default=""
    )
    interaction = models.ForeignKey(
        Interaction, null=True, blank=True, on_delete=models.SET_NULL, related_name="invitations"
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    touchpoint = models.ForeignKey(
        Touchpoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="invitations"
    )
    segment = models.CharField(max_length=16, choices=Segment.choices, blank=True)
    due_at = models.DateTimeField(_("send at"), null=True, blank=True)
    # Set when the periodic dispatcher hands the row to a worker; a row claimed longer ago
    # than the lease (its task was lost) is claimed again.
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    quarter = models.CharField(max_length=6, blank=True, db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    reminder_after_days = models.PositiveSmallIntegerField(null=True, blank=True)
    expires_after_days = models.PositiveSmallIntegerField(null=True, blank=True)
    remind_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    reminder_attempts = models.PositiveSmallIntegerField(default=0)
    provider_message_id = models.CharField(max_length=120, blank=True, default="")
    reminder_message_id = models.CharField(max_length=120, blank=True, default="")
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "due_at"], name="invitation_due_idx"),
            models.Index(
                fields=["remind_at"],
                name="invitation_remind_idx",
                condition=models.Q(remind_at__isnull=False),
            ),
            models.Index(
                fields=["provider_message_id"],
                name="invitation_provider_id_idx",
                condition=~models.Q(provider_message_id=""),
            ),
            models.Index(
                fields=["reminder_message_id"],
                name="invitation_reminder_id_idx",
                condition=~models.Q(reminder_message_id=""),
            ),
        ]
        constraints = [
            # A customer listed twice in one send is invited once.
            models.UniqueConstraint(
                fields=["send", "customer"],
                name="invitation_one_per_send_customer",
                condition=models.Q(send__isnull=False),
            ),
            # An interaction schedules at most one invitation, however often it is reported.
            models.UniqueConstraint(
                fields=["interaction"],
                name="invitation_one_per_interaction",
                condition=models.Q(interaction__isnull=False),
            ),
        ]
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")

    def __str__(self) -> str:
        return f"{self.survey} -> {self.customer} ({self.channel})"


class Purchase(models.Model):
    """A purchase by a customer: the outcome behind "repurchase rate by score"."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="purchases")
    purchased_at = models.DateTimeField(_("purchased at"))
    amount = models.DecimalField(
        _("amount"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    external_id = models.CharField(max_length=120, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-purchased_at"]
        indexes = [models.Index(fields=["customer", "purchased_at"], name="purchase_customer_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"],
                name="purchase_external_id_unique",
                condition=~models.Q(external_id=""),
            )
        ]
        verbose_name = _("purchase")
        verbose_name_plural = _("purchases")

    def __str__(self) -> str:
        return f"{self.customer} {self.purchased_at:%Y-%m-%d}"


# Import jobs live in their own module (surveys/imports/); importing them here registers them
# with the surveys app.
from surveys.imports.models import (  # noqa: E402, F401
    ImportChunk,
    ImportFilePart,
    ImportJob,
    ImportRowError,
)
