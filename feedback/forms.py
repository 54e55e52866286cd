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
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices)
    summary = forms.CharField(label=_("What happened"), widget=forms.Textarea(attrs={"rows": 4}))
