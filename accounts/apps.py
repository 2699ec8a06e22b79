from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and sessions"

    def ready(self) -> None:
        # Connect the session, lockout, SSO and MFA receivers.
        from accounts import mfa, receivers  # noqa: F401
        from audit.receivers import sign_in_describers
        from core import crypto

        if mfa.describe_sign_in not in sign_in_describers:
            sign_in_describers.append(mfa.describe_sign_in)
        crypto.reencrypters["MFA secret(s)"] = mfa.mfa_secrets_reencrypt
