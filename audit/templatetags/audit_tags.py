from django import template

from audit.forms import FIELD_LABELS

register = template.Library()


@register.filter
def field_label(field: str) -> str:
    """Return the on-screen name of an audited field, e.g. `last_name` → `Last name`."""
    return FIELD_LABELS.get(field, field.replace("_", " ").capitalize())
