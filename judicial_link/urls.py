"""Judicial confirmation pages (namespace ``judicial``)."""

from django.urls import include, path

from judicial_link import views

app_name = "judicial"

urlpatterns = [
    path("confirmation/<int:case_pk>/readiness/", views.readiness, name="readiness"),
    path("court/", include("judicial_link.urls_court")),
    path("performance/", include("judicial_link.urls_performance")),
]
