"""Caseloads and evaluation, mounted at /pool/ (url names ``mediators:...``)."""

from django.urls import path

from mediators import views_caseload

urlpatterns = [
    path("me/", views_caseload.mediator_dashboard, name="mediator_dashboard"),
    path("load/", views_caseload.centre_load, name="centre_load"),
    path("cases/<int:pk>/rate/", views_caseload.rate, name="case_rate"),
    path("cases/<int:pk>/complain/", views_caseload.complain, name="case_complain"),
    path("complaints/", views_caseload.complaint_list, name="complaint_list"),
    path("complaints/<int:complaint_pk>/", views_caseload.complaint_detail, name="complaint_detail"),
    path("figures/", views_caseload.mediator_figures, name="mediator_figures"),
    path("figures.csv", views_caseload.mediator_figures_csv, name="mediator_figures_csv"),
]
