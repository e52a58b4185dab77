"""Judicial confirmation pages (namespace ``judicial``)."""

from django.urls import path

from judicial_link import views

app_name = "judicial"

urlpatterns = [
    path("confirmation/<int:case_pk>/readiness/", views.readiness, name="readiness"),
]
