"""The parties' application pages, under ``/confirmation/<case>/apply/``."""

from django.urls import path

from judicial_link import views_application as views

urlpatterns = [
    path("<int:case_pk>/apply/", views.apply, name="apply"),
    path("<int:case_pk>/apply/facts/", views.save_facts, name="apply_facts"),
    path("<int:case_pk>/apply/court/", views.choose_court, name="apply_court"),
    path("<int:case_pk>/apply/code/", views.request_code, name="apply_code"),
    path("<int:case_pk>/apply/sign/", views.sign, name="apply_sign"),
    path("<int:case_pk>/apply/upload/", views.upload, name="apply_upload"),
    path("<int:case_pk>/apply/submit/", views.submit, name="apply_submit"),
    path("<int:case_pk>/apply/document/", views.document, name="apply_document"),
    path("<int:case_pk>/apply/ruling/", views.ruling, name="apply_ruling"),
]
