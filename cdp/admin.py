from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import URLPattern, path, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from audit.services import RequestMeta
from cdp import services
from cdp.forms import CDPConnectionForm
from cdp.models import CDPConnection


@admin.register(CDPConnection)
class CDPConnectionAdmin(admin.ModelAdmin):
    """Administrators' CDP connections; every write goes through cdp.services and is audited."""

    form = CDPConnectionForm
    list_display = [
        "name",
        "base_url",
        "client_key",
        "api_version",
        "stored_token",
        "timeout",
        "is_active",
        "last_test",
    ]
    list_filter = ["is_active", "region", "api_version"]
    search_fields = ["name"]
    actions = ["test_connections", "make_active"]
    readonly_fields = [
        "stored_token",
        "last_tested_at",
        "last_test_ok",
        "last_test_status",
        "last_test_latency_ms",
        "last_test_message",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "name",
                    "region",
                    "custom_url",
                    "client_key",
                    "api_version",
                    "timeout",
                    "is_active",
                    "activate_anyway",
                ]
            },
        ),
        ("API token", {"fields": ["stored_token", "api_token"]}),
        (
            "Last connection test",
            {
                "fields": [
                    "last_tested_at",
                    "last_test_ok",
                    "last_test_status",
                    "last_test_latency_ms",
                    "last_test_message",
                ]
            },
        ),
    ]

    @admin.display(description="stored API token")
    def stored_token(self, obj: CDPConnection) -> str:
        return obj.masked_token if obj.pk else "—"

    @admin.display(description="last test")
    def last_test(self, obj: CDPConnection) -> str:
        if obj.last_tested_at is None:
            return "never"
        result = "ok" if obj.last_test_ok else f"failed (HTTP {obj.last_test_status or '—'})"
        return f"{result}, {obj.last_test_latency_ms} ms"

    def get_form(
        self,
        request: HttpRequest,
        obj: CDPConnection | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> type[forms.ModelForm]:
        form = super().get_form(request, obj, change=change, **kwargs)
        # The form tests a connection before making it active, and audits the test as this user.
        tester = {"user": request.user, "meta": RequestMeta.from_request(request)}
        return type(form.__name__, (form,), tester)

    # The token must not reach an error report, even in DEBUG's technical 500 page.
    @method_decorator(sensitive_post_parameters("api_token"))
    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # Django runs a POST to this view in one transaction. Here validating the form may call
        # CDP (the test before making a connection active), and no database transaction may be
        # held open across an HTTP call: with SQLite's IMMEDIATE transactions it would hold the
        # write lock for as long as CDP takes. So this view opens none; every write is in a
        # service's own transaction (connection_save, the test's audit entry), and the admin's
        # LogEntry after it is a single row. (_changeform_view is Django's view without that
        # transaction; django-stubs does not declare it, hence the ignore.)
        return self._changeform_view(request, object_id, form_url, extra_context)  # type: ignore[attr-defined]

    def save_model(self, request: HttpRequest, obj: CDPConnection, form: Any, change: bool) -> None:
        failure = form.activation_failure
        services.connection_save(
            connection=obj,
            api_token=form.cleaned_data.get("api_token") or None,
            user=request.user,
            meta=RequestMeta.from_request(request),
            reason="Made active although its connection test failed." if failure else "",
        )
        if failure:
            self.message_user(
                request,
                f"{obj.name} was made active although its connection test failed: {failure}",
                messages.WARNING,
            )

    def delete_model(self, request: HttpRequest, obj: CDPConnection) -> None:
        services.connection_delete(
            connection=obj, user=request.user, meta=RequestMeta.from_request(request)
        )

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[CDPConnection]) -> None:
        for connection in queryset:
            self.delete_model(request, connection)

    def get_urls(self) -> list[URLPattern]:
        opts = self.model._meta
        return [
            path(
                "<path:object_id>/test/",
                self.admin_site.admin_view(self.test_view),
                name=f"{opts.app_label}_{opts.model_name}_test",
            ),
            *super().get_urls(),
        ]

    @method_decorator(require_POST)
    def test_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Test one connection from the button on its change page, then go back there."""
        connection = get_object_or_404(CDPConnection, pk=object_id)
        if not self.has_change_permission(request, connection):
            raise PermissionDenied
        self._test(request, connection)
        opts = self.model._meta
        return redirect(
            reverse(
                f"admin:{opts.app_label}_{opts.model_name}_change",
                args=[connection.pk],
                current_app=self.admin_site.name,
            )
        )

    @admin.action(description="Test connection", permissions=["change"])
    def test_connections(self, request: HttpRequest, queryset: QuerySet[CDPConnection]) -> None:
        for connection in queryset:
            self._test(request, connection)

    @admin.action(description="Make active", permissions=["change"])
    def make_active(self, request: HttpRequest, queryset: QuerySet[CDPConnection]) -> None:
        if queryset.count() != 1:
            self.message_user(
                request, "Select exactly one connection to make active.", messages.ERROR
            )
            return
        connection = queryset.get()
        try:
            services.connection_activate(
                connection=connection, user=request.user, meta=RequestMeta.from_request(request)
            )
        except (ValidationError, ImproperlyConfigured) as exc:
            why = exc.messages[0] if isinstance(exc, ValidationError) else str(exc)
            self.message_user(
                request,
                f"{connection.name} was not made active: {why} To make it active all the same, "
                "open it and tick “Activate anyway”.",
                messages.ERROR,
            )
            return
        self.message_user(request, f"{connection.name} is now the active CDP connection.")

    def _test(self, request: HttpRequest, connection: CDPConnection) -> None:
        try:
            result = services.connection_test(
                connection=connection, user=request.user, meta=RequestMeta.from_request(request)
            )
        except ImproperlyConfigured as exc:
            # A key problem is the operator's to fix; say so rather than fail with a 500.
            self.message_user(request, f"{connection.name}: {exc}", messages.ERROR)
            return
        if result.ok:
            self.message_user(
                request,
                f"{connection.name}: {result.message} ({result.latency_ms} ms)",
                messages.SUCCESS,
            )
        else:
            self.message_user(request, f"{connection.name}: {result.message}", messages.ERROR)
