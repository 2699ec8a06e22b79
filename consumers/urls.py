from django.urls import path, register_converter

from consumers import views
from consumers.converters import RefConverter

# A ref that is "." or ".." would make the CDP client call another path: a 404 before any view.
register_converter(RefConverter, "ref")

app_name = "consumers"
urlpatterns = [
    path("", views.home, name="home"),
    path("orders/<ref:ref>/", views.order_detail, name="order"),
    path("orders/<ref:ref>/refresh/", views.order_refresh, name="order_refresh"),
    path("consumers/<ref:ref>/", views.consumer_detail, name="detail"),
    path("consumers/<ref:ref>/refresh/", views.consumer_refresh, name="refresh"),
    path("consumers/<ref:ref>/edit/", views.consumer_edit, name="edit"),
    path("consumers/<ref:ref>/conflicts/<int:push_id>/", views.conflict_detail, name="conflict"),
    path(
        "consumers/<ref:ref>/conflicts/<int:push_id>/reapply/",
        views.conflict_reapply,
        name="conflict_reapply",
    ),
    path(
        "consumers/<ref:ref>/conflicts/<int:push_id>/discard/",
        views.conflict_discard,
        name="conflict_discard",
    ),
    path(
        "consumers/<ref:ref>/queued/<int:push_id>/retry/", views.queued_retry, name="queued_retry"
    ),
    path(
        "consumers/<ref:ref>/queued/<int:push_id>/cancel/",
        views.queued_cancel,
        name="queued_cancel",
    ),
    path("find/", views.find, name="find"),
    path("guests/summary/", views.guest_summary, name="guest_summary"),
    path("bulk/", views.bulk_refresh_new, name="bulk_new"),
    path("bulk/<int:job_id>/", views.bulk_refresh_detail, name="bulk"),
    path("bulk/<int:job_id>/progress/", views.bulk_refresh_progress, name="bulk_progress"),
    path("bulk/<int:job_id>/cancel/", views.bulk_refresh_cancel, name="bulk_cancel"),
    path("bulk/<int:job_id>/failures.csv", views.bulk_refresh_failures, name="bulk_failures"),
    path("queue/", views.push_queue, name="queue"),
]
