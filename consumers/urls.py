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
]
