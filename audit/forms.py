from django import forms

from audit.models import AuditEntry
from cdp.models import FIELD_LABELS as CONNECTION_FIELDS
from consumers.models import FIELD_LABELS as CONSUMER_FIELDS

# Every field an audit entry may record a change of, and its on-screen name.
FIELD_LABELS = {**CONNECTION_FIELDS, **CONSUMER_FIELDS}


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
    date_from = forms.DateField(
        label="From (UTC)",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    date_to = forms.DateField(
        label="To (UTC)",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    field = forms.ChoiceField(
        label="Field changed",
        required=False,
        choices=[
            ("", "Any"),
            ("Order consumer", list(CONSUMER_FIELDS.items())),
            ("CDP connection", list(CONNECTION_FIELDS.items())),
        ],
    )
    action = forms.ChoiceField(
        label="Action", required=False, choices=[("", "Any"), *AuditEntry.Action.choices]
    )
    outcome = forms.ChoiceField(
        label="Outcome", required=False, choices=[("", "Any"), *AuditEntry.Outcome.choices]
    )

    error_messages = {"dates_reversed": "The From date is after the To date."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            select = isinstance(field.widget, forms.Select)
            field.widget.attrs.setdefault("class", "form-select" if select else "form-control")

    def clean(self):
        cleaned = super().clean()
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
        return {name: value for name, value in self.cleaned_data.items() if value not in ("", None)}


class RevertForm(forms.Form):
    reason = forms.CharField(
        label="Reason for the revert",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
