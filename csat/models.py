from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class OutboxEvent(models.Model):
    """Work that a committed write triggers, stored in the same transaction as the write.

    A worker handles the event after commit; the beat relay sends again any event that no
    worker finished, so a broker outage or a crash right after commit loses nothing.
    """

    class Kind(models.TextChoices):
        RESPONSE_SUBMITTED = "response.submitted", _("response submitted")
        RESPONSE_CHANGED = "response.changed", _("response changed")
        CASE_CHANGED = "case.changed", _("case opened or changed")
        INTERACTION_RECORDED = "interaction.recorded", _("interaction recorded")
        INVITATION_CHANGED = "invitation.changed", _("invitation sent or delivered")
        PURCHASE_RECORDED = "purchase.recorded", _("purchase recorded")
        IMPORT_CHUNK = "import.chunk", _("import chunk committed")

    kind = models.CharField(max_length=64, choices=Kind.choices)
    object_id = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["created_at"],
                name="outbox_pending_idx",
                condition=models.Q(processed_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.object_id}"
