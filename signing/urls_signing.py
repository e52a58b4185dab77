from django.urls import URLPattern, URLResolver, path

from signing import views_signing

urlpatterns: list[URLPattern | URLResolver] = [
    path("<int:case_pk>/sign/", views_signing.sign, name="sign"),
    path("<int:case_pk>/sign/code/", views_signing.sign_code, name="sign_code"),
    path("<int:case_pk>/sign/decline/", views_signing.decline, name="decline"),
    path("<int:case_pk>/sign/prepare/", views_signing.prepare, name="prepare"),
    path("<int:case_pk>/document/", views_signing.document, name="document"),
    path("<int:case_pk>/revisions/<int:number>/", views_signing.revision, name="revision"),
    path("<int:case_pk>/report/", views_signing.report, name="report"),
]
