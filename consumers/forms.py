"""The forms of the consumers' pages: the edit form with the version it was loaded with, the
lookups, the bulk refresh's refs and the revert's reason."""

import re
from datetime import datetime
from typing import Any

from django import forms
from django.core import signing
from django.core.exceptions import ValidationError
from django.urls import reverse_lazy

from cdp.links import is_ref, parse_link
from consumers import bulk, records
from consumers.models import OrderConsumer

# C0 and C1 controls, DEL and the Unicode line and paragraph separators (Cc, Zl and Zp).
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
LOADED_SALT = "consumers.ConsumerForm.loaded"
_COLLECTION_NAMES = {
    "guests": "a guest",
    "orderItems": "an order item",
    "orderConsumers": "an order consumer",
    "orders": "an order",
}


def parse_ref(value: str, collection: str) -> str:
    """Return the ref in `value`, a bare ref or a CDP link such as https://.../v2/guests/<ref>."""
    value = value.strip()
    if value.lower().startswith(("http://", "https://")):
        link = parse_link(value)
        if not link:
            raise ValidationError(f"{value} is not a CDP link ending in /v2/{collection}/<ref>.")
        if link[0] != collection:
            kind = _COLLECTION_NAMES.get(link[0], link[0])
            raise ValidationError(
                f"{value} is a link to {kind}, not to {_COLLECTION_NAMES[collection]}."
            )
        value = link[1]
    if not is_ref(value):
        raise ValidationError(
            f"{value[:80]} is not a CDP ref (a UUID such as 9b2f…-…) or a link to one."
        )
    return value


class RefLinesField(forms.CharField):
    """Refs or CDP links, one per line; a list of refs is shown one per line."""

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list) else value


