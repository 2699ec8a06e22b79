"""allauth's generic OpenID Connect provider, with the ID token always verified and a nonce.

allauth's provider skips the ID token's signature when the token came straight from the token
endpoint (which OpenID Connect Core 3.1.3.7 allows over TLS) and sends no nonce. Here every ID
token's signature, issuer, audience and expiry are checked by allauth's `jwtkit` (PyJWT) against
the provider's published keys, and the `nonce` sent in the authorization request must come back
in it. PKCE (OAUTH_PKCE_ENABLED) and the single-use `state` are allauth's own.
"""

import hmac
import secrets
from typing import Any

from allauth.socialaccount.internal import jwtkit
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView
from allauth.socialaccount.providers.openid_connect.provider import OpenIDConnectProvider
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.http import Http404, HttpRequest, HttpResponse

from accounts.sso.errors import IdTokenRefused, refusal_from_jwt_error


class CheckedOpenIDConnectAdapter(OpenIDConnectOAuth2Adapter):
    """Decode the ID token verifying everything, and match its nonce to the stashed state's."""

    # The state stashed at the redirect (set by the callback view before the token exchange).
    state: dict[str, Any] | None = None

    def _decode_id_token(self, app: SocialApp, id_token: str) -> dict:
        try:
            claims = jwtkit.verify_and_decode(
                credential=id_token,
                keys_url=self.openid_config["jwks_uri"],
                issuer=self.openid_config["issuer"],
                audience=app.client_id,
                lookup_kid=jwtkit.lookup_kid_jwk,
                verify_signature=True,
            )
        except OAuth2Error as error:
            raise refusal_from_jwt_error(error) from error
        expected = (self.state or {}).get("nonce") or ""
        received = claims.get("nonce")
        if not isinstance(received, str) or not received:
            raise IdTokenRefused("nonce_missing")
        if not expected or not hmac.compare_digest(received, expected):
            raise IdTokenRefused("nonce_mismatch")
        return claims


class CheckedOpenIDConnectProvider(OpenIDConnectProvider):
    """The generic `openid_connect` provider, sending a nonce and checking every ID token."""

    oauth2_adapter_class = CheckedOpenIDConnectAdapter
    # Its URLs (accounts/sso/urls.py) route the callback through the checking adapter.
    package = "accounts.sso"

    def redirect(
        self,
        request: HttpRequest,
        process: Any,
        next_url: str | None = None,
        data: Any = None,
        **kwargs: Any,
    ) -> HttpResponse:
        nonce = secrets.token_urlsafe(32)
        auth_params = kwargs.pop("auth_params", None)
        if auth_params is None:
            auth_params = self.get_auth_params()
        auth_params["nonce"] = nonce
        # The nonce goes into the stashed state, which the callback alone can take out, once.
        return super().redirect(
            request, process, next_url, data, auth_params=auth_params, nonce=nonce, **kwargs
        )


class CheckedCallbackView(OAuth2CallbackView):
    """allauth's callback, handing the stashed state (with the nonce) to the adapter."""

    adapter: CheckedOpenIDConnectAdapter

    def _get_state(self, request: HttpRequest, provider: Any) -> tuple[Any, Any]:
        state, response = super()._get_state(request, provider)
        self.adapter.state = state
        return state, response


def callback(request: HttpRequest, provider_id: str) -> HttpResponse:
    """Finish the sign-in at the provider's redirect back (allauth's view, checked adapter)."""
    try:
        view = CheckedCallbackView.adapter_view(CheckedOpenIDConnectAdapter(request, provider_id))
        return view(request)
    except SocialApp.DoesNotExist as error:
        raise Http404 from error
