from django.http import HttpRequest

from accounts.roles import is_administrator, role_names
from approvals.services import approvals_badges
from cdp import transport
from cdp.connection import current_connection
from cdp.errors import CDPError
from consumers.notifications import notifications_for_page
from consumers.pushes import pushes_refused_lately


def roles(request: HttpRequest) -> dict:
    """Tell every template the signed-in user's roles, for the navigation bar."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"user_roles": [], "user_is_administrator": False}
    return {"user_roles": role_names(user), "user_is_administrator": is_administrator(user)}


def cdp_status(request: HttpRequest) -> dict:
    """Tell signed-in users when CDP calls are paused, or CDP takes no updates lately."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    try:
        breaker = transport.breaker_status(current_connection())
    except CDPError:
        return {}  # no usable connection: the page's own CDP calls explain why
    if breaker.is_open:
        return {"cdp_breaker": breaker}
    # Reads may work while updates fail (the breaker counts both): the queue tells.
    return {"cdp_breaker": breaker, "cdp_updates_refused": pushes_refused_lately()}


def search_box(request: HttpRequest) -> dict:
    """The navigation bar's search box starts empty; the results page passes what was searched."""
    return {"search_query": ""}


def notifications(request: HttpRequest) -> dict:
    """The person's unread notifications for the badge, and those new since their last page."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"notifications": notifications_for_page(user=user)}


def approvals(request: HttpRequest) -> dict:
    """The navigation's badges: changes waiting for a supervisor, and news of one's requests."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    badges = approvals_badges(user=user)
    return {"approvals_waiting": badges["waiting"], "approvals_news": badges["news"]}
