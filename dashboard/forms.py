from datetime import timedelta

from django import forms
from django.utils import timezone

DATE = {"type": "date", "class": "form-control"}
# A date input takes and shows only ISO dates, whatever the language's own format.
ISO = "%Y-%m-%d"


class RangeForm(forms.Form):
    """The dashboard's date range, in UTC days; the last two weeks unless said otherwise."""

    date_from = forms.DateField(
        label="From (UTC)", required=False, widget=forms.DateInput(DATE, format=ISO)
    )
    date_to = forms.DateField(
        label="To (UTC)", required=False, widget=forms.DateInput(DATE, format=ISO)
    )

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


# The ranges a supervisor asks for most, one click each: (label, days back from today).
PRESETS = [("Today", 0), ("7 days", 6), ("14 days", 13), ("30 days", 29), ("90 days", 89),
           ("A year", 364)]  # fmt: skip


def range_presets(*, today, date_from, date_to) -> list[dict]:
    """The preset ranges as links, the one on show marked current."""
    return [
        {
            "label": label,
            "date_from": today - timedelta(days=back),
            "date_to": today,
            "current": (date_from, date_to) == (today - timedelta(days=back), today),
        }
        for label, back in PRESETS
    ]
