"""The administrators' approval policy (one row, never added twice or deleted) and a read-only
view of the requests; every change of the policy goes through approvals.services and is audited."""

from typing import Any, cast

from django import forms
from django.contrib import admin
from django.contrib.auth.models import User
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from approvals import services
from approvals.models import ApprovalPolicy, ApprovalRequest
from audit.services import RequestMeta
from consumers import records


class ApprovalPolicyForm(forms.ModelForm):
    fields = forms.MultipleChoiceField(  # type: ignore[assignment]
        label="Fields that need approval",
        choices=list(records.LABELS.items()),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="A change to any of these waits for a supervisor's approval.",
    )

    class Meta:
        model = ApprovalPolicy
        fields = ["fields", "group", "expiry_hours", "supervisors_exempt"]

    def clean_expiry_hours(self) -> int:
        hours = self.cleaned_data["expiry_hours"]
        if not 1 <= hours <= 24 * 30:
            raise forms.ValidationError("Between 1 hour and 720 hours (30 days).")
        return hours


@admin.register(ApprovalPolicy)
class ApprovalPolicyAdmin(admin.ModelAdmin):
    form = ApprovalPolicyForm
    list_display = ["__str__", "version", "expiry_hours", "supervisors_exempt", "updated_at"]
    readonly_fields = ["version", "updated_at", "updated_by"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not ApprovalPolicy.objects.exists() and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        # One policy: the list goes straight to it (created with the defaults on first look).
        policy = services.approval_policy_get()
        return HttpResponseRedirect(
            reverse("admin:approvals_approvalpolicy_change", args=[policy.pk])
        )

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # The admin opens for signed-in administrators only (backoffice/admin.py).
        user = cast(User, request.user)
        services.approval_policy_save(policy=obj, user=user, meta=RequestMeta.from_request(request))


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(admin.ModelAdmin):
    """Requests change only through their services (submit, withdraw, approve, reject, expire)."""

    list_display = ["pk", "consumer_ref", "requested_by", "status", "created_at", "decided_at"]
    list_filter = ["status"]
    search_fields = ["=consumer_ref"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False
