"""The forms of the privacy pages: a person's correction, and an erasure request."""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from consumers import records
from consumers.forms import ConsumerForm, parse_ref


class RectificationForm(forms.Form):
    """The person's title, names and gender, set on every record chosen, and why."""

    title = ConsumerForm.base_fields["title"]
    first_name = ConsumerForm.base_fields["first_name"]
    last_name = ConsumerForm.base_fields["last_name"]
    gender = ConsumerForm.base_fields["gender"]
    reason = forms.CharField(
        label="Reason",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={
            "required": "Say why the person is corrected: it is kept in the audit log."
        },
        help_text="The customer's call and what they showed; kept in each record's audit entry.",
    )

    error_messages = ConsumerForm.error_messages

    def __init__(self, *args: Any, current: dict[str, Any] | None = None, **kwargs: Any) -> None:
        current = current or {}
        kwargs.setdefault("initial", {name: current.get(name, "") for name in records.NAMES})
        super().__init__(*args, **kwargs)
        for name in ("title", "gender"):
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)
            field.choices = records.choices(name, current=str(current.get(name, "")))

    def _clean_name(self, name: str) -> str:
        return ConsumerForm._clean_name(self, name)  # type: ignore[arg-type]

    def clean_first_name(self) -> str:
        return self._clean_name("first_name")

    def clean_last_name(self) -> str:
        return self._clean_name("last_name")

    def wanted(self) -> dict[str, str]:
        return {
            name: self.cleaned_data[name] for name in ("title", "first_name", "last_name", "gender")
        }


class ErasureForm(forms.Form):
    """An erasure request as CDP confirmed it: the guest, the ticket, the date."""

    guest_ref = forms.CharField(
        label="Guest ref",
        max_length=512,
        help_text="The erased guest's ref, or their link from CDP.",
        widget=forms.TextInput(
            attrs={"class": "ref", "spellcheck": "false", "autocomplete": "off"}
        ),
    )
    ticket = forms.CharField(
        label="Ticket id",
        max_length=100,
        help_text="The request's id in your ticket system, e.g. DSR-1042.",
    )
    cdp_confirmed_on = forms.DateField(
        label="CDP confirmed the erasure on",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The date CDP's guest delete was confirmed (YYYY-MM-DD).",
    )
    consumer_refs = forms.CharField(
        label="Other order consumers of this person (optional)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "class": "ref"}),
        help_text="Consumer refs or links, one per line: trips of the person on other people's "
        "bookings that are not linked to the guest.",
    )

    def clean_guest_ref(self) -> str:
        return parse_ref(self.cleaned_data["guest_ref"], "guests")

    def clean_cdp_confirmed_on(self) -> Any:
        day = self.cleaned_data["cdp_confirmed_on"]
        if day > timezone.now().date():
            raise ValidationError("The date CDP confirmed the erasure cannot be in the future.")
        return day

    def clean_consumer_refs(self) -> list[str]:
        refs, errors = [], []
        for line in self.cleaned_data["consumer_refs"].splitlines():
            if not line.strip():
                continue
            try:
                refs.append(parse_ref(line, "orderConsumers"))
            except ValidationError as error:
                errors.extend(error.messages)
        if errors:
            raise ValidationError(errors)
        return list(dict.fromkeys(refs))
