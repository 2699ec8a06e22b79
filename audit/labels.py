"""What each audited field is called on screen, as the apps that audit it say.

The audit log stores field names (`last_name`, `api_token`); the apps that write those entries
know what the fields are called. Each registers its fields from its `AppConfig.ready()`, so the
audit app, the bottom layer, shows them without importing any app:

    register_field_labels("Order consumer", {"last_name": "Last name", ...})
"""

from collections.abc import Mapping

# {group name: {field: label}}, in the order the apps registered them.
_GROUPS: dict[str, dict[str, str]] = {}


def register_field_labels(group: str, labels: Mapping[str, str]) -> None:
    """Name a group of audited fields (e.g. an order consumer's) and what each is called."""
    _GROUPS[group] = dict(labels)


def field_label(field: str) -> str:
    """Return the on-screen name of an audited field, e.g. `last_name` → `Last name`."""
    for labels in _GROUPS.values():
        if field in labels:
            return labels[field]
    return field.replace("_", " ").capitalize()


def field_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Return the audited fields grouped for a select: [(group, [(field, label), ...]), ...]."""
    return [(group, list(labels.items())) for group, labels in _GROUPS.items()]
