"""Performance follow-up and enforcement, included by ``judicial_link.urls`` under ``performance/`` (namespace ``judicial``)."""

from django.urls import URLPattern, URLResolver, path

from judicial_link import views_performance

urlpatterns: list[URLPattern | URLResolver] = [
    path("overdue/", views_performance.overdue, name="performance_overdue"),
    path("<int:case_pk>/", views_performance.performance_page, name="performance"),
    path("<int:case_pk>/items/<int:item_pk>/report/", views_performance.report, name="performance_report"),
    path("<int:case_pk>/items/<int:item_pk>/confirm/", views_performance.confirm, name="performance_confirm"),
    path("<int:case_pk>/items/<int:item_pk>/dispute/", views_performance.dispute, name="performance_dispute"),
    path(
        "<int:case_pk>/items/<int:item_pk>/evidence/",
        views_performance.payment_evidence,
        name="performance_evidence",
    ),
    path("<int:case_pk>/enforcement/", views_performance.enforcement_application, name="enforcement"),
    path(
        "<int:case_pk>/enforcement/<int:enforcement_pk>/",
        views_performance.enforcement_download,
        name="enforcement_download",
    ),
]
