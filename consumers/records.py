"""The fields agents edit on an order consumer, and how each maps to and from CDP's record.

`FIELDS` is the one table of them: per field its CDP attribute, its kind, its label and the
longest value the cache keeps. The functions below are the only code that treats a field by its
kind: reading a CDP record into the cache's fields, laying changes over a fresh record for an
update, comparing values, listing what changed, and turning values into audit text and back.
Models, services, pushes, forms and views read the table; nothing here touches the database.
"""

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from django.db import models
from django.utils import timezone

from cdp.errors import CDPBadResponse
from cdp.links import ref_from_link
from cdp.transport import Connection


class Kind(StrEnum):
    TEXT = "text"
    # Text from a documented list (the form offers the list, keeping a value CDP already holds).
    CHOICE = "choice"
    # A link to one CDP record, kept as its ref ("" when there is none).
    LINK = "link"
    # Links to CDP records, kept as a list of refs in any order.
    LINK_LIST = "link list"


@dataclass(frozen=True)
class Field:
    """One field an agent edits: the cache's column and the form's field, and CDP's attribute."""

    name: str
    attribute: str
    kind: Kind
    label: str
    # The longest text the cache's column keeps; for links, the longest ref.
    max_length: int
    # CDP keeps no record without it; a record CDP sends without it is refused.
    required: bool = False
    # For links: the CDP collection linked to, as in its URLs (/v2/guests/<ref>).
    collection: str = ""
    # For choices: (value, label) as CDP documents them.
    choices: tuple[tuple[str, str], ...] = ()


# The documented examples for `title` (order-consumer-rest-api-v2--legacy-.html).
TITLES = (
    "Br",
    "Brigadier",
    "Capt",
    "Colonel",
    "Dame",
    "Dr",
    "Elder",
    "Fr",
    "General",
    "Hon",
    "Judge",
    "Lord",
    "Master",
    "Miss",
    "Mr",
    "Mrs",
    "Ms",
    "Mstr",
    "Prof",
    "Rabbi",
    "Rev",
    "Shaikha",
    "Sheikh",
    "Sir",
    "Sister",
    "Sr",
)


class Gender(models.TextChoices):
    MALE = "male", "Male"
    FEMALE = "female", "Female"
    UNKNOWN = "unknown", "Unknown"


# The longest ref the cache keeps (its ref columns, consumers/models.py).
REF_MAX_LENGTH = 64

# In this order on the form, the conflict page and wherever all of them are listed. The model's
# columns are as long as max_length says (tests/consumers/test_records.py checks that).
FIELDS = (
    Field(
        "title",
        "title",
        Kind.CHOICE,
        "Title",
        max_length=50,
        choices=tuple((title, title) for title in TITLES),
    ),
    Field("first_name", "firstName", Kind.TEXT, "First name", max_length=255, required=True),
    Field("last_name", "lastName", Kind.TEXT, "Last name", max_length=255, required=True),
    Field("gender", "gender", Kind.CHOICE, "Gender", max_length=16, choices=tuple(Gender.choices)),
    Field("guest_ref", "guest", Kind.LINK, "Guest", max_length=REF_MAX_LENGTH, collection="guests"),
    Field(
        "order_item_refs",
        "orderItems",
        Kind.LINK_LIST,
        "Order items",
        max_length=REF_MAX_LENGTH,
        collection="orderItems",
    ),
)
NAMES = tuple(field.name for field in FIELDS)
# What each field is called on screen: in the form, the audit log and the conflict view.
LABELS = {field.name: field.label for field in FIELDS}
_BY_NAME = {field.name: field for field in FIELDS}
_BY_ATTRIBUTE = {field.attribute: field for field in FIELDS}

# Attributes CDP sets itself; they are left out of an update body.
READ_ONLY_ATTRIBUTES = ("href", "ref", "createdAt", "modifiedAt", "order")


def field(name: str) -> Field:
    """Return the editable field of that name (KeyError for any other)."""
    return _BY_NAME[name]


