"""The consumers app's addresses, by family of pages (consumers/views/)."""

from django.urls import path, register_converter

from consumers.converters import RefConverter
from consumers.views import bulk, conflicts, edit, notifications, pages, queue, revert

# A ref that is "." or ".." would make the CDP client call another path: a 404 before any view.
register_converter(RefConverter, "ref")

app_name = "consumers"
urlpatterns = [
    path("", pages.home, name="home"),
    path("orders/<ref:ref>/", pages.order_detail, name="order"),
    path("orders/<ref:ref>/refresh/", pages.order_refresh, name="order_refresh"),
    path("orders/<ref:ref>/edit/", edit.order_edit, name="order_edit"),
    path("consumers/<ref:ref>/", pages.consumer_detail, name="detail"),
    path("consumers/<ref:ref>/refresh/", pages.consumer_refresh, name="refresh"),
    path("consumers/<ref:ref>/edit/", edit.consumer_edit, name="edit"),
    path("undo/<int:entry_id>/", edit.consumer_undo, name="undo"),
    path(
        "consumers/<ref:ref>/conflicts/<int:push_id>/",
        conflicts.conflict_detail,
        name="conflict",
    ),
    path(
        "consumers/<ref:ref>/conflicts/<int:push_id>/reapply/",
        conflicts.conflict_reapply,
        name="conflict_reapply",
    ),
    path(
        "consumers/<ref:ref>/conflicts/<int:push_id>/discard/",
        conflicts.conflict_discard,
        name="conflict_discard",
    ),
    path(
        "consumers/<ref:ref>/queued/<int:push_id>/retry/", queue.queued_retry, name="queued_retry"
    ),
    path(
        "consumers/<ref:ref>/queued/<int:push_id>/cancel/",
        queue.queued_cancel,
        name="queued_cancel",
    ),
    path("find/", pages.find, name="find"),
    path("guests/summary/", pages.guest_summary, name="guest_summary"),
    path("guests/search/", pages.guest_search, name="guest_search"),
    path("bulk/", bulk.bulk_refresh_new, name="bulk_new"),
    path("bulk/<int:job_id>/", bulk.bulk_refresh_detail, name="bulk"),
    path("bulk/<int:job_id>/progress/", bulk.bulk_refresh_progress, name="bulk_progress"),
    path("bulk/<int:job_id>/cancel/", bulk.bulk_refresh_cancel, name="bulk_cancel"),
    path("bulk/<int:job_id>/failures.csv", bulk.bulk_refresh_failures, name="bulk_failures"),
    path("queue/", queue.push_queue, name="queue"),
    path("notifications/", notifications.notification_list, name="notifications"),
    path("notifications/read/", notifications.notification_mark_read, name="notifications_read"),
    # Reverting an audited change is this app's use case; its page stays under the audit log's
    # address, where supervisors find it (audit/urls.py has nothing there).
    path("audit/<int:pk>/revert/", revert.entry_revert, name="revert"),
]
