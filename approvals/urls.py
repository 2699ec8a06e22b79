"""The approvals pages: the supervisors' list, a request's page and its three actions."""

from django.urls import path

from approvals import views

app_name = "approvals"
urlpatterns = [
    path("", views.approval_list, name="list"),
    path("mine/", views.approvals_mine, name="mine"),
    path("<int:pk>/", views.approval_detail, name="detail"),
    path("<int:pk>/approve/", views.approval_approve, name="approve"),
    path("<int:pk>/reject/", views.approval_reject, name="reject"),
    path("<int:pk>/withdraw/", views.approval_withdraw, name="withdraw"),
]
