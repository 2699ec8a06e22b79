"""Users get "End sessions" and "Unlock sign-in" actions and a list of their signed-in sessions;
failed-sign-in records (django-axes) can be cleared and MFA methods removed, both audited."""

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialAccount, SocialApp, SocialToken
from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts import services
from accounts.models import UserSession
from audit.services import RequestMeta
from core.admin import BoundedDateHierarchyMixin

User = get_user_model()


class UserSessionInline(admin.TabularInline):
    """The user's signed-in sessions, read-only (the session key is never shown)."""

    model = UserSession
    fields = readonly_fields = ("created_at", "ip_address", "user_agent")
    extra = 0
    can_delete = False
    verbose_name_plural = "signed-in sessions (end them with the “End sessions” action)"

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


admin.site.unregister(User)


@admin.register(User)
class BackofficeUserAdmin(UserAdmin):
    """Django's user admin, with the session and lockout actions."""

    inlines = [*UserAdmin.inlines, UserSessionInline]
    actions = ["end_sessions", "unlock_sign_in"]

    @admin.action(description="End sessions (sign out everywhere)", permissions=["change"])
    def end_sessions(self, request: HttpRequest, queryset: QuerySet) -> None:
        meta = RequestMeta.from_request(request)
        for user in queryset:
            ended = services.user_sessions_end(user=user, by=request.user, meta=meta)
            self.message_user(
                request,
                f"Ended {ended} signed-in session(s) of {user.get_username()}.",
                messages.SUCCESS,
            )

    @admin.action(description="Unlock sign-in (clear failed sign-ins)", permissions=["change"])
    def unlock_sign_in(self, request: HttpRequest, queryset: QuerySet) -> None:
        meta = RequestMeta.from_request(request)
        for user in queryset:
            cleared = services.user_sign_in_unlock(
                username=user.get_username(), by=request.user, meta=meta
            )
            self.message_user(
                request,
                f"Unlocked {user.get_username()}: {cleared} failed sign-in(s) cleared.",
                messages.SUCCESS,
            )


# The audit log already records every sign-in and failed sign-in; axes' own logs would be a
# second, unpruned copy, so only its lockout state (access attempts) is shown.
for model in (AccessLog, AccessFailureLog, AccessAttempt):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


@admin.register(AccessAttempt)
class AuditedAccessAttemptAdmin(BoundedDateHierarchyMixin, AccessAttemptAdmin):
    """axes' failed sign-ins per user name, address and browser; deleting them unlocks, audited."""

    def delete_model(self, request: HttpRequest, obj: AccessAttempt) -> None:
        self.delete_queryset(request, AccessAttempt.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        services.sign_in_attempts_clear(
            attempts=queryset, by=request.user, meta=RequestMeta.from_request(request)
        )


# --- allauth's models ---------------------------------------------------------------------------
# Identity-provider settings come from the environment (docs/sso.md), never from the database,
# and tokens are secrets: their admin pages go. The back office keeps no e-mail addresses of its
# own. What stays: people's MFA methods (an administrator removes a lost one, audited) and
# their links to the identity provider, both read-only.
for model in (EmailAddress, SocialApp, SocialToken, SocialAccount, Authenticator):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


@admin.register(Authenticator)
class AuthenticatorAdmin(admin.ModelAdmin):
    """A user's MFA methods, without their secrets; deleting one is how a lost one is replaced."""

    list_display = ("user", "type", "created_at", "last_used_at")
    list_filter = ("type",)
    search_fields = ("user__username",)
    fields = readonly_fields = ("user", "type", "created_at", "last_used_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: Authenticator) -> None:
        self.delete_queryset(request, Authenticator.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        services.authenticators_remove(
            authenticators=queryset, by=request.user, meta=RequestMeta.from_request(request)
        )


@admin.register(SocialAccount)
class SocialAccountAdmin(admin.ModelAdmin):
    """Who signed in through the identity provider, as whom (its subject); the claims stay out."""

    list_display = ("user", "provider", "uid", "last_login")
    search_fields = ("uid", "user__username")
    fields = readonly_fields = ("user", "provider", "uid", "last_login", "date_joined")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
