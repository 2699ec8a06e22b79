from django.urls import path

from consumers import views

app_name = "consumers"
urlpatterns = [
    path("", views.home, name="home"),
    path("orders/<str:ref>/", views.order_detail, name="order"),
    path("orders/<str:ref>/refresh/", views.order_refresh, name="order_refresh"),
    path("consumers/<str:ref>/", views.consumer_detail, name="detail"),
    path("consumers/<str:ref>/refresh/", views.consumer_refresh, name="refresh"),
    path("consumers/<str:ref>/edit/", views.consumer_edit, name="edit"),
    path("consumers/<str:ref>/conflicts/<int:push_id>/", views.conflict_detail, name="conflict"),
    path(
        "consumers/<str:ref>/conflicts/<int:push_id>/resolve/",
        views.conflict_resolve,
        name="conflict_resolve",
    ),
    path("queue/", views.push_queue, name="queue"),
    path("queue/<int:push_id>/", views.push_action, name="queue_action"),
]
