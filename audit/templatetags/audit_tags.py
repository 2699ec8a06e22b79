from django import template

from audit import labels

register = template.Library()


@register.filter
def field_label(field: str) -> str:
    """Return the on-screen name of an audited field, e.g. `last_name` → `Last name`."""
    return labels.field_label(field)
