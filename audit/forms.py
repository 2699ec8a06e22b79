from datetime import date
from typing import Any

from django import forms

from audit.labels import field_choices
from audit.models import AuditEntry

# The days a filter may name. The log holds nothing from before the first or after the last, and
# within them every date sum the searches make (a day after the last, a margin before the first)
# stays inside what Python and the databases can represent.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2999, 12, 31)
# The action filter's choice of every kind of save (edits, reverts, undos), as the dashboard counts.
SAVES = "saves"
# The largest sequence number a database can hold (a signed 64-bit integer on PostgreSQL).
MAX_SEQUENCE = 2**63 - 1


class DayField(forms.DateField):
    """A UTC day from FIRST_DAY to LAST_DAY, typed in an ISO date input."""

    default_error_messages = {
        "out_of_range": f"Enter a date from {FIRST_DAY:%Y-%m-%d} to {LAST_DAY:%Y-%m-%d}.",
    }

    def __init__(self, **kwargs: Any) -> None:
        attrs = {"type": "date", "min": f"{FIRST_DAY:%Y-%m-%d}", "max": f"{LAST_DAY:%Y-%m-%d}"}
        kwargs.setdefault("widget", forms.DateInput(attrs=attrs, format="%Y-%m-%d"))
        super().__init__(**kwargs)

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value and not FIRST_DAY <= value <= LAST_DAY:
            raise forms.ValidationError(self.error_messages["out_of_range"], code="out_of_range")


class AuditFilterForm(forms.Form):
    """The supervisors' filters over the audit log; every field is optional."""

    q = forms.CharField(
        label="Search",
        required=False,
        max_length=200,
        help_text="A ref, a name, a value before or after a change, or words from a reason.",
    )
    consumer_ref = forms.CharField(label="Consumer ref", required=False, max_length=64)
    order_ref = forms.CharField(label="Order ref", required=False, max_length=64)
    user = forms.CharField(label="User", required=False, max_length=150)
    date_from = DayField(label="From (UTC)", required=False)
    date_to = DayField(label="To (UTC)", required=False)
    field = forms.ChoiceField(
        label="Field changed",
        required=False,
        # Read when the form is made: the apps register their fields when they are ready.
        choices=lambda: [("", "Any"), *field_choices()],
    )
    action = forms.ChoiceField(
        label="Action",
        required=False,
        choices=[("", "Any"), (SAVES, "Edits, reverts and undos"), *AuditEntry.Action.choices],
    )
    outcome = forms.ChoiceField(
        label="Outcome", required=False, choices=[("", "Any"), *AuditEntry.Outcome.choices]
    )
    final = forms.BooleanField(
        label="Final outcomes only",
        required=False,
        help_text="Leaves out a queued entry once a later one settled it: each save once.",
    )

    error_messages = {"dates_reversed": "The From date is after the To date."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field.widget, forms.CheckboxInput):
                css = "form-check-input"
            else:
                css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", css)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        date_from, date_to = cleaned.get("date_from"), cleaned.get("date_to")
        if date_from and date_to and date_from > date_to:
            raise forms.ValidationError(
                self.error_messages["dates_reversed"], code="dates_reversed"
            )
        return cleaned

    def filters(self) -> dict:
        """Return the filters that were given, for `audit_entry_search`."""
        if not self.is_valid():
            return {}
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if value not in ("", None, False)
        }


class AuditPageForm(forms.Form):
    """The list's page cursors: the sequence numbers that the Older and Newer links carry."""

    before = forms.IntegerField(required=False, min_value=1, max_value=MAX_SEQUENCE)
    after = forms.IntegerField(required=False, min_value=1, max_value=MAX_SEQUENCE)

    error_messages = {
        "broken": "This page link is broken (it was edited or cut short): showing the newest "
        "entries instead."
    }

    def cursors(self) -> tuple[int | None, int | None]:
        """Return (before, after), or no cursor at all when either is not a sequence number."""
        if not self.is_valid():
            return None, None
        return self.cleaned_data["before"], self.cleaned_data["after"]
