"""Telling a person, on the next page they open, what happened while they were elsewhere.

`notification_create` is the one way to write a notification (any app above `consumers` may call
it: a queued edit that landed or failed, an approval waiting); `notifications_for_page` is what
every page reads for its badge and messages; `notifications_mark_read` is the reader's POST.
"""

from dataclasses import dataclass, field

from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.utils import timezone

from consumers.models import Notification

# The most unread notifications one page reads; the badge says "20+" beyond.
PAGE_LIMIT = 20


def notification_create(
    *,
    user: User | None,
    message: str,
    url: str = "",
    level: str = Notification.Level.INFO,
    kind: str = "",
) -> Notification | None:
    """Tell `user` something on the next page they open; None when there is nobody to tell."""
    if user is None or not user.pk:
        return None
    return Notification.objects.create(
        user=user, message=message, url=url[:500], level=level, kind=kind[:32]
    )


@dataclass
class PageNotifications:
    """What a page shows: the count for the badge, and the notifications new since last page."""

    unread: int = 0
    more: bool = False
    new: list[Notification] = field(default_factory=list)


def notifications_for_page(*, user: User | AnonymousUser) -> PageNotifications:
    """Return the badge count and the notifications not shown yet, marking those shown.

    One query on every page (the unread ones, newest first, at most PAGE_LIMIT + 1), and one
    UPDATE only on the page that first shows some.
    """
    if not user.is_authenticated:
        return PageNotifications()
    unread = list(Notification.objects.unread().filter(user=user)[: PAGE_LIMIT + 1])
    new = [notification for notification in unread if notification.shown_at is None]
    if new:
        now = timezone.now()
        Notification.objects.filter(pk__in=[n.pk for n in new]).update(shown_at=now)
    return PageNotifications(
        unread=min(len(unread), PAGE_LIMIT), more=len(unread) > PAGE_LIMIT, new=new[::-1]
    )


def notifications_recent(*, user: User, limit: int = 50) -> list[Notification]:
    """Return the person's notifications, newest first, read or not."""
    return list(Notification.objects.filter(user=user)[:limit])


def notifications_mark_read(*, user: User, ids: list[int] | None = None) -> int:
    """Mark the person's notifications (all, or those with `ids`) read; return how many."""
    with transaction.atomic():
        unread = Notification.objects.unread().filter(user=user)
        if ids is not None:
            unread = unread.filter(pk__in=ids)
        now = timezone.now()
        return unread.update(read_at=now, shown_at=now)
