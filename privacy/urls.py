from django.urls import path

from privacy import views

app_name = "privacy"

urlpatterns = [
    path("rectify/", views.rectify_new, name="rectify_new"),
    path("rectify/<int:job_id>/", views.rectify_detail, name="rectify"),
    path("rectify/<int:job_id>/start/", views.rectify_start, name="rectify_start"),
    path("rectify/<int:job_id>/progress/", views.rectify_progress, name="rectify_progress"),
    path("rectify/<int:job_id>/cancel/", views.rectify_cancel, name="rectify_cancel"),
    path("erasures/", views.erasure_list, name="erasures"),
    path("erasures/<int:pk>/", views.erasure_detail, name="erasure"),
]
