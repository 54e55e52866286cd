from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Team(models.Model):
    """A group of staff (a support desk, an after-sales team); slices metrics by team."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    STAFF = "staff", _("Staff")
    MANAGER = "manager", _("Manager")
    ADMIN = "admin", _("Admin")


class User(AbstractUser):
    """A person who signs in: staff, manager or admin (a Django group each). Customers never do."""

    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
    )

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        permissions = [("manage_configuration", "Can change csat configuration")]

    @property
    def display_name(self) -> str:
        """The name people know the user by: the full name, else the username."""
        return self.get_full_name() or self.username

    @property
    def role(self) -> str | None:
        """The highest role among the user's groups (admin > manager > staff)."""
        names = {group.name for group in self.groups.all()}
        for role in (Role.ADMIN, Role.MANAGER, Role.STAFF):
            if role.value in names:
                return role.value
        return Role.ADMIN.value if self.is_superuser else None

    @property
    def role_label(self) -> str:
        role = self.role
        return str(Role(role).label) if role else ""
