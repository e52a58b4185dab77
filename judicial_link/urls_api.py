"""The court API, ``/api/court/v1/`` (namespace ``court_api``), and its OpenAPI schema."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from judicial_link import api

app_name = "court_api"

urlpatterns = [
    path("applications/", api.ApplicationList.as_view(), name="applications"),
    path("applications/<int:application_pk>/", api.ApplicationDetail.as_view(), name="application"),
    path("applications/<int:application_pk>/package", api.PackageDownload.as_view(), name="package"),
    path("applications/<int:application_pk>/ruling", api.Ruling.as_view(), name="ruling"),
    path("applications/<int:application_pk>/acknowledge", api.Acknowledge.as_view(), name="acknowledge"),
    path("applications/<int:application_pk>/acceptance", api.Acceptance.as_view(), name="acceptance"),
    path("applications/<int:application_pk>/extension", api.Extension.as_view(), name="extension"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
]
