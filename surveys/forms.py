from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from surveys.models import Touchpoint


class NpsSurveyForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    nps_question = forms.CharField(
        label=_("Score question (0-10)"),
        max_length=500,
        initial=_("How likely are you to recommend us to a friend or colleague?"),
    )
    why_question = forms.CharField(
        label=_('Optional "why?" question'),
        max_length=500,
        required=False,
        initial=_("What is the main reason for your score?"),
        help_text=_("Leave empty for a survey with the score only."),
    )
    introduction = forms.CharField(
        label=_("Introduction"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    thank_you_message = forms.CharField(
        label=_("Thank-you message"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    touchpoint = forms.ModelChoiceField(
        label=_("Touchpoint"), queryset=Touchpoint.objects.all(), required=False
    )
