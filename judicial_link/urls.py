"""Judicial confirmation pages (namespace ``judicial``)."""

from django.urls import include, path

from judicial_link import views

app_name = "judicial"

urlpatterns = [
    path("confirmation/<int:case_pk>/readiness/", views.readiness, name="readiness"),
    path("confirmation/", include("judicial_link.urls_application")),
    path("court/", include("judicial_link.urls_court")),
    path("termination/", include("judicial_link.urls_termination")),
    path("performance/", include("judicial_link.urls_performance")),
]
