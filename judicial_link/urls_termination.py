"""The termination record and the referral package, included by ``judicial_link.urls`` under ``termination/``."""

from django.urls import URLPattern, URLResolver, path

from judicial_link import views_termination

urlpatterns: list[URLPattern | URLResolver] = [
    path("<int:case_pk>/", views_termination.record, name="termination_record"),
    path("<int:case_pk>/draft/", views_termination.save_draft, name="termination_draft"),
    path("<int:case_pk>/preview/", views_termination.preview, name="termination_preview"),
    path("<int:case_pk>/sign/code/", views_termination.sign_code, name="termination_sign_code"),
    path("<int:case_pk>/sign/", views_termination.sign, name="termination_sign"),
    path("<int:case_pk>/document/", views_termination.document, name="termination_document"),
    path("<int:case_pk>/referral/", views_termination.referral_build, name="termination_referral_build"),
    path("<int:case_pk>/referral/download/", views_termination.referral_download, name="termination_referral"),
]
