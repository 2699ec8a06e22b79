from datetime import date, timedelta
from typing import Any

from django import forms
from django.utils import timezone

from audit.forms import DayField


class RangeForm(forms.Form):
    """The dashboard's date range, in UTC days; the last two weeks unless said otherwise."""

    # Bounded days, so the default start (two weeks before) and the day after the end exist.
    date_from = DayField(label="From (UTC)", required=False)
    date_to = DayField(label="To (UTC)", required=False)

    error_messages = {
        "reversed": "The From date is after the To date.",
        "too_long": "Choose at most two years.",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-control")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        if self.errors:
            return cleaned  # a day out of range: no range to check
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


def range_presets(*, today: date, date_from: date, date_to: date) -> list[dict]:
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
