"""Order items as words: what CDP says an item is, kept with its order, for every page that
names a consumer's items (type, name, product or flight, reference id, status; the ref beside).

`item_summary` reads one CDP order item into the few words the pages show; `items_of_order` reads
an order's items from the order as retrieved with `?expand=orderItems`, or, where CDP did not
expand them, one by one (`GET /v2/orderItems/<ref>`).
"""

from collections.abc import Callable
from typing import Any

from cdp.errors import CDPError
from cdp.links import ref_from_link
from consumers import records

# The most text one word of a summary keeps: it is a label, not the record.
_WORD = 120


def _text(item: dict, name: str) -> str:
    value = item.get(name)
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    return value.strip()[:_WORD] if isinstance(value, str) else ""


def _flight(item: dict) -> str:
    """Return "EI150 DUB→LHR" (per segment, comma-separated) for a flight item, else ""."""
    segments = item.get("flightSegments")
    if not isinstance(segments, list):
        return ""
    parts = []
    for segment in segments[:4]:
        if not isinstance(segment, dict):
            continue
        number = _text(segment, "flightNumber")
        route = "→".join(p for p in (_text(segment, "origin"), _text(segment, "destination")) if p)
        parts.append(" ".join(p for p in (number, route) if p))
    return ", ".join(p for p in parts if p)[:_WORD]


def item_summary(item: object) -> dict[str, str]:
    """Return what the pages say about an order item: its type, name, product, flight,
    reference id and status, each "" when CDP sent none fit to show."""
    if not isinstance(item, dict):
        return {}
    try:
        records.check_storable(item, "an order item")
    except CDPError:
        return {}
    return {
        "type": _text(item, "type"),
        "name": _text(item, "name"),
        "product": _text(item, "productId"),
        "flight": _flight(item),
        "reference": _text(item, "referenceId"),
        "status": _text(item, "status"),
    }


def item_label(summary: dict[str, str] | None) -> str:
    """Return the summary as one line ("Flight EI150 DUB→LHR · DUB to LHR · B94TXY-1-1 · …")."""
    if not summary:
        return "(not among the order's items as last read)"
    kind = summary.get("type", "").replace("_", " ").capitalize()
    what = summary.get("flight") or summary.get("product")
    parts = [" ".join(p for p in (kind, what) if p), summary.get("name", "")]
    parts += [summary.get("reference", ""), summary.get("status", "")]
    seen: list[str] = []
    for part in parts:
        if part and part not in seen:
            seen.append(part)
    return " · ".join(seen) or "(CDP says nothing about this item)"


def items_of_order(
    record: dict[str, Any],
    *,
    list_refs: Callable[[], list[str]],
    get_item: Callable[[str], dict[str, Any]],
) -> dict[str, dict[str, str]]:
    """Return {item ref: summary} for an order record; items CDP did not expand are read one by
    one (`get_item`). An item CDP cannot hand over is listed with an empty summary."""
    expanded = record.get("orderItems")
    items = expanded.get("items") if isinstance(expanded, dict) else None
    found: dict[str, dict[str, str]] = {}
    if isinstance(items, list) and all(isinstance(i, dict) and "ref" in i for i in items):
        for item in items:
            ref = item.get("ref") or ref_from_link(item)
            if isinstance(ref, str) and ref:
                found[ref] = item_summary(item)
        return found
    for ref in list_refs():
        try:
            found[ref] = item_summary(get_item(ref))
        except CDPError:
            found[ref] = {}
    return found
