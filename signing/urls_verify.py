from django.urls import URLPattern, URLResolver, path

from signing import views_verify

# Public: verification needs no login (the QR code on every agreement links to ``verify_code``).
# ``api/`` comes before ``<str:code>/`` so that it is never read as a short code.
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views_verify.verify_upload, name="verify"),
    path("api/", views_verify.verify_api, name="verify_api"),
    path("<str:code>/", views_verify.verify_code, name="verify_code"),
]
