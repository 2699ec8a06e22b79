"""The pages of signing in that allauth does not have: no role yet, and back-channel logout."""

import logging

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts import roles
from accounts.sso import services as sso_services

logger = logging.getLogger("backoffice.security")


@login_required
def no_role(request: HttpRequest) -> HttpResponse:
    """Tell someone signed in without a role that they can open nothing yet, and whom to ask."""
    if roles.role_names(request.user) or request.user.is_superuser:
        return redirect("consumers:home")
    return render(
        request,
        "accounts/no_role.html",
        {
            "contact": settings.ACCESS_CONTACT,
            "sso": request.session.get(sso_services.SESSION_ACCOUNT) is not None,
            "sso_provider_name": settings.OIDC_PROVIDER_NAME,
        },
    )


# The provider posts server to server, with no browser session or CSRF token; the logout token
# itself, signed by the provider, is the proof (OpenID Connect Back-Channel Logout 1.0, 2.5).
@csrf_exempt
@require_POST
@never_cache
def backchannel_logout(request: HttpRequest) -> HttpResponse:
    """End the sessions the identity provider's logout token names."""
    token = request.POST.get("logout_token", "")
    if not token:
        return JsonResponse(
            {"error": "invalid_request", "error_description": "logout_token is missing"},
            status=400,
        )
    try:
        ended = sso_services.sso_backchannel_logout(request=request, logout_token=token)
    except sso_services.LogoutTokenInvalid as error:
        logger.warning("back-channel logout refused: %s", error)
        return JsonResponse(
            {"error": "invalid_request", "error_description": str(error)}, status=400
        )
    logger.info("back-channel logout: %d session(s) ended", ended)
    return HttpResponse(status=200)
