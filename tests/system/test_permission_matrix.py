"""Every page and admin page, for every persona, → the expected status, generated from the URLconf.

A new URL without a rule here fails `test_every_url_has_a_rule`, so no page ships unguarded.
"""

from datetime import date

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from allauth.socialaccount.models import SocialAccount
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from approvals.services import approval_policy_get
from audit.services import RequestMeta
from cdp.models import CDPConnection
from consumers import bulk, edits, pushes, services
from consumers.models import Push, ReasonTemplate
from consumers.tasks import push_deliver_task
from privacy import rectify
from privacy.models import ErasureRequest
from tests.approvals.conftest import OTHER_GUEST_REF
from tests.conftest import CONSUMER_REF, GUEST_REF, ORDER_REF, workers_alive

# "agent" owns the world's bulk refresh, conflict and queued edit; "another_agent" holds the same
# role but owns none of them, and must not even learn that they exist (404).
PERSONAS = ("anonymous", "agent", "another_agent", "supervisor", "administrator")
SIGNED_IN_ONLY = dict.fromkeys(PERSONAS, 200) | {"anonymous": 302}
SUPERVISORS_ONLY = dict.fromkeys(PERSONAS, 200) | {
    "anonymous": 302,
    "agent": 403,
    "another_agent": 403,
}

ADMINISTRATORS_ONLY = dict.fromkeys(PERSONAS, 403) | {"anonymous": 302, "administrator": 200}


def owners_and_supervisors(status: int) -> dict[str, int]:
    """The owner and supervisors get `status`; another agent gets 404, as if it did not exist."""
    return dict.fromkeys(PERSONAS, status) | {"anonymous": 302, "another_agent": 404}


