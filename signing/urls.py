"""Agreements (drafting, signing), public verification, the built-in CA's certificates, CRLs and TSA."""

from django.urls import include, path

app_name = "signing"

urlpatterns = [
    path("agreements/", include("signing.urls_drafting")),
    path("agreements/", include("signing.urls_signing")),
    path("verify/", include("signing.urls_verify")),
    path("", include("signing.urls_pki")),
]
