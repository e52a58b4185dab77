"""Neutrality: exclusions, the parties' joint choice, disclosure and responses, change requests."""

from django.urls import path

from mediators import views_neutrality as views

urlpatterns = [
    path("cases/<int:pk>/exclusions/", views.case_exclusions, name="case_exclusions"),
    path("cases/<int:pk>/choose/", views.choose, name="choose_mediator"),
    path("cases/<int:pk>/disclosure/", views.disclosure, name="disclosure"),
    path("cases/<int:pk>/disclosure/accept/", views.disclosure_accept, name="disclosure_accept"),
    path("cases/<int:pk>/disclosure/<int:disclosure_pk>/", views.disclosure_detail, name="disclosure_detail"),
    path("cases/<int:pk>/changes/", views.change_requests, name="change_requests"),
    path("cases/<int:pk>/changes/<int:change_pk>/decide/", views.decide_change, name="decide_change"),
    path("cases/<int:pk>/changes/<int:change_pk>/terminate/", views.terminate_refused, name="terminate_refused"),
]
