"""Drafting: the agreement page, versions, comments, diffs and finalisation (under ``agreements/``)."""

from django.urls import URLPattern, URLResolver, path

from signing import views_drafting as views

urlpatterns: list[URLPattern | URLResolver] = [
    path("<int:case_pk>/", views.agreement, name="agreement"),
    path("<int:case_pk>/start/", views.start, name="start"),
    path("<int:case_pk>/use-negotiated/", views.use_negotiated, name="use_negotiated"),
    path("<int:case_pk>/versions/new/", views.version_new, name="version_new"),
    path("<int:case_pk>/versions/<int:number>/", views.version, name="version"),
    path("<int:case_pk>/versions/<int:number>/comment/", views.comment, name="comment"),
    path("<int:case_pk>/diff/<int:a>/<int:b>/", views.version_diff, name="version_diff"),
    path("<int:case_pk>/finalise/", views.finalise, name="finalise"),
]