def field_of_attribute(attribute: str) -> Field | None:
    """Return the editable field CDP calls `attribute` (`lastName`), or None."""
    return _BY_ATTRIBUTE.get(attribute)


def label(name: str) -> str:
    """Return what a field is called on screen; a name that is no editable field, as it is."""
    return LABELS.get(name, name)


def empty(name: str) -> str | list[str]:
    """Return the field's value when it holds nothing: no text, no link, no links."""
    return [] if _BY_NAME[name].kind is Kind.LINK_LIST else ""


def is_value_of(name: str, value: object) -> bool:
    """Say whether `value` has the shape of the named editable field's values."""
    editable = _BY_NAME.get(name)
    if editable is None:
        return False
    if editable.kind is Kind.LINK_LIST:
        return isinstance(value, list) and all(isinstance(ref, str) for ref in value)
    return isinstance(value, str)


def choices(name: str, *, current: str) -> list[tuple[str, str]]:
    """Return a choice field's options, blank first, keeping a value CDP holds off the list.

    So an unrelated save never drops a title CDP already holds but the documented list lacks.
    """
    options = [("", "—"), *_BY_NAME[name].choices]
    if current and current not in {value for value, _ in options}:
        options.append((current, f"{current} (as in CDP)"))
    return options


# --- reading CDP records ----------------------------------------------------------------------


def read_time(value: object, name: str) -> datetime | None:
    """Return a CDP date and time in UTC (None when there is none), or raise CDPBadResponse."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise CDPBadResponse(f"CDP sent a {name} that is not a date and time.")
    try:
        moment = datetime.fromisoformat(value)
        moment = moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)
        # In UTC, as the database keeps it; a moment past year 9999 there is refused here.
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise CDPBadResponse(
            f"CDP sent a {name} that is not a date and time: {value[:40]}"
        ) from None


def read_text(record: dict, name: str, max_length: int | None = None) -> str:
    """Return a text attribute ("" when absent), or raise CDPBadResponse if it cannot be kept."""
    value = record.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise CDPBadResponse(f"CDP sent a {name} that is not text.")
    if max_length is not None and len(value) > max_length:
        raise CDPBadResponse(
            f"CDP sent a {name} of {len(value)} characters; this back office keeps at most "
            f"{max_length}."
        )
    return value


def _ref(link: object, name: str) -> str:
    """Return the ref in a link object, or raise CDPBadResponse if it is not a usable link."""
    ref = ref_from_link(link)
    if not ref or len(ref) > REF_MAX_LENGTH:
        raise CDPBadResponse(
            f'CDP sent a {name} that is not a link such as {{"href": ".../<ref>"}}.'
        )
    return ref


def _link_ref(record: dict, name: str) -> str:
    """Return the ref of a linked record (guest, order), or "" when there is no link."""
    link = record.get(name)
    return "" if link is None else _ref(link, name)


def _item_refs(value: object, name: str = "orderItems") -> list[str]:
    """Return the refs of a list of links, `{"items": [links]}` or a bare list of links."""
    if value is None:
        return []
    items = value.get("items") if isinstance(value, dict) else value
    if not isinstance(items, list):
        raise CDPBadResponse(f"CDP sent {name} that are not a list of links.")
    return [_ref(item, f"{name} entry") for item in items]


def check_storable(value: object, what: str) -> None:
    """Refuse what no database could keep: NUL characters, broken Unicode, NaN or infinity."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise CDPBadResponse(f"CDP sent {what} with a NUL character in its text.")
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise CDPBadResponse(
                    f"CDP sent {what} with text that is not valid Unicode."
                ) from None
        elif isinstance(item, float) and not math.isfinite(item):
            raise CDPBadResponse(f"CDP sent {what} with a number that is not finite.")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _read(editable: Field, record: dict) -> str | list[str]:
    if editable.kind is Kind.LINK:
        return _link_ref(record, editable.attribute)
    if editable.kind is Kind.LINK_LIST:
        return _item_refs(record.get(editable.attribute), editable.attribute)
    return read_text(record, editable.attribute, editable.max_length)