# The app's own pages: (method, {persona: status}). Anonymous visitors are sent to sign in (302).
APP_RULES = {
    "healthz": ("GET", dict.fromkeys(PERSONAS, 200)),
    "readyz": ("GET", dict.fromkeys(PERSONAS, 200)),
    "login": ("GET", dict.fromkeys(PERSONAS, 302) | {"anonymous": 200}),
    "logout": ("POST", dict.fromkeys(PERSONAS, 302)),
    # allauth's pages (accounts/urls.py), under its own names too. A GET of the sign-out page
    # asks first; MFA set-up asks signed-in users to confirm it is them (reauthenticate, 302).
    "account_login": ("GET", dict.fromkeys(PERSONAS, 302) | {"anonymous": 200}),
    "account_logout": ("GET", dict.fromkeys(PERSONAS, 200) | {"anonymous": 302}),
    "account_inactive": ("GET", dict.fromkeys(PERSONAS, 200)),
    "account_reauthenticate": ("GET", SIGNED_IN_ONLY),
    "account_change_password": ("GET", SIGNED_IN_ONLY),
    "admin_login_redirect": ("GET", dict.fromkeys(PERSONAS, 302)),
    "accounts:no_role": ("GET", dict.fromkeys(PERSONAS, 302)),  # they hold roles: home
    "accounts:backchannel_logout": ("POST", dict.fromkeys(PERSONAS, 400)),  # no logout token
    "mfa_index": ("GET", SIGNED_IN_ONLY),
    "mfa_list_webauthn": ("GET", SIGNED_IN_ONLY),
    "mfa_authenticate": ("GET", dict.fromkeys(PERSONAS, 302)),  # only during a sign-in
    "mfa_login_webauthn": ("POST", dict.fromkeys(PERSONAS, 302)),
    "mfa_reauthenticate": ("GET", dict.fromkeys(PERSONAS, 302)),
    "mfa_reauthenticate_webauthn": ("GET", dict.fromkeys(PERSONAS, 302)),
    "mfa_activate_totp": ("GET", dict.fromkeys(PERSONAS, 302)),
    "mfa_add_webauthn": ("GET", dict.fromkeys(PERSONAS, 302)),
    "mfa_generate_recovery_codes": ("GET", dict.fromkeys(PERSONAS, 302)),
    "mfa_edit_webauthn": ("GET", dict.fromkeys(PERSONAS, 302)),
    "mfa_remove_webauthn": ("POST", dict.fromkeys(PERSONAS, 302)),
    # Nothing to deactivate, view or download without an authenticator.
    "mfa_deactivate_totp": ("GET", dict.fromkeys(PERSONAS, 404) | {"anonymous": 302}),
    "mfa_view_recovery_codes": ("GET", dict.fromkeys(PERSONAS, 404) | {"anonymous": 302}),
    "mfa_download_recovery_codes": ("GET", dict.fromkeys(PERSONAS, 404) | {"anonymous": 302}),
    "socialaccount_login_cancelled": ("GET", dict.fromkeys(PERSONAS, 200)),
    "socialaccount_login_error": ("GET", dict.fromkeys(PERSONAS, 401)),
    # No identity provider is configured here (tests/e2e/test_sso.py signs in through one).
    "openid_connect_login": ("POST", dict.fromkeys(PERSONAS, 404)),
    "openid_connect_callback": ("GET", dict.fromkeys(PERSONAS, 404)),
    "consumers:home": ("GET", SIGNED_IN_ONLY),
    "consumers:order": ("GET", SIGNED_IN_ONLY),
    "consumers:order_refresh": ("POST", dict.fromkeys(PERSONAS, 302)),
    # The inline form of the travellers' names: an empty POST saves nothing, shows the order.
    "consumers:order_edit": ("POST", dict.fromkeys(PERSONAS, 200) | {"anonymous": 302}),
    "consumers:detail": ("GET", SIGNED_IN_ONLY),
    "consumers:refresh": ("POST", dict.fromkeys(PERSONAS, 302)),
    "consumers:edit": ("GET", SIGNED_IN_ONLY),
    # Its author undoes a save; anyone else is told why not (both back to the consumer).
    "consumers:undo": ("POST", dict.fromkeys(PERSONAS, 302)),
    "consumers:conflict": ("GET", owners_and_supervisors(200)),
    "consumers:conflict_reapply": ("POST", owners_and_supervisors(302)),
    # GET asks first, showing the change that would be lost; the POST discards.
    "consumers:conflict_discard": ("GET", owners_and_supervisors(200)),
    "consumers:queued_retry": ("POST", owners_and_supervisors(302)),
    # GET asks first, showing the change that would not be sent; the POST cancels.
    "consumers:queued_cancel": ("GET", owners_and_supervisors(200)),
    "consumers:find": ("GET", SIGNED_IN_ONLY),
    "consumers:guest_summary": ("GET", SIGNED_IN_ONLY),
    "consumers:guest_search": ("GET", SIGNED_IN_ONLY),
    "consumers:bulk_new": ("GET", SIGNED_IN_ONLY),
    "consumers:bulk": ("GET", owners_and_supervisors(200)),
    "consumers:bulk_progress": ("GET", owners_and_supervisors(200)),
    "consumers:bulk_failures": ("GET", owners_and_supervisors(200)),
    # The agent who started it cancels it; supervisors find it over (both back to its page).
    "consumers:bulk_cancel": ("POST", owners_and_supervisors(302)),
    "consumers:queue": ("GET", SUPERVISORS_ONLY),
    # Everyone signed in has notifications of their own (and only sees those).
    "consumers:notifications": ("GET", SIGNED_IN_ONLY),
    "consumers:notifications_read": ("POST", dict.fromkeys(PERSONAS, 302)),
    "audit:list": ("GET", SUPERVISORS_ONLY),
    "dashboard:dashboard": ("GET", SUPERVISORS_ONLY),
    "audit:export": ("GET", SUPERVISORS_ONLY),
    "audit:detail": ("GET", SUPERVISORS_ONLY),
    # GET shows what the revert would send (read from CDP); the POST reverts.
    "consumers:revert": ("GET", SUPERVISORS_ONLY),
    # Four-eyes approval: "agent" asked for the world's request.
    "approvals:list": ("GET", SUPERVISORS_ONLY),
    "approvals:mine": ("GET", SIGNED_IN_ONLY),
    "approvals:detail": ("GET", owners_and_supervisors(200)),
    # Supervisors decide (the first approves: back to the request; the next is told it was).
    "approvals:approve": ("POST", SUPERVISORS_ONLY | {"supervisor": 302, "administrator": 302}),
    # Without the comment a rejection needs: the request's page again, with the error.
    "approvals:reject": ("POST", SUPERVISORS_ONLY),
    # Who asked withdraws; a supervisor is told only who asked may (back to the request).
    "approvals:withdraw": ("POST", owners_and_supervisors(302)),
    # Correcting a person everywhere: whoever may edit; a correction is its agent's and the
    # supervisors', like a bulk refresh.
    "privacy:rectify_new": ("GET", SIGNED_IN_ONLY),
    "privacy:rectify": ("GET", owners_and_supervisors(200)),
    "privacy:rectify_start": ("POST", owners_and_supervisors(302)),
    "privacy:rectify_progress": ("GET", owners_and_supervisors(200)),
    "privacy:rectify_cancel": ("POST", owners_and_supervisors(302)),
    # Forgetting a person is for administrators alone.
    "privacy:erasures": ("GET", ADMINISTRATORS_ONLY),
    "privacy:erasure": ("GET", ADMINISTRATORS_ONLY),
}

