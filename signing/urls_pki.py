from django.urls import URLPattern, URLResolver, path

from signing import views_pki

urlpatterns: list[URLPattern | URLResolver] = [
    path("pki/<str:name>", views_pki.pki_file, name="pki_file"),
    path("tsa/", views_pki.tsa, name="tsa"),
]