class ConsumerForm(forms.Form):
    """The fields an agent may correct on an order consumer, and the version they loaded."""

    title = forms.ChoiceField(
        label=records.label("title"),
        required=False,
        widget=forms.Select(attrs={"data-title-case": ""}),
    )
    first_name = forms.CharField(
        label=records.label("first_name"),
        max_length=records.field("first_name").max_length,
        error_messages={"required": "Enter a first name: CDP requires one."},
        help_text="Title case is recommended, e.g. Mary-Kate.",
        widget=forms.TextInput(attrs={"data-title-case": "", "autocomplete": "off"}),
    )
    last_name = forms.CharField(
        label=records.label("last_name"),
        max_length=records.field("last_name").max_length,
        error_messages={"required": "Enter a last name: CDP requires one."},
        help_text="Title case is recommended, e.g. O'Neill.",
        widget=forms.TextInput(attrs={"data-title-case": "", "autocomplete": "off"}),
    )
    gender = forms.ChoiceField(label=records.label("gender"), required=False)
    guest_ref = forms.CharField(
        label=records.label("guest_ref"),
        required=False,
        max_length=512,
        help_text="The guest's ref, or the guest's link pasted from CDP. Leave empty to unlink.",
        widget=forms.TextInput(
            attrs={
                "data-guest-lookup": reverse_lazy("consumers:guest_summary"),
                "class": "ref",
                "spellcheck": "false",
                "autocomplete": "off",
            }
        ),
    )
    order_item_refs = RefLinesField(
        label=records.label("order_item_refs"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One order-item ref or link per line; each must belong to this consumer's order.",
    )
    reason = forms.CharField(
        label="Reason",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why you make this change, e.g. the customer's call. Kept in the audit log.",
    )
    # The version the agent loaded (values and CDP's modifiedAt), signed so it comes back intact.
    loaded = forms.CharField(
        widget=forms.HiddenInput,
        error_messages={
            "required": "The form lost track of the version it was loaded with; reload the page."
        },
    )

    error_messages = {
        "control_characters": "Remove the line breaks or control characters from this name.",
        "duplicate_item": "{ref} is listed more than once.",
        "bad_version": "The form lost track of the version it was loaded with; reload the page.",
    }

    def __init__(self, *args: Any, consumer: OrderConsumer, **kwargs: Any) -> None:
        kwargs.setdefault("initial", self.initial_for(consumer))
        super().__init__(*args, **kwargs)
        self.consumer = consumer
        for name, field in self.fields.items():
            if isinstance(field, forms.ChoiceField):
                field.choices = records.choices(name, current=getattr(consumer, name))

    @staticmethod
    def initial_for(consumer: OrderConsumer) -> dict[str, Any]:
        """Return the form's first values: the consumer's, and the version they come from."""
        return {
            **consumer.editable_values(),
            "loaded": signing.dumps(
                {
                    "values": consumer.editable_values(),
                    "modified_at": consumer.cdp_modified_at.isoformat()
                    if consumer.cdp_modified_at
                    else None,
                },
                salt=LOADED_SALT,
            ),
        }

    def _clean_name(self, field: str) -> str:
        value = self.cleaned_data[field]
        if _CONTROL_CHARACTERS.search(value):
            raise ValidationError(
                self.error_messages["control_characters"], code="control_characters"
            )
        return value

    def clean_first_name(self) -> str:
        return self._clean_name("first_name")

    def clean_last_name(self) -> str:
        return self._clean_name("last_name")

    def clean_guest_ref(self) -> str:
        value = self.cleaned_data["guest_ref"]
        return parse_ref(value, "guests") if value else ""

    def clean_order_item_refs(self) -> list[str]:
        refs, errors = [], []
        for line in self.cleaned_data["order_item_refs"].splitlines():
            if not line.strip():
                continue
            try:
                ref = parse_ref(line, "orderItems")
            except ValidationError as error:
                errors.extend(error.messages)
                continue
            if ref in refs:
                errors.append(self.error_messages["duplicate_item"].format(ref=ref))
            refs.append(ref)
        if errors:
            raise ValidationError(errors)
        return refs

    def clean_loaded(self) -> dict:
        try:
            loaded = signing.loads(self.cleaned_data["loaded"], salt=LOADED_SALT)
            modified_at = loaded["modified_at"]
            values = dict(loaded["values"])
            # Only a forged signature (a leaked SECRET_KEY) gets here with other shapes, but then it
            # must still be a form error, not a crash in the service (test_fuzz_edit_form.py).
            for name, value in values.items():
                if not records.is_value_of(name, value):
                    raise ValueError(name)
            return {
                "values": values,
                "modified_at": datetime.fromisoformat(modified_at) if modified_at else None,
            }
        except (signing.BadSignature, KeyError, TypeError, ValueError):
            raise ValidationError(self.error_messages["bad_version"], code="bad_version") from None

    def edited_values(self) -> dict:
        """Return the editable fields as the service expects them."""
        return {name: self.cleaned_data[name] for name in records.NAMES}


class SearchForm(forms.Form):
    """The home page's lookup: by consumer ref, by order ref or booking reference, or by name."""

    class Kind:
        NAME = "name"
        CONSUMER = "consumer"
        ORDER = "order"

    KIND_CHOICES = [
        (Kind.NAME, "Name (cached consumers)"),
        (Kind.CONSUMER, "Consumer ref"),
        (Kind.ORDER, "Order ref or booking reference"),
    ]

    kind = forms.ChoiceField(
        label="Look up by", choices=KIND_CHOICES, initial=Kind.NAME, widget=forms.RadioSelect
    )
    q = forms.CharField(
        label="Search", max_length=200, error_messages={"required": "Type something to look up."}
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        kind, q = cleaned.get("kind"), cleaned.get("q", "")
        if kind == self.Kind.CONSUMER and q:
            try:
                cleaned["q"] = parse_ref(q, "orderConsumers")
            except ValidationError as error:
                self.add_error("q", error)
        if kind == self.Kind.ORDER and q.lower().startswith(("http://", "https://")):
            try:
                cleaned["q"] = parse_ref(q, "orders")
            except ValidationError as error:
                self.add_error("q", error)
        elif kind == self.Kind.ORDER and q and not _has_letter_or_digit(q):
            # Dots alone ("." or "..") are neither; as a ref they would name no order.
            self.add_error("q", f"“{q[:80]}” is not an order ref or a booking reference.")
        return cleaned


class FindForm(forms.Form):
    """The search box on every page: a ref, a CDP link, a booking reference or a name."""

    q = forms.CharField(
        label="Find",
        max_length=200,
        error_messages={"required": "Type a ref, a booking reference or a name to find."},
    )

    def clean_q(self) -> str:
        q = self.cleaned_data["q"]
        if not _has_letter_or_digit(q):
            raise ValidationError(
                f"“{q[:80]}” holds no letter or digit: type a ref, a booking reference, an "
                "e-mail address or a name to find."
            )
        return q


def _has_letter_or_digit(text: str) -> bool:
    """Say whether text could be a ref, booking reference, e-mail address or name at all."""
    return any(character.isalnum() for character in text)


class BulkRefreshForm(forms.Form):
    """Consumer refs to refresh from CDP: pasted, uploaded as CSV, or both."""

    # A CSV of the most refs one job takes is well under this (10,000 refs are ~370 kB).
    MAX_FILE_BYTES = 2 * 1024 * 1024

    refs = forms.CharField(
        label="Consumer refs",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "class": "ref", "spellcheck": "false"}),
        help_text="One per line, or separated by commas or spaces; CDP links work too.",
    )
    csv_file = forms.FileField(
        label="Or a CSV file",
        required=False,
        help_text="Every cell holding a consumer ref or link is taken, in any column.",
        # The browser checks the size before sending (static/js/bulk.js); the server refuses it
        # as it streams in (core/uploads.py) and again below.
        widget=forms.ClearableFileInput(
            attrs={"accept": ".csv,text/csv", "data-max-bytes": MAX_FILE_BYTES}
        ),
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        refs = []
        if cleaned.get("refs"):
            try:
                refs += bulk.refs_parse(cleaned["refs"])
            except ValidationError as error:
                self.add_error("refs", error)
        upload = cleaned.get("csv_file")
        if upload:
            if upload.size > self.MAX_FILE_BYTES:
                self.add_error("csv_file", "The file is larger than 2 MB; split it.")
            else:
                try:
                    refs += bulk.refs_from_csv(upload.read())
                except ValidationError as error:
                    self.add_error("csv_file", error)
        if upload and self.errors and "csv_file" not in self.errors:
            # The file was fine, but the page comes back for the pasted refs: say it must be
            # chosen again (no browser keeps a chosen file), rather than lose it silently.
            self.add_error("csv_file", "Choose the file again once the refs above are mended.")
        if not self.errors and not refs:
            raise ValidationError("Paste some consumer refs or choose a CSV file.")
        cleaned["ref_list"] = list(dict.fromkeys(refs))
        return cleaned


class RevertForm(forms.Form):
    """Why a supervisor reverts an audited change; kept in the audit log."""

    reason = forms.CharField(
        label="Reason for the revert",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