# The Django admin is for administrators: everyone else is sent to its sign-in page (302).
# What an administrator gets where it is not 200, and the admin pages that take a POST:
ADMINISTRATOR_STATUS = {
    "admin:login": 302,  # to the one sign-in page (accounts), which has the MFA step
    "admin:logout": 302,  # to LOGOUT_REDIRECT_URL
    "admin:autocomplete": 403,  # without its query parameters
    "admin:view_on_site": 404,  # users have no page on the site
    "admin:audit_auditentry_add": 403,
    "admin:audit_auditentry_delete": 403,
    "admin:consumers_orderconsumer_add": 403,
    "admin:consumers_order_add": 403,
    "admin:consumers_push_add": 403,
    "admin:consumers_push_delete": 403,
    "admin:axes_accessattempt_add": 403,
    # MFA methods are enrolled by their owners, provider links made by signing in: neither added
    # in the admin; provider links not deleted there either.
    "admin:mfa_authenticator_add": 403,
    "admin:socialaccount_socialaccount_add": 403,
    "admin:socialaccount_socialaccount_delete": 403,
    "admin:cdp_cdpconnection_test": 302,  # back to the connection with the result
    # One approval policy: its list opens it, and it is never added twice or deleted.
    "admin:approvals_approvalpolicy_changelist": 302,
    "admin:approvals_approvalpolicy_add": 403,
    "admin:approvals_approvalpolicy_delete": 403,
    "admin:approvals_approvalrequest_add": 403,
    "admin:approvals_approvalrequest_delete": 403,
}
if settings.TASKS_BACKEND == "database":  # its tasks are rows, shown in the admin
    ADMINISTRATOR_STATUS["admin:django_tasks_database_dbtaskresult_add"] = 403
    ADMINISTRATOR_STATUS["admin:django_tasks_database_dbtaskresult_delete"] = 403
# Steps of signing in and out that send a visitor back to the start of signing in, with nothing
# to return to afterwards.
BACK_TO_SIGN_IN = {"account_logout", "mfa_authenticate", "admin_login_redirect", "admin:login"}
ADMIN_POSTS = {"admin:logout", "admin:cdp_cdpconnection_test"}


