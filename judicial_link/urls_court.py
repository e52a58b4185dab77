"""The court portal, included by ``judicial_link.urls`` under ``court/`` (namespace ``judicial``)."""

from django.urls import URLPattern, URLResolver, path

from judicial_link import views_court

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views_court.inbox, name="court_inbox"),
    path("<int:application_pk>/", views_court.application_detail, name="court_application"),
    path("<int:application_pk>/package/", views_court.package_download, name="court_package"),
    path("<int:application_pk>/ruling/", views_court.ruling_download, name="court_ruling"),
    path("<int:application_pk>/recheck/", views_court.recheck, name="court_recheck"),
    path("<int:application_pk>/accept/", views_court.accept, name="court_accept"),
    path("<int:application_pk>/refuse/", views_court.refuse, name="court_refuse"),
    path("<int:application_pk>/extend/", views_court.extend, name="court_extend"),
    path("<int:application_pk>/rule/", views_court.rule, name="court_rule"),
]
