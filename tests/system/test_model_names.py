"""Models are named in good English wherever Django shows them (the admin, messages)."""

import re

import pytest
from django.apps import apps
from django.contrib import admin

# Words whose plural takes "es", and a consonant before a final "y" ("ies").
_NEEDS_ES = re.compile(r"(s|x|z|ch|sh)$")
_NEEDS_IES = re.compile(r"[^aeiou]y$")

OURS = ("accounts", "audit", "cdp", "consumers", "dashboard")
SHOWN = sorted(
    set(admin.site._registry)
    | {model for app in OURS for model in apps.get_app_config(app).get_models()},
    key=lambda model: model._meta.label,
)


def naive_plural(name: str) -> bool:
    """Say whether Django's default plural (the name with an "s") is wrong for this name."""
    return bool(_NEEDS_ES.search(name) or _NEEDS_IES.search(name))


@pytest.mark.parametrize("model", SHOWN, ids=lambda model: model._meta.label)
def test_a_model_shown_to_people_has_a_proper_plural(model):
    singular, plural = str(model._meta.verbose_name), str(model._meta.verbose_name_plural)

    if naive_plural(singular):
        assert plural != f"{singular}s", f"{model._meta.label}: “{plural}”"


def test_the_admin_lists_pushes_not_pushs(admin_client):
    content = admin_client.get("/admin/").content.decode()

    assert "Pushes" in content
    assert "Pushs" not in content
