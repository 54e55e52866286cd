from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from surveys.models import Customer, InvitationChannel, Segment

# A <select multiple> of every customer is usable up to this size; beyond it, paste ids.
CUSTOMER_PICKER_LIMIT = 500


class SendForm(forms.Form):
    channel = forms.ChoiceField(
        label=_("Channel"), choices=InvitationChannel.choices, widget=forms.RadioSelect
    )
    customers = forms.ModelMultipleChoiceField(
        label=_("Customers"),
        queryset=Customer.objects.order_by("external_id"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )
    external_ids = forms.CharField(
        label=_("Or paste external ids"),
        required=False,
        max_length=400_000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("One per line, or separated by commas or spaces."),
    )
    segment = forms.ChoiceField(
        label=_("Or a whole segment"),
        choices=[("", "—"), *Segment.choices],
        required=False,
    )
    scheduled_for = forms.DateTimeField(
        label=_("Send at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=_("Empty: now."),
    )
    reminder_after_days = forms.IntegerField(
        label=_("Reminder after (days)"),
        required=False,
        initial=3,
        min_value=1,
        help_text=_("One reminder if unanswered. Empty: no reminder."),
    )
    expires_after_days = forms.IntegerField(
        label=_("Link expires after (days)"),
        initial=settings.INVITATION_EXPIRY_DAYS,
        min_value=1,
    )

    def clean_external_ids(self) -> list[str]:
        raw: str = self.cleaned_data["external_ids"]
        return [value for value in raw.replace(",", " ").split() if value]


class CustomerForm(forms.ModelForm):
    class Meta:
        model = Customer
        fields = [
            "external_id",
            "name",
            "email",
            "phone",
            "segment",
            "language",
            "consents_to_contact",
        ]
