"""The forms of the consumers' pages: the edit form with the version it was loaded with, the
lookups, the bulk refresh's refs and the revert's reason."""

import re
from datetime import datetime
from typing import Any

from django import forms
from django.core import signing
from django.core.exceptions import ValidationError
from django.urls import reverse_lazy
from django.utils.html import format_html

from cdp.links import is_ref, parse_link
from consumers import bulk, records
from consumers.items import item_label
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


class OrderItemsField(forms.MultipleChoiceField):
    """The order's items as checkboxes; a value may also be a ref, a link or several lines of
    them (pasted, or posted by a client of the old one-ref-per-line field)."""

    widget = forms.CheckboxSelectMultiple

    def to_python(self, value: Any) -> list[str]:
        if not value:
            return []
        values = [value] if isinstance(value, str) else list(value)
        return [line for text in values for line in str(text).splitlines() if line.strip()]

    def valid_value(self, value: str) -> bool:
        return True  # each is checked as a ref or link in the form's clean_order_item_refs


# The titles agents use most, first in the title list (Mx is not among CDP's documented
# examples, but it is one of the commonest titles asked for).
COMMON_TITLES = ("Mr", "Mrs", "Ms", "Miss", "Mx", "Dr")


def title_choices(current: str) -> list[Any]:
    """The title select's options: none, the common titles, then the rest of CDP's list."""
    documented = [value for value, _ in records.choices("title", current=current) if value]
    common = [(title, title) for title in COMMON_TITLES]
    rest = [
        (value, label)
        for value, label in records.choices("title", current=current)
        if value and value not in COMMON_TITLES
    ]
    if current and current not in documented and current not in COMMON_TITLES:
        rest = [(current, f"{current} (as in CDP)"), *[o for o in rest if o[0] != current]]
    return [("", "—"), ("Common titles", common), ("Other titles", rest)]


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
                "data-guest-search": reverse_lazy("consumers:guest_search"),
                "class": "ref",
                "spellcheck": "false",
                "autocomplete": "off",
            }
        ),
    )
    order_item_refs = OrderItemsField(
        label=records.label("order_item_refs"),
        required=False,
        help_text="The items of this consumer's order; tick those the consumer travels on.",
    )
    order_item_other = RefLinesField(
        label="Another item of the order",
        required=False,
        widget=forms.Textarea(attrs={"rows": 1, "class": "ref", "spellcheck": "false"}),
        help_text="An item the list does not show: its ref or link, one per line. It must belong "
        "to this consumer's order.",
    )
    reason = forms.CharField(
        label="Reason",
        required=False,
        max_length=500,
        widget=forms.TextInput(attrs={"list": "reason-templates", "autocomplete": "off"}),
        help_text="Why you make this change: pick a common reason or type your own. Kept in the "
        "audit log.",
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

    def __init__(
        self,
        *args: Any,
        consumer: OrderConsumer,
        order_items: dict[str, dict[str, str]] | None = None,
        guest: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("initial", self.initial_for(consumer))
        super().__init__(*args, **kwargs)
        self.consumer = consumer
        for name, options in (
            ("title", title_choices(consumer.title)),
            ("gender", records.choices("gender", current=consumer.gender)),
        ):
            choice_field = self.fields[name]
            assert isinstance(choice_field, forms.ChoiceField)
            choice_field.choices = options
        # The order's items, and any item the consumer holds that the order no longer lists.
        # By reference id (PostgreSQL's jsonb keeps no key order), then those the order lacks.
        given = order_items or {}
        items = {
            ref: given[ref]
            for ref in sorted(given, key=lambda r: (str(given[r].get("reference", "")), r))
        }
        for ref in consumer.order_item_refs:
            items.setdefault(ref, {})
        items_field = self.fields["order_item_refs"]
        assert isinstance(items_field, forms.ChoiceField)
        items_field.choices = [
            (ref, format_html('{} <span class="ref small text-body-secondary">{}</span>',
                              item_label(summary), ref))
            for ref, summary in items.items()
        ]  # fmt: skip
        if not items:
            self.fields[
                "order_item_refs"
            ].help_text = (
                "CDP lists no items on this order as last read; paste an item's ref or link below."
            )
        guest_field = self.fields["guest_ref"]
        if consumer.guest_ref:
            name = (guest or {}).get("name") or consumer.guest_name or "(name not available)"
            email = (guest or {}).get("email", "")
            now = f"{name} · {email}" if email else name
            guest_field.help_text = format_html(
                'Now: <strong data-testid="guest-current">{}</strong>. Type a name or e-mail '
                "address to search CDP's guests, or paste a guest's ref or link; empty unlinks.",
                now,
            )
        else:
            guest_field.help_text = (
                "No guest linked. Type a name or e-mail address to search CDP's guests, or paste "
                "a guest's ref or link."
            )

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
        return self._item_refs(self.cleaned_data["order_item_refs"])

    def clean_order_item_other(self) -> list[str]:
        return self._item_refs(self.cleaned_data["order_item_other"].splitlines())

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "order_item_refs" in cleaned and "order_item_other" in cleaned:
            ticked, other = cleaned["order_item_refs"], cleaned.pop("order_item_other")
            twice = [ref for ref in other if ref in ticked]
            if twice:
                self.add_error(
                    "order_item_other",
                    self.error_messages["duplicate_item"].format(ref=twice[0])
                    + " It is ticked in the list above already.",
                )
            cleaned["order_item_refs"] = [*ticked, *(r for r in other if r not in ticked)]
        return cleaned

    def _item_refs(self, lines: list[str]) -> list[str]:
        refs, errors = [], []
        for line in lines:
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


class TravellerRowForm(forms.Form):
    """One traveller's title and names on the order page's inline form (prefix: its row)."""

    ref = forms.CharField(widget=forms.HiddenInput)
    title = forms.ChoiceField(
        label="Title",
        required=False,
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    first_name = forms.CharField(
        label="First name",
        max_length=records.field("first_name").max_length,
        error_messages={"required": "Enter a first name: CDP requires one."},
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    last_name = forms.CharField(
        label="Last name",
        max_length=records.field("last_name").max_length,
        error_messages={"required": "Enter a last name: CDP requires one."},
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    loaded = ConsumerForm.base_fields["loaded"]
    error_messages = ConsumerForm.error_messages

    def __init__(self, *args: Any, consumer: OrderConsumer, **kwargs: Any) -> None:
        initial = ConsumerForm.initial_for(consumer)
        kwargs.setdefault("initial", {**initial, "ref": consumer.ref})
        super().__init__(*args, **kwargs)
        self.consumer = consumer
        title = self.fields["title"]
        assert isinstance(title, forms.ChoiceField)
        title.choices = title_choices(consumer.title)

    clean_first_name = ConsumerForm.clean_first_name
    clean_last_name = ConsumerForm.clean_last_name
    _clean_name = ConsumerForm._clean_name
    clean_loaded = ConsumerForm.clean_loaded

    def clean_ref(self) -> str:
        if self.cleaned_data["ref"] != self.consumer.ref:
            raise ValidationError("The rows of the form came back in another order; reload it.")
        return self.cleaned_data["ref"]

    def edited_values(self) -> dict:
        """All editable fields as loaded, with this row's title and names laid over them."""
        values = dict(self.cleaned_data["loaded"]["values"])
        values.update(
            {name: self.cleaned_data[name] for name in ("title", "first_name", "last_name")}
        )
        return values


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
