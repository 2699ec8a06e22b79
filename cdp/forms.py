from typing import Any

from django import forms
from django.core.exceptions import ImproperlyConfigured
from django.views.decorators.debug import sensitive_variables

from audit.services import RequestMeta
from cdp import services
from cdp.models import TOKEN_FOR_NEW_URL, CDPConnection
from core import crypto


class CDPConnectionForm(forms.ModelForm):
    """The admin's connection form: the API token is write-only and blank keeps the stored one.

    A connection saved as active is tested first, with the values being saved.
    """

    api_token = forms.CharField(
        label="API token",
        required=False,
        strip=True,
        # render_value=False: the page never carries the token back, not even after an error.
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    activate_anyway = forms.BooleanField(
        label="Activate anyway",
        required=False,
        help_text="Make it active even if its connection test fails, e.g. while CDP is down.",
    )
    # Who tests the connection, for the audit log; the admin sets them (CDPConnectionAdmin).
    user: services.Actor = None
    meta = RequestMeta()

    error_messages = {
        "token_required": "Enter the API token from CDP > Settings > API access.",
        "token_too_short": "That is too short to be a CDP API token.",
        "token_for_new_url": TOKEN_FOR_NEW_URL,
        "test_failed": (
            "The connection test failed, so it was not made active: {message} Tick “Activate "
            "anyway” to make it active all the same."
        ),
    }

    class Meta:
        model = CDPConnection
        fields = [
            "name",
            "region",
            "custom_url",
            "client_key",
            "api_version",
            "api_token",
            "timeout",
            "is_active",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Where the stored token may go: read now, before the form's values reach the instance.
        self.stored_token_url = (
            self.instance.base_url if self.instance.api_token_encrypted else None
        )
        # What the app would call with, as stored: a change to any of it is tested again.
        self.stored_target = self._target() if self.instance.pk else None
        # Why the test before saving failed, if it did ("activate anyway" saves all the same).
        self.activation_failure = ""
        if self.instance.api_token_encrypted:
            self.fields["api_token"].label = "New API token"
            self.fields["api_token"].help_text = (
                f"Leave empty to keep the stored token ({self.instance.masked_token}); "
                "enter a new one to replace it."
            )
        else:
            self.fields["api_token"].help_text = "The Basic auth password from API access."

    def clean_api_token(self) -> str:
        token = self.cleaned_data["api_token"]
        if not token and not self.instance.api_token_encrypted:
            raise forms.ValidationError(
                self.error_messages["token_required"], code="token_required"
            )
        # Showing the last four characters of a very short token would reveal most of it.
        if token and len(token) < 8:
            raise forms.ValidationError(
                self.error_messages["token_too_short"], code="token_too_short"
            )
        if token:
            # Say on the form, not in a 500, that the token cannot be encrypted without a key.
            try:
                crypto.configured_keys()
            except crypto.EncryptionKeyMissing as exc:
                raise forms.ValidationError(str(exc), code="no_key") from None
        return token

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        new_url = CDPConnection.url_of(cleaned.get("region", ""), cleaned.get("custom_url", ""))
        moved = self.stored_token_url is not None and new_url != self.stored_token_url
        # Where the connection points is in doubt while the region or URL has an error itself.
        settled = not {"region", "custom_url", "api_token"} & set(self.errors)
        if moved and settled and not cleaned.get("api_token"):
            self.add_error(
                "api_token",
                forms.ValidationError(
                    self.error_messages["token_for_new_url"].format(url=new_url),
                    code="token_for_new_url",
                ),
            )
        return cleaned

    def _target(self) -> tuple[bool, str, str, str, float]:
        instance = self.instance
        return (
            instance.is_active,
            instance.base_url,
            instance.client_key,
            instance.api_version,
            instance.timeout,
        )

    @sensitive_variables("token")
    def _post_clean(self) -> None:
        # After the model's own validation (the instance now holds the values being saved), as
        # Django's UserCreationForm checks a password: the test needs the whole connection.
        # (django-stubs does not declare this hook of Django's forms, hence the ignore.)
        super()._post_clean()  # type: ignore[misc]
        token = self.cleaned_data.get("api_token") or None
        changed = token is not None or self._target() != self.stored_target
        if self.errors or not self.instance.is_active or not changed:
            return
        try:
            result = services.connection_test_unsaved(
                connection=self.instance, api_token=token, user=self.user, meta=self.meta
            )
        except ImproperlyConfigured as exc:  # the stored token cannot be decrypted
            self.activation_failure = str(exc)
        else:
            self.activation_failure = "" if result.ok else result.message
        if self.activation_failure and not self.cleaned_data.get("activate_anyway"):
            self.add_error(
                None,
                forms.ValidationError(
                    self.error_messages["test_failed"].format(message=self.activation_failure),
                    code="test_failed",
                ),
            )
