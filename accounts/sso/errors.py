"""Why an SSO sign-in was refused, in words for the person and for the audit log."""

import jwt
from allauth.socialaccount.providers.oauth2.client import OAuth2Error

# Reason code → what the refusal page and the audit entry say.
REASONS = {
    "signature": "The identity provider's answer was not signed with its published keys.",
    "audience": "The identity provider's answer was meant for another application.",
    "issuer": "The identity provider's answer came from another issuer than the configured one.",
    "expired": "The identity provider's answer had expired.",
    "not_yet_valid": "The identity provider's answer is dated in the future.",
    "malformed": "The identity provider's answer could not be read.",
    "replayed_token": "The identity provider's answer had been used before.",
    "nonce_missing": "The identity provider's answer did not carry the sign-in's nonce.",
    "nonce_mismatch": "The identity provider's answer belongs to another sign-in (nonce).",
    "state": (
        "This sign-in link was already used, has expired (10 minutes) or was started in "
        "another browser (state)."
    ),
    "provider_error": "The identity provider refused the sign-in.",
    "unreachable": "The identity provider could not be reached.",
    "invalid": "The identity provider's answer was refused.",
}


class IdTokenRefused(OAuth2Error):
    """The ID token failed a check; `reason` is a key of REASONS."""

    def __init__(self, reason: str) -> None:
        super().__init__(REASONS[reason])
        self.reason = reason


def refusal_from_jwt_error(error: OAuth2Error) -> IdTokenRefused:
    """Name the check an ID token failed from allauth's error (and PyJWT's, its cause)."""
    cause = error.__cause__
    checks: list[tuple[type[Exception], str]] = [
        (jwt.ExpiredSignatureError, "expired"),
        (jwt.ImmatureSignatureError, "not_yet_valid"),
        (jwt.InvalidAudienceError, "audience"),
        (jwt.InvalidIssuerError, "issuer"),
        (jwt.InvalidSignatureError, "signature"),
        (jwt.DecodeError, "malformed"),
    ]
    for kind, reason in checks:
        if isinstance(cause, kind):
            return IdTokenRefused(reason)
    message = str(error)
    if "kid" in message:  # signed with a key the provider does not publish
        return IdTokenRefused("signature")
    if "already used" in message:
        return IdTokenRefused("replayed_token")
    return IdTokenRefused("invalid")
