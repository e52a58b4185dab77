from django.urls import URLPattern, URLResolver, path

from signing import views_verify

urlpatterns: list[URLPattern | URLResolver] = [
    path("<str:code>/", views_verify.verify_code, name="verify_code"),
]
