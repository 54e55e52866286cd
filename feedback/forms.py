from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from feedback.models import ComplaintCategory
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
