from datetime import timedelta

from django import forms
from django.utils import timezone

DATE = {"type": "date", "class": "form-control"}


class RangeForm(forms.Form):
    """The dashboard's date range, in UTC days; the last two weeks unless said otherwise."""

    date_from = forms.DateField(label="From (UTC)", required=False, widget=forms.DateInput(DATE))
    date_to = forms.DateField(label="To (UTC)", required=False, widget=forms.DateInput(DATE))

    error_messages = {
        "reversed": "The From date is after the To date.",
        "too_long": "Choose at most two years.",
    }

    def clean(self):
        cleaned = super().clean()
        today = timezone.now().date()
        date_to = cleaned.get("date_to") or today
        date_from = cleaned.get("date_from") or date_to - timedelta(days=13)
        if date_from > date_to:
            raise forms.ValidationError(self.error_messages["reversed"], code="reversed")
        if (date_to - date_from).days > 731:
            raise forms.ValidationError(self.error_messages["too_long"], code="too_long")
        cleaned["date_from"], cleaned["date_to"] = date_from, date_to
        return cleaned
