"""Template filters of the consumers' pages: masking, lists, order items, who may act on a push."""

from django import template
from django.contrib.auth.models import User

from consumers.items import item_label
from consumers.models import Order, Push

register = template.Library()


@register.filter
def masked(value: object, visible: int = 3) -> str:
    """Hide all but the last few characters of a sensitive value such as a passport number."""
    text = str(value or "")
    if len(text) <= visible:
        return "•" * len(text)
    return "•" * (len(text) - visible) + text[-visible:]


@register.filter
def join_list(value: object) -> str:
    """Render a CDP list attribute (emails, phone numbers) as comma-separated text."""
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return "" if value is None else str(value)


@register.filter
def handled_by(push: Push, user: User) -> bool:
    """Say whether the user may open and act on a push (`{% if push|handled_by:user %}`)."""
    return push.handled_by(user)


@register.filter
def order_item(order: Order | None, ref: str) -> str:
    """Say what an order item is, from its order as last read (`{{ order|order_item:ref }}`)."""
    summaries = order.items if order is not None and isinstance(order.items, dict) else {}
    return item_label(summaries.get(ref))
