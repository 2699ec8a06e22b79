"""The conflict pages: the three versions side by side, re-apply, and discard (asked first)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audit.services import RequestMeta
from cdp.errors import CDPError
from consumers import pushes, records, services
from consumers.items import item_label
from consumers.models import OrderConsumer
from consumers.views.common import after_save, can_edit, change_rows, signed_in_user


@require_GET
@login_required
@can_edit
def conflict_detail(request: HttpRequest, ref: str, push_id: int) -> HttpResponse:
    """The three versions side by side; once resolved, as they were then, with what was done."""
    push = pushes.conflict_get(ref=ref, push_id=push_id, user=signed_in_user(request))
    page = pushes.conflict_page(push=push)
    if page.error is not None:
        messages.warning(request, f"Showing CDP's version as last fetched: {page.error}")
    shown, cdp, edited = records.display_text, page.cdp, push.edited
    summaries = services.order_items_of(consumer=page.consumer)

    def described(refs: object) -> list[dict[str, str]]:
        # Order items as words (what CDP says they are), each with its ref beside.
        listed = refs if isinstance(refs, list) else []
        return [{"ref": ref, "label": item_label(summaries.get(ref))} for ref in listed]

    rows = [
        {
            "label": field.label,
            "loaded": shown(push.loaded.get(field.name)),
            "now": shown(cdp.get(field.name)),
            "edited": shown(edited.get(field.name)),
            "changed_by_agent": field.name in push.changes,
            "changed_in_cdp": shown(push.loaded.get(field.name)) != shown(cdp.get(field.name)),
            "items": {
                "loaded": described(push.loaded.get(field.name)),
                "now": described(cdp.get(field.name)),
                "edited": described(edited.get(field.name)),
            }
            if field.name == "order_item_refs"
            else None,
        }
        for field in records.FIELDS
    ]
    context = {
        "push": push,
        "consumer": page.consumer,
        "rows": rows,
        "resulting": page.resulting,
        "cdp_recorded": bool(push.cdp_values),
    }
    return render(request, "consumers/conflict.html", context)


@require_POST
@login_required
@can_edit
def conflict_reapply(request: HttpRequest, ref: str, push_id: int) -> HttpResponse:
    """Apply the agent's change over CDP's current version, as a new save."""
    user = signed_in_user(request)
    push = pushes.conflict_get(ref=ref, push_id=push_id, user=user)
    try:
        result = pushes.conflict_reapply(
            push=push, user=user, meta=RequestMeta.from_request(request)
        )
    except pushes.ConflictResolved as resolved:
        messages.info(request, str(resolved))
        return redirect("consumers:conflict", ref=ref, push_id=push.pk)
    except ValidationError as error:
        messages.error(request, f"Not re-applied: {'; '.join(error.messages)}")
        return redirect("consumers:conflict", ref=ref, push_id=push.pk)
    except CDPError as error:
        messages.error(request, f"Not re-applied: CDP could not be read. {error}")
        return redirect("consumers:conflict", ref=ref, push_id=push.pk)
    return after_save(request, result)


@require_http_methods(["GET", "POST"])
@login_required
@can_edit
def conflict_discard(request: HttpRequest, ref: str, push_id: int) -> HttpResponse:
    """GET: show the change that discarding loses; POST: discard it."""
    user = signed_in_user(request)
    push = pushes.conflict_get(ref=ref, push_id=push_id, user=user)
    if request.method == "POST":
        try:
            pushes.conflict_discard(push=push, user=user, meta=RequestMeta.from_request(request))
        except pushes.ConflictResolved as resolved:
            messages.info(request, str(resolved))
            return redirect("consumers:conflict", ref=ref, push_id=push.pk)
        messages.info(request, "Your change was discarded; CDP keeps its version.")
        return redirect("consumers:detail", ref=ref)
    consumer = OrderConsumer.objects.get(ref=ref)
    context = {"push": push, "consumer": consumer, "rows": change_rows(push, consumer)}
    return render(request, "consumers/conflict_discard.html", context)
