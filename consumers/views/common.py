"""What the families of pages share: the permission checks, CDP's error page, what a save tells
the agent, a change's rows and the page to go back to."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from cdp.errors import CDPError, CDPNotFound
from consumers import pushes, records
from consumers.models import OrderConsumer, Push
from consumers.pushes import Outcome

can_view = permission_required("consumers.view_orderconsumer", raise_exception=True)
can_edit = permission_required("consumers.change_orderconsumer", raise_exception=True)


def signed_in_user(request: HttpRequest) -> User:
    """Return who made the request: signed in, for every page here is behind login_required."""
    user = request.user
    if isinstance(user, AnonymousUser):  # login_required sent them to sign in already
        raise PermissionDenied("Sign in first.")
    return user


def cdp_error_page(request: HttpRequest, error: CDPError, *, what: str) -> HttpResponse:
    """Render CDP's failure as a page of its own: 404 when CDP has no such record, else 503."""
    status = 404 if isinstance(error, CDPNotFound) else 503
    return render(
        request, "consumers/cdp_error.html", {"error": error, "what": what}, status=status
    )


def after_save(request: HttpRequest, result: pushes.PushResult) -> HttpResponse:
    """Tell the agent what became of a save and show them where it stands."""
    ref = result.consumer.ref
    if result.outcome == Outcome.UNCHANGED:
        messages.info(request, "Nothing was changed, so nothing was sent to CDP.")
    elif result.outcome == Outcome.SUCCEEDED:
        # The confirmation offers Undo (templates/base.html) while the agent may use it.
        undo = "" if result.entry is None or (result.push and result.push.reverts_id) else "undo"
        tags = f"{undo}:{result.entry.pk}" if undo and result.entry else ""
        messages.success(request, f"Saved {result.consumer} to CDP.", extra_tags=tags)
    elif result.outcome == Outcome.PENDING:
        messages.warning(request, pushes.queued_message(result))
    elif result.outcome == Outcome.CONFLICT and result.push is not None:
        messages.warning(
            request,
            "Someone changed this consumer in CDP after you opened it, so nothing was sent. "
            "Compare the versions and re-apply your change or discard it.",
        )
        return redirect("consumers:conflict", ref=ref, push_id=result.push.pk)
    else:
        messages.error(request, f"CDP did not save the change. {result.error}")
    return redirect("consumers:detail", ref=ref)


def change_rows(push: Push, consumer: OrderConsumer | None) -> list[dict[str, str]]:
    """The fields the edit changes: as the agent loaded them, as wanted, and as cached now."""
    now = consumer.editable_values() if consumer else {}
    return [
        {
            "label": records.label(field),
            "loaded": records.display_text(old),
            "wanted": records.display_text(new),
            "now": records.display_text(now.get(field)),
        }
        for field, (old, new) in push.changes.items()
    ]


def next_url(request: HttpRequest, default: str) -> str:
    """The page to go back to: the `next` asked for if it is a page of this site, else `default`."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if safe and target.startswith("/") else default
