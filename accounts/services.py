from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import Role, Team, User
from csat.errors import ApplicationError


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str,
    role: str,
    team: Team | None = None,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
) -> User:
    """Create a user in one role; admins may also open Django's admin site."""
    if role not in Role.values:
        choices = ", ".join(Role.values)
        raise ApplicationError(
            _("Unknown role."), {"role": [_("Choose one of: %(choices)s.") % {"choices": choices}]}
        )
    if User.objects.filter(username=username).exists():
        raise ApplicationError(
            _("That username is taken."), {"username": [_("A user with that username exists.")]}
        )
    user = User.objects.create_user(
        username=username,
        password=password,
        email=email,
        first_name=first_name,
        last_name=last_name,
        team=team,
        is_staff=role == Role.ADMIN,
    )
    user.groups.add(Group.objects.get(name=role))
    return user


def team_create(*, name: str) -> Team:
    """Create a team; names are unique."""
    name = name.strip()
    if not name:
        raise ApplicationError(_("A team needs a name."), {"name": [_("This field is required.")]})
    if Team.objects.filter(name__iexact=name).exists():
        raise ApplicationError(
            _("That team exists."), {"name": [_("A team with that name exists.")]}
        )
    return Team.objects.create(name=name)
