from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Users and teams")

    def ready(self) -> None:
        from accounts.roles import roles_sync_after_migrate

        # Permissions exist only after post_migrate has created them, so the role groups
        # are synced there rather than in a data migration.
        post_migrate.connect(roles_sync_after_migrate, dispatch_uid="accounts.roles_sync")