def _url_names(patterns, namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _url_names(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}{pattern.name}"


URL_NAMES = sorted(set(_url_names(get_resolver().url_patterns)))


def rule(name: str) -> tuple[str, dict[str, int]]:
    if name in APP_RULES:
        return APP_RULES[name]
    non_admin = 302  # the admin's own sign-in page sends everyone to the one sign-in page
    method = "POST" if name in ADMIN_POSTS else "GET"
    statuses = dict.fromkeys(PERSONAS, non_admin)
    statuses["administrator"] = ADMINISTRATOR_STATUS.get(name, 200)
    return method, statuses


@pytest.fixture
def world(db, django_user_model, agent, another_agent, supervisor, administrator, sandbox):
    """One record of every kind, so every page has something to show."""
    consumer = services.consumer_fetch(ref=CONSUMER_REF)
    result = pushes.consumer_push_update(
        consumer=consumer,
        data={**consumer.editable_values(), "last_name": "Beirne"},
        loaded_modified_at=consumer.cdp_modified_at,
        user=agent,
        meta=RequestMeta(),
    )

    # A conflict for the conflict pages, and a queued edit for the queue's actions.
    def push_row(status, **changes):
        return Push.objects.create(
            consumer_ref=CONSUMER_REF, order_ref=ORDER_REF, user=agent, status=status,
            loaded=consumer.editable_values(), changes=changes,
            loaded_modified_at=consumer.cdp_modified_at,
        )  # fmt: skip

    conflict = push_row(Push.Status.CONFLICT, first_name=["Liam", "William"])
    queued = push_row(Push.Status.PENDING, title=["Mr", "Dr"])
    push_deliver_task.enqueue(queued.pk)
    connection = CDPConnection(
        name="Sandbox", region=CDPConnection.Region.CUSTOM, custom_url=sandbox.base_url,
        client_key=sandbox.config.client_key,
    )  # fmt: skip
    connection.set_api_token(sandbox.config.api_token)
    connection.save()
    # A failed sign-in, for the lockout pages.
    AccessAttempt.objects.create(
        username="agent", ip_address="192.0.2.1", user_agent="test", get_data="", post_data="",
        http_accept="", path_info="/accounts/login/", failures_since_start=1,
    )  # fmt: skip
    bulk_refresh = bulk.bulk_refresh_start(user=agent, refs=[CONSUMER_REF])
    workers_alive()  # for /readyz
    # A guest re-link by the agent, waiting for approval (the policy's defaults).
    approval_policy_get()
    loaded = consumer.editable_values()
    held = edits.consumer_edit_save(
        consumer=consumer, data={**loaded, "guest_ref": OTHER_GUEST_REF}, loaded_values=loaded,
        loaded_modified_at=consumer.cdp_modified_at, user=agent, meta=RequestMeta(),
        reason="The customer asked.",
    ).held  # fmt: skip
    assert held is not None
    correction = rectify.rectification_prepare(
        person=rectify.person_records(consumer_ref=CONSUMER_REF),
        wanted={**consumer.editable_values(), "title": "Dr"},
        reason="permission matrix",
        user=agent,
        meta=RequestMeta(),
    )
    erasure = ErasureRequest.objects.create(
        guest_ref="another-guest", ticket="DSR-1", cdp_confirmed_on=date(2026, 1, 2)
    )
    # An MFA method and a link to the identity provider, for their admin pages.
    TOTP.activate(django_user_model.objects.create_user("mfa-holder"), "JBSWY3DPEHPK3PXP")
    SocialAccount.objects.create(user=another_agent, provider="sso", uid="subject-1")
    # A reason template, for its admin pages (a transactional test flushes the migration's).
    ReasonTemplate.objects.get_or_create(text="Name as on passport")
    return {
        "approval": held,
        "correction": correction,
        "erasure": erasure,
        "bulk_refresh": bulk_refresh,
        "entry": result.entry,
        "connection": connection,
        "user": agent,
        "conflict": conflict,
        "queued": queued,
    }


def url_for(name: str, world) -> str:
    """Reverse a URL name with arguments that point at real records."""
    if name.startswith("approvals:") and name not in ("approvals:list", "approvals:mine"):
        return reverse(name, kwargs={"pk": world["approval"].pk})
    if name.startswith("openid_connect_"):
        return reverse(name, kwargs={"provider_id": "sso"})
    if name in ("mfa_edit_webauthn", "mfa_remove_webauthn"):
        return reverse(name, kwargs={"pk": 1})
    if name.startswith("consumers:conflict"):
        return reverse(name, kwargs={"ref": CONSUMER_REF, "push_id": world["conflict"].pk})
    if name.startswith("consumers:queued_"):
        return reverse(name, kwargs={"ref": CONSUMER_REF, "push_id": world["queued"].pk})
    if name.startswith("consumers:bulk") and name != "consumers:bulk_new":
        return reverse(name, kwargs={"job_id": world["bulk_refresh"].pk})
    if name.startswith("privacy:rectify") and name != "privacy:rectify_new":
        return reverse(name, kwargs={"job_id": world["correction"].pk})
    if name == "privacy:rectify_new":
        return reverse(name) + f"?consumer={CONSUMER_REF}"
    if name == "privacy:erasure":
        return reverse(name, kwargs={"pk": world["erasure"].pk})
    if name == "consumers:guest_summary":
        return reverse(name) + f"?ref={GUEST_REF}"
    if name == "consumers:guest_search":
        return reverse(name) + "?q=Byrne"
    if name in ("audit:detail", "consumers:revert"):
        return reverse(name, kwargs={"pk": world["entry"].pk})
    if name == "consumers:undo":
        return reverse(name, kwargs={"entry_id": world["entry"].pk})
    if name.startswith("consumers:order"):
        return reverse(name, kwargs={"ref": ORDER_REF})
    unparametrized = (
        "consumers:home",
        "consumers:queue",
        "consumers:find",
        "consumers:bulk_new",
        "consumers:notifications",
        "consumers:notifications_read",
    )
    if name.startswith("consumers:") and name not in unparametrized:
        return reverse(name, kwargs={"ref": CONSUMER_REF})
    if name == "admin:app_list":
        return reverse(name, kwargs={"app_label": "consumers"})
    if name == "admin:view_on_site":
        user_type = ContentType.objects.get_for_model(get_user_model())
        return reverse(name, args=[user_type.pk, world["user"].pk])
    if name == "admin:auth_user_password_change":
        return reverse(name, args=[world["user"].pk])
    model = _admin_model(name)
    if model and name.rsplit("_", 1)[-1] in ("change", "delete", "history", "test"):
        instance = model.objects.first()
        assert instance is not None, f"Create a {model.__name__} in the `world` fixture for {name}."
        return reverse(name, args=[instance.pk])
    return reverse(name)


def _admin_model(name: str):
    """Return the model behind an admin page such as admin:audit_auditentry_change, if any."""
    for model in admin.site._registry:
        if name.startswith(f"admin:{model._meta.app_label}_{model._meta.model_name}_"):
            return model
    return None


def test_every_url_has_a_rule():
    unruled = [
        name for name in URL_NAMES if not name.startswith("admin:") and name not in APP_RULES
    ]
    assert unruled == [], "Give these pages a rule in the permission matrix"
    assert set(APP_RULES) <= set(URL_NAMES)
    assert set(ADMINISTRATOR_STATUS) <= set(URL_NAMES)


@pytest.mark.parametrize("name", URL_NAMES)
def test_each_persona_gets_the_expected_status(name, world, client, request):
    method, expected = rule(name)
    url = url_for(name, world)
    seen = {}
    for persona in PERSONAS:
        client.logout()
        if persona != "anonymous":
            client.force_login(request.getfixturevalue(persona))
        response = client.post(url) if method == "POST" else client.get(url)
        seen[persona] = response.status_code
        if (
            persona == "anonymous"
            and method == "GET"
            and seen[persona] == 302
            and (name not in BACK_TO_SIGN_IN)
        ):
            assert "login/?next=" in response["Location"], f"{name} must send visitors to sign in"
    assert seen == expected, f"{method} {url}"
