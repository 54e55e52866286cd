"""Pages for signing in, the home redirect and the admins' team and user configuration."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from accounts import services
from accounts.models import Team, User
from csat.errors import ApplicationError


def home(request: HttpRequest) -> HttpResponse:
    """Managers land on the dashboard, staff on their surveys."""
    if request.user.has_perm("metrics.view_dashboard"):
        return redirect("metrics:dashboard")
    return redirect("surveys:list")


class TeamForm(forms.Form):
    name = forms.CharField(label=_("Team name"), max_length=120)


@permission_required("accounts.manage_configuration", raise_exception=True)
@require_http_methods(["GET", "POST"])
def team_settings(request: HttpRequest) -> HttpResponse:
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            team = services.team_create(name=form.cleaned_data["name"])
        except ApplicationError as error:
            form.add_error("name", error.fields.get("name", [error.message])[0])
        else:
            messages.success(request, _("Team “%(name)s” created.") % {"name": team.name})
            return redirect("accounts:teams")
    context = {
        "form": form,
        "teams": Team.objects.all(),
        "users": User.objects.select_related("team")
        .prefetch_related("groups")
        .order_by("username"),
    }
    return render(request, "accounts/teams.html", context, status=400 if form.errors else 200)