def consumer_fields(record: object) -> dict[str, Any]:
    """Map a CDP order-consumer record onto the cache's fields, or raise CDPBadResponse."""
    # Every check here was asked for by tests/system/test_fuzz_cdp_parser.py: what passes can be
    # cached.
    if not isinstance(record, dict):
        raise CDPBadResponse("CDP sent an order consumer that is not a JSON object.")
    if any(not isinstance(record.get(f.attribute), str) for f in FIELDS if f.required):
        raise CDPBadResponse("CDP sent an order consumer without a first and last name.")
    check_storable(record, "an order consumer")
    fields: dict[str, Any] = {"order_ref": _link_ref(record, "order")}
    fields.update((editable.name, _read(editable, record)) for editable in FIELDS)
    fields["cdp_created_at"] = read_time(record.get("createdAt"), "createdAt")
    fields["cdp_modified_at"] = read_time(record.get("modifiedAt"), "modifiedAt")
    fields["raw"] = record
    return fields


# --- writing CDP records ----------------------------------------------------------------------


def push_body(fresh: dict, changes: dict, *, connection: Connection) -> dict:
    """Lay the changed fields over CDP's fresh copy: the whole record, for an update that
    replaces it (v2's POST, v2.1's PUT).

    `changes` is {field: (old, new)}; links point at `connection`'s CDP, in its API version.
    """
    body = {key: value for key, value in fresh.items() if key not in READ_ONLY_ATTRIBUTES}
    for attribute, value in patch_body(changes, connection=connection).items():
        if value is None:
            # Leaving an attribute out of a record that replaces the old one is how it is cleared.
            body.pop(attribute, None)
        else:
            body[attribute] = value
    return body


def patch_body(changes: dict, *, connection: Connection) -> dict:
    """Return only the changed attributes, for a partial update (v2.1's PATCH).

    A cleared field is None (JSON null), the way a PATCH clears an attribute as far as can be
    told: CDP does not document it (docs/cdp-versions.md; the client falls back to a whole
    record when CDP refuses the null). Attributes not in `changes` are not sent, so nothing this
    back office never read, or that another writer set meanwhile, can be touched by the save.
    """
    body: dict[str, Any] = {}
    for name, (_, new) in changes.items():
        editable = _BY_NAME[name]
        if not new:
            body[editable.attribute] = None
        elif editable.kind is Kind.LINK:
            body[editable.attribute] = connection.link(editable.collection, new)
        elif editable.kind is Kind.LINK_LIST:
            body[editable.attribute] = {
                "items": [connection.link(editable.collection, ref) for ref in new]
            }
        else:
            body[editable.attribute] = new
    return body


# --- comparing values -------------------------------------------------------------------------


def same_value(name: str, a: Any, b: Any) -> bool:
    """Say whether two values of the field are the same to CDP."""
    if _BY_NAME[name].kind is Kind.LINK_LIST:
        # The order of a consumer's order items carries no meaning.
        return sorted(a) == sorted(b)
    return a == b


def changes(loaded: dict, data: dict) -> dict[str, tuple]:
    """Return {field: (loaded, new)} for each editable field the agent changed."""
    changed = {}
    for name in NAMES:
        old = loaded.get(name, empty(name))
        new = data.get(name, old)
        if not same_value(name, old, new):
            changed[name] = (old, new)
    return changed


def holds(fields: dict, changes: dict) -> bool:
    """Say whether the fields (as read from CDP) already hold every new value of `changes`."""
    return all(same_value(name, fields[name], new) for name, (_, new) in changes.items())


# --- audit text -------------------------------------------------------------------------------


def audit_text(value: object) -> str:
    """Render a field's value as the audit log stores it."""
    return ", ".join(value) if isinstance(value, list) else str(value)


def from_audit_text(name: str, text: str) -> str | list[str]:
    """Turn a value stored in the audit log back into the field's value."""
    if _BY_NAME[name].kind is Kind.LINK_LIST:
        return [ref for ref in text.split(", ") if ref]
    return text


def display_text(value: object) -> str:
    """Render a field's value for a page: as the audit log shows it, nothing for no value."""
    return "" if value is None else audit_text(value)
