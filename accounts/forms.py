"""The sign-in form: allauth's, with the field named `username` as the old page had it."""

from typing import Any

from allauth.account.forms import LoginForm
from django import forms
from django.conf import settings

from accounts.backends import password_refused


class SignInForm(LoginForm):
    """allauth's user-name-and-password form; under SSO_ONLY, only superusers pass.

    The field is posted as `username` (what django-axes counts failures by, and what the page
    before allauth posted), the credentials handed on under the same name.
    """

    error_messages = {
        "sso_only": (
            "Passwords are turned off: sign in with {provider}. Only the break-glass "
            "administrator account signs in with a password."
        ),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: dict[str, forms.Field] = dict(getattr(self, "fields"))  # noqa: B009
        login_field = fields.pop("login")
        login_field.widget.attrs.pop("placeholder", None)
        login_field.widget.attrs["autofocus"] = True
        fields["password"].widget.attrs.pop("placeholder", None)
        # allauth's help text links to a password reset this back office does not offer
        # (administrators set passwords).
        fields["password"].help_text = ""
        self.fields = {"username": login_field, **fields}

    def clean_username(self) -> str:
        return self.cleaned_data["username"].strip()

    def clean(self) -> dict[str, Any]:
        if "username" in self.cleaned_data:
            self.cleaned_data["login"] = self.cleaned_data["username"]
        username = self.cleaned_data.get("username", "")
        if username and password_refused(username):
            raise forms.ValidationError(
                self.error_messages["sso_only"].format(provider=settings.OIDC_PROVIDER_NAME),
                code="sso_only",
            )
        return super().clean()

    def user_credentials(self) -> dict[str, Any]:
        credentials: dict[str, Any] = {"username": self.cleaned_data["username"]}
        if self.cleaned_data.get("password"):
            credentials["password"] = self.cleaned_data["password"]
        return credentials
