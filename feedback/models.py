from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class RootCause(models.TextChoices):
    """The fishbone groups that complaint categories roll up to."""

    PEOPLE = "people", _("People")
    PROCESS = "process", _("Process")
    PRODUCT = "product", _("Product")
    TOOLS = "tools", _("Tools and technology")
    ENVIRONMENT = "environment", _("Environment")
    POLICY = "policy", _("Policy")


class ComplaintCategory(models.Model):
    """An admin-managed category of the complaint taxonomy."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    root_cause = models.CharField(_("root cause"), max_length=16, choices=RootCause.choices)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["root_cause", "name"]
        verbose_name = _("complaint category")
        verbose_name_plural = _("complaint categories")

    def __str__(self) -> str:
        return self.name


class SlaPolicy(models.Model):
    """Deadlines for a kind of case in elapsed clock hours (the brief: 24 h and 48 h)."""

    case_kind = models.CharField(_("case kind"), max_length=16, unique=True)
    first_response_hours = models.PositiveIntegerField(
        _("first response within (hours)"), default=24
    )
    resolution_hours = models.PositiveIntegerField(_("resolution within (hours)"), default=48)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")

    def __str__(self) -> str:
        return f"{self.case_kind}: {self.first_response_hours} h / {self.resolution_hours} h"


class Case(models.Model):
    """A follow-up (opened by a low score) or a complaint, worked to closure within SLA."""

    class Kind(models.TextChoices):
        FOLLOW_UP = "follow_up", _("Follow-up")
        COMPLAINT = "complaint", _("Complaint")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        RESOLVED = "resolved", _("Resolved")
        # The response behind the case was marked spam or test: no case metric counts it.
        WITHDRAWN = "withdrawn", _("Closed, not counted")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.OPEN
    )
    customer = models.ForeignKey(
        "surveys.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="cases"
    )
    response = models.OneToOneField(
        "surveys.Response",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="case",
    )
    category = models.ForeignKey(
        ComplaintCategory, null=True, blank=True, on_delete=models.PROTECT, related_name="cases"
    )
    channel = models.CharField(_("channel"), max_length=8, blank=True)
    interaction = models.ForeignKey(
        "surveys.Interaction",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="cases",
    )
    touchpoint = models.ForeignKey(
        "surveys.Touchpoint", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    segment = models.CharField(_("segment"), max_length=16, blank=True)
    # The staff member who served the customer (not the assignee) and their team then.
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="served_cases",
    )
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="cases"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_cases",
    )
    summary = models.TextField(_("summary"), blank=True)
    opened_at = models.DateTimeField(_("opened at"))
    quarter = models.CharField(max_length=6, blank=True)
    # Deadlines fixed from the SLA policy in force when the case opened, so a later policy
    # change does not rewrite history.
    first_response_due_at = models.DateTimeField(_("first response due"))
    resolution_due_at = models.DateTimeField(_("resolution due"))
    first_response_at = models.DateTimeField(_("first response at"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    contact_count = models.PositiveSmallIntegerField(_("customer contacts"), default=0)
    # What staff did for the customer, written when they resolve the case: what is fed back
    # to the customer and read by whoever handles their next contact.
    resolution = models.TextField(_("resolution"), blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="resolved_cases",
    )
    # Why the case was closed or reopened by the app (a mark on its response), newest last.
    resolution_note = models.TextField(_("resolution note"), blank=True)

    class Meta:
        ordering = ["-opened_at"]
        indexes = [
            models.Index(fields=["kind", "opened_at"], name="case_kind_opened_idx"),
            models.Index(fields=["quarter"], name="case_quarter_idx"),
            models.Index(fields=["customer", "category", "opened_at"], name="case_repeat_idx"),
        ]
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        permissions = [("view_all_cases", "Can see the cases of every team")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class ImprovementAction(models.Model):
    """A cross-department action that the collected problems feed (问题转化)."""

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        IN_PROGRESS = "in_progress", _("In progress")
        DONE = "done", _("Done")

    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_actions"
    )
    lead_department = models.CharField(_("lead department"), max_length=120)
    supporting_departments = models.CharField(
        _("supporting departments"), max_length=300, blank=True
    )
    deadline = models.DateField(_("deadline"))
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PLANNED
    )
    cases = models.ManyToManyField(Case, blank=True, related_name="actions")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["deadline"]
        verbose_name = _("improvement action")
        verbose_name_plural = _("improvement actions")

    def __str__(self) -> str:
        return self.title
