from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from feedback.models import ComplaintCategory, ImprovementAction
from surveys.models import Channel


class ComplaintForm(forms.Form):
    customer_external_id = forms.CharField(
        label=_("Customer external id"), max_length=120, required=False
    )
    category = forms.ModelChoiceField(
        label=_("Category"), queryset=ComplaintCategory.objects.filter(is_active=True)
    )
    # No default: complaints reach staff on every channel (phone, email, a walk-in at the
    # counter, social media), and a preselected one would be saved unread, putting complaints
    # in the wrong channel slice of the complaint metrics. Staff choose it each time.
    channel = forms.ChoiceField(
        label=_("Channel"),
        choices=[("", _("Choose the channel the complaint came in on")), *Channel.choices],
        error_messages={"required": _("Choose the channel the complaint came in on.")},
    )
    summary = forms.CharField(label=_("What happened"), widget=forms.Textarea(attrs={"rows": 4}))


class OwnerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:  # type: ignore[override]
        return obj.display_name


class ImprovementActionForm(forms.ModelForm):
    """A new improvement action: what, who owns it, which departments, by when."""

    owner = OwnerChoiceField(
        label=_("Owner"), queryset=User.objects.filter(is_active=True).order_by("username")
    )

    class Meta:
        model = ImprovementAction
        fields = [
            "title",
            "description",
            "owner",
            "lead_department",
            "supporting_departments",
            "deadline",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "deadline": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }
        help_texts = {
            "supporting_departments": _("Comma-separated, e.g. Logistics, IT."),
        }

    def clean_deadline(self) -> object:
        deadline = self.cleaned_data["deadline"]
        if deadline < timezone.localdate():
            raise forms.ValidationError(_("The deadline cannot be in the past."))
        return deadline
